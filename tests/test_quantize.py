"""Quantizer: Lava's weight grid, refusals naming the node, calibration, accuracy on digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from neurodeploy import formats as fmt
from neurodeploy.data import Dataset, load_dataset
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
    load_graph,
    save_graph,
)
from neurodeploy.quantize import lava_effective_weights, quantize
from neurodeploy.sim import run_dataset, simulate


@given(st.lists(st.integers(-400, 400), min_size=1, max_size=20))
def test_effective_weights_follow_lavas_clip_and_truncation(values: list[int]) -> None:
    w = np.array(values)
    got = lava_effective_weights(w)
    mode = fmt.sign_mode(w)
    if mode == "mixed":
        assert np.all(got % 2 == 0) and got.min() >= -256 and got.max() <= 254
    elif mode == "excitatory":
        np.testing.assert_array_equal(got, np.clip(w, 0, 255))
    else:
        np.testing.assert_array_equal(got, np.clip(w, -255, 0))
    np.testing.assert_array_equal(lava_effective_weights(got), got)  # idempotent
    weightutils = pytest.importorskip("lava.utils.weightutils")
    sm = weightutils.determine_sign_mode(w)
    lava = weightutils.truncate_weights(weightutils.clip_weights(w, sm, num_bits=8), sm, 8)
    np.testing.assert_array_equal(got, lava)


@given(st.floats(0, 1), st.floats(0, 1))
def test_decays_round_trip(du: float, dv: float) -> None:
    du_q, dv_q = fmt.decay_q(du, True), fmt.decay_q(dv, False)
    assert -1 <= du_q <= 4095 and 0 <= dv_q <= 4096
    assert abs((4096 - (du_q + 1)) / 4096 - (1 - du)) <= 0.5 / 4096 + 1e-12
    assert abs((4096 - dv_q) / 4096 - (1 - dv)) <= 0.5 / 4096 + 1e-12
    if du == 0:
        assert du_q == -1  # a current that never decays (netx's iDecay = 0)
    if dv == 1:
        assert dv_q == 4096  # no voltage memory (netx's vDecay = 4096), exact in Lava


def _mlp(w1: np.ndarray, w2: np.ndarray, T: int = 8, **lif: object) -> Graph:
    g = Graph(metadata={"T": T})
    g.add(Input("in", shape=(w1.shape[1],)))
    g.add(Dense("fc1", weight=w1.astype(np.float32)), "in")
    g.add(CubaLIF("lif1", shape=(w1.shape[0],), **{"du": 0.5, "dv": 0.1, "vth": 1.0, **lif}),
          "fc1")
    g.add(Dense("fc2", weight=w2.astype(np.float32)), "lif1")
    g.add(Readout("out", shape=(w2.shape[0],), du=1.0, dv=0.0), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def _tiny_data(n: int = 16, d: int = 6) -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset(rng.random((n, d)).astype(np.float32), rng.integers(0, 3, n), "tiny",
                   "direct", 3)


@pytest.mark.parametrize("change,match", [
    ({"reset": "subtract"}, "node 'lif1' .*reset 'subtract'"),
    ({"reset": "none"}, "node 'lif1' .*reset 'none'"),
    ({"reset": "subtract", "refractory": 2}, "node 'lif1' .*reset 'subtract'"),
    ({"vth": np.linspace(0.5, 1, 4).astype(np.float32)}, "node 'lif1' .*per-neuron vth differs"),
])
def test_refuses_what_fixed_point_cannot_express(change: dict, match: str) -> None:
    rng = np.random.default_rng(0)
    g = _mlp(rng.normal(size=(4, 6)), rng.normal(size=(3, 4)), **change)
    with pytest.raises(NeurodeployError, match=match):
        quantize(g, _tiny_data())
    with pytest.raises(NeurodeployError, match="unknown target 'loihi3'"):
        quantize(_mlp(rng.normal(size=(4, 6)), rng.normal(size=(3, 4))), _tiny_data(),
                 target="loihi3")


def test_loihi1_refuses_graded_input_and_threshold_out_of_range() -> None:
    rng = np.random.default_rng(0)
    g = _mlp(rng.normal(size=(4, 6)), rng.normal(size=(3, 4)))
    with pytest.raises(NeurodeployError, match="node 'in' .*Loihi 1 has binary spikes"):
        quantize(g, _tiny_data(), target="loihi1")
    g = Graph(metadata={"T": 4})  # neuron fed by spikes without a synapse: scale 1, vth 0.2 → 0
    g.add(Input("in", shape=(3,), encoding="rate"))
    g.add(CubaLIF("lif", shape=(3,), vth=0.2), "in")
    g.add(Dense("fc", weight=np.ones((2, 3), np.float32)), "lif")
    g.add(Readout("out", shape=(2,)), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    with pytest.raises(NeurodeployError, match="node 'lif' .*threshold 0.2 becomes 0"):
        quantize(g, _tiny_data(d=3))


def test_quantized_graph_is_on_lavas_grid_and_round_trips(tmp_path) -> None:
    rng = np.random.default_rng(1)
    g = _mlp(rng.normal(0, 0.5, (8, 6)), rng.normal(0, 0.5, (3, 8)))
    g.nodes["fc1"].bias = rng.normal(0, 0.1, 8).astype(np.float32)
    # without bias correction the neuron bias is the folded synapse bias alone (checked below)
    qg, rep = quantize(g, _tiny_data(), bias_correction=False)
    for s in ("fc1", "fc2"):
        w = qg.nodes[s].quant.weight
        np.testing.assert_array_equal(lava_effective_weights(w), w)
        assert w.min() >= -256 and w.max() <= 254
    lif = qg.nodes["lif1"].quant
    assert lif.du == 2047 and lif.dv == 410  # round(4096·0.5) − 1, round(4096·0.1)
    assert lif.vth == round(rep.layer("lif1").scale * 1.0)
    # fc1's bias is folded into lif1's bias: 64·λ·b·c per neuron, c one of the calibration's
    # candidates: the current's mean over T = 8 or its value c(t) = Σ_{k≤t} 0.5^k at a step
    ramp = np.cumsum(0.5 ** np.arange(8))
    cands = np.concatenate([[ramp.mean()], ramp])
    unit = 64 * rep.layer("lif1").scale * g.nodes["fc1"].bias
    got = lif.bias_mant.astype(np.float64) * 2.0**lif.bias_exp
    err = np.abs(got[:, None] - unit[:, None] * cands[None, :]).min(1)
    assert np.all(err <= 2.0**lif.bias_exp), err
    assert qg.nodes["in"].quant.bits == 8
    save_graph(qg, tmp_path / "q.ndg")
    back = load_graph(tmp_path / "q.ndg")
    x = np.random.default_rng(2).random((8, 4, 6)).astype(np.float32)
    a, b = simulate(qg, x, mode="fixed"), simulate(back, x, mode="fixed")
    torch.testing.assert_close(a.outputs["out"], b.outputs["out"], rtol=0, atol=0)
    # the float semantics of the quantized graph are untouched
    torch.testing.assert_close(simulate(g, x).outputs["out"], simulate(qg, x).outputs["out"])


def test_avgpool_is_rewritten_with_its_factor_folded() -> None:
    rng = np.random.default_rng(3)
    g = Graph(metadata={"T": 6})
    g.add(Input("in", shape=(1, 8, 8)))
    g.add(Conv2d("conv", weight=rng.normal(0, 0.5, (4, 1, 3, 3)).astype(np.float32),
                 padding=(1, 1)), "in")
    g.add(CubaLIF("lif", shape=(4, 8, 8), du=1.0, dv=0.2, vth=0.5), "conv")
    g.add(AvgPool2d("pool"), "lif")
    g.add(Flatten("flat"), "pool")
    g.add(Dense("fc", weight=rng.normal(0, 0.3, (3, 64)).astype(np.float32)), "flat")
    g.add(Readout("out", shape=(3,)), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    ds = Dataset(rng.random((12, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, 12), "img",
                 "direct", 3)
    qg, rep = quantize(g, ds, fold=False)  # the pool kept: its own rewrite
    assert qg.nodes["pool"].kind == "sumpool2d"
    np.testing.assert_allclose(qg.nodes["fc"].weight, g.nodes["fc"].weight / 4, rtol=1e-6)
    assert rep.layer("lif").weight_exp == {"conv": 0}
    x = rng.random((6, 5, 1, 8, 8)).astype(np.float32)
    torch.testing.assert_close(simulate(g, x).outputs["out"], simulate(qg, x).outputs["out"],
                               rtol=1e-5, atol=1e-5)
    fixed = simulate(qg, x, mode="fixed")
    assert fixed.firing_rates["lif"] == pytest.approx(simulate(g, x).firing_rates["lif"],
                                                      abs=0.05)


def _train_digits_snn(T: int = 8, hidden: int = 64, epochs: int = 25) -> Graph:
    """A small SNN fitted with a surrogate gradient (the IR's float equations in torch)."""
    torch.manual_seed(0)
    tr = load_dataset("digits", "train")
    w1 = torch.nn.Parameter(torch.randn(hidden, 64) * 0.3)
    w2 = torch.nn.Parameter(torch.randn(10, hidden) * 0.3)
    opt = torch.optim.Adam([w1, w2], 1e-2)

    class Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, v):  # type: ignore[override]
            ctx.save_for_backward(v)
            return (v > 0).float()

        @staticmethod
        def backward(ctx, grad):  # type: ignore[override]
            (v,) = ctx.saved_tensors
            return grad / (1 + 10 * v.abs()) ** 2

    def forward(x: torch.Tensor) -> torch.Tensor:
        u = v = torch.zeros(x.shape[0], hidden)
        vo = out = torch.zeros(x.shape[0], 10)
        for _ in range(T):
            u = u * 0.5 + x @ w1.t()
            v = v * 0.9 + u
            s = Spike.apply(v - 1.0)
            v = v * (1 - s)
            vo = vo + s @ w2.t()
            out = out + vo
        return out / T

    x, y = torch.as_tensor(tr.x), torch.as_tensor(tr.y)
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            loss = torch.nn.functional.cross_entropy(forward(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return _mlp(w1.detach().numpy(), w2.detach().numpy(), T=T)


def test_quantized_accuracy_within_one_point_of_float_on_digits() -> None:
    g = _train_digits_snn()
    qg, rep = quantize(g, load_dataset("digits", "train"))
    test = load_dataset("digits", "test")
    acc_float = run_dataset(g, test).accuracy
    acc_fixed = run_dataset(qg, test, mode="fixed").accuracy
    assert acc_float > 0.9
    assert abs(acc_float - acc_fixed) <= 0.01, (acc_float, acc_fixed)
    lif = rep.layer("lif1")
    assert not lif.dead and abs(lif.firing_rate_fixed - lif.firing_rate_float) < 0.02
    assert rep.layer("out").output_error < 0.2
    # 4 clip fractions × 2 synapses, those giving the same integers as one already run skipped
    assert rep.candidates_tried == 3


def test_bias_fold_candidates_follow_the_current_ramp() -> None:
    from neurodeploy.quantize.quantizer import _fold_candidates

    np.testing.assert_array_equal(_fold_candidates(1.0, 8), [1.0])  # du = 1: exact, one choice
    c0 = _fold_candidates(0.0, 8)  # du = 0: the current integrates the bias, c(t) = t + 1
    assert c0[0] == pytest.approx(4.5)
    np.testing.assert_allclose(c0[1:], np.arange(1, 9))
    c = _fold_candidates(0.25, 50, n=5)
    ramp = np.cumsum(0.75 ** np.arange(50))
    assert c[0] == pytest.approx(ramp.mean())
    np.testing.assert_allclose(c[1:], ramp[[0, 12, 24, 37, 49]])


def _biased_du0_mlp(rng: np.random.Generator) -> Graph:
    """An MLP whose hidden current integrates (du = 0) a large synapse bias: the mean fold is
    far from the float ramp at early and late steps."""
    g = _mlp(rng.normal(0, 0.4, (24, 6)), rng.normal(0, 0.5, (3, 24)), T=8, du=0.0, dv=0.2)
    g.nodes["fc1"].bias = rng.normal(0, 0.3, 24).astype(np.float32)
    return g


def test_calibrated_bias_fold_drifts_less_than_the_mean_fold(monkeypatch) -> None:
    from neurodeploy.quantize import quantizer

    g = _biased_du0_mlp(np.random.default_rng(5))
    data = _tiny_data(n=64)
    x = np.repeat(data.x[None], 8, axis=0)
    ref = simulate(g, x).counts["lif1"]

    def drift(qg: Graph) -> float:
        return float(np.abs(simulate(qg, x, mode="fixed").counts["lif1"] - ref).sum())

    qg, rep = quantize(g, data)
    assert "calibrated" in " ".join(rep.layer("lif1").notes)
    monkeypatch.setattr(quantizer, "FOLD_STEPS", 0)  # only the current's mean over T
    q_mean, rep_mean = quantize(g, data)
    assert "mean over T" in " ".join(rep_mean.layer("lif1").notes)
    assert rep.candidates_tried == rep_mean.candidates_tried + 9  # mean + 8 steps
    assert drift(qg) < drift(q_mean)


def test_negative_voltage_excursions_are_not_clipped() -> None:
    rng = np.random.default_rng(7)
    w1 = rng.normal(0, 0.5, (8, 6))
    w1[:4] = -np.abs(w1[:4]) * 1.5  # half the neurons are driven far below 0
    g = _mlp(w1, rng.normal(0, 0.5, (3, 8)), du=0.5, dv=0.05)
    data = _tiny_data()
    x = np.repeat(data.x[None], 8, axis=0)
    lo = float(simulate(g, x, record=["lif1"]).records["lif1"]["v"].min())
    assert lo < -4.0  # the threshold's 2× headroom alone would clip this in fixed point
    qg, rep = quantize(g, data)
    assert rep.layer("lif1").states_at_bounds == 0
    assert simulate(qg, x, mode="fixed").saturations["lif1"] == 0
