"""Synaptic delays through NIR: a Dense with one delay per input (Delay → Linear/Affine) or per
output (bias-free Linear → Delay) exports and imports exactly (our files and plain NIR graphs);
other per-synapse delays and Delays the IR cannot place are refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
from delayed import delayed_chain
from neurodeploy.converters.nir import from_nir, to_nir, write_nir

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import graph_diff
from neurodeploy.sim import simulate

nir = pytest.importorskip("nir")

W = np.array([[2, -4, 6], [8, 10, -12]], np.int32)
PER_INPUT = np.array([[0, 3, 7], [0, 3, 7]], np.int32)
PER_OUTPUT = np.array([[5, 5, 5], [1, 1, 1]], np.int32)


@pytest.mark.parametrize("delay", [PER_INPUT, PER_OUTPUT], ids=["per-input", "per-output"])
def test_nir_round_trip_is_the_identity(delay, tmp_path) -> None:
    g = delayed_chain(W, delay)
    ng = to_nir(g, dt=1e-3)
    d = ng.nodes["fc.delay"]
    assert isinstance(d, nir.Delay)
    np.testing.assert_allclose(d.delay, (delay[0] if delay is PER_INPUT else delay[:, 0]) * 1e-3)
    write_nir(g, tmp_path / "d.nir", dt=1e-3)
    assert graph_diff(g, from_nir(tmp_path / "d.nir")) is None


@pytest.mark.parametrize("delay", [PER_INPUT, PER_OUTPUT], ids=["per-input", "per-output"])
def test_plain_nir_delays_import_as_dense_delays(delay) -> None:
    """Without our metadata (the generic path): the Delay node lands in the Dense's delays and
    the float simulation equals the original graph's."""
    g = delayed_chain(W, delay)
    ng = to_nir(g, dt=1e-3)
    for node in ng.nodes.values():
        node.metadata = {}
    ng.metadata = {}
    h = from_nir(ng, dt=1e-3)
    np.testing.assert_array_equal(h.nodes["fc"].delay, delay)
    x = (np.random.default_rng(0).random((12, 2, 3)) < 0.5).astype(np.float32)
    np.testing.assert_allclose(simulate(h, x).outputs[h.outputs[0]].numpy(),
                               simulate(g, x).outputs["out"].numpy(), rtol=1e-5, atol=1e-5)


def test_per_synapse_delays_are_refused_on_export() -> None:
    g = delayed_chain(W, np.array([[0, 1, 2], [3, 4, 5]], np.int32))
    with pytest.raises(NeurodeployError, match="^node 'fc' \\(dense\\): its per-synapse delays "
                                               "are neither one per input nor"):
        to_nir(g)


def _chain(*mid: object) -> object:
    nodes = {"in": nir.Input(input_type=np.array([3])), **{f"n{i}": n for i, n in enumerate(mid)},
             "out": nir.Output(output_type=np.array([2]))}
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:], strict=False)), type_check=False)


def _li() -> object:
    return nir.LI(tau=np.full(2, 0.01), r=np.full(2, 10.0), v_leak=np.zeros(2))  # gain 1


@pytest.mark.parametrize("graph, match", [
    (lambda: _chain(nir.Delay(np.array([1.5e-3] * 3)), nir.Linear(weight=W * 1.0), _li()),
     "NIR node 'n0' \\(Delay\\): delays .* are not whole steps of dt = 0.001 s"),
    (lambda: _chain(nir.Delay(np.array([0.1] * 3)), nir.Linear(weight=W * 1.0), _li()),
     "NIR node 'n0' \\(Delay\\): 100 steps outside \\[0, 62\\]"),
    (lambda: _chain(nir.Linear(weight=W * 1.0), nir.Delay(np.array([1e-3] * 2)), _li()),
     None),
    (lambda: _chain(nir.Affine(weight=W * 1.0, bias=np.ones(2)), nir.Delay(np.array([1e-3] * 2)),
                    _li()),
     "NIR node 'n2' \\(LI\\): fed by a Delay; the IR takes a Delay only right before"),
])
def test_nir_delays_the_ir_cannot_place_are_refused(graph, match) -> None:
    if match is None:  # the bias-free Linear → Delay imports (control case)
        assert from_nir(graph(), dt=1e-3).nodes["n0"].max_delay == 1
        return
    with pytest.raises(NeurodeployError, match=match) as err:
        from_nir(graph(), dt=1e-3)
    assert "\n" not in str(err.value)


def _conv_delayed(per_channel: np.ndarray) -> object:
    from test_conv_delays import conv_chain

    w = np.random.default_rng(5).integers(-20, 20, (3, 2, 3, 3))
    d = np.broadcast_to(per_channel.reshape(-1, 1, 1, 1), w.shape).astype(np.int32)
    return conv_chain(w, d, (2, 5, 6), padding=(1, 0))


def test_conv_delays_one_per_channel_round_trip_through_nir(tmp_path) -> None:
    g = _conv_delayed(np.array([4, 0, 7]))
    ng = to_nir(g, dt=1e-3)
    d = ng.nodes["conv.delay"]
    assert isinstance(d, nir.Delay) and d.delay.shape == (3, 5, 4)
    np.testing.assert_allclose(d.delay[:, 2, 1], [4e-3, 0.0, 7e-3])
    write_nir(g, tmp_path / "c.nir", dt=1e-3)
    assert graph_diff(g, from_nir(tmp_path / "c.nir")) is None
    for node in ng.nodes.values():  # the generic path: Conv2d → Delay folds into the conv
        node.metadata = {}
    ng.metadata = {}
    h = from_nir(ng, dt=1e-3)
    np.testing.assert_array_equal(h.nodes["conv"].delay, g.nodes["conv"].delay)
    x = (np.random.default_rng(0).random((12, 2, 2, 5, 6)) < 0.5).astype(np.float32)
    np.testing.assert_allclose(simulate(h, x).outputs[h.outputs[0]].numpy(),
                               simulate(g, x).outputs["out"].numpy(), rtol=1e-5, atol=1e-5)


def test_per_tap_or_biased_conv_delays_are_refused_on_export() -> None:
    g = _conv_delayed(np.array([4, 0, 7]))
    g.nodes["conv"].delay[0, 1, 0, 0] = 1
    with pytest.raises(NeurodeployError, match="^node 'conv' \\(conv2d\\): its delays are not one "
                                               "per output channel of a bias-free convolution"):
        to_nir(g)
    g = _conv_delayed(np.array([4, 0, 7]))
    g.nodes["conv"].bias = np.ones(3, np.float32)
    with pytest.raises(NeurodeployError, match="^node 'conv' \\(conv2d\\): its delays are not"):
        to_nir(g)
