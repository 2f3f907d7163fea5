"""Sigma-delta neurons in Lava (our process network, ``neurodeploy.lava.compiler`` through the
kind's ``lava_process``): identical to the fixed-point simulator on lava-dl's PilotNet SDNN and on
a small generated SDNN graph (Delta encoder, conv and dense SigmaDelta layers, ReLU and
identity, per-neuron biases switched on per layer, a CUBA layer's binary spikes into a
sigma-delta layer, a Sigma read-out); the float models within rounding.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.ir import (
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    InputQ,
    NeuronQ,
    SigmaDelta,
    SigmaDeltaQ,
    WeightQ,
)
from neurodeploy.sim import simulate

pytestmark = pytest.mark.lava

DATA = Path(os.environ.get("NEURODEPLOY_REFERENCE_DATA",
                           Path(__file__).resolve().parents[1].parent / "shared" / "data"))
SDNN = DATA / "lava-dl" / "pilotnet_sdnn"


def _wq(rng: np.random.Generator, shape: tuple[int, ...], lo: int, hi: int,
        exp: int = 0) -> WeightQ:
    w = (rng.integers(lo, hi, shape) * 2).astype(np.int32)
    return WeightQ(weight=w, weight_exp=exp)


def sdnn_graph(seed: int = 0) -> Graph:
    """Signed 8-bit frames (2, 6, 6) → Delta (vth 2) → conv 3×3 → SigmaDelta ReLU (per-neuron
    bias) → flatten → dense → SigmaDelta identity → dense → Sigma; and a CUBA branch: the
    encoder's graded spikes → dense → LIF → dense (binary spikes) into the identity layer."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": 8})
    g.add(Input("in", shape=(2, 6, 6), encoding="direct",
                quant=InputQ(scale=1 / 16, bits=8, signed=True)))

    def sdq(vth: int, bias: object = 0, se: int = 3, st: int = 3) -> SigmaDeltaQ:
        return SigmaDeltaQ(vth=vth, bias=bias, spike_exp=se, state_exp=st, scale=2.0**-se)

    g.add(SigmaDelta("enc", shape=(2, 6, 6), mode="delta", activation="identity",
                     vth=np.float32(2 / 16), quant=sdq(2)), "in")
    q = _wq(rng, (3, 2, 3, 3), -10, 10)
    g.add(Conv2d("conv", weight=q.weight * np.float32(0.01), quant=q), "enc")
    bias = rng.integers(-300, 300, (3, 4, 4)).astype(np.int32)
    g.add(SigmaDelta("sd1", shape=(3, 4, 4), vth=np.float32(0.2), bias=bias * np.float32(0.01),
                     quant=sdq(5, bias)), "conv")
    g.add(Flatten("flat"), "sd1")
    q = _wq(rng, (10, 48), -3, 4, exp=-1)
    g.add(Dense("fc1", weight=q.weight * np.float32(0.01), quant=q), "flat")
    # a CUBA branch: binary spikes into the same sigma-delta layer
    q = _wq(rng, (6, 72), -5, 6)
    g.add(Flatten("flat_in"), "enc")
    g.add(Dense("fc_lif", weight=q.weight * np.float32(0.01), quant=q), "flat_in")
    g.add(CubaLIF("lif", shape=(6,), vth=np.float32(1.0),
                  quant=NeuronQ(du=1000, dv=500, vth=300, scale=1.0)), "fc_lif")
    q = _wq(rng, (10, 6), -100, 100)
    g.add(Dense("fc_spk", weight=q.weight * np.float32(0.01), quant=q), "lif")
    g.add(SigmaDelta("sd2", shape=(10,), activation="identity", vth=np.float32(0.05),
                     bias=np.float32(0.3), quant=sdq(1, 40, se=2, st=4)), "fc1", "fc_spk")
    q = _wq(rng, (3, 10), -20, 20)
    g.add(Dense("fc2", weight=q.weight * np.float32(0.01), quant=q), "sd2")
    g.add(SigmaDelta("out", shape=(3,), mode="sigma", activation="identity",
                     quant=sdq(0, se=0, st=0)), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def _frames(T: int, B: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(-127, 128, (B, 2, 6, 6)) / 16.0
    steps = np.repeat(x[None], T, 0)
    steps[T // 2:] += rng.integers(-20, 20, (T - T // 2, B, 2, 6, 6)) / 16.0  # a change
    return steps.astype(np.float32)


def test_small_sdnn_graph_lava_fixed_equals_simulator() -> None:
    from neurodeploy.lava.run import simulate_lava

    g = sdnn_graph()
    x = _frames(8, 2)
    sim = simulate(g, x, mode="fixed", record=True)
    assert not any(sim.saturations.values())
    lava = simulate_lava(g, x, record=True)
    for name in g.nodes:
        for var, value in sim.records[name].items():
            np.testing.assert_array_equal(lava.records[name][var].numpy(), value.numpy(),
                                          err_msg=f"{name}.{var}")
    # not vacuous: graded spikes of several values, spikes on the CUBA branch, a read-out
    s1 = sim.records["sd1"]["s"].numpy()
    assert len(np.unique(s1)) > 10 and np.any(s1 < 0)
    assert sim.records["lif"]["s"].sum() > 0
    assert np.any(sim.records["out"]["s"].numpy())


def test_small_sdnn_graph_lava_float_within_rounding() -> None:
    from neurodeploy.lava.comparison import compare_records
    from neurodeploy.lava.run import simulate_lava

    g = sdnn_graph()
    x = _frames(6, 1)
    neurons = [n for n, node in g.nodes.items() if isinstance(node, (SigmaDelta, CubaLIF))]
    sim = simulate(g, x, mode="float", record=neurons)
    lava = simulate_lava(g, x, record=neurons, mode="float")
    layers, first = compare_records(g, sim.records, lava.records, rtol=1e-5)
    assert first is None, first
    assert np.any(sim.records["sd1"]["s"].numpy())


def test_pilotnet_sdnn_compare_is_identical() -> None:
    """``compare`` (simulator vs our Lava process network, fixed_pt) on lava-dl's PilotNet SDNN
    as netx runs it (``netx_timing``), its 9 steps: identical every layer, every step — and
    the simulator reproduces lava-dl's output.npy (tests/test_sigma_delta.py), so our Lava
    network does too."""
    for p in (SDNN / "network.net", SDNN / "input.npy"):
        if not p.exists():
            pytest.skip(f"reference data {p} is not here")
    from neurodeploy.converters.netx import from_netx, netx_timing

    from neurodeploy.data.datasets import Dataset
    from neurodeploy.lava.comparison import compare

    g = netx_timing(from_netx(SDNN / "network.net"))
    frame = np.load(SDNN / "input.npy")[..., 0].T.astype(np.float32)
    ds = Dataset(frame[None], np.zeros(1, np.int64), "pilotnet_sdnn", "direct", 1)
    result = compare(g, ds, samples=1, T=9)
    assert result["identical"], result["first_divergence"]
    assert len(result["layers"]) == 9 and result["T"] == 9
