"""Synaptic delays in Lava: delayed Dense layers (delays 0-7; a folded shortcut delay on top;
a delayed recurrent synapse; a negative weight exponent, shifted per delay group) run in Lava's
fixed-point DelayDense identical to the simulator, every layer and step."""

from __future__ import annotations

import numpy as np
import pytest
from test_lava_cases import graph_input, recurrent_graph, residual_graph

pytest.importorskip("lava.magma")

from neurodeploy.ir import CubaLIF, Dense  # noqa: E402
from neurodeploy.lava import simulate_lava  # noqa: E402
from neurodeploy.lava.schedule import schedule  # noqa: E402
from neurodeploy.sim import simulate  # noqa: E402


def _delay(g, names: list[str], seed: int, top: int = 8) -> None:
    rng = np.random.default_rng(seed)
    for name in names:
        node = g.nodes[name]
        assert isinstance(node, Dense)
        node.delay = rng.integers(0, top, node.weight.shape).astype(np.int32)


def _same(g, x, mode: str = "fixed") -> None:
    sim = simulate(g, x, mode=mode, record=True)
    lava = simulate_lava(g, x, record=True, mode=mode)
    for name in g.nodes:
        for var, want in sim.records[name].items():
            got = lava.records[name][var]
            if mode == "fixed":
                diff = (got != want).nonzero()
                assert len(diff) == 0, f"{name}.{var} differs first at {diff[0].tolist()}"
            else:
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-4,
                                           err_msg=f"{name}.{var}")
    for name, node in g.nodes.items():
        if isinstance(node, CubaLIF):
            assert 0.02 < sim.firing_rates[name] < 0.9, name


def test_delayed_residual_network_equals_the_simulator_in_lava_fixed_pt():
    g = residual_graph()
    _delay(g, ["fc1", "skip", "fc3", "fc4"], seed=0)
    sched = schedule(g)
    assert sched.dense_delay["skip"] == 1  # the shortcut's fold adds to its own delays
    _same(g, graph_input(g, 0, T=24, B=3))


def test_delayed_recurrent_synapse_with_negative_weight_exponent_in_lava_fixed_pt():
    g = recurrent_graph()
    assert g.nodes["rec"].quant.weight_exp == -1
    _delay(g, ["fc1", "rec", "fc2"], seed=1)
    _same(g, graph_input(g, 1, T=24, B=3))


def test_delayed_network_in_lava_floating_pt_within_rounding():
    g = recurrent_graph()
    _delay(g, ["fc1", "rec"], seed=2)
    for node in g:  # float parameters: the integers as floats
        if isinstance(node, Dense):
            node.weight = (node.quant.weight * 2.0**node.quant.weight_exp).astype(np.float32)
    g.nodes["lif1"].vth = np.float32(g.nodes["lif1"].quant.vth)
    g.nodes["lif1"].du = np.float32((g.nodes["lif1"].quant.du + 1) / 4096)
    g.nodes["lif1"].dv = np.float32(g.nodes["lif1"].quant.dv / 4096)
    _same(g, graph_input(g, 2, T=16, B=2), mode="float")
