"""Lava float mode: lava-nc ``floating_pt`` equals the float simulator on every layer.

Each graph runs once in Lava, its 20 samples in one compiled network (module fixture). Spikes
must be identical at every layer, step and sample; ``u`` and ``v`` within 1e-5 of the layer's
scale (``neurodeploy.lava.comparison``): the simulator computes in float32, Lava's Dense/LIF in
float64 and its Conv in float32, so they differ by rounding only (measured ~1e-7).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava.magma")
pytestmark = pytest.mark.lava

from neurodeploy.errors import NeurodeployError  # noqa: E402
from neurodeploy.ir import (  # noqa: E402
    Add,
    AvgPool2d,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    Readout,
)
from neurodeploy.lava import simulate_lava  # noqa: E402
from neurodeploy.lava.comparison import compare_records  # noqa: E402
from neurodeploy.sim import simulate  # noqa: E402

T_STEPS = 32
N_SAMPLES = 20
RTOL = 1e-5
f32 = np.float32


def _dense(name: str, rng: np.random.Generator, n_out: int, n_in: int, std: float,
           bias: bool = False) -> Dense:
    return Dense(name, weight=rng.normal(0, std, (n_out, n_in)).astype(f32),
                 bias=rng.normal(0, 0.1, n_out).astype(f32) if bias else None)


def _lif(name: str, rng: np.random.Generator, shape: tuple[int, ...], vth: float = 1.0,
         refractory: int = 0) -> CubaLIF:
    return CubaLIF(name, shape=shape, du=f32(rng.uniform(0.2, 0.8)), dv=f32(rng.uniform(0.05, 0.4)),
                   vth=f32(vth), bias=rng.normal(0, 0.05, shape).astype(f32),
                   refractory=refractory)


def _readout(name: str, n: int) -> Readout:
    return Readout(name, shape=(n,), du=f32(0.5), dv=f32(0.1), bias=f32(0.01))


def float_mlp(seed: int = 0) -> Graph:
    """20 spikes → dense (bias) → LIF → dense → readout."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": T_STEPS, "source": "test"})
    g.add(Input("in", shape=(20,), encoding="spikes"))
    g.add(_dense("fc1", rng, 24, 20, 0.8, bias=True), "in")
    g.add(_lif("lif1", rng, (24,)), "fc1")
    g.add(_dense("fc2", rng, 10, 24, 0.5), "lif1")
    g.add(_readout("out", 10), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def float_conv(seed: int = 1) -> Graph:
    """(1, 8, 8) graded image → conv 3×3 (bias) → LIF (refractory 1) → avg-pool 2×2 → flatten
    → dense → LIF → dense (bias) → readout."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": T_STEPS, "source": "test"})
    g.add(Input("in", shape=(1, 8, 8), encoding="direct"))
    g.add(Conv2d("conv", weight=rng.normal(0, 0.6, (4, 1, 3, 3)).astype(f32),
                 bias=rng.normal(0, 0.1, 4).astype(f32), padding=(1, 1)), "in")
    g.add(_lif("lif0", rng, (4, 8, 8), refractory=1), "conv")
    g.add(AvgPool2d("pool", kernel=(2, 2), stride=(2, 2)), "lif0")
    g.add(Flatten("flat"), "pool")
    g.add(_dense("fc1", rng, 16, 64, 0.5), "flat")
    g.add(_lif("lif1", rng, (16,)), "fc1")
    g.add(_dense("fc2", rng, 10, 16, 0.5, bias=True), "lif1")
    g.add(_readout("out", 10), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def float_residual(seed: int = 2) -> Graph:
    """Residual paths of unequal length: lif3 ← fc3(lif2(fc2(lif1))) + skip(lif1) + lif1."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": T_STEPS, "source": "test"})
    g.add(Input("in", shape=(16,), encoding="spikes"))
    g.add(_dense("fc1", rng, 12, 16, 0.8), "in")
    g.add(_lif("lif1", rng, (12,)), "fc1")
    g.add(_dense("fc2", rng, 12, 12, 0.8, bias=True), "lif1")
    g.add(_lif("lif2", rng, (12,)), "fc2")
    g.add(_dense("fc3", rng, 12, 12, 0.6), "lif2")
    g.add(_dense("skip", rng, 12, 12, 0.4, bias=True), "lif1")
    g.add(Add("res"), "fc3", "skip")
    g.add(_lif("lif3", rng, (12,)), "res", "lif1")
    g.add(_dense("fc4", rng, 5, 12, 0.5), "lif3")
    g.add(_readout("out", 5), "fc4")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def float_recurrent(seed: int = 3) -> Graph:
    """in → fc1 → lif1 ⟲ (rec with bias, delay 1) → fc2 → readout."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": T_STEPS, "source": "test"})
    g.add(Input("in", shape=(12,), encoding="spikes"))
    g.add(_dense("fc1", rng, 16, 12, 0.8), "in")
    g.add(_dense("rec", rng, 16, 16, 0.4, bias=True))
    g.add(_lif("lif1", rng, (16,)), "fc1", "rec")
    g.connect("lif1", "rec", delay=1)
    g.add(_dense("fc2", rng, 4, 16, 0.5), "lif1")
    g.add(_readout("out", 4), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


GRAPHS = {"mlp": float_mlp, "conv_pool": float_conv, "residual": float_residual,
          "recurrent": float_recurrent}


def float_input(g: Graph, seed: int, T: int = T_STEPS, B: int = N_SAMPLES) -> np.ndarray:
    """Spikes (p = 0.3) for spike inputs, steady uniform images for direct inputs."""
    rng = np.random.default_rng(200 + seed)
    node = g[g.inputs[0]]
    if node.encoding == "spikes":
        return (rng.random((T, B) + node.shape) < 0.3).astype(f32)
    img = rng.random((B,) + node.shape).astype(f32)
    return np.broadcast_to(img, (T, B) + node.shape).copy()


@pytest.fixture(scope="module")
def runs() -> dict:
    out = {}
    for i, (key, make) in enumerate(GRAPHS.items()):
        g = make()
        x = float_input(g, i)
        out[key] = (g, x, simulate(g, x, mode="float", record=True),
                    simulate_lava(g, x, record=True, mode="float"))
    return out


def _neurons(g: Graph) -> list[str]:
    return [n for n in g.nodes if isinstance(g[n], (CubaLIF, Readout))]


@pytest.mark.parametrize("key", list(GRAPHS))
def test_lava_float_equals_float_simulator_every_layer_and_step(runs: dict, key: str) -> None:
    g, x, sim, lava = runs[key]
    assert lava.mode == "float" and set(lava.records) == set(g.nodes)
    neurons = _neurons(g)
    layers, first = compare_records(g, {n: sim.records[n] for n in neurons},
                                    {n: lava.records[n] for n in neurons}, rtol=RTOL)
    assert first is None, f"{key}: {first}"
    for entry in layers:  # spikes identical, u and v to rounding
        assert entry["s"] and entry["u"] and entry["v"], entry
        assert max(entry["max_rel_error"].values()) < RTOL, entry
    for name in g.nodes:  # synapse outputs (with their biases) too, elementwise
        for var, want in sim.records[name].items():
            got = lava.records[name][var]
            assert got.dtype == want.dtype == torch_float32() and got.shape == want.shape
            scale = float(want.abs().max())
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=RTOL,
                                       atol=RTOL * max(scale, 1e-12), err_msg=f"{key} {name}.{var}")
    for name, node in g.nodes.items():
        if isinstance(node, CubaLIF):
            np.testing.assert_array_equal(lava.counts[name], sim.counts[name])
            assert 0.02 < sim.firing_rates[name] < 0.9, (key, name)  # not trivial
    for o in g.outputs:
        np.testing.assert_allclose(lava.outputs[o].numpy(), sim.outputs[o].numpy(), rtol=RTOL,
                                   atol=RTOL * float(sim.outputs[o].abs().max()))
    np.testing.assert_array_equal(lava.predictions, sim.predictions)


def torch_float32():
    import torch

    return torch.float32


def test_float_compare_catches_a_small_weight_change() -> None:
    """compare(mode="float") end to end: a 1e-3 relative change of one weight of fc2 (which feeds
    the readout only) is reported at 'out', with 'lif1' still agreeing."""
    import copy

    from neurodeploy.data import Dataset
    from neurodeploy.lava import compare

    g = float_mlp()
    x = float_input(g, 0, B=4)
    ds = Dataset(x=np.ascontiguousarray(np.swapaxes(x, 0, 1)), y=np.zeros(4, np.int64),
                 name="float-spikes", encoding="spikes", n_classes=10, T=T_STEPS)
    bad = copy.deepcopy(g)
    bad["fc2"].weight[3, 5] *= 1.001
    res = compare(g, ds, samples=4, mode="float", lava_graph=bad)
    assert res["mode"] == "float" and res["rtol"] == RTOL and res["samples"] == 4
    assert res["identical"] is False
    d = res["first_divergence"]
    assert d["layer"] == "out" and d["neuron"] == 3 and d["variable"] == "u"
    by_layer = {e["layer"]: e for e in res["layers"]}
    assert by_layer["lif1"]["identical"] and not by_layer["out"]["identical"]
    assert by_layer["out"]["max_rel_error"]["u"] > RTOL


@pytest.mark.parametrize("change, message", [
    (lambda g: setattr(g["lif1"], "reset", "subtract"), "node 'lif1' (cuba_lif): Lava's float"),
    (lambda g: setattr(g["lif1"], "vth", np.linspace(0.5, 1.5, 24).astype(f32)),
     "node 'lif1' (cuba_lif): per-neuron vth differs"),
    (lambda g: setattr(g["out"], "du", np.linspace(0.1, 0.9, 10).astype(f32)),
     "node 'out' (readout): per-neuron du differs"),
])
def test_float_mode_refuses_what_lava_float_lif_cannot_express(change, message: str) -> None:
    g = float_mlp()
    change(g)
    with pytest.raises(NeurodeployError, match=message.replace("(", r"\(").replace(")", r"\)")):
        simulate_lava(g, float_input(g, 0, T=4, B=1), mode="float")


def test_float_mode_accepts_uniform_per_neuron_parameters_and_unknown_mode_is_refused() -> None:
    from neurodeploy.lava.compiler import check_float

    g = float_mlp()
    g["lif1"].vth = np.full(24, 0.7, f32)  # per-neuron array, one value: one Lava vth
    check_float(g)
    with pytest.raises(NeurodeployError, match="unknown Lava mode 'double'"):
        simulate_lava(g, float_input(g, 0, T=4, B=1), mode="double")
