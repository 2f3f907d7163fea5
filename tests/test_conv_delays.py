"""Synaptic delays on a Conv2d (one per kernel tap): the simulator against a numpy reference on
the unrolled convolution (a matrix product per delay), the unrolling against torch's
convolution, the .ndg file (old files load delay-free), refusals naming the layer and the limit,
quantization keeping the delays."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import DELAY_MAX
from neurodeploy.ir import (
    Conv2d,
    Graph,
    Input,
    InputQ,
    NeuronQ,
    Readout,
    WeightQ,
    graph_diff,
    infer_shapes,
    load_graph,
    save_graph,
    validate,
)
from neurodeploy.lava.unroll import unroll_conv
from neurodeploy.sim import simulate


def conv_chain(w: np.ndarray, delay: np.ndarray | None, in_shape: tuple[int, int, int],
               **geo) -> Graph:
    """Quantized ``in (binary spikes) → conv (integer weights w) → out`` (Readout)."""
    g = Graph(metadata={"source": "test"})
    g.add(Input("in", shape=in_shape, encoding="spikes", quant=InputQ(scale=1.0, bits=1)))
    g.inputs = ["in"]
    g.add(Conv2d("conv", weight=w.astype(np.float32), delay=delay,
                 quant=WeightQ(weight=w.astype(np.int32)), **geo), "in")
    shape = infer_shapes(g)["conv"]
    g.add(Readout("out", shape=shape, du=0.25, dv=0.125,
                  quant=NeuronQ(du=1024, dv=512, vth=0, scale=1.0)), "conv")
    g.outputs = ["out"]
    return g


@st.composite
def conv_cases(draw: st.DrawFn) -> tuple:
    groups = draw(st.sampled_from([1, 2]))
    c_in, c_out = 2 * draw(st.integers(1, 2)), 2 * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    geo = dict(stride=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
               padding=(draw(st.integers(0, 1)), draw(st.integers(0, 1))),
               dilation=(draw(st.integers(1, 2)), 1), groups=groups)
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    w = rng.integers(-60, 60, (c_out, c_in // groups, kh, kw))
    delay = rng.integers(0, 8, w.shape).astype(np.int32)
    x = (rng.random((10, 2, c_in, 6, 5)) < 0.4).astype(np.float32)
    return w, delay, geo, x


@settings(max_examples=10, deadline=None)
@given(conv_cases())
def test_simulator_conv_delays_equal_the_unrolled_numpy_reference(case):
    w, delay, geo, x = case
    g = conv_chain(w, delay, x.shape[2:], **geo)
    shape = infer_shapes(g)["conv"]
    big_w, big_d = unroll_conv(g.nodes["conv"], w, delay, x.shape[2:], shape)
    flat = x.reshape(x.shape[0], x.shape[1], -1).astype(np.int64)
    want = np.zeros((x.shape[0], x.shape[1], big_w.shape[0]), np.int64)
    for t in range(x.shape[0]):  # y[t] = Σ_d (W·[D == d]) @ x[t − d], synapse by synapse
        for d in np.unique(big_d):
            if t >= d:
                want[t] += flat[t - d] @ np.where(big_d == d, big_w, 0).T
    for mode in ("fixed", "float"):
        got = simulate(g, x, mode=mode, record=["conv"]).records["conv"]["y"].numpy()
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=mode)


@settings(max_examples=15, deadline=None)
@given(conv_cases())
def test_unrolled_convolution_is_torchs_convolution(case):
    w, _, geo, x = case
    conv = Conv2d("c", weight=w.astype(np.float32), **geo)
    y = torch.nn.functional.conv2d(torch.as_tensor(x[0], dtype=torch.float64),
                                   torch.as_tensor(w, dtype=torch.float64), **geo).numpy()
    big_w, big_d = unroll_conv(conv, w.astype(np.float64), None, x.shape[2:], y.shape[1:])
    np.testing.assert_array_equal(x[0].reshape(2, -1) @ big_w.T, y.reshape(2, -1))
    assert not big_d.any()


def test_zero_conv_delays_are_the_delay_free_convolution_and_bias_is_not_delayed():
    rng = np.random.default_rng(0)
    w = rng.integers(-20, 20, (2, 1, 3, 3))
    x = (rng.random((6, 1, 1, 5, 5)) < 0.5).astype(np.float32)
    plain, zero = conv_chain(w, None, (1, 5, 5)), conv_chain(w, np.zeros(w.shape, int), (1, 5, 5))
    a, b = (simulate(h, x, mode="fixed", record=True) for h in (plain, zero))
    for name in plain.nodes:
        for var in a.records[name]:
            assert torch.equal(a.records[name][var], b.records[name][var]), (name, var)
    g = conv_chain(np.ones((2, 1, 1, 1)), np.array([0, 3]).reshape(2, 1, 1, 1), (1, 1, 1))
    g.nodes["conv"].bias = np.array([0.5, -0.25], np.float32)
    one = np.zeros((6, 1, 1, 1, 1), np.float32)
    one[0] = 1.0
    y = simulate(g, one, record=["conv"]).records["conv"]["y"].numpy()[:, 0, :, 0, 0]
    np.testing.assert_array_equal(y[:, 0], [1.5] + [0.5] * 5)
    np.testing.assert_array_equal(y[:, 1], [-0.25] * 3 + [0.75] + [-0.25] * 2)


def test_conv_delays_survive_the_ndg_file_and_old_files_load_delay_free(tmp_path):
    rng = np.random.default_rng(1)
    w = rng.integers(-20, 20, (4, 2, 3, 3))
    d = rng.integers(0, DELAY_MAX + 1, w.shape)
    g = conv_chain(w, d, (2, 6, 6), padding=(1, 1))
    save_graph(g, tmp_path / "d.ndg")
    back = load_graph(tmp_path / "d.ndg")  # the hostile-input loader
    assert graph_diff(g, back) is None
    assert back.nodes["conv"].delay.dtype == np.int32
    assert back.nodes["conv"].max_delay == int(d.max())
    save_graph(conv_chain(w, None, (2, 6, 6)), tmp_path / "p.ndg")
    assert load_graph(tmp_path / "p.ndg").nodes["conv"].delay is None


@pytest.mark.parametrize("delay, message", [
    (np.full((2, 1, 3, 3), DELAY_MAX + 1),
     f"node 'conv' (conv2d): delay {DELAY_MAX + 1} exceeds Loihi 2's maximum synaptic delay "
     f"of {DELAY_MAX} steps"),
    (np.full((2, 1, 3, 3), -1), "node 'conv' (conv2d): delays must be >= 0 steps, got -1"),
    (np.zeros(2), "node 'conv' (conv2d): delay has shape (2,); expected the weight's "
                  "(2, 1, 3, 3)"),
])
def test_bad_conv_delays_are_refused_naming_the_layer_and_limit(delay, message):
    g = conv_chain(np.ones((2, 1, 3, 3)), None, (1, 5, 5))
    g.nodes["conv"].delay = Conv2d("x", delay=delay).delay
    with pytest.raises(NeurodeployError) as err:
        validate(g)
    assert str(err.value) == message


def test_onnx_export_and_pool_folding_leave_delayed_convolutions_alone(tmp_path):
    from converters.onnx import to_onnx
    from neurodeploy.ir import SumPool2d
    from neurodeploy.quantize.pool_folding import fold_pools

    g = conv_chain(np.ones((2, 1, 3, 3)), np.full((2, 1, 3, 3), 5), (1, 5, 5))
    with pytest.raises(NeurodeployError, match=r"^node 'conv' \(conv2d\): synaptic delays \(up "
                                               r"to 5 steps\) have no ONNX form \(Conv\)$"):
        to_onnx(g)
    p = Graph()
    p.add(Input("in", shape=(1, 6, 6), encoding="spikes"))
    p.inputs = ["in"]
    p.add(SumPool2d("pool"), "in")
    p.add(Conv2d("conv", weight=np.ones((2, 1, 1, 1), np.float32),
                 delay=np.array([0, 2]).reshape(2, 1, 1, 1)), "pool")
    p.add(Readout("out", shape=(2, 3, 3)), "conv")
    p.outputs = ["out"]
    folded, notes = fold_pools(p)
    assert [str(n) for n in notes] == ["pool kept before conv: the synapse has synaptic delays"]
    assert graph_diff(folded, p) is None


def test_quantize_keeps_conv_delays_and_tracks_the_float_graph():
    """quantize → the same conv delays; the fixed-point readout tracks the float one (max error
    ≤ 10 % of the float output's range)."""
    from neurodeploy.data import Dataset
    from neurodeploy.ir import CubaLIF, Dense, Flatten
    from neurodeploy.quantize import quantize

    rng = np.random.default_rng(3)
    g = Graph(metadata={"T": 16})
    g.add(Input("in", shape=(1, 6, 6)))
    d = rng.integers(0, 8, (4, 1, 3, 3))
    g.add(Conv2d("conv", weight=rng.normal(0, 0.5, (4, 1, 3, 3)).astype(np.float32),
                 padding=(1, 1), delay=d), "in")
    g.add(CubaLIF("lif", shape=(4, 6, 6), du=0.5, dv=0.1, vth=1.0), "conv")
    g.add(Flatten("flat"), "lif")
    g.add(Dense("fc", weight=rng.normal(0, 0.2, (3, 144)).astype(np.float32)), "flat")
    g.add(Readout("out", shape=(3,), du=1.0, dv=0.0), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    ds = Dataset(rng.random((16, 1, 6, 6)).astype(np.float32), rng.integers(0, 3, 16), "tiny",
                 "direct", 3)
    qg, _ = quantize(g, ds)
    np.testing.assert_array_equal(qg.nodes["conv"].delay, d)
    x = np.repeat(rng.random((1, 4, 1, 6, 6)).astype(np.float32), 16, axis=0)
    fl = simulate(g, x).outputs["out"].numpy()
    fx = simulate(qg, x, mode="fixed").outputs["out"].numpy()
    assert np.ptp(fl) > 0 and np.abs(fl - fx).max() <= 0.1 * np.ptp(fl)
