"""Float simulator: hand-computed spikes, node semantics, batching, recording, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from graphs import random_graphs
from hypothesis import given, settings
from hypothesis import strategies as st

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import (
    Add,
    AvgPool2d,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    Readout,
    SumPool2d,
    infer_shapes,
)
from neurodeploy.sim import simulate


def _chain(reset: str = "zero", refractory: int = 0, decoding: str = "sum",
           weights: np.ndarray | None = None) -> Graph:
    g = Graph(metadata={"T": 6})
    g.add(Input("in", shape=(2,), encoding="direct"))
    g.add(Dense("fc1", weight=np.array([[1.0, 0.5]], np.float32)), "in")
    g.add(CubaLIF("lif", shape=(1,), du=1.0, dv=0.0, vth=1.0, reset=reset,
                  refractory=refractory), "fc1")
    g.add(Dense("fc2", weight=np.array([[1.0], [-2.0]], np.float32)), "lif")
    g.add(Readout("out", shape=(2,), du=1.0, dv=0.0, decoding=decoding, weights=weights), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


X_ONE = np.tile(np.array([1.0, 0.0], np.float32), (6, 1, 1))  # I = 1 every step


@pytest.mark.parametrize("reset,refractory,spikes", [
    ("zero", 0, [0, 1, 0, 1, 0, 1]),       # v: 1, 2→0, 1, 2→0, ...
    ("subtract", 0, [0, 1, 1, 1, 1, 1]),   # v: 1, 2→1, 2→1, ...
    ("none", 0, [0, 1, 1, 1, 1, 1]),       # v keeps growing past vth
    ("zero", 1, [0, 1, 0, 0, 1, 0]),       # after a spike: one step held at 0, then 1, 2
])
def test_hand_computed_spikes(reset: str, refractory: int, spikes: list[int]) -> None:
    res = simulate(_chain(reset, refractory), X_ONE, record=["lif", "out"])
    s = res.records["lif"]["s"][:, 0, 0].tolist()
    assert s == spikes
    # readout: u = W·s (du = 1), v integrates u (dv = 0)
    v = res.outputs["out"][:, 0].numpy()
    cum = np.cumsum(spikes)
    np.testing.assert_array_equal(v, np.stack([cum, -2 * cum], 1).astype(np.float32))
    np.testing.assert_array_equal(res.decoded.numpy()[0], [cum.sum(), -2 * cum.sum()])
    assert res.counts["lif"].tolist() == [float(sum(spikes))]
    assert res.firing_rates["lif"] == pytest.approx(sum(spikes) / 6)
    assert res.firing_rates["in"] == pytest.approx(0.5)  # one of two inputs nonzero


@pytest.mark.parametrize("decoding,expected", [
    ("mean", 1.5), ("max", 3.0), ("last", 3.0), ("sum", 9.0),
    ("weighted", 0 * 0 + 1 * 1 + 1 * 1 + 2 * 2),  # weights [0,1,1,2] then 0 beyond
])
def test_decodings(decoding: str, expected: float) -> None:
    w = np.array([0, 1, 1, 2], np.float32) if decoding == "weighted" else None
    res = simulate(_chain(decoding=decoding, weights=w), X_ONE)
    assert res.decoded[0, 0].item() == pytest.approx(expected)
    assert res.predictions.tolist() == [0]


def test_leaky_current_and_voltage_and_bias() -> None:
    g = Graph()
    g.add(Input("in", shape=(1,)))
    g.add(Readout("out", shape=(1,), du=0.5, dv=0.25, bias=0.125), "in")
    g.inputs, g.outputs = ["in"], ["out"]
    x = np.array([1, 0, 0], np.float32).reshape(3, 1, 1)
    res = simulate(g, x, record=True)
    u = res.records["out"]["u"][:, 0, 0].tolist()
    v = res.records["out"]["v"][:, 0, 0].tolist()
    assert u == [1.0, 0.5, 0.25]
    assert v == [1.125, 1.125 * 0.75 + 0.5 + 0.125, (1.125 * 0.75 + 0.625) * 0.75 + 0.375]


def test_recurrent_edge_is_one_step_late() -> None:
    g = Graph(metadata={"T": 4})
    g.add(Input("in", shape=(1,)))
    g.add(Dense("fc", weight=np.array([[2.0]], np.float32)), "in")
    g.add(Dense("rec", weight=np.array([[5.0]], np.float32)))
    g.add(CubaLIF("lif", shape=(1,), du=1.0, dv=1.0, vth=1.0), "fc", "rec")
    g.connect("lif", "rec", delay=1)
    g.add(Dense("ro", weight=np.array([[1.0]], np.float32)), "lif")
    g.add(Readout("out", shape=(1,)), "ro")
    g.inputs, g.outputs = ["in"], ["out"]
    x = np.array([1, 0, 0, 0], np.float32).reshape(4, 1, 1)
    res = simulate(g, x, record=["lif", "rec"])
    # t0: I = 2 → spike; t1: I = rec(s0) = 5 → spike; t2: 5 → spike ... self-sustained
    assert res.records["lif"]["s"][:, 0, 0].tolist() == [1, 1, 1, 1]
    assert res.records["rec"]["y"][:, 0, 0].tolist() == [0, 5, 5, 5]


def test_conv_pool_flatten_add_match_torch() -> None:
    rng = np.random.default_rng(1)
    g = Graph(metadata={"T": 3})
    g.add(Input("in", shape=(4, 9, 9)))
    w = rng.normal(size=(6, 2, 3, 3)).astype(np.float32)
    b = rng.normal(size=6).astype(np.float32)
    g.add(Conv2d("conv", weight=w, bias=b, stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                 groups=2), "in")
    g.add(SumPool2d("sp", kernel=(2, 2), stride=(1, 2), padding=(1, 0)), "conv")
    g.add(AvgPool2d("ap", kernel=(2, 2), stride=(1, 2), padding=(1, 0)), "conv")
    g.add(Add("add", ), "sp", "ap")
    g.add(Flatten("flat"), "add")
    n = infer_shapes(g)["flat"][0]
    g.add(Readout("out", shape=(n,), du=1.0, dv=1.0), "flat")
    g.inputs, g.outputs = ["in"], ["out"]
    x = rng.normal(size=(3, 2, 4, 9, 9)).astype(np.float32)
    res = simulate(g, x)
    xt = torch.as_tensor(x[1])
    c = torch.nn.functional.conv2d(xt, torch.as_tensor(w), torch.as_tensor(b), stride=(2, 1),
                                   padding=(1, 2), dilation=(1, 2), groups=2)
    avg = torch.nn.functional.avg_pool2d(c, 2, (1, 2), (1, 0), count_include_pad=True)
    want = (avg * 4 + avg).flatten(1)
    torch.testing.assert_close(res.outputs["out"][1], want, rtol=1e-5, atol=1e-5)


@settings(max_examples=15)
@given(random_graphs(), st.integers(2, 4))
def test_batch_is_independent_per_sample(g: Graph, batch: int) -> None:
    shape = infer_shapes(g)["in"]
    rng = np.random.default_rng(0)
    x = (rng.random((5, batch, *shape)) < 0.5).astype(np.float32)
    full = simulate(g, x, record=True)
    one = simulate(g, x[:, 1:2], record=True)
    for name, rec in one.records.items():
        for var, val in rec.items():
            torch.testing.assert_close(full.records[name][var][:, 1:2], val, rtol=1e-5,
                                       atol=1e-5)
    assert full.decoded.shape == (batch, full.outputs[g.outputs[0]].shape[-1])
    for name in g.nodes:
        assert full.counts[name].shape == infer_shapes(g)[name]


def test_errors_name_the_problem() -> None:
    g = _chain()
    with pytest.raises(NeurodeployError, match=r"input 'in': expected x of shape \[T, B, 2\]"):
        simulate(g, np.zeros((3, 1, 5), np.float32))
    with pytest.raises(NeurodeployError, match="unknown simulation mode 'int'"):
        simulate(g, X_ONE, mode="int")
    with pytest.raises(NeurodeployError, match="node 'in' .*InputQ"):
        simulate(g, X_ONE, mode="fixed")
    with pytest.raises(NeurodeployError, match="no node named 'nope'"):
        simulate(g, X_ONE, record=["nope"])
    if not torch.cuda.is_available():
        with pytest.raises(NeurodeployError, match="CUDA is not available"):
            simulate(g, X_ONE, device="cuda")
