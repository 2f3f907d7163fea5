"""Quantized accuracy on the reference tasks (issue #5): small models trained with the seed
method SuperSpike on digits and Randman keep their test accuracy within 1.0 point in fixed
point (the benchmark, tools/bench_quant.py, checks the 0.5-point margin on the full models).

The models are Loihi-native (TrainConfig's default): no synapse bias, a learned bias on each
neuron's ``v``, which the quantizer carries onto its fixed-point grid exactly (no fold)."""

from __future__ import annotations

import numpy as np
import torch
from neurodeploy.converters.neurodeploy_nn import to_graph

from neurodeploy.ir import Graph
from neurodeploy.nn.training import TrainConfig, load_task, train
from neurodeploy.quantize import quantize
from neurodeploy.sim import run_dataset

MARGIN = 0.01  # the test's bound on |float − fixed| accuracy (the issue's; the bench uses 0.5 pp)


def _trained(task: str, epochs: int, **kw: object) -> tuple[Graph, object, object]:
    torch.manual_seed(0)
    r = train(TrainConfig(task=task, method="superspike", epochs=epochs, hidden=(64,), seed=0,
                          **kw))  # type: ignore[arg-type]
    train_ds, test_ds = load_task(task)
    return to_graph(r.model, r.metadata), train_ds, test_ds


def test_digits_fixed_point_accuracy_within_one_point_of_float() -> None:
    g, train_ds, test_ds = _trained("digits", epochs=10)
    # the whole training split as calibration, as the bench does (a 256-sample subset left one
    # test-set state of this model at its 24-bit bound)
    qg, rep = quantize(g, train_ds, target="loihi2", max_calib=len(train_ds))
    flt = run_dataset(g, test_ds).accuracy
    fx = run_dataset(qg, test_ds, mode="fixed")
    assert flt > 0.9  # chance is 0.1: a real model
    assert abs(flt - fx.accuracy) <= MARGIN, (flt, fx.accuracy, rep.to_dict()["layers"])
    assert sum(fx.saturations.values()) == 0
    assert not any(r.dead for r in rep.layers)


def test_randman_fixed_point_accuracy_within_one_point_of_float() -> None:
    # du = 0.2 < 1 and T = 50: a synapse bias would ramp in the current over the steps, which no
    # constant Loihi bias matches; the learned neuron bias is Loihi's own, so nothing is folded
    g, train_ds, test_ds = _trained("randman", epochs=10)
    qg, rep = quantize(g, train_ds, target="loihi1", max_calib=256)
    flt = run_dataset(g, test_ds)
    fx = run_dataset(qg, test_ds, mode="fixed")
    assert flt.accuracy > 0.85  # chance is 0.1
    assert sum(fx.saturations.values()) == 0
    assert not any("synapse bias" in note for r in rep.layers for note in r.notes)
    assert abs(flt.accuracy - fx.accuracy) <= MARGIN, (flt.accuracy, fx.accuracy,
                                                       rep.to_dict()["layers"])


def test_default_model_has_no_synapse_bias_and_quantize_keeps_the_neuron_bias() -> None:
    g, train_ds, _ = _trained("randman", epochs=1, limit=200, test_limit=20)
    synapses = [n for n in g.nodes if g[n].kind in ("dense", "conv2d")]
    assert synapses and all(g[n].bias is None for n in synapses)
    neurons = [n for n in g.nodes if g[n].kind in ("cuba_lif", "readout")]
    assert all(np.asarray(g[n].bias).shape == g[n].shape for n in neurons)  # per neuron
    assert any(np.any(g[n].bias != 0) for n in neurons)  # learned, not the initial 0
    # without bias correction (tests/test_bias_correction.py) the bias is the learned one alone
    qg, rep = quantize(g, train_ds, target="loihi2", max_calib=64, bias_correction=False)
    assert not any("synapse bias" in note for r in rep.layers for note in r.notes)
    for n in neurons:
        q = qg[n].quant
        step = 2.0**q.bias_exp * q.scale  # the float value of one step of the bias grid
        want = np.asarray(g[n].bias, np.float64)
        # the fixed-point bias is the float one rounded to the grid: no fold, no other change
        np.testing.assert_array_equal(q.bias_mant, np.round(want / step).astype(np.int32))
        got = q.bias_mant.astype(np.float64) * step
        assert np.all(np.abs(got - want) <= 0.5 * step * (1 + 1e-9)), n
