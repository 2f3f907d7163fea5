"""Lava runs several samples side by side (lanes) and, where exact, lets the neurons reset
themselves: the records must equal those of one sample after another with resets from outside.

Lanes on the graph families of test_lava (mlp, conv, residual, recurrent) are also checked
there against the fixed-point simulator; here the laned run is checked against the plain run
on the graphs with the most layout (grouped, dilated, strided conv and padded pools), a
recurrent graph (resets from outside) and a sigma-delta graph (a kind without a self-resetting
Lava model), with a batch that does not fill the last laned sample.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_lava_cases import conv_geometry_graph, graph_input, mlp_graph, recurrent_graph
from test_lava_sigma_delta import _frames, sdnn_graph

from neurodeploy.ir import Dense, Graph, Input, InputQ, Readout, WeightQ
from neurodeploy.lava.lanes import MAX_LANED_WEIGHTS, lane_graph, lane_inputs, lanes_for, unlane

pytest.importorskip("lava.magma")
pytestmark = pytest.mark.lava

from neurodeploy.lava import compile_graph, simulate_lava  # noqa: E402


def _same(a, b) -> None:
    assert set(a.records) == set(b.records)
    for name, rec in a.records.items():
        for var, want in rec.items():
            np.testing.assert_array_equal(np.asarray(b.records[name][var]), np.asarray(want),
                                          err_msg=f"{name}.{var}")
    np.testing.assert_array_equal(a.predictions, b.predictions)


@pytest.mark.parametrize("make", [conv_geometry_graph, recurrent_graph])
def test_laned_run_equals_one_sample_after_another(make) -> None:
    g = make()
    x = graph_input(g, 3, T=6, B=5)
    _same(simulate_lava(g, x, record=True, lanes=1), simulate_lava(g, x, record=True, lanes=2))


def test_sigma_delta_laned_equals_plain() -> None:
    g = sdnn_graph()
    x = _frames(5, 3)
    _same(simulate_lava(g, x, record=True, lanes=1), simulate_lava(g, x, record=True, lanes=3))


def test_self_reset_only_where_exact() -> None:
    x = graph_input(mlp_graph(), 0, T=4, B=2)
    assert compile_graph(mlp_graph(), x).self_reset
    xr = graph_input(recurrent_graph(), 0, T=4, B=2)
    assert not compile_graph(recurrent_graph(), xr).self_reset  # a delayed edge carries state


def test_lane_layout_round_trips_and_pads() -> None:
    x = np.arange(2 * 5 * 3 * 2, dtype=np.float32).reshape(2, 5, 3, 2)
    laned = lane_inputs(x, 2)
    assert laned.shape == (2, 3, 6, 2)
    np.testing.assert_array_equal(laned[:, 1, 3:], x[:, 3])  # lane 1 of laned sample 1
    np.testing.assert_array_equal(laned[:, 2, 3:], 0)  # the missing sixth sample
    np.testing.assert_array_equal(unlane(laned, 2, 5), x)


def test_lanes_bounded_by_weight_memory_and_refused_for_unknown_fields() -> None:
    g = Graph()
    g.add(Input("in", shape=(512,), quant=InputQ(scale=1.0)))
    w = np.ones((256, 512), np.int32)
    g.add(Dense("fc", weight=w.astype(np.float32), quant=WeightQ(weight=w)), "in")
    g.add(Readout("out", shape=(256,)), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    lanes = lanes_for(g, 64)
    assert 1 < lanes < 32 and lanes ** 2 * w.size * 2 <= MAX_LANED_WEIGHTS
    laned = lane_graph(g, lanes)
    assert laned["fc"].quant.weight.shape == (256 * lanes, 512 * lanes)
    assert laned["out"].shape == (256 * lanes,)

    @dataclasses.dataclass
    class DelayedDense(Dense):  # a node type (or field) this module does not know
        extra: int = 1

    g.nodes["fc"] = DelayedDense("fc", weight=g["fc"].weight, quant=g["fc"].quant)
    assert lanes_for(g, 64) == 1
