"""Delayed convolutions in Lava: a Conv2d with delays 0-7 per kernel tap runs as a fixed-point
``DelayDense`` over its unrolled weights, identical to the simulator on every layer and step
(conv + conv + dense net with delays on all three; grouped, dilated, strided convs on graded
inputs; odd mixed-sign weights, which Lava's Dense would truncate at 8 weight bits); a biased
delayed conv in floating_pt within rounding."""

from __future__ import annotations

import numpy as np
import pytest
from test_lava_cases import conv_geometry_graph, graph_input, netx_conv_graph
from test_lava_delays import _same

pytest.importorskip("lava.magma")


def _delay_and_odd(g, names: list[str], odd: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name in names:
        node = g.nodes[name]
        node.delay = rng.integers(0, 8, node.weight.shape).astype(np.int32)
    q = g.nodes[odd].quant
    q.weight = q.weight + 1
    g.nodes[odd].weight = q.weight.astype(np.float32)


@pytest.mark.parametrize("make, names, odd", [
    (netx_conv_graph, ["conv1", "conv2", "fc"], "conv2"),
    (conv_geometry_graph, ["conv", "conv2"], "conv"),
])
def test_delayed_conv_and_dense_net_equals_the_simulator_in_lava_fixed_pt(make, names, odd):
    g = make()
    _delay_and_odd(g, names, odd, seed=7)
    assert all(g.nodes[n].max_delay == 7 for n in names)
    _same(g, graph_input(g, 0, T=20, B=2))


def test_delayed_biased_conv_in_lava_floating_pt_within_rounding():
    """Float parameters: the conv's bias (not delayed) reaches the DelayDense's output through
    the constant bias source, timed like a Dense's."""
    g = netx_conv_graph()
    rng = np.random.default_rng(3)
    for name in ("conv1", "conv2"):
        node = g.nodes[name]
        node.delay = rng.integers(0, 8, node.weight.shape).astype(np.int32)
        node.weight = node.quant.weight.astype(np.float32)
    g.nodes["conv1"].bias = (rng.normal(size=4) * 50 - 200).astype(np.float32)
    g.nodes["fc"].weight = g.nodes["fc"].quant.weight.astype(np.float32)
    for name in ("lif1", "lif2"):
        node, q = g.nodes[name], g.nodes[name].quant
        node.vth, node.bias = np.float32(q.vth * 4), np.float32(0)
        node.du, node.dv = np.float32((q.du + 1) / 4096), np.float32(q.dv / 4096)
    _same(g, graph_input(g, 0, T=12, B=2), mode="float")
