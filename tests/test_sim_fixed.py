"""Fixed-point simulator = a plain-Python integer reference written from neurodeploy.sim's
docstring (Lava's PyLifModelBitAcc / Dense / Conv bit-accurate models), saturation edges included.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from neurodeploy import formats
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import (
    AvgPool2d,
    Conv2d,
    CubaLIF,
    Dense,
    Graph,
    Input,
    InputQ,
    NeuronQ,
    Readout,
    WeightQ,
)
from neurodeploy.kinds import cuba, cuba_lif, readout
from neurodeploy.sim import simulate

# ---------------------------------------------------------------- the reference (plain ints)


def ref_decay(x: int, keep: int) -> int:
    p = x * keep
    sign = (p > 0) - (p < 0)
    return sign * (abs(p) >> 12)


def ref_neuron(a_seq: list[int], du: int, dv: int, vth: int, bias_mant: int, bias_exp: int,
               spiking: bool = True) -> list[tuple[int, int, int]]:
    """(u, v, s) per step for one neuron, straight from the docstring's equations."""
    bias = bias_mant << bias_exp if bias_exp >= 0 else bias_mant >> -bias_exp
    u = v = 0
    out = []
    for a in a_seq:
        u = ref_decay(u, 4096 - (du + 1)) + (a << 6)
        if u > 2**23:
            u -= 2**24
        elif u <= -(2**23):
            u += 2**24
        v = ref_decay(v, 4096 - dv) + u + bias
        v = max(-(2**23 - 1), min(2**23 - 1, v))
        s = int(spiking and v > (vth << 6))
        if s:
            v = 0
        out.append((u, v, s))
    return out


def ref_dense(w: list[list[int]], x: list[int], exp: int) -> list[int]:
    acc = [sum(wi * xi for wi, xi in zip(row, x, strict=True)) for row in w]
    return [a << exp if exp > 0 else a >> -exp for a in acc]


# ---------------------------------------------------------------- strategies

decays = st.one_of(st.sampled_from([0, 1, 4094, 4095]), st.integers(0, 4095))
params = st.fixed_dictionaries({
    "du": decays, "dv": decays, "vth": st.one_of(st.sampled_from([0, 1, 2**17 - 1]),
                                                 st.integers(0, 2**17 - 1)),
    "bias_mant": st.integers(-4096, 4095), "bias_exp": st.integers(-2, 7),
})
# large inputs reach the u wrap (|u| > 2**23) and the v clip within a few steps
a_values = st.one_of(st.integers(-(2**17), 2**17), st.integers(-300, 300))


@given(params, st.lists(a_values, min_size=1, max_size=24), st.booleans())
def test_single_neuron_equals_reference(p: dict, a_seq: list[int], spiking: bool) -> None:
    want = ref_neuron(a_seq, spiking=spiking, **p)
    state = cuba.zero_state((1, 1), torch.int64, "cpu")
    bias = formats.shift(torch.tensor(p["bias_mant"]), p["bias_exp"])
    for (u, v, s), a in zip(want, a_seq, strict=True):
        a_in = torch.tensor([[a]], dtype=torch.int64)
        if spiking:
            state, spk, _ = cuba_lif.fixed_step(state, a_in, p["du"], p["dv"], p["vth"], bias)
            assert spk.item() == s
        else:
            state, _, _ = readout.fixed_step(state, a_in, p["du"], p["dv"], bias)
        assert (state.u.item(), state.v.item()) == (u, v)


def test_saturation_edges_are_reached() -> None:
    """The u wrap and the v clip, hand-checked against the reference."""
    # du = 4095: no current memory; u = a << 6 exactly; 2**17 << 6 = 2**23 is NOT wrapped
    # (Lava wraps only u > 2**23), 2**17 + 1 is.
    assert ref_neuron([2**17], 4095, 0, 2**17 - 1, 0, 0)[0][0] == 2**23
    assert ref_neuron([2**17 + 1], 4095, 0, 2**17 - 1, 0, 0)[0][0] == 2**23 + 64 - 2**24
    assert ref_neuron([-(2**17)], 4095, 0, 0, 0, 0)[0][0] == -(2**23) + 2**24
    # v saturates at -(2**23 - 1) under a steady negative drive
    out = ref_neuron([-(2**16)] * 4, 4095, 0, 1, 0, 0)
    assert out[-1][1] == -(2**23 - 1)
    state = cuba.zero_state((1,), torch.int64, "cpu")
    sats = []
    for a in [-(2**16)] * 4:
        state, _, sat = cuba_lif.fixed_step(state, torch.tensor([a]), 4095, 0, 1,
                                            torch.tensor(0))
        sats.append(bool(sat.item()))
    assert state.v.item() == -(2**23 - 1)
    assert sats == [False, True, True, True]  # -2**22, then clipped each step


