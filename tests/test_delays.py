"""Synaptic delays: the IR's field and its checks, the .ndg file, the simulator (float and
fixed, batched) against a plain-numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
from delayed import delayed_chain, ref_delayed_dense
from hypothesis import given, settings
from hypothesis import strategies as st

from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import DELAY_MAX
from neurodeploy.ir import Dense, graph_diff, load_graph, save_graph, validate
from neurodeploy.sim import simulate


@st.composite
def delayed_cases(draw: st.DrawFn) -> tuple:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_in, n_out = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    T, B = draw(st.integers(1, 12)), draw(st.integers(1, 3))
    w = (rng.integers(-128, 128, (n_out, n_in)) * 2).astype(np.int32)
    delay = rng.integers(0, draw(st.integers(1, 8)), (n_out, n_in)).astype(np.int32)
    x = (rng.random((T, B, n_in)) < draw(st.floats(0.1, 0.9))).astype(np.float32)
    return w, delay, int(rng.integers(-4, 4)), x


@settings(max_examples=40, deadline=None)
@given(delayed_cases())
def test_simulator_delays_equal_the_numpy_reference(case):
    """Float and fixed simulation of a delayed Dense = synapse-by-synapse numpy reference
    (fixed: exact integers, each delay group shifted by the weight exponent as Lava's
    DelayDense; float: within float32 rounding, rtol 1e-5)."""
    w, delay, exp, x = case
    g = delayed_chain(w, delay, exp)
    fixed = simulate(g, x, mode="fixed", record=["fc"]).records["fc"]["y"].numpy()
    np.testing.assert_array_equal(fixed, ref_delayed_dense(x, w, delay, exp))
    flt = simulate(g, x, mode="float", record=["fc"]).records["fc"]["y"].numpy()
    want = ref_delayed_dense(x, w.astype(np.float64) * 2.0**exp, delay)
    np.testing.assert_allclose(flt, want, rtol=1e-5, atol=1e-3)


@settings(max_examples=15, deadline=None)
@given(delayed_cases())
def test_zero_delays_are_the_delay_free_synapse_bit_for_bit(case):
    w, _, exp, x = case
    for mode in ("fixed", "float"):
        runs = [simulate(delayed_chain(w, d, exp, spiking=True), x, mode=mode, record=True)
                for d in (None, np.zeros(w.shape, np.int32))]
        for name, rec in runs[0].records.items():
            for var, value in rec.items():
                assert np.array_equal(value.numpy(), runs[1].records[name][var].numpy()), \
                    (mode, name, var)


def test_float_bias_is_not_delayed():
    w = np.array([[1, 0], [0, 1]], np.int32)
    g = delayed_chain(w, np.array([[3, 0], [0, 5]], np.int32))
    g.nodes["fc"].bias = np.array([0.5, -0.25], np.float32)
    x = np.zeros((6, 1, 2), np.float32)
    x[0, 0] = 1.0
    y = simulate(g, x, record=["fc"]).records["fc"]["y"].numpy()[:, 0]
    np.testing.assert_array_equal(y[:, 0], [0.5, 0.5, 0.5, 1.5, 0.5, 0.5])
    np.testing.assert_array_equal(y[:, 1], [-0.25] * 5 + [0.75])


def test_delays_survive_the_ndg_file_and_old_files_load_delay_free(tmp_path):
    w = np.array([[2, -4, 6], [8, 10, -12]], np.int32)
    g = delayed_chain(w, np.array([[0, 7, 3], [62, 1, 0]], np.int32))
    save_graph(g, tmp_path / "d.ndg")
    back = load_graph(tmp_path / "d.ndg")
    assert graph_diff(g, back) is None
    assert back.nodes["fc"].delay.dtype == np.int32 and back.nodes["fc"].max_delay == 62
    plain = delayed_chain(w, None)
    save_graph(plain, tmp_path / "p.ndg")
    assert load_graph(tmp_path / "p.ndg").nodes["fc"].delay is None


def test_integral_float_delays_become_int32():
    d = Dense("fc", weight=np.ones((1, 2), np.float32), delay=[[1.0, 2.0]])
    assert d.delay.dtype == np.int32 and d.max_delay == 2


@pytest.mark.parametrize("delay, message", [
    (np.full((2, 3), DELAY_MAX + 1), f"node 'fc' (dense): delay {DELAY_MAX + 1} exceeds Loihi 2's "
                                     f"maximum synaptic delay of {DELAY_MAX} steps"),
    (np.full((2, 3), -1), "node 'fc' (dense): delays must be >= 0 steps, got -1"),
    (np.full((2, 3), 1.5), "node 'fc' (dense): delays must be integers (steps)"),
    (np.zeros((3, 2)), "node 'fc' (dense): delay has shape (3, 2); expected the weight's (2, 3)"),
])
def test_bad_delays_are_refused_naming_the_layer_and_limit(delay, message):
    g = delayed_chain(np.ones((2, 3), np.int32), None)
    g.nodes["fc"].delay = Dense("x", delay=delay).delay
    with pytest.raises(NeurodeployError) as err:
        validate(g)
    assert str(err.value) == message


def test_a_file_with_a_delay_above_the_limit_is_refused_on_load(tmp_path):
    import h5py

    g = delayed_chain(np.ones((2, 3), np.int32), np.ones((2, 3), np.int32))
    save_graph(g, tmp_path / "d.ndg")
    from neurodeploy.ir import io

    with h5py.File(tmp_path / "d.ndg", "r+") as f:
        grp = f["nodes"][str(list(g.nodes).index("fc"))]
        grp["delay"][...] = 99
    io._write_header(tmp_path / "d.ndg")
    with pytest.raises(NeurodeployError, match=r"d.ndg: node 'fc' \(dense\): delay 99 exceeds "
                                               r"Loihi 2's maximum synaptic delay of 62 steps"):
        load_graph(tmp_path / "d.ndg")


def _float_mlp(delays: bool) -> object:
    from neurodeploy.ir import CubaLIF, Graph, Input, Readout

    rng = np.random.default_rng(3)
    g = Graph(metadata={"T": 16})
    g.add(Input("in", shape=(6,)))
    g.add(Dense("fc1", weight=rng.normal(0, 0.5, (8, 6)).astype(np.float32),
                delay=rng.integers(0, 8, (8, 6)) if delays else None), "in")
    g.add(CubaLIF("lif1", shape=(8,), du=0.5, dv=0.1, vth=1.0), "fc1")
    g.add(Dense("fc2", weight=rng.normal(0, 0.5, (3, 8)).astype(np.float32),
                delay=rng.integers(0, 8, (3, 8)) if delays else None), "lif1")
    g.add(Readout("out", shape=(3,), du=1.0, dv=0.0), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def test_quantize_keeps_the_delays_and_tracks_the_float_graph():
    """quantize → the same delays; the fixed-point readout tracks the float one (max error
    ≤ 10 % of the float output's range, as for the delay-free twin of this tiny network)."""
    from neurodeploy.data import Dataset
    from neurodeploy.quantize import quantize

    rng = np.random.default_rng(0)
    ds = Dataset(rng.random((16, 6)).astype(np.float32), rng.integers(0, 3, 16), "tiny",
                 "direct", 3)
    x = np.repeat(rng.random((1, 8, 6)).astype(np.float32), 16, axis=0)
    errs = {}
    for delays in (True, False):
        g = _float_mlp(delays)
        qg, _ = quantize(g, ds)
        for s in ("fc1", "fc2"):
            assert graph_diff(g, qg) is not None
            d = g.nodes[s].delay
            assert (qg.nodes[s].delay is None) if d is None else \
                np.array_equal(qg.nodes[s].delay, d)
        fl = simulate(g, x).outputs["out"].numpy()
        fx = simulate(qg, x, mode="fixed").outputs["out"].numpy()
        errs[delays] = np.abs(fl - fx).max() / (np.ptp(fl) or 1.0)
    assert errs[True] <= 0.1 and errs[False] <= 0.1, errs


def test_onnx_export_refuses_delays_naming_the_layer():
    pytest.importorskip("onnx")
    from neurodeploy.converters.onnx import to_onnx

    with pytest.raises(NeurodeployError, match=r"^node 'fc1' \(dense\): synaptic delays \(up to "
                                               r"7 steps\) have no ONNX form \(Gemm\)$"):
        to_onnx(_float_mlp(True))


def test_lava_schedule_folds_no_more_than_the_delay_field_leaves():
    """A shortcut Dense whose own delays fill the 6-bit field gets no folded delay: the
    schedule's extra step goes to an identity delay process on the edge instead."""
    from test_lava_cases import residual_graph

    from neurodeploy.lava.schedule import schedule

    g = residual_graph()
    plain = schedule(g)
    skip_edge = next(i for i, e in enumerate(g.edges) if e.src == "skip")
    assert plain.dense_delay["skip"] == 1 and plain.extra[skip_edge] == 0
    g.nodes["skip"].delay = np.full(g.nodes["skip"].weight.shape, DELAY_MAX, np.int32)
    full = schedule(g)
    assert "skip" not in full.dense_delay and full.extra[skip_edge] == 1
    g.nodes["skip"].delay[:] = DELAY_MAX - 1
    assert schedule(g).dense_delay["skip"] == 1
