"""Exact math of neurodeploy.nn: surrogate backward passes, SGS / MSG / ASGL rules, the CUBA
dynamics against a hand-written loop, decoding, TWO, binary weights, regularisers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from neurodeploy.errors import NeurodeployError
from neurodeploy.nn import functional as snf
from neurodeploy.nn import two
from neurodeploy.nn.layers import IF, LIF, BinaryLinear, CubaLIF, Readout, SumPool2d, binarize
from neurodeploy.nn.regularizers import activity_penalty, lipschitz_penalty
from neurodeploy.nn.surrogates import (
    FUNCTIONS,
    MaskedSpike,
    SGSSpike,
    asgl_smooth,
    asgl_spike,
    default_alpha,
    surrogate_grad,
)

# analytic pseudo-derivatives written independently of the module (numpy, float64)
ANALYTIC = {
    "superspike": lambda x, a: 1.0 / (a * np.abs(x) + 1.0) ** 2,
    "sigmoid": lambda x, a: a * np.exp(-a * x) / (1.0 + np.exp(-a * x)) ** 2,
    "atan": lambda x, a: a / 2.0 / (1.0 + (math.pi / 2.0 * a * x) ** 2),
    "triangle": lambda x, a: np.maximum(0.0, a * (1.0 - a * np.abs(x))),
    "rect": lambda x, a: np.where(np.abs(x) < 0.5 / a, a, 0.0),
    "ste": lambda x, a: np.ones_like(x),
}
DEFAULTS = {"superspike": 10.0, "sigmoid": 4.0, "atan": 2.0, "triangle": 2.0, "rect": 1.0,
            "ste": 1.0}


@pytest.mark.parametrize("name", sorted(ANALYTIC))
def test_surrogate_backward_equals_analytic_formula(name: str) -> None:
    assert default_alpha(name) == DEFAULTS[name]
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(2000, generator=gen, dtype=torch.float64) - 0.5) * 4
    g = torch.randn(2000, generator=gen, dtype=torch.float64)
    for alpha in (None, 0.7, 3.0):
        a = DEFAULTS[name] if alpha is None else alpha
        xr = x.clone().requires_grad_(True)
        out = FUNCTIONS[name].apply(xr, a)
        assert torch.equal(out, (x > 0).to(x.dtype))  # forward: the Heaviside spike
        out.backward(g)
        want = g.numpy() * ANALYTIC[name](x.numpy(), a)
        np.testing.assert_allclose(xr.grad.numpy(), want, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(surrogate_grad(name, x, alpha).numpy(),
                                   ANALYTIC[name](x.numpy(), a), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["superspike", "sigmoid", "atan"])
def test_smooth_surrogates_are_derivatives_of_their_primitives(name: str) -> None:
    """Finite differences of the primitive (fast sigmoid, sigmoid, arctan) give h."""
    a = DEFAULTS[name]
    prim = {"superspike": lambda x: x / (1 + a * np.abs(x)),  # d/dx = 1/(1+a|x|)²
            "sigmoid": lambda x: 1 / (1 + np.exp(-a * x)),
            "atan": lambda x: np.arctan(math.pi / 2 * a * x) / math.pi}[name]
    x = np.linspace(-2, 2, 41) + 0.013
    fd = (prim(x + 1e-6) - prim(x - 1e-6)) / 2e-6
    np.testing.assert_allclose(surrogate_grad(name, torch.tensor(x)).numpy(), fd, rtol=1e-6)


def test_unknown_surrogate_is_a_one_line_error() -> None:
    with pytest.raises(NeurodeployError, match="unknown surrogate 'nope'"):
        snf.SpikeConfig(surrogate="nope")
    with pytest.raises(NeurodeployError, match="unknown spike method"):
        snf.SpikeConfig(method="xyz")


@given(st.lists(st.floats(-3, 3), min_size=4, max_size=30), st.floats(1e-4, 0.5),
       st.sampled_from(["superspike", "triangle", "atan"]))
def test_sgs_backward_is_the_stated_formula(xs: list[float], delta: float, name: str) -> None:
    x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    u = torch.tensor(xs, dtype=torch.float64) + 1.0  # membrane potential, vth = 1
    g = torch.linspace(-1, 1, len(xs), dtype=torch.float64)
    o = SGSSpike.apply(x, u, name, default_alpha(name), delta)
    o.backward(g)
    o_ = (x.detach() > 0).double()
    want = g * surrogate_grad(name, x.detach()) * (1 + delta * torch.sign(g) * (u - o_))
    assert torch.allclose(x.grad, want, rtol=1e-12, atol=0)
    assert torch.equal(o.detach(), o_)


def test_sgs_scales_up_or_down_by_gradient_sign() -> None:
    """g > 0 and u > o: scaled up; g < 0: scaled down; δ = 0 → the plain surrogate."""
    x = torch.tensor([0.3, 0.3], dtype=torch.float64, requires_grad=True)
    u = torch.tensor([5.0, 5.0], dtype=torch.float64)
    SGSSpike.apply(x, u, "superspike", 10.0, 0.1).backward(torch.tensor([1.0, -1.0],
                                                                        dtype=torch.float64))
    h = float(surrogate_grad("superspike", torch.tensor(0.3)))
    assert x.grad[0].item() == pytest.approx(h * (1 + 0.1 * 4.0))
    assert x.grad[1].item() == pytest.approx(-h * (1 - 0.1 * 4.0))


def test_msg_zeroes_a_fraction_p_with_a_fresh_mask_each_backward() -> None:
    torch.manual_seed(0)
    x = (torch.rand(20000, dtype=torch.float64) - 0.5) * 0.4  # inside the triangle's support
    h = surrogate_grad("triangle", x, 2.0)
    grads = []
    for p in (0.5, 0.5, 0.2):
        xr = x.clone().requires_grad_(True)
        MaskedSpike.apply(xr, "triangle", 2.0, p).sum().backward()
        zero = xr.grad == 0
        assert abs(float(zero.double().mean()) - p) < 0.015
        kept = ~zero
        assert torch.equal(xr.grad[kept], h[kept])  # kept elements: the surrogate, unscaled
        grads.append(xr.grad)
    assert not torch.equal(grads[0] == 0, grads[1] == 0)  # a fresh mask per backward pass


def test_asgl_width_gets_a_gradient_and_eval_is_binary() -> None:
    torch.manual_seed(0)
    x = torch.randn(5000, requires_grad=True)
    width = torch.tensor(0.5, requires_grad=True)
    out = asgl_spike(x, width, p=0.3, training=True)
    binary = (out == 0) | (out == 1)
    assert abs(float((~binary).float().mean()) - 0.3) < 0.03  # smooth where the mask says
    smooth = asgl_smooth(x.detach(), width.detach())
    assert torch.allclose(out[~binary], smooth[~binary])
    out.sum().backward()
    assert width.grad is not None and width.grad.abs() > 0
    sig = torch.sigmoid(x.detach() / 0.5)
    assert torch.allclose(x.grad, sig * (1 - sig) / 0.5, atol=1e-6)  # backward through H_α
    ev = asgl_spike(x.detach(), width, p=0.3, training=False)
    assert torch.equal(ev, (x.detach() > 0).float())
    # and in a layer: eval mode gives binary spikes, the width is a parameter that learns
    lif = CubaLIF(50, spike=snf.SpikeConfig(method="asgl", p=0.5))
    i = torch.rand(6, 4, 50) * 2
    lif.train()
    lif(i).sum().backward()
    assert lif.width.grad is not None and lif.width.grad != 0
    lif.eval()
    s = lif(i)
    assert set(s.unique().tolist()) <= {0.0, 1.0}


def _reference_cuba(i: np.ndarray, du, dv, vth, bias, reset: str) -> np.ndarray:
    """A hand-written loop of the IR's float equations (float32)."""
    u = np.zeros(i.shape[1:], np.float32)
    v = np.zeros(i.shape[1:], np.float32)
    out = []
    for t in range(i.shape[0]):
        u = u * np.float32(1 - du) + i[t]
        v = v * np.float32(1 - dv) + u + np.float32(bias)
        s = v > vth
        if reset == "zero":
            v = np.where(s, np.float32(0), v)
        elif reset == "subtract":
            v = np.where(s, v - np.float32(vth), v)
        out.append(s.astype(np.float32))
    return np.stack(out)


