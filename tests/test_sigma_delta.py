"""Sigma-delta neurons with graded spikes (``neurodeploy.kinds.sigma_delta``): the fixed step
against Lava's own fixed-point model methods (lava/proc/sdn/models.py), the float step against
a hand-written loop, lava-dl's PilotNet SDNN imported from netx and simulated exactly as
lava-dl's test records it, and the refusals (range, quantization, NIR).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from neurodeploy.converters.netx import from_netx, netx_timing

from neurodeploy import kinds
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Flatten, Graph, SigmaDelta, SigmaDeltaQ, graph_diff, load_graph
from neurodeploy.kinds import sigma_delta as sd
from neurodeploy.sim import simulate

DATA = Path(os.environ.get("NEURODEPLOY_REFERENCE_DATA",
                           Path(__file__).resolve().parents[1].parent / "shared" / "data"))
SDNN = DATA / "lava-dl" / "pilotnet_sdnn"


def _need(*paths: Path) -> None:
    for p in paths:
        if not p.exists():
            pytest.skip(f"reference data {p} is not here")


# ---------------------------------------------------------------- fixed step = Lava's models


def _lava_reference(mode: str, relu: bool, vth: int, bias: np.ndarray, se: int, st_: int,
                    a_seq: np.ndarray) -> list[np.ndarray]:
    """Lava's fixed-point models (their own methods, on int32 arrays as Lava holds them),
    stepped as their ``run_spk`` does; returns the graded output of every step."""
    from lava.proc.sdn.models import (
        PyDeltaModelFixed,
        PySigmaDeltaModelFixed,
        PySigmaModelFixed,
    )
    from lava.proc.sdn.process import ActivationMode

    n = a_seq.shape[1]
    z = np.zeros(n, np.int32)
    cls = {"sigma_delta": PySigmaDeltaModelFixed, "delta": PyDeltaModelFixed,
           "sigma": PySigmaModelFixed}[mode]
    m = cls.__new__(cls)
    m.sigma, m.act, m.residue, m.error = z.copy(), z.copy(), z.copy(), z.copy()
    m.vth = np.array([vth << (se + st_)], np.int32)
    m.bias = (bias.astype(np.int32) << (se + st_)).astype(np.int32)
    m.cum_error = np.array([False])
    m.act_mode = ActivationMode.RELU if relu else ActivationMode.UNIT
    m.spike_exp, m.state_exp = np.array([se], np.int32), np.array([st_], np.int32)
    out = []
    for a in a_seq.astype(np.int32):
        if mode == "sigma":
            m.sigma = m.sigma_dynamics(a)
            out.append(m.sigma.copy())
        elif mode == "delta":
            a = np.left_shift(a, m.spike_exp + m.state_exp)
            s = np.right_shift(m.delta_dynamics(a), m.state_exp)
            m.act = a
            out.append(s)
        else:
            out.append(np.right_shift(m.dynamics(a), m.state_exp))
    return out


@given(mode=st.sampled_from(["sigma_delta", "delta", "sigma"]), relu=st.booleans(),
       vth=st.integers(0, 40), se=st.integers(0, 7), st_=st.integers(0, 7),
       seed=st.integers(0, 2**16), big=st.booleans())
def test_fixed_step_equals_lavas_models(mode: str, relu: bool, vth: int, se: int, st_: int,
                                        seed: int, big: bool) -> None:
    pytest.importorskip("lava.proc.sdn.models")
    rng = np.random.default_rng(seed)
    n, T = 7, 6
    hi = 2**30 if big else 3000  # big: int32 wraps in Lava's arithmetic
    a_seq = rng.integers(-hi, hi, (T, n))
    if mode == "delta":
        a_seq = a_seq >> (se + st_)
    bias = rng.integers(-40, 40, n)
    lava = _lava_reference(mode, relu, vth, bias, se, st_, a_seq)
    node = SigmaDelta("sd", shape=(n,), mode=mode,
                      activation="relu" if relu and mode == "sigma_delta" else "identity",
                      quant=SigmaDeltaQ(vth=vth, bias=bias if mode == "sigma_delta" else 0,
                                        spike_exp=se, state_exp=st_))
    kind = kinds.kind_of(node)
    state = kind.initial_state(node, (1, n), True, "cpu")
    params = kind.fixed_params(node, "cpu")
    if mode != "sigma_delta":
        lava = _lava_reference(mode, relu, vth, np.zeros(n, np.int64), se, st_, a_seq)
    for t in range(T):
        state, y, sat = kind.fixed_step(state, torch.as_tensor(a_seq[t][None]), params)
        np.testing.assert_array_equal(y[0].numpy(), lava[t], err_msg=f"step {t}")
        if not big:
            assert not sat.any()


def test_saturation_marks_states_beyond_24_bits() -> None:
    """Lava's Python model keeps int32; Loihi's state is 24-bit: the step flags the neurons
    where they part (the values stay Lava's)."""
    node = SigmaDelta("sd", shape=(3,), activation="identity", quant=SigmaDeltaQ())
    kind = kinds.kind_of(node)
    state = kind.initial_state(node, (1, 3), True, "cpu")
    a = torch.tensor([[2**23 - 1, 2**23, -(2**23)]])
    _, y, sat = kind.fixed_step(state, a, kind.fixed_params(node, "cpu"))
    assert sat[0].tolist() == [False, True, True]
    assert y[0].tolist() == a[0].tolist()  # Lava's int32 arithmetic does not clip them


def test_float_step_equals_a_plain_loop() -> None:
    rng = np.random.default_rng(1)
    i_seq = rng.normal(0, 2, (8, 5)).astype(np.float32)
    node = SigmaDelta("sd", shape=(5,), vth=np.float32(0.5), bias=np.float32(-0.3))
    kind = kinds.kind_of(node)
    state = kind.initial_state(node, (1, 5), False, "cpu")
    params = kind.float_params(node, "cpu")
    sigma = act = residue = np.zeros(5, np.float32)
    for t in range(8):
        state, y = kind.float_step(state, torch.as_tensor(i_seq[t][None]), params)
        sigma = sigma + i_seq[t]
        new = np.maximum(sigma - np.float32(0.3), 0)
        delta = new - act + residue
        s = np.where(np.abs(delta) >= 0.5, delta, 0)
        residue, act = delta - s, new
        np.testing.assert_allclose(y[0].numpy(), s, rtol=1e-6, atol=1e-6)
    # graded spikes add up to the activation minus what is still held back
    np.testing.assert_allclose(state.act[0].numpy() - state.residue[0].numpy(), act - residue,
                               atol=1e-5)


# ---------------------------------------------------------------- PilotNet SDNN (lava-dl)


def _pilotnet_input(T: int) -> np.ndarray:
    """lava-dl's input.npy [W, H, C, 1] repeated every step as IR data [T, 1, C, H, W]."""
    x = np.load(SDNN / "input.npy")[..., 0].T.astype(np.float32)
    return np.ascontiguousarray(np.broadcast_to(x[None, None], (T, 1) + x.shape))


def test_pilotnet_sdnn_imports() -> None:
    _need(SDNN / "network.net")
    g = from_netx(SDNN / "network.net")
    neurons = [n for n in g if isinstance(n, SigmaDelta)]
    assert [n.mode for n in neurons] == ["delta"] + ["sigma_delta"] * 7 + ["sigma"]
    assert g.in_edges("layer0.neuron")[0].src == "in"
    assert g["in"].quant.bits == 12 and g["in"].quant.signed
    q = g["layer1.neuron"].quant
    assert (q.vth, q.spike_exp, q.state_exp) == (13, 6, 6) and q.bias.shape == (24, 16, 49)
    assert neurons[-1].quant.vth == 0 and not np.any(neurons[-1].quant.bias)


def test_pilotnet_sdnn_fixed_simulation_reproduces_lava_dl_output() -> None:
    """lava-dl's test_pilotnet_sdnn: input.npy repeated into the input block's neuron, the last
    layer's output over len(net.layers) = 9 Lava steps, Loihi2SimCfg fixed_pt. netx runs the
    SDNN as a pipeline with biases from step 0 (``netx_timing``); IR step t = Lava step t + 1.
    """
    _need(SDNN / "network.net", SDNN / "input.npy", SDNN / "output.npy")
    g = from_netx(SDNN / "network.net")
    expected = np.load(SDNN / "output.npy").astype(np.int64)  # (1, 9)
    out = g.outputs[0]
    res = simulate(netx_timing(g), _pilotnet_input(9), mode="fixed", record=[out])
    got = res.records[out]["s"].numpy().reshape(9, 1).T
    assert np.abs(got - expected).max() == 0
    np.testing.assert_array_equal(got, expected)
    assert np.count_nonzero(expected) == 8  # not vacuous
    assert not any(res.saturations.values())
    # the graph output reports the sigma in float units (2**-12 per unit)
    np.testing.assert_allclose(res.outputs[out].numpy().reshape(-1), expected[0] / 4096.0)


def test_pilotnet_sdnn_export_cli_and_ndg_round_trip(tmp_path: Path) -> None:
    _need(SDNN / "network.net")
    dst = tmp_path / "s.ndg"
    r = subprocess.run([sys.executable, "-m", "neurodeploy", "export",
                        str(SDNN / "network.net"), "-o", str(dst)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not graph_diff(load_graph(dst), from_netx(SDNN / "network.net"))


# ---------------------------------------------------------------- refusals


def _sdnn_file(path: Path, vth: int = 3, bias: float = 2.0) -> Path:
    """A tiny netx SDNN: input block (Delta) 4 → dense 3 (SigmaDelta) → dense 1 (Sigma)."""
    import h5py

    with h5py.File(path, "w") as f:
        def s(g, k, v):
            g.create_dataset(k, (1,), "S10", [v.encode()])
        g0 = f.create_group("layer/0")
        s(g0, "type", "input")
        g0.create_dataset("shape", data=np.array([4]))
        g0.create_dataset("neuron/type", data="SDNN")
        g0.create_dataset("neuron/vThMant", data=0)
        g1 = f.create_group("layer/1")
        s(g1, "type", "dense")
        g1.create_dataset("shape", data=np.array([3]))
        g1.create_dataset("weight", data=np.arange(12, dtype=np.float32).reshape(3, 4) - 6)
        g1.create_dataset("bias", data=np.full(3, bias, np.float32))
        g1.create_dataset("neuron/type", data="SDNN")
        g1.create_dataset("neuron/vThMant", data=vth)
        g2 = f.create_group("layer/2")
        s(g2, "type", "dense")
        g2.create_dataset("shape", data=np.array([1]))
        g2.create_dataset("weight", data=np.ones((1, 3), np.float32))
        g2.create_dataset("neuron/type", data="SDNN")
        g2.create_dataset("neuron/vThMant", data=0)
        g2.create_dataset("neuron/sigma_output", data=True)
    return path


def test_sdnn_parameters_outside_loihis_range_are_refused_at_import(tmp_path: Path) -> None:
    g = from_netx(_sdnn_file(tmp_path / "ok.net"))
    assert [n.mode for n in g if isinstance(n, SigmaDelta)] == ["delta", "sigma_delta", "sigma"]
    with pytest.raises(NeurodeployError, match=r"layer 1 \(dense\): neuron: threshold vth = "
                       r"5000 outside \[0, 2047\]"):
        from_netx(_sdnn_file(tmp_path / "vth.net", vth=5000))
    with pytest.raises(NeurodeployError, match=r"layer 1 \(dense\): neuron: \|bias\| = 3000 "
                       r"exceeds 2047"):
        from_netx(_sdnn_file(tmp_path / "bias.net", bias=3000.0))
    import h5py

    mixed = _sdnn_file(tmp_path / "mixed.net")
    with h5py.File(mixed, "a") as f:
        del f["layer/2/neuron"]
        for k, v in (("type", "CUBA"), ("iDecay", 4096), ("vDecay", 0), ("vThMant", 2**17)):
            f.create_dataset(f"layer/2/neuron/{k}", data=v)
    with pytest.raises(NeurodeployError, match="mixes SDNN and CUBA neurons"):
        from_netx(mixed)


def test_exponents_outside_loihis_range_are_refused() -> None:
    for f, v in (("spike_exp", 8), ("state_exp", -1)):
        node = SigmaDelta("bad", shape=(2,), quant=SigmaDeltaQ(vth=1, **{f: v}))
        g = Graph()
        from neurodeploy.ir import Input, InputQ
        g.add(Input("in", shape=(2,), quant=InputQ(scale=1.0, bits=8)))
        g.add(node, "in")
        g.inputs, g.outputs = ["in"], ["bad"]
        from neurodeploy.ir import validate
        with pytest.raises(NeurodeployError, match=rf"node 'bad' \(sigma_delta\): {f} = {v} "
                           r"outside Loihi's 3-bit range \[0, 7\]"):
            validate(g)


def float_sdnn_graph(seed: int = 0) -> Graph:
    """A float SDNN: frames (2, 6, 6) → conv → SigmaDelta ReLU (per-neuron bias) → flatten →
    dense → SigmaDelta ReLU → dense → Sigma read-out."""
    from neurodeploy.ir import Conv2d, Dense, Flatten, Input

    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": 8})
    g.add(Input("in", shape=(2, 6, 6), encoding="direct"))
    g.add(Conv2d("conv", weight=rng.normal(0, 0.5, (4, 2, 3, 3)).astype(np.float32)), "in")
    g.add(SigmaDelta("sd1", shape=(4, 4, 4), vth=np.float32(0.05),
                     bias=rng.normal(0, 0.2, (4, 4, 4)).astype(np.float32)), "conv")
    g.add(Flatten("flat"), "sd1")
    g.add(Dense("fc", weight=rng.normal(0, 0.3, (10, 64)).astype(np.float32)), "flat")
    g.add(SigmaDelta("sd2", shape=(10,), vth=np.float32(0.02), bias=np.float32(0.1)), "fc")
    g.add(Dense("fc2", weight=rng.normal(0, 0.5, (3, 10)).astype(np.float32)), "sd2")
    g.add(SigmaDelta("out", shape=(3,), mode="sigma", activation="identity"), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def _dataset(n: int = 32, seed: int = 0):
    from neurodeploy.data.datasets import Dataset

    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2, 6, 6)).astype(np.float32)
    return Dataset(x, rng.integers(0, 3, n), "rand", "direct", 3)


def test_float_sigma_delta_graph_quantizes_close_to_float() -> None:
    """The kind's rule: exponents 0, vth and bias times the layer scale λ, a graded spike worth
    1/λ downstream; the fixed-point read-out stays within 5 % of the float one's range (8-bit
    input and weights; the sigma integrates a direct input every step)."""
    from neurodeploy.quantize import quantize

    g = float_sdnn_graph()
    ds = _dataset()
    q, report = quantize(g, ds)
    for name in ("sd1", "sd2", "out"):
        sq = q[name].quant
        assert (sq.spike_exp, sq.state_exp) == (0, 0)
    lam = next(r.scale for r in report.layers if r.name == "sd1")
    assert q["sd1"].quant.vth == round(0.05 * lam)
    np.testing.assert_array_equal(q["sd1"].quant.bias,
                                  np.round(lam * g["sd1"].bias.astype(np.float64)))
    x = np.repeat(ds.x[None, :8], 8, 0)
    a = simulate(g, x, mode="float").outputs["out"].numpy()
    res = simulate(q, x, mode="fixed")
    b = res.outputs["out"].numpy()
    assert not any(res.saturations.values())
    assert np.abs(a - b).max() <= 0.05 * np.abs(a).max()


def test_sigma_delta_quantization_refusals_name_the_node() -> None:
    from neurodeploy.ir import Dense, Input
    from neurodeploy.quantize import quantize

    g = float_sdnn_graph()
    g["fc"].bias = np.ones(10, np.float32)
    with pytest.raises(NeurodeployError, match=r"node 'sd2' \(sigma_delta\): a synapse bias "
                       "would accumulate in its sigma"):
        quantize(g, _dataset(4))
    # fed without a synapse, the encoder takes the input's scale: its threshold cannot fit
    g = Graph(metadata={"T": 4})
    g.add(Input("in", shape=(2, 6, 6), encoding="direct"))
    g.add(SigmaDelta("enc", shape=(2, 6, 6), mode="delta", activation="identity",
                     vth=np.float32(1e6)), "in")
    g.add(Flatten("flat"), "enc")
    g.add(Dense("fc", weight=np.ones((2, 72), np.float32)), "flat")
    g.add(SigmaDelta("out", shape=(2,), mode="sigma", activation="identity"), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    with pytest.raises(NeurodeployError, match=r"node 'enc' \(sigma_delta\): at scale "
                       r"[0-9.]+, threshold vth = [0-9]+ outside \[0, 8388607\]"):
        quantize(g, _dataset(4))


@pytest.mark.lava
def test_quantized_float_sdnn_compares_identical_in_lava() -> None:
    from neurodeploy.lava.comparison import compare
    from neurodeploy.quantize import quantize

    q, _ = quantize(float_sdnn_graph(), _dataset())
    result = compare(q, _dataset(2, seed=3), samples=2, T=6)
    assert result["identical"], result["first_divergence"]


def test_nir_export_refuses_sigma_delta_naming_the_node() -> None:
    from neurodeploy.converters.nir import to_nir

    with pytest.raises(NeurodeployError, match=r"node 'sd1' \(sigma_delta\): NIR has no "
                       "sigma-delta primitive"):
        to_nir(float_sdnn_graph())
    assert sd.SigmaDeltaKind().nir_types() == ()


# ---------------------------------------------------------------- netx export


def test_sdnn_round_trip_through_netx_is_the_identity(tmp_path: Path) -> None:
    import h5py

    from neurodeploy.lava.netx import export_netx

    sources = [_sdnn_file(tmp_path / "tiny.net")]
    if (SDNN / "network.net").exists():
        sources.append(SDNN / "network.net")
    for src in sources:
        g = from_netx(src)
        ex = export_netx(g, tmp_path / "rt.net")
        assert ex.approximated == [] and ex.patched == []
        h = from_netx(tmp_path / "rt.net")
        h.metadata["file"] = g.metadata["file"]
        assert graph_diff(g, h) is None, src
    with h5py.File(tmp_path / "rt.net", "r") as f:  # the last one written, as written
        last = f["layer"][str(max(int(k) for k in f["layer"]))]
        assert f["layer/0/neuron/type"][()].decode() == "SDNN"
        assert bool(last["neuron/sigma_output"][()]) and "bias" not in last


def test_sdnn_nodes_netx_cannot_express_are_refused(tmp_path: Path) -> None:
    from neurodeploy.lava.netx import export_netx

    g = from_netx(_sdnn_file(tmp_path / "tiny.net"))
    g["layer1.neuron"].quant.spike_exp = 4
    with pytest.raises(NeurodeployError, match=r"node 'layer1.neuron' \(sigma_delta\): "
                       "spike_exp 4, state_exp 6; netx runs every SDNN layer with spike_exp 6"):
        export_netx(g, tmp_path / "a.net")
    g = from_netx(_sdnn_file(tmp_path / "tiny.net"))
    g["layer1.neuron"].activation = "identity"
    with pytest.raises(NeurodeployError, match="netx's SDNN neurons are ReLU"):
        export_netx(g, tmp_path / "b.net")
    g = from_netx(_sdnn_file(tmp_path / "tiny.net"))
    g["layer1.neuron"].mode, g["layer1.neuron"].activation = "delta", "identity"
    g["layer1.neuron"].bias = np.float32(0)
    g["layer1.neuron"].quant.bias = np.zeros((), np.int32)
    with pytest.raises(NeurodeployError, match="netx builds a Delta encoder only for its input"):
        export_netx(g, tmp_path / "c.net")
    assert not (tmp_path / "c.net").exists()


def run_lava_dl_sdnn(path: Path, frame_whc: np.ndarray, steps: int) -> np.ndarray:
    """lava-dl's test_pilotnet_sdnn procedure on a netx file: a RingBuffer repeating the frame
    into ``net.in_layer.neuron.a_in``, a RingBuffer sink on ``net.out_layer.out``,
    ``Loihi2SimCfg(select_tag='fixed_pt')``; the sink's data ``[*out_shape, steps]``."""
    from lava.lib.dl.netx.hdf5 import Network
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc import io

    net = Network(net_config=str(path))
    source = io.source.RingBuffer(data=frame_whc)
    sink = io.sink.RingBuffer(shape=net.out_layer.out.shape, buffer=steps)
    source.s_out.connect(net.in_layer.neuron.a_in)
    net.out_layer.out.connect(sink.a_in)
    net.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    out = sink.data.get()
    net.stop()
    return out


@pytest.mark.lava
def test_exported_pilotnet_sdnn_runs_in_lava_dl_netx_as_the_original(tmp_path: Path) -> None:
    """PilotNet SDNN → IR → our netx export → lava-dl's netx, run as lava-dl's test runs the
    original: output.npy exactly."""
    _need(SDNN / "network.net", SDNN / "input.npy", SDNN / "output.npy")
    pytest.importorskip("lava.lib.dl.netx")
    from neurodeploy.lava.netx import export_netx

    export_netx(from_netx(SDNN / "network.net"), tmp_path / "p.net")
    out = run_lava_dl_sdnn(tmp_path / "p.net", np.load(SDNN / "input.npy"), 9)
    np.testing.assert_array_equal(out, np.load(SDNN / "output.npy"))


# ---------------------------------------------------------------- energy and mapping


def test_graded_spikes_are_priced_as_macs(tmp_path: Path) -> None:
    """Synaptic ops fed by graded spikes are multiply-accumulates: in the energy model (the
    kind's ``binary = False``) and in the mapping's sources, so the performance model prices
    them with ``mac_pj`` (and never ``ac_pj``)."""
    from profile_edit import edited_profile

    from neurodeploy.energy import count_ops
    from neurodeploy.mapping import map_graph
    from neurodeploy.mapping.layers import graph_layers
    from neurodeploy.perf import activity_from_records, activity_nodes, simulate_perf

    g = from_netx(_sdnn_file(tmp_path / "tiny.net"))
    layers = {layer.name: layer for layer in graph_layers(g)}
    assert all(s.graded for s in layers["layer1.neuron"].sources)
    assert all(s.graded for s in layers["layer2.neuron"].sources)
    x = np.random.default_rng(0).integers(-100, 100, (6, 1, 4)).astype(np.float32)
    res = simulate(g, x, mode="fixed", record=activity_nodes(g))
    counts = {n: (v.numpy() != 0).sum(0).mean(0) for n, v in
              ((n, r.get("s", r.get("y"))) for n, r in res.records.items())}
    rows = {r.name: r for r in count_ops(g, counts, 6)}
    assert rows["layer1"].snn_macs > 0 and rows["layer1"].snn_acs == 0
    assert rows["layer2"].snn_macs > 0 and rows["layer2"].snn_acs == 0
    act = activity_from_records(g, res.records)
    energies, synops = [], 0.0
    for mac, ac in ((1.0, 1.0), (2.0, 1.0), (1.0, 5.0)):
        p = edited_profile(tmp_path, "loihi2", mac_pj=mac, ac_pj=ac)
        perf = simulate_perf(map_graph(g, p), act, p)
        energies.append(perf.dynamic_energy_pj)
        synops = float(perf.core_synops.sum())
    assert synops > 0
    assert energies[1] - energies[0] == pytest.approx(synops, rel=1e-6)
    assert energies[2] == pytest.approx(energies[0], rel=1e-9)
