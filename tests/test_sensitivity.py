"""The float model's own sensitivity (neurodeploy.quantize.sensitivity): noise of the stated
size on every synapse, a near-tie flagged fragile and a clear margin not, and the quantize CLI's
report of it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from graphs import digits_mlp

from neurodeploy.cli.main import main
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import CubaLIF, Dense, Graph, Input, Readout, save_graph
from neurodeploy.quantize.sensitivity import float_sensitivity, perturbed, split_agreement
from neurodeploy.sim import simulate


def _readout() -> Graph:
    """Two inputs straight to two readouts (identity weights): the prediction is the larger
    input, so an input pair that nearly ties is fragile under weight noise."""
    g = Graph(metadata={"T": 3, "source": "test"})
    g.add(Input("in", shape=(2,), encoding="direct"))
    g.add(Dense("fc", weight=np.eye(2, dtype=np.float32)), "in")
    g.add(Readout("out", shape=(2,)), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def test_noise_has_the_stated_size_and_leaves_the_graph_alone() -> None:
    rng = np.random.default_rng(0)
    g = Graph(metadata={"T": 2})
    g.add(Input("in", shape=(50,)))
    w = rng.normal(0, 1, (40, 50)).astype(np.float32)
    g.add(Dense("fc", weight=w.copy()), "in")
    g.add(CubaLIF("lif", shape=(40,), du=1.0, dv=0.5, vth=1.0), "fc")
    g.inputs, g.outputs = ["in"], ["lif"]
    h = perturbed(g, 1e-3, np.random.default_rng(1))
    np.testing.assert_array_equal(g.nodes["fc"].weight, w)
    rel = h.nodes["fc"].weight.astype(np.float64) / w - 1.0
    assert 0.9e-3 < rel.std() < 1.1e-3 and abs(rel.mean()) < 1e-4
    again = perturbed(g, 1e-3, np.random.default_rng(1))
    np.testing.assert_array_equal(again.nodes["fc"].weight, h.nodes["fc"].weight)


def test_a_near_tie_is_fragile_and_a_clear_margin_is_not() -> None:
    g = _readout()
    x = np.array([[1.0, 1.0 + 1e-6], [1.0, 3.0], [2.0, 1.0]], np.float32)
    xs = torch.as_tensor(np.repeat(x[None], 3, axis=0))  # [T, B, 2]

    def predict(h: Graph) -> np.ndarray:
        return simulate(h, xs).predictions

    sens = float_sensitivity(g, predict, eps=1e-3, draws=8, seed=0)
    assert sens.fragile.tolist() == [True, False, False]
    assert len(sens.agreement) == 8 and sens.worst == pytest.approx(2 / 3)
    assert sens.mean < 1.0
    stable, fragile = split_agreement(np.array([False, True, True]), sens.fragile)
    assert (stable, fragile) == (1.0, 0.0)
    with pytest.raises(NeurodeployError, match="eps > 0 and draws >= 1"):
        float_sensitivity(g, predict, eps=0.0)


def test_quantize_reports_the_float_models_own_sensitivity(tmp_path, capsys) -> None:
    save_graph(digits_mlp(seed=0, T=8), tmp_path / "m.ndg")
    assert main(["quantize", str(tmp_path / "m.ndg"), "--calib", "digits", "--calib-samples",
                 "32", "--samples", "40", "--sensitivity", "--json", "-o",
                 str(tmp_path / "m.q.ndg")]) == 0
    rep = json.loads(capsys.readouterr().out)
    sens = rep["float_sensitivity"]
    assert sens["eps"] == 1e-4 and len(sens["agreement"]) == 4
    assert sens["agreement_worst"] <= sens["agreement_mean"] <= 1.0
    # an input flipped in the worst draw is fragile; a fragile input flipped in some draw
    assert 1 - sens["agreement_worst"] - 1e-12 <= sens["fragile"] \
        <= sum(1 - a for a in sens["agreement"]) + 1e-12
    assert 0.0 <= rep["prediction_agreement"] <= 1.0
    if sens["fragile"] < 1.0:
        assert 0.0 <= sens["agreement_on_stable"] <= 1.0
    assert main(["quantize", str(tmp_path / "m.ndg"), "--calib", "digits", "--calib-samples",
                 "32", "--samples", "40", "--sensitivity", "-o", str(tmp_path / "n.q.ndg")]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "float vs itself with 0.0001 relative weight noise" in text
    assert f"predictions agree on {rep['prediction_agreement']:.2%}" in text