@given(st.floats(0, 1), st.floats(0, 1), st.floats(0.1, 2.0), st.floats(-0.2, 0.2),
       st.sampled_from(["zero", "subtract", "none"]), st.integers(0, 2**31 - 1))
def test_cuba_lif_layer_is_the_ir_equations(du, dv, vth, bias, reset, seed) -> None:
    rng = np.random.default_rng(seed)
    i = rng.normal(0.3, 1.0, (12, 3, 7)).astype(np.float32)
    lif = CubaLIF(7, du=du, dv=dv, vth=vth, bias=bias, reset=reset)
    s = lif(torch.from_numpy(i)).detach().numpy()
    np.testing.assert_array_equal(s, _reference_cuba(i, np.float32(du), np.float32(dv),
                                                     np.float32(vth), bias, reset))


def test_per_neuron_parameters_and_lif_if_variants() -> None:
    lif = CubaLIF((2, 3), per_neuron=True, learn_threshold=True)
    assert lif.du.shape == (2, 3) and lif.vth.shape == (2, 3)
    assert {n for n, _ in lif.named_parameters()} == {"du", "dv", "vth"}
    assert float(LIF(4).du) == 1.0 and "du" not in dict(LIF(4).named_parameters())
    f = IF(4)
    assert float(f.du) == 1.0 and float(f.dv) == 0.0 and not list(f.parameters())
    # IF integrates exactly: 0.4 per step crosses vth = 1 at the third step, then resets
    s = f(torch.full((6, 1, 4), 0.4))
    assert s[:, 0, 0].tolist() == [0, 0, 1, 0, 0, 1]
    with pytest.raises(NeurodeployError, match="decay 'dv' must lie in"):
        CubaLIF(3, dv=1.5)
    with pytest.raises(NeurodeployError, match="unknown reset"):
        CubaLIF(3, reset="soft")


