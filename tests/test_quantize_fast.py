"""Fast calibration: a layer replayed on recorded spikes equals the simulator, and the quantizer's
shortcuts (replay, candidates with the same integers run once) change no result."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from neurodeploy.data import Dataset
from neurodeploy.ir import Conv2d, CubaLIF, Dense, Flatten, Graph, Input, Readout, SumPool2d
from neurodeploy.ir.equality import graph_diff
from neurodeploy.quantize import quantize
from neurodeploy.quantize import quantizer as qmod
from neurodeploy.quantize.quantizer import _layer_graph, _structure
from neurodeploy.quantize.replay import replay_layer
from neurodeploy.sim import simulate


def _cnn(rng: np.random.Generator, T: int = 12) -> Graph:
    """2x10x10 spikes → conv 4 3x3 s1 → LIF → sum-pool 2 → flatten → dense 6 (bias) → LIF →
    dense 3 → readout; a recurrent LIF layer fed by the first LIF's pooled spikes is not here
    (see test_recurrent_layer_is_not_replayed)."""
    g = Graph(metadata={"T": T})
    g.add(Input("in", shape=(2, 10, 10), encoding="spikes"))
    g.add(Conv2d("c1", weight=rng.normal(0, 0.6, (4, 2, 3, 3)).astype(np.float32)), "in")
    g.add(CubaLIF("l1", shape=(4, 8, 8), du=1.0, dv=0.0, vth=1.0), "c1")
    g.add(SumPool2d("p1", kernel=(2, 2), stride=(2, 2)), "l1")
    g.add(Flatten("f"), "p1")
    g.add(Dense("d1", weight=rng.normal(0, 0.4, (6, 64)).astype(np.float32),
                bias=rng.normal(0, 0.05, 6).astype(np.float32)), "f")
    g.add(CubaLIF("l2", shape=(6,), du=0.3, dv=0.1, vth=1.0), "d1")
    g.add(Dense("d2", weight=rng.normal(0, 0.5, (3, 6)).astype(np.float32)), "l2")
    g.add(Readout("out", shape=(3,), du=1.0, dv=0.2), "d2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def _spike_data(rng: np.random.Generator, n: int, T: int, shape: tuple[int, ...]) -> Dataset:
    x = (rng.random((n, T, *shape)) < 0.3).astype(np.float32)
    return Dataset(x, rng.integers(0, 3, n), "spikes", "spikes", 3, T)


def test_replayed_layers_equal_the_simulator() -> None:
    rng = np.random.default_rng(1)
    g = _cnn(rng)
    ds = _spike_data(rng, 6, 12, (2, 10, 10))
    qg, _ = quantize(g, ds, fold=False)
    x = torch.as_tensor(ds.x).transpose(0, 1)
    whole = simulate(qg, x, mode="fixed", record=True)
    st = _structure(qg)
    for n, src in (("l1", None), ("l2", "l1"), ("out", "l2")):
        sub, source = _layer_graph(qg, st, n)
        xin = x if src is None else whole.records[src]["s"].to(torch.float32)
        got = replay_layer(sub, n, xin)
        if n == "out":  # a read-out: v in float units, as the simulator reports it
            assert torch.equal(got, whole.outputs["out"])
        else:
            assert torch.equal(got, whole.records[n]["s"].to(torch.float32)), n


def test_replay_chunks_over_time_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    g = _cnn(rng)
    ds = _spike_data(rng, 4, 12, (2, 10, 10))
    qg, _ = quantize(g, ds, fold=False)
    x = torch.as_tensor(ds.x).transpose(0, 1)
    sub, _ = _layer_graph(qg, _structure(qg), "l1")
    once = replay_layer(sub, "l1", x)
    monkeypatch.setattr("neurodeploy.quantize.replay.CHUNK_ELEMENTS", 4 * 256 * 5)  # 5 steps
    assert torch.equal(replay_layer(sub, "l1", x), once)


def test_recurrent_layer_is_not_replayed() -> None:
    rng = np.random.default_rng(3)
    g = Graph(metadata={"T": 6})
    g.add(Input("in", shape=(5,), encoding="spikes"))
    g.add(Dense("d", weight=rng.normal(0, 1, (4, 5)).astype(np.float32)), "in")
    g.add(Dense("rec", weight=rng.normal(0, 0.3, (4, 4)).astype(np.float32)))
    g.add(CubaLIF("l", shape=(4,), du=0.5, dv=0.2, vth=1.0), "d", "rec")
    g.connect("l", "rec", delay=1)
    g.add(Dense("o", weight=rng.normal(0, 1, (2, 4)).astype(np.float32)), "l")
    g.add(Readout("out", shape=(2,)), "o")
    g.inputs, g.outputs = ["in"], ["out"]
    ds = _spike_data(rng, 4, 6, (5,))
    qg, _ = quantize(g, ds)
    sub, _ = _layer_graph(qg, _structure(qg), "l")
    assert replay_layer(sub, "l", torch.as_tensor(ds.x).transpose(0, 1)) is None


def test_shortcuts_change_no_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    g = _cnn(rng)
    ds = _spike_data(rng, 8, 12, (2, 10, 10))
    fast, rep = quantize(g, ds)
    counter = itertools.count()
    monkeypatch.setattr(qmod, "replay_layer", lambda *a: None)  # simulate each layer whole
    monkeypatch.setattr(qmod, "_layer_key", lambda *a: str(next(counter)).encode())
    slow, rep_slow = quantize(g, ds)
    assert graph_diff(fast, slow) is None
    assert rep.candidates_tried < rep_slow.candidates_tried
    assert [r.clip for r in rep.layers] == [r.clip for r in rep_slow.layers]
