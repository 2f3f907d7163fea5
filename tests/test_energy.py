"""MAC/AC counting from activity: hand-computed cases, exact fan-out, ptflops parity, JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from neurodeploy.energy import count_ops, estimate_energy, fanout, load_profile
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import (
    AvgPool2d,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    Readout,
    SumPool2d,
    save_graph,
)


def mlp(encoding: str = "rate") -> Graph:
    g = Graph(metadata={"T": 3})
    g.add(Input("in", shape=(4,), encoding=encoding))
    g.add(Dense("fc1", weight=np.ones((3, 4), np.float32)), "in")
    g.add(CubaLIF("lif1", shape=(3,)), "fc1")
    g.add(Dense("fc2", weight=np.ones((2, 3), np.float32)), "lif1")
    g.add(Readout("out", shape=(2,)), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


MLP_COUNTS = {"in": np.array([1.0, 0, 2, 3]), "fc1": np.array([3.0, 3, 3]),
              "lif1": np.array([1.0, 2, 0]), "fc2": np.array([3.0, 3]),
              "out": np.array([3.0, 3])}


def test_two_layer_mlp_with_fixed_spikes_matches_hand_counts():
    rows = count_ops(mlp(), MLP_COUNTS, T=3)
    assert [r.name for r in rows] == ["fc1", "fc2"]
    fc1, fc2 = rows
    # 6 input spikes, each reaching 3 neurons; 3 hidden spikes, each reaching 2 neurons
    assert (fc1.ann_macs, fc1.snn_macs, fc1.snn_acs) == (12, 0.0, 18.0)
    assert (fc2.ann_macs, fc2.snn_macs, fc2.snn_acs) == (6, 0.0, 6.0)
    assert fc1.firing_rate == pytest.approx(3 / 9)   # 3 spikes / (T=3 · 3 neurons)
    assert fc2.firing_rate == 0.0                    # a Readout never fires
    assert (fc1.neurons, fc2.neurons, fc1.spikes) == (3, 2, 3.0)


def test_energy_formula_per_profile():
    cmos, loihi = load_profile("cmos45nm"), load_profile("loihi2")
    rep = estimate_energy(mlp(), MLP_COUNTS, 3, [cmos, loihi])
    tot = rep.to_dict()["totals"]
    assert tot["ann_macs"] == 18 and tot["snn_acs"] == 24.0 and tot["snn_macs"] == 0.0
    assert tot["energy_pj"]["cmos45nm"] == {"snn": pytest.approx(24 * 0.1),
                                            "ann": pytest.approx(18 * 3.2)}
    e = loihi.energy
    snn = 24 * e["ac_pj"] + 5 * 3 * e["neuron_update_pj"] + 3 * e["spike_pj"]
    ann = 18 * e["mac_pj"] + 5 * e["neuron_update_pj"]
    assert tot["energy_pj"]["loihi2"]["snn"] == pytest.approx(snn)
    assert tot["energy_pj"]["loihi2"]["ann"] == pytest.approx(ann)
    fp32 = estimate_energy(mlp(), MLP_COUNTS, 3, [load_profile("cmos45nm:fp32")]).totals()
    assert fp32["energy_pj"]["cmos45nm:fp32"]["ann"] == pytest.approx(18 * 4.6)


def test_direct_input_counts_macs_every_step():
    T = 5
    counts = dict(MLP_COUNTS, **{"in": np.full(4, float(T))})  # analog input, nonzero each step
    fc1 = count_ops(mlp("direct"), counts, T=T)[0]
    assert fc1.snn_acs == 0.0 and fc1.snn_macs == T * fc1.ann_macs == 60.0


def test_conv_with_padding_and_stride_hand_counts():
    # 1x4x4 input, 2 output channels, 3x3 kernel, stride 2, padding 1 -> 2x2x2 output.
    # Along one axis, outputs 0 and 1 read rows {-1,0,1} and {1,2,3}: rows 0,1,2,3 are read
    # 1, 2, 1, 1 times, so pixel (h, w) reaches 2 · taps[h] · taps[w] synapses.
    conv = Conv2d("conv", weight=np.ones((2, 1, 3, 3), np.float32), stride=(2, 2),
                  padding=(1, 1))
    fo = fanout(conv, (1, 4, 4))
    taps = np.array([1, 2, 1, 1])
    assert np.array_equal(fo[0], 2 * np.outer(taps, taps))
    g = Graph()
    g.add(Input("in", shape=(1, 4, 4), encoding="spikes"))
    g.add(conv, "in")
    g.add(CubaLIF("lif", shape=(2, 2, 2)), "conv")
    g.inputs, g.outputs = ["in"], ["lif"]
    spikes = np.zeros((1, 4, 4))
    spikes[0, 1, 1] = 2   # two spikes on the doubly-read pixel: 2 · (2·2·2) = 16
    spikes[0, 0, 0] = 1   # corner, one tap per axis: 2
    spikes[0, 3, 2] = 1   # 2 · 1 · 1 = 2
    counts = {"in": spikes, "conv": np.zeros((2, 2, 2)), "lif": np.ones((2, 2, 2))}
    row = count_ops(g, counts, T=4)[0]
    assert row.snn_acs == 20.0
    assert row.ann_macs == 9 * 1 * 2 * 2 * 2       # padding taps included, like ptflops
    assert row.synapses == int(fo.sum()) == 2 * taps.sum() ** 2
    assert row.firing_rate == pytest.approx(8 / (4 * 8))


@given(c=st.integers(1, 3), h=st.integers(3, 9), k=st.integers(1, 4), s=st.integers(1, 3),
       p=st.integers(0, 2), d=st.integers(1, 2), grouped=st.booleans(), pool=st.booleans())
def test_fanout_equals_brute_force_gradient(c, h, k, s, p, d, grouped, pool):
    """The fan-out of each input element = d(Σ outputs)/d(input) with all-ones weights."""
    if p > k // 2 or (h + 2 * p - d * (k - 1) - 1) < 0:
        return
    x = torch.zeros(1, c, h, h + 1, dtype=torch.float64, requires_grad=True)
    if pool:
        node = SumPool2d("pool", kernel=(k, k), stride=(s, s), padding=(p, p))
        y = torch.nn.functional.avg_pool2d(x, k, s, p, count_include_pad=True) * k * k
    else:
        groups = c if grouped else 1
        w = np.ones((2 * groups, c // groups, k, k), np.float32)
        node = Conv2d("conv", weight=w, stride=(s, s), padding=(p, p), dilation=(d, d),
                      groups=groups)
        y = torch.nn.functional.conv2d(x, torch.from_numpy(w).double(), stride=s, padding=p,
                                       dilation=d, groups=groups)
    y.sum().backward()
    expect = x.grad[0].numpy().round().astype(np.int64)
    assert np.array_equal(fanout(node, (c, h, h + 1)), expect)


# ------------------------------------------------------------ ann_macs = ptflops on CNNs


def _to_graph(net: torch.nn.Sequential, in_shape: tuple[int, ...]) -> Graph:
    """A tiny converter for the test: Conv2d/Linear + LIF, pools, flatten; last layer Readout."""
    g = Graph()
    g.add(Input("in", shape=in_shape, encoding="direct"))
    prev = "in"
    x = torch.zeros(1, *in_shape)
    mods = list(net)
    for i, m in enumerate(mods):
        x = m(x)
        out = tuple(x.shape[1:])
        name = f"m{i}"
        if isinstance(m, torch.nn.Conv2d):
            g.add(Conv2d(name, weight=m.weight.detach().numpy(), stride=m.stride,
                         padding=m.padding, dilation=m.dilation, groups=m.groups), prev)
        elif isinstance(m, torch.nn.Linear):
            g.add(Dense(name, weight=m.weight.detach().numpy()), prev)
        elif isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d)):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            g.add(AvgPool2d(name, kernel=(k, k), stride=(k, k)), prev)
        elif isinstance(m, torch.nn.Flatten):
            g.add(Flatten(name), prev)
        else:  # activation: a neuron layer
            last = all(not isinstance(n, (torch.nn.Conv2d, torch.nn.Linear)) for n in mods[i:])
            cls = Readout if last else CubaLIF
            g.add(cls(name, shape=out), prev)
        prev = name
    g.inputs, g.outputs = ["in"], [prev]
    return g


def _ptflops_macs(net: torch.nn.Module, in_shape: tuple[int, ...]) -> int:
    ptflops = pytest.importorskip("ptflops")
    macs, _ = ptflops.get_model_complexity_info(
        net, in_shape, as_strings=False, print_per_layer_stat=False,
        ignore_modules=[torch.nn.ReLU, torch.nn.MaxPool2d, torch.nn.AvgPool2d, torch.nn.Flatten],
        backend="pytorch", backend_specific_config={"count_functional": False})
    return int(macs)


NETS = {
    "lenet": (lambda: torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2, bias=False), torch.nn.ReLU(), torch.nn.AvgPool2d(2),
        torch.nn.Conv2d(6, 16, 5, bias=False), torch.nn.ReLU(), torch.nn.AvgPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(400, 120, bias=False), torch.nn.ReLU(),
        torch.nn.Linear(120, 84, bias=False), torch.nn.ReLU(),
        torch.nn.Linear(84, 10, bias=False), torch.nn.ReLU()), (1, 28, 28)),
    "vgg": (lambda: torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1, bias=False), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 16, 3, padding=1, bias=False), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1, bias=False), torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=2, bias=False), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(32 * 4 * 4, 64, bias=False), torch.nn.ReLU(),
        torch.nn.Linear(64, 10, bias=False), torch.nn.ReLU()), (3, 32, 32)),
}


@pytest.mark.parametrize("name", sorted(NETS))
def test_ann_macs_equal_ptflops(name):
    make, in_shape = NETS[name]
    torch.manual_seed(0)
    net = make()
    g = _to_graph(net, in_shape)
    from neurodeploy.ir import infer_shapes
    counts = {n: np.zeros(s) for n, s in infer_shapes(g).items()}
    rows = count_ops(g, counts, T=1)
    assert sum(r.ann_macs for r in rows) == _ptflops_macs(net, in_shape)


# ------------------------------------------------------------ errors and reproducibility


def test_missing_or_misshapen_counts_name_the_node():
    counts = {k: v for k, v in MLP_COUNTS.items() if k != "lif1"}
    with pytest.raises(NeurodeployError, match="node 'lif1'"):
        count_ops(mlp(), counts, T=3)
    with pytest.raises(NeurodeployError, match="node 'in'.*shape"):
        count_ops(mlp(), dict(MLP_COUNTS, **{"in": np.zeros(5)}), T=3)
    with pytest.raises(NeurodeployError, match="given twice"):
        estimate_energy(mlp(), MLP_COUNTS, 3, [load_profile("loihi1")] * 2)


def test_energy_cli_json_is_reproducible_and_has_the_keys(tmp_path, capsys):
    from neurodeploy.cli.main import main

    rng = np.random.default_rng(0)
    g = Graph(metadata={"T": 6})
    g.add(Input("in", shape=(64,), encoding="direct"))
    g.add(Dense("fc1", weight=rng.normal(0, 0.5, (16, 64)).astype(np.float32)), "in")
    g.add(CubaLIF("lif1", shape=(16,)), "fc1")
    g.add(Dense("fc2", weight=rng.normal(0, 0.5, (10, 16)).astype(np.float32)), "lif1")
    g.add(Readout("out", shape=(10,)), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    path = tmp_path / "m.ndg"
    save_graph(g, path)
    args = ["energy", str(path), "--data", "digits", "--samples", "40", "--profile",
            "cmos45nm", "--profile", "loihi2", "--json"]
    outs = []
    for _ in range(2):
        assert main(args) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]
    doc = json.loads(outs[0])
    assert [r["name"] for r in doc["layers"]] == ["fc1", "fc2"]
    for r in doc["layers"]:
        assert {"name", "ann_macs", "snn_macs", "snn_acs", "firing_rate"} <= set(r)
    assert doc["profiles"] == ["cmos45nm", "loihi2"]
    tot = doc["totals"]
    assert set(tot) == {"ann_macs", "snn_macs", "snn_acs", "energy_pj"}
    assert set(tot["energy_pj"]) == {"cmos45nm", "loihi2"}
    assert set(tot["energy_pj"]["loihi2"]) == {"snn", "ann"}
    assert tot["ann_macs"] == 64 * 16 + 16 * 10
    assert doc["layers"][0]["snn_acs"] == 0.0 and doc["layers"][0]["snn_macs"] > 0
    assert doc["layers"][1]["snn_acs"] == pytest.approx(
        doc["layers"][0]["spikes"] * 10, abs=1e-4)
    assert doc["chips"]["loihi2"]["cores"] == 2
    assert main(args[:-1] + ["--profile", "nosuch"]) == 1
    assert "unknown hardware profile 'nosuch'" in capsys.readouterr().err


def test_spike_data_and_one_bit_inputs_count_as_acs():
    from neurodeploy.ir import InputQ

    counts = dict(MLP_COUNTS)
    assert count_ops(mlp("direct"), counts, T=3)[0].snn_macs == 18.0
    assert count_ops(mlp("direct"), counts, T=3, spike_data=True)[0].snn_acs == 18.0
    g = mlp("direct")
    g.nodes["in"].quant = InputQ(scale=1.0, bits=1)
    assert count_ops(g, counts, T=3)[0].snn_acs == 18.0