def test_gradients_reach_decays_and_threshold() -> None:
    lif = CubaLIF(8, learn_threshold=True)
    (lif(torch.rand(5, 2, 8) * 3).sum()).backward()
    for p in (lif.du, lif.dv, lif.vth):
        assert p.grad is not None and p.grad.abs() > 0


def test_readout_and_decodings() -> None:
    ro = Readout(3, du=0.5, dv=0.25)
    i = torch.rand(5, 2, 3)
    v = ro(i)
    u_ref, v_ref, vs = torch.zeros(2, 3), torch.zeros(2, 3), []
    for t in range(5):
        u_ref = u_ref * 0.5 + i[t]
        v_ref = v_ref * 0.75 + u_ref
        vs.append(v_ref)
    assert torch.equal(v, torch.stack(vs))
    w = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5])
    assert torch.allclose(snf.decode(v, "weighted", w), (w[:, None, None] * v).sum(0))
    assert torch.equal(snf.decode(v, "max"), v.max(0).values)
    assert torch.equal(snf.decode(v, "last"), v[-1])
    assert torch.allclose(snf.decode(v, "mean"), v.sum(0) / 5)
    with pytest.raises(NeurodeployError, match="one weight per step"):
        snf.decode(v, "weighted", torch.ones(3))


def test_two_update_rule() -> None:
    w = torch.ones(4)
    a = torch.tensor([0.1, 0.3, 0.6, 1.0])
    w1 = two.update_weights(w, a)
    assert torch.allclose(w1, 0.7 * w + 0.3 * a / a.mean())
    assert torch.allclose(two.decoding_weights(w1), w1 / 4)
    v = torch.zeros(2, 3, 4)
    v[0, :, 1] = 1
    v[1, :, 2] = 1
    assert two.step_correct(v, torch.tensor([1, 1, 2])).tolist() == [2, 1]


def test_binary_weights_are_plus_minus_alpha_per_channel_with_ste() -> None:
    torch.manual_seed(0)
    lin = BinaryLinear(6, 4)
    wb = lin.effective_weight().detach()
    alpha = lin.weight.detach().abs().mean(1, keepdim=True)
    assert torch.equal(wb.abs(), alpha.expand_as(wb))
    assert torch.equal(torch.sign(wb), torch.where(lin.weight >= 0, 1.0, -1.0))
    x = torch.rand(3, 6)
    assert torch.allclose(lin(x), x @ wb.T + lin.bias)
    w = torch.tensor([[0.5, -2.0, 0.1]], requires_grad=True)
    binarize(w).sum().backward()
    a = (0.5 + 2.0 + 0.1) / 3
    # d/dw_j of α·Σ sign(w) = sign(w_j)·Σ sign/3 + α·STE (zero where |w| > 1)
    want = torch.tensor([[1 / 3 + a, -1 / 3, 1 / 3 + a]])
    assert torch.allclose(w.grad, want)


def test_sumpool_and_regularisers() -> None:
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert SumPool2d(2)(x).flatten().tolist() == [10.0, 18.0, 42.0, 50.0]
    lin = torch.nn.Linear(3, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 0, 0], [0, 4.0, 0]]))
    assert float(lipschitz_penalty(torch.nn.Sequential(lin), 0.5)) == pytest.approx(8.0)
    silent = torch.zeros(10, 2, 5)
    busy = torch.ones(10, 2, 5)
    assert float(activity_penalty([silent], 1.0, lower=0.1, upper=0.5)) == pytest.approx(0.01)
    assert float(activity_penalty([busy], 1.0, lower=0.1, upper=0.5)) == pytest.approx(0.25)
