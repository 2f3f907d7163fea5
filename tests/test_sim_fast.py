"""The fast engine (neurodeploy.sim.fast) = the reference engine (neurodeploy.sim.reference), bit
for bit, on random graphs in both modes: outputs, records of every node, counts, firing rates,
saturations. Inputs at firing rates 0, sparse (event-driven sums), dense and 1; fixed-point
graphs whose bounds take every dtype path (float32/float64 sums, int32/int64 neuron state,
folded and integer weight exponents, the 24-bit conv wrap, u wraps and v clips)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from graphs import random_graphs
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from neurodeploy import formats
from neurodeploy.capability import check_fixed
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import (
    Add,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    InputQ,
    NeuronQ,
    Readout,
    SigmaDelta,
    SigmaDeltaQ,
    SumPool2d,
    WeightQ,
)
from neurodeploy.kinds import cuba, cuba_lif
from neurodeploy.sim import fast, ops, simulate

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
#: input firing rates: none, below fast.SPARSE_RATE (event-driven sums), dense, all
RATES = st.sampled_from([0.0, 0.02, 0.4, 1.0])


def assert_same(got, want) -> None:
    """Two SimResults are identical (values; on any device)."""
    assert got.outputs.keys() == want.outputs.keys()
    for k in want.outputs:
        assert torch.equal(got.outputs[k].cpu(), want.outputs[k].cpu()), k
    assert torch.equal(got.decoded.cpu(), want.decoded.cpu())
    np.testing.assert_array_equal(got.predictions, want.predictions)
    assert got.counts.keys() == want.counts.keys()
    for k in want.counts:
        np.testing.assert_array_equal(got.counts[k], want.counts[k], err_msg=k)
    assert got.firing_rates == want.firing_rates
    assert got.saturations == want.saturations
    assert got.records.keys() == want.records.keys()
    for n, rec in want.records.items():
        assert got.records[n].keys() == rec.keys(), n
        for var, val in rec.items():
            g = got.records[n][var]
            assert g.dtype == val.dtype, (n, var)
            assert torch.equal(g.cpu(), val.cpu()), (n, var)


def _neuron_q(rng: np.random.Generator, shape: tuple[int, ...]) -> NeuronQ:
    return NeuronQ(du=int(rng.choice([-1, 0, 2047, 4095, rng.integers(-1, 4096)])),
                   dv=int(rng.choice([0, 410, 4096, rng.integers(0, 4097)])),
                   vth=int(rng.choice([1, 200, 2**17 - 1, rng.integers(1, 2**17)])),
                   bias_mant=rng.integers(-4096, 4096, shape).astype(np.int32)
                   * int(rng.integers(0, 2)),
                   bias_exp=int(rng.integers(-12, 8)), scale=float(rng.uniform(0.01, 1)))


def _weights(rng: np.random.Generator, shape: tuple[int, ...], big: bool) -> np.ndarray:
    hi = 256 if big else 8
    return (rng.integers(-hi // 2, hi // 2, shape) * 2).astype(np.int32)


def _dense(g: Graph, name: str, rng: np.random.Generator, n_out: int, n_in: int, big: bool,
           *srcs: str, delay: bool = False) -> None:
    w = _weights(rng, (n_out, n_in), big)
    d = rng.integers(0, 4, w.shape).astype(np.int32) if delay else None
    exp = int(rng.integers(*formats.WEIGHT_EXP_RANGE, endpoint=True))
    g.add(Dense(name, weight=w.astype(np.float32), delay=d,
                quant=WeightQ(weight=w, weight_exp=exp)), *srcs)


def _lif(g: Graph, name: str, rng: np.random.Generator, shape: tuple[int, ...], *srcs: str) -> None:
    g.add(CubaLIF(name, shape=shape, du=0.5, dv=0.1, vth=1.0, quant=_neuron_q(rng, shape),
                  refractory=int(rng.choice([0, 0, 1, 2]))), *srcs)


@st.composite
def fixed_graphs(draw: st.DrawFn) -> tuple[Graph, int]:
    """A quantized graph Lava's fixed point runs, and its input bits: a conv/pool front end or
    not, dense layers with random weight exponents, optional residual Add, recurrent edge and
    delayed Dense, refractory periods, a read-out or spiking output. ``big`` weights and graded
    inputs push the bounds past float32 sums and int32 states."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    big = draw(st.booleans())
    bits = draw(st.sampled_from([1, 8, 16, 24]))
    g = Graph(metadata={"source": "hypothesis"})
    if draw(st.booleans()):
        c, h = draw(st.integers(1, 2)), 2 * draw(st.integers(1, 3))
        g.add(Input("in", shape=(c, h, h), quant=InputQ(scale=1.0, bits=bits, signed=bits > 8)))
        c_out, k = draw(st.integers(1, 3)), draw(st.sampled_from([1, 3]))
        w = _weights(rng, (c_out, c, k, k), big)
        g.add(Conv2d("conv", weight=w.astype(np.float32), padding=(k // 2, k // 2),
                     quant=WeightQ(weight=w)), "in")
        _lif(g, "lif0", rng, (c_out, h, h), "conv")
        g.add(SumPool2d("pool", kernel=(2, 2), stride=(2, 2)), "lif0")
        g.add(Flatten("flat"), "pool")
        prev, n_prev = "flat", c_out * (h // 2) ** 2
    else:
        n_prev = draw(st.integers(1, 40))
        g.add(Input("in", shape=(n_prev,), quant=InputQ(scale=1.0, bits=bits,
                                                        signed=bits > 8)))
        prev = "in"
    n = draw(st.integers(1, 12))
    _dense(g, "fc1", rng, n, n_prev, big, prev)
    sources = ["fc1"]
    if draw(st.booleans()):
        _dense(g, "fc1b", rng, n, n_prev, big, prev)
        g.add(Add("res"), "fc1", "fc1b")
        sources = ["res"]
    if draw(st.booleans()):
        _dense(g, "fcd", rng, n, n_prev, big, prev, delay=True)
        sources.append("fcd")
    recurrent = draw(st.booleans())
    if recurrent:
        _dense(g, "rec", rng, n, n, big)
        sources.append("rec")
    _lif(g, "lif1", rng, (n,), *sources)
    if recurrent:
        g.connect("lif1", "rec", delay=1)
    n_out = draw(st.integers(1, 4))
    _dense(g, "fc2", rng, n_out, n, big, "lif1")
    if draw(st.booleans()):
        g.add(Readout("out", shape=(n_out,), quant=_neuron_q(rng, (n_out,))), "fc2")
    else:
        _lif(g, "out", rng, (n_out,), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g, bits


def _input(rng: np.random.Generator, shape: tuple[int, ...], rate: float, lo: float,
           hi: float, integer: bool) -> np.ndarray:
    x = rng.integers(lo, hi + 1, shape) if integer else rng.uniform(lo, hi, shape)
    x = np.where(x == 0, hi, x)  # nonzero where active, so that the rate is the rate asked
    return np.where(rng.random(shape) < rate, x, 0).astype(np.float32)


@settings(max_examples=30)
@given(fixed_graphs(), RATES, st.integers(1, 12), st.integers(1, 5), st.integers(0, 2**16))
def test_fixed_fast_equals_reference(gb: tuple[Graph, int], rate: float, T: int, B: int,
                                     seed: int) -> None:
    g, bits = gb
    try:  # graphs whose Dense sums could pass int32 are refused before either engine runs
        check_fixed(g)
    except NeurodeployError:
        assume(False)
    lo, hi = formats.input_range(bits, bits > 8)
    x = _input(np.random.default_rng(seed), (T, B, *g.nodes["in"].shape), rate, lo, hi, True)
    want = simulate(g, x, "fixed", record=True, engine="reference")
    for dev in DEVICES:
        assert_same(simulate(g, x, "fixed", record=True, device=dev), want)


@settings(max_examples=30)
@given(random_graphs(), RATES, st.integers(1, 10), st.integers(1, 4), st.integers(0, 2**16))
def test_float_fast_equals_reference(g: Graph, rate: float, T: int, B: int, seed: int) -> None:
    x = _input(np.random.default_rng(seed), (T, B, *g.nodes["in"].shape), rate, -1.0, 2.0,
               False)
    for dev in DEVICES:  # float math is the device's: compare with the reference there
        want = simulate(g, x, "float", record=True, device=dev, engine="reference")
        assert_same(simulate(g, x, "float", record=True, device=dev), want)


@settings(max_examples=40)
@given(st.integers(0, 2**32 - 1), st.sampled_from([2**8, 2**17, 2**20, 2**26]), st.booleans(),
       st.integers(0, 2))
def test_inplace_cuba_equals_pure_step(seed: int, a_max: int, check: bool, r: int) -> None:
    """The in-place CUBA step (int32 where int32_fits proves it, else int64) against the pure
    step, on inputs up to ``a_max`` that reach the u wrap and the v clip; ``check`` False: the
    wrap and clip run every step, as on CUDA; ``r``: the refractory period."""
    rng = np.random.default_rng(seed)
    q = _neuron_q(rng, (6,))
    keep_u, keep_v = formats.current_keep(q.du), formats.voltage_keep(q.dv)
    bias = formats.shift(torch.as_tensor(q.bias_mant, dtype=torch.int64), q.bias_exp)
    inp = cuba.CubaInplace((3, 6), True, "cpu", keep_u, keep_v, bias, q.vth << 6,
                           a_bound=a_max, refractory=r)
    inp.check = check
    state = cuba.zero_state((3, 6), torch.int64, "cpu", r)
    sats = 0
    for _ in range(20):
        a = torch.as_tensor(rng.integers(-a_max, a_max + 1, (3, 6)))
        state, s, sat = cuba_lif.fixed_step(state, a, q.du, q.dv, q.vth, bias, r)
        sats += int(sat.sum())
        got = inp.step(a.to(inp.a_dtype))
        assert torch.equal(got, s.to(torch.float32))
        assert torch.equal(inp.u.to(torch.int64), state.u)
        assert torch.equal(inp.v.to(torch.int64), state.v)
        assert (inp.ref is None) == (r == 0) and (r == 0 or torch.equal(inp.ref, state.ref))
    assert int(inp.saturations) == sats


def test_int32_state_where_the_bound_allows() -> None:
    """int32_fits: one wrap keeps |u| <= 2**23 for |a << 6| <= 2**24; a current that decays
    absorbs more; one that never decays (keep 4096) does not."""
    assert cuba.int32_fits(4095, 2**18, 0)
    assert cuba.int32_fits(2048, 2**20, 2**19)  # |u| settles below 2**27
    assert not cuba.int32_fits(4096, 2**18 + 2**12, 0)
    assert not cuba.int32_fits(0, 2**25, 0)  # a << 6 alone passes 2**31
    assert cuba.int32_fits(0, 2**24 - 2**17, 0)


def test_sparse_input_takes_the_event_driven_sum() -> None:
    """A binary input below SPARSE_RATE: the layer adds weight columns, the same integers as
    the product; all silent: no product at all."""
    rng = np.random.default_rng(0)
    w = (rng.integers(-128, 128, (300, 400)) * 2).astype(np.int32)
    g = Graph()
    g.add(Input("in", shape=(400,), quant=InputQ(scale=1.0, bits=1)))
    g.add(Dense("fc", weight=w.astype(np.float32), quant=WeightQ(weight=w, weight_exp=-3)),
          "in")
    g.add(Readout("out", shape=(300,), quant=NeuronQ(du=4095, dv=0, vth=0)), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    x = (rng.random((3, 64, 400)) < fast.SPARSE_RATE / 2).astype(np.float32)
    x[1] = 0
    want = simulate(g, x, "fixed", record=["fc"], engine="reference")
    assert_same(simulate(g, x, "fixed", record=["fc"]), want)
    assert want.records["fc"]["y"][1].abs().sum() == 0


def test_sum_past_int32_is_refused_before_simulating() -> None:
    """A Dense sum past 2**31 (Lava's Dense would wrap it) never reaches an engine."""
    w = np.full((3, 40), 254, np.int32)
    g = Graph()
    g.add(Input("in", shape=(40,), quant=InputQ(scale=1.0, bits=24, signed=True)))
    g.add(Dense("fc", weight=w.astype(np.float32), quant=WeightQ(weight=w, weight_exp=-8)),
          "in")
    g.add(Readout("out", shape=(3,), quant=NeuronQ(du=4095, dv=4096, vth=0)), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    x = np.full((2, 2, 40), 2**23 - 1, np.float32)
    for engine in ("fast", "reference"):
        with pytest.raises(NeurodeployError, match=r"node 'fc' \(dense\): its integer sums "
                                                   r"reach .* beyond Lava's int32 accumulator"):
            simulate(g, x, "fixed", engine=engine)


@pytest.mark.parametrize("mode", ["float", "fixed"])
def test_pure_step_kinds_see_each_steps_input(mode: str) -> None:
    """A kind without an in-place form (sigma-delta, whose delta mode keeps its input as state)
    fed by a Dense whose buffer the next step overwrites: still the reference's result."""
    rng = np.random.default_rng(1)
    w = (rng.integers(-100, 100, (5, 6)) * 2).astype(np.int32)
    g = Graph()
    g.add(Input("in", shape=(6,), quant=InputQ(scale=1.0, bits=8)))
    g.add(Dense("fc", weight=w.astype(np.float32) / 64, quant=WeightQ(weight=w)), "in")
    g.add(SigmaDelta("sd", shape=(5,), mode="delta", activation="identity", vth=np.float32(0.5),
                     quant=SigmaDeltaQ(vth=8)), "fc")
    g.add(Readout("out", shape=(5,), quant=NeuronQ(du=4095, dv=0, vth=0)), "sd")
    g.inputs, g.outputs = ["in"], ["out"]
    x = rng.integers(0, 256, (6, 3, 6)).astype(np.float32)
    want = simulate(g, x, mode, record=True, engine="reference")
    assert_same(simulate(g, x, mode, record=True), want)
    assert want.counts["sd"].sum() > 0


def test_unknown_engine_is_refused() -> None:
    g = Graph()
    g.add(Input("in", shape=(1,)))
    g.add(Readout("out", shape=(1,)), "in")
    g.inputs, g.outputs = ["in"], ["out"]
    with pytest.raises(NeurodeployError, match="unknown simulation engine 'quick'"):
        simulate(g, np.zeros((1, 1, 1), np.float32), engine="quick")


@settings(max_examples=40)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3), st.sampled_from([1, 2, 3]),
       st.sampled_from([(1, 1), (2, 1), (1, 3)]), st.sampled_from([(1, 1), (2, 2)]),
       st.sampled_from([(0, 0), (1, 2)]))
def test_conv_gemm_equals_conv2d_on_integers(seed, groups, cin_g, kernel, stride, padding):
    """The im2col product fixed mode uses on CUDA sums integers exactly as the convolution
    does (checked here on the CPU, in float64)."""
    rng = np.random.default_rng(seed)
    c_out = groups * int(rng.integers(1, 4))
    x = torch.as_tensor(rng.integers(-255, 256, (2, groups * cin_g, 7, 6)), dtype=torch.float64)
    w = torch.as_tensor(rng.integers(-256, 256, (c_out, cin_g, *kernel)), dtype=torch.float64)
    dilation = (1, 2) if kernel[1] > 1 else (1, 1)
    want = torch.nn.functional.conv2d(x, w, None, stride, padding, dilation, groups)
    got = ops.conv2d_gemm(x, w, stride, padding, dilation, groups)
    assert torch.equal(got, want)