def _dense_lif_graph(w: np.ndarray, exp: int, p: dict, bits: int, readout: bool) -> Graph:
    n_out, n_in = w.shape
    g = Graph(metadata={"T": 8})
    g.add(Input("in", shape=(n_in,), encoding="spikes" if bits == 1 else "direct",
                quant=InputQ(scale=1.0, bits=bits, signed=bits > 1)))
    g.add(Dense("fc", weight=w.astype(np.float32), quant=WeightQ(weight=w, weight_exp=exp)), "in")
    q = NeuronQ(du=p["du"], dv=p["dv"], vth=p["vth"],
                bias_mant=np.full(n_out, p["bias_mant"], np.int32), bias_exp=p["bias_exp"],
                scale=0.5)
    if readout:
        g.add(Readout("out", shape=(n_out,), quant=q), "fc")
    else:
        g.add(CubaLIF("out", shape=(n_out,), quant=q), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


@given(st.integers(0, 2**32 - 1), params, st.integers(-6, 6), st.sampled_from([1, 8]),
       st.booleans())
def test_dense_lif_layer_equals_reference(seed: int, p: dict, exp: int, bits: int,
                                          readout: bool) -> None:
    rng = np.random.default_rng(seed)
    n_in, n_out, T, B = int(rng.integers(1, 6)), int(rng.integers(1, 4)), 8, 2
    w = (rng.integers(-128, 128, (n_out, n_in)) * 2).astype(np.int32)  # Lava's mixed-sign form
    g = _dense_lif_graph(w, exp, p, bits, readout)
    lo, hi = (0, 1) if bits == 1 else (-128, 127)
    x = rng.integers(lo, hi + 1, (T, B, n_in)).astype(np.float32)
    res = simulate(g, x, mode="fixed", record=True)
    for b in range(B):
        a_seqs = [ref_dense(w.tolist(), [int(v) for v in x[t, b]], exp) for t in range(T)]
        np.testing.assert_array_equal(res.records["fc"]["y"][:, b].numpy(), np.array(a_seqs))
        for j in range(n_out):
            want = ref_neuron([a[j] for a in a_seqs], spiking=not readout, **p)
            got = [(int(res.records["out"]["u"][t, b, j]), int(res.records["out"]["v"][t, b, j]),
                    int(res.records["out"]["s"][t, b, j])) for t in range(T)]
            assert got == want
            if readout:  # the output is v · scale
                assert res.outputs["out"][:, b, j].tolist() == [w_[1] * 0.5 for w_ in want]


def test_input_quantization_rounds_and_clips() -> None:
    w = np.eye(4, dtype=np.int32) * 2
    g = _dense_lif_graph(w, 0, {"du": 4095, "dv": 4095, "vth": 1, "bias_mant": 0,
                                "bias_exp": 0}, 8, True)
    g.nodes["in"].quant = InputQ(scale=0.5, bits=8, signed=False)
    x = np.array([[[0.2, 0.25, 0.75, 1000.0]]], np.float32)
    res = simulate(g, x, mode="fixed", record=["in"])
    # 0.4 → 0, 0.5 → 0 (half to even), 1.5 → 2, 2000 → 255
    assert res.records["in"]["y"][0, 0].tolist() == [0, 0, 2, 255]


def _ref_conv(x: np.ndarray, w: np.ndarray, stride: tuple, pad: tuple, dil: tuple,
              groups: int) -> np.ndarray:
    c_in, h, wd = x.shape
    c_out, cg, kh, kw = w.shape
    xp = np.zeros((c_in, h + 2 * pad[0], wd + 2 * pad[1]), np.int64)
    xp[:, pad[0]:pad[0] + h, pad[1]:pad[1] + wd] = x
    ho = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((c_out, ho, wo), np.int64)
    per = c_out // groups
    for o in range(c_out):
        g0 = (o // per) * cg
        for i in range(ho):
            for j in range(wo):
                acc = 0
                for c in range(cg):
                    for a in range(kh):
                        for b in range(kw):
                            acc += int(w[o, c, a, b]) * int(
                                xp[g0 + c, i * stride[0] + a * dil[0], j * stride[1] + b * dil[1]])
                out[o, i, j] = (acc + 2**23) % 2**24 - 2**23
    return out


def test_conv_fixed_equals_reference_with_24_bit_wrap() -> None:
    rng = np.random.default_rng(3)
    w = rng.integers(-256, 256, (4, 1, 3, 3)).astype(np.int32)
    w[0] = 255  # a big positive kernel on big graded inputs wraps past 2**23
    g = Graph()
    g.add(Input("in", shape=(2, 6, 6), quant=InputQ(scale=1.0, bits=24, signed=True)))
    g.add(Conv2d("conv", weight=w.astype(np.float32), stride=(2, 1), padding=(1, 1),
                 dilation=(1, 2), groups=2, quant=WeightQ(weight=w)), "in")
    g.add(Readout("out", shape=(4, 3, 4), quant=NeuronQ(du=0, dv=0, vth=1)), "conv")
    g.inputs, g.outputs = ["in"], ["out"]
    x = rng.integers(-(2**12), 2**12, (1, 2, 2, 6, 6)).astype(np.float32)
    x[0, 0, 0] = 2**22 - 1
    res = simulate(g, x, mode="fixed", record=["conv"])
    got = res.records["conv"]["y"][0].numpy()
    for b in range(2):
        want = _ref_conv(x[0, b].astype(np.int64), w, (2, 1), (1, 1), (1, 2), 2)
        np.testing.assert_array_equal(got[b], want)
    assert np.abs(got).max() <= 2**23


def test_fixed_mode_refuses_what_lava_cannot_compute() -> None:
    g = _dense_lif_graph(np.array([[2]], np.int32), 0, {"du": 0, "dv": 0, "vth": 1,
                                                        "bias_mant": 0, "bias_exp": 0}, 1, False)
    x = np.ones((2, 1, 1), np.float32)
    g.nodes["out"].reset = "subtract"
    with pytest.raises(NeurodeployError, match="node 'out' .*reset 'subtract'"):
        simulate(g, x, mode="fixed")
    g.nodes["out"].refractory = 2  # a refractory period with a zero reset has a fixed form
    with pytest.raises(NeurodeployError, match="node 'out' .*reset 'subtract'"):
        simulate(g, x, mode="fixed")
    g.nodes["out"].reset = "zero"
    assert simulate(g, x, mode="fixed").outputs["out"][:, 0, 0].tolist() == [1, 0]
    g.nodes["out"].refractory = 0
    g.nodes["fc"].quant = None
    with pytest.raises(NeurodeployError, match="node 'fc' .*no quantized weights"):
        simulate(g, x, mode="fixed")
    g2 = Graph()
    g2.add(Input("in", shape=(1, 2, 2), quant=InputQ(scale=1.0)))
    g2.add(AvgPool2d("ap"), "in")
    g2.add(Readout("out", shape=(1, 1, 1), quant=NeuronQ(du=0, dv=0, vth=1)), "ap")
    g2.inputs, g2.outputs = ["in"], ["out"]
    with pytest.raises(NeurodeployError, match="node 'ap' .*average pooling"):
        simulate(g2, np.ones((1, 1, 1, 2, 2), np.float32), mode="fixed")


def test_reference_equals_lavas_own_lif_model() -> None:
    """The reference itself against Lava's PyLifModelBitAcc methods (when Lava is installed)."""
    models = pytest.importorskip("lava.proc.lif.models")
    rng = np.random.default_rng(0)
    for trial in range(60):
        m = object.__new__(models.PyLifModelBitAcc)  # the attributes its __init__ sets:
        m.ds_offset, m.dm_offset, m.isbiasscaled, m.isthrscaled = 1, 0, False, False
        m.effective_bias, m.uv_bitwidth, m.max_uv_val = 0, 24, 2**23
        m.decay_shift, m.decay_unity, m.vth_shift, m.act_shift = 12, 4096, 6, 6
        du, dv = (int(d) for d in rng.choice([0, 1, 4095, int(rng.integers(0, 4096))], 2))
        vth, bm, be = int(rng.integers(0, 2**17)), int(rng.integers(-4096, 4096)), \
            int(rng.integers(0, 8))
        m.du, m.dv, m.vth = du, dv, vth
        m.bias_mant, m.bias_exp = np.array([bm], np.int16), np.array([be], np.int16)
        m.u, m.v = np.zeros(1, np.int32), np.zeros(1, np.int32)
        hi = 2**17 if trial % 2 else 300
        a_seq = [int(a) for a in rng.integers(-hi, hi, 20)]
        m.scale_bias()
        m.scale_threshold()
        for (u, v, s), a in zip(ref_neuron(a_seq, du, dv, vth, bm, be), a_seq,
                                strict=True):
            m.subthr_dynamics(np.array([a], np.int32))
            spikes = m.spiking_activation()
            m.reset_voltage(spikes)
            assert (int(m.u[0]), int(m.v[0]), int(spikes[0])) == (u, v, s)
