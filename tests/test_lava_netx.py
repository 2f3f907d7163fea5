"""netx export of quantized graphs whose exponents a stock netx loader cannot carry.

lava-dl 0.6 netx reads no weight exponent (it re-derives one that always nets to the stored
integer) and fixes the bias exponent at 6, so quantizer-made Dense layers (weight_exp ≠ 0 on
full-range mantissas) and biases with bias_exp < 6 are inexact through a stock loader.
``export_netx(..., patch=True)`` stores the exact integers beside the stock ones and
``load_netx`` applies them to the netx Network's processes: the netx network then equals our
fixed-point simulator spike for spike and voltage for voltage (tests below).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_lava_cases import T_STEPS, graph_input, mlp_graph

pytest.importorskip("lava.lib.dl.netx")
pytestmark = pytest.mark.lava

from neurodeploy.errors import NeurodeployError  # noqa: E402
from neurodeploy.ir import CubaLIF, Dense, Graph, Input, Readout  # noqa: E402
from neurodeploy.lava import export_netx, load_netx  # noqa: E402
from neurodeploy.lava.netx import NetxExport  # noqa: E402
from neurodeploy.sim import simulate  # noqa: E402


def run_netx(ex: NetxExport, g: Graph, x: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Load ``ex.path`` with :func:`load_netx` and run ``x`` [T, B, n]; every neuron's s/u/v
    in IR steps."""
    from neurodeploy.lava.compiler import input_integers
    from neurodeploy.lava.netx import run_network

    net = load_netx(ex.path, reset_interval=x.shape[0] + len(ex.layers), reset_offset=1)
    layers = run_network(net, input_integers(g[g.inputs[0]], x))
    return {layer.neuron: rec for layer, rec in zip(ex.layers, layers, strict=True)}


def _assert_equal(g: Graph, x: np.ndarray, netx: dict) -> None:
    sim = simulate(g, x, mode="fixed", record=True)
    assert list(netx) == [n for n in g.nodes if isinstance(g[n], (CubaLIF, Readout))]
    for name, rec in netx.items():
        for var in ("s", "u", "v"):
            np.testing.assert_array_equal(rec[var], sim.records[name][var].numpy(),
                                          err_msg=f"netx {name}.{var}")
    assert sum(sim.records[n]["s"].sum() for n in netx) > 0


def exponent_mlp() -> Graph:
    """The hand-quantized MLP with exponents on both sides: fc1 weight_exp +1 on full-range
    mantissas (w << 1 leaves netx's range), fc2 weight_exp −2 on even mantissas not all
    divisible by 4 (the sum's floor has no integer-weight form), LIF biases with bias_exp 2
    (not multiples of 64)."""
    g = mlp_graph()
    g["fc1"].quant.weight_exp = 1
    g["fc2"].quant.weight_exp = -2
    assert np.any(g["fc2"].quant.weight % 4 != 0)
    g["lif1"].quant.vth = 600
    return g


def test_stock_export_refuses_and_patched_export_names_the_layers(tmp_path: Path) -> None:
    g = exponent_mlp()
    with pytest.raises(NeurodeployError, match=r"node 'fc1' \(dense\): weights with weight_exp 1"):
        export_netx(g, tmp_path / "a.net")
    ex = export_netx(g, tmp_path / "b.net", patch=True)
    assert ex.patched == ["fc1", "fc2", "lif1"] and ex.approximated == []
    rounded = export_netx(g, tmp_path / "c.net", exact=False)
    assert rounded.approximated == ["fc1", "fc2", "lif1"] and rounded.patched == []


def test_patched_netx_equals_fixed_simulator_with_weight_and_bias_exponents(
        tmp_path: Path) -> None:
    g = exponent_mlp()
    x = graph_input(g, 21, T=T_STEPS, B=3)
    ex = export_netx(g, tmp_path / "m.net", patch=True)
    _assert_equal(g, x, run_netx(ex, g, x))


def test_quantizer_made_mlp_exports_exactly_with_patch(tmp_path: Path) -> None:
    """The real pipeline: a float MLP quantized on digits; every layer carries exponents a stock
    netx loader cannot (as for the trained digits models), and the patched netx is exact."""
    from neurodeploy.data import load_dataset
    from neurodeploy.quantize import quantize

    rng = np.random.default_rng(5)
    f = Graph(metadata={"T": 16, "source": "test"})
    f.add(Input("in", shape=(64,), encoding="direct"))
    f.add(Dense("fc1", weight=rng.normal(0, 0.3, (32, 64)).astype(np.float32),
                bias=rng.normal(0, 0.1, 32).astype(np.float32)), "in")
    f.add(CubaLIF("lif1", shape=(32,), du=np.float32(0.4), dv=np.float32(0.1),
                  vth=np.float32(1.0), bias=np.float32(0.02)), "fc1")
    f.add(Dense("fc2", weight=rng.normal(0, 0.3, (10, 32)).astype(np.float32)), "lif1")
    f.add(Readout("out", shape=(10,), du=np.float32(1.0), dv=np.float32(0.1)), "fc2")
    f.inputs, f.outputs = ["in"], ["out"]
    ds = load_dataset("digits", split="train", limit=64)
    qg, _ = quantize(f, ds, target="loihi2")
    assert any(qg[n].quant.weight_exp != 0 for n in ("fc1", "fc2"))
    ex = export_netx(qg, tmp_path / "q.net", patch=True)
    assert ex.patched and ex.approximated == []
    x = np.broadcast_to(ds.x[:3], (16, 3, 64)).astype(np.float32)
    _assert_equal(qg, x, run_netx(ex, qg, x))
