"""NIR import per producer convention: IF stepped per time step (a Sinabs IF CNN written with
``nir`` runs spike for spike as NIR's own step), and one warning line naming the node when a
converted layer cannot fire (or a readout cannot respond) for any input in range."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nir = pytest.importorskip("nir")

from neurodeploy.converters.nir import from_nir, to_nir  # noqa: E402
from nir_nets import CNN_INPUT, nir_chain_forward, sinabs_if_cnn  # noqa: E402

from neurodeploy.sim import simulate  # noqa: E402


def _import(g, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ir = from_nir(g, **kw)
    return ir, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def test_sinabs_if_cnn_steps_per_time_step_spike_for_spike():
    g = sinabs_if_cnn()
    ir, warned = _import(g)  # the default dt (1e-4 s) must not enter IF
    assert warned == []
    assert [n.kind for n in ir].count("cuba_lif") == 5
    assert all(float(np.max(n.vth)) == 1.0 for n in ir if n.kind == "cuba_lif")
    torch.manual_seed(0)
    x = (torch.rand(30, 2, *CNN_INPUT) < 0.1).float()
    ref = nir_chain_forward(g, x)
    out = simulate(ir, x).outputs[ir.outputs[0]]
    assert ref.sum() > 0
    assert torch.equal(out, ref)


def test_if_that_cannot_fire_is_named_in_one_warning_line():
    g = sinabs_if_cnn()
    for name, node in list(g.nodes.items()):  # a writer that folded dt = 1e-4 s into r
        if isinstance(node, nir.IF):
            g.nodes[name] = nir.IF(r=node.r * np.float32(1e-4), v_threshold=node.v_threshold,
                                   v_reset=node.v_reset)
    _, warned = _import(g)
    assert warned and all("\n" not in w for w in warned)
    # node '1' could still fire after ~1400 steps of every input spiking; '3' never reaches 1
    w3 = [w for w in warned if w.startswith("NIR node '3' (IF): ")]
    assert w3 and w3[0].startswith("NIR node '3' (IF): cannot fire for any spike input in "
                                   "[0, 1] within 1000 steps (membrane at most 0.")
    assert w3[0].endswith("threshold 1); IF is stepped per time step, without dt")


def test_readout_that_cannot_respond_is_named():
    w = np.eye(4, dtype=np.float32)
    for tau, expect in ((1e-3, 0), (1e4, 1)):  # 1e4 s read with dt = 1e-4 s: dv = 1e-8
        g = nir.NIRGraph.from_list(
            nir.Input(input_type=np.array([4])), nir.Linear(weight=w),
            nir.LI(tau=np.full(4, tau, np.float32), r=np.ones(4, np.float32),
                   v_leak=np.zeros(4, np.float32)),
            nir.Output(output_type=np.array([4])), type_check=False)
        _, warned = _import(g)
        assert len(warned) == expect, warned
        if expect:
            assert warned[0].startswith("NIR node 'li' (LI): holds at most")


def test_our_if_export_reimports_per_step_without_metadata():
    g = sinabs_if_cnn()
    ir, _ = _import(g)
    for node in to_nir(ir).nodes.values():
        if isinstance(node, nir.IF):
            assert np.all(node.r == 1)
