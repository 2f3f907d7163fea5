"""QAT: the differentiable fixed-point module equals the simulator bit for bit, fine-tuning
recovers agreement PTQ lost, Lava runs the result identically, bad input is refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurodeploy.cli.main import main
from neurodeploy.data import Dataset
from neurodeploy.data.datasets import save_dataset
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import (
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    Readout,
    SigmaDelta,
    SumPool2d,
    load_graph,
    save_graph,
)
from neurodeploy.qat import FixedPointModule, finetune
from neurodeploy.quantize import quantize
from neurodeploy.sim import simulate


def _conv_graph(rng: np.random.Generator) -> Graph:
    """Graded (direct) 1x8x8 input → conv 3 3x3 → LIF → sum-pool 2 → flatten → dense 5 with a
    bias (du < 1: folded) → LIF → dense 3 → mean readout."""
    g = Graph(metadata={"T": 10})
    g.add(Input("in", shape=(1, 8, 8)))
    g.add(Conv2d("c", weight=rng.normal(0, 0.8, (3, 1, 3, 3)).astype(np.float32)), "in")
    g.add(CubaLIF("l1", shape=(3, 6, 6), du=1.0, dv=0.1, vth=1.0), "c")
    g.add(SumPool2d("p", kernel=(2, 2), stride=(2, 2)), "l1")
    g.add(Flatten("f"), "p")
    g.add(Dense("d", weight=rng.normal(0, 0.5, (5, 27)).astype(np.float32),
                bias=rng.normal(0, 0.05, 5).astype(np.float32)), "f")
    g.add(CubaLIF("l2", shape=(5,), du=0.4, dv=0.2, vth=0.8), "d")
    g.add(Dense("o", weight=rng.normal(0, 0.7, (3, 5)).astype(np.float32)), "l2")
    g.add(Readout("out", shape=(3,), du=0.5, dv=0.1), "o")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def _recurrent_graph(rng: np.random.Generator, T: int = 24) -> Graph:
    """Spikes 6 → dense 12 → recurrent LIF (delay-1 dense 12x12) → dense 4 → LIF output
    (predictions by spike counts), as snnTorch's RSynaptic imports."""
    g = Graph(metadata={"T": T})
    g.add(Input("in", shape=(6,), encoding="spikes"))
    g.add(Dense("d", weight=rng.normal(0, 0.6, (12, 6)).astype(np.float32)), "in")
    g.add(Dense("rec", weight=rng.normal(0, 0.2, (12, 12)).astype(np.float32)))
    g.add(CubaLIF("h", shape=(12,), du=0.2, dv=0.1, vth=0.5), "d", "rec")
    g.connect("h", "rec", delay=1)
    g.add(Dense("o", weight=rng.normal(0, 0.5, (4, 12)).astype(np.float32)), "h")
    g.add(CubaLIF("y", shape=(4,), du=0.2, dv=0.1, vth=0.5), "o")
    g.inputs, g.outputs = ["in"], ["y"]
    return g


def _spikes(rng: np.random.Generator, n: int, T: int, d: int) -> Dataset:
    rates = rng.random((n, 1, d)) * 0.5
    x = (rng.random((n, T, d)) < rates).astype(np.float32)
    return Dataset(x, rng.integers(0, 4, n), "spikes", "spikes", 4, T)


def _perturb(m: FixedPointModule, rng: np.random.Generator) -> None:
    with torch.no_grad():
        for p in m.weights.values():
            p += torch.as_tensor(rng.normal(0, 4, p.shape))
        for p in m.biases.values():
            p += torch.as_tensor(rng.normal(0, 20, p.shape))
    m.clamp_()


@pytest.mark.parametrize("case", ["conv", "recurrent", "refractory"])
def test_module_forward_is_the_simulators_fixed_point(case: str) -> None:
    """``refractory``: the recurrent graph with refractory periods 1 and 2 (snnTorch's delayed
    zero reset), gated alike in the value and the gradient."""
    rng = np.random.default_rng(0)
    if case == "conv":
        g = _conv_graph(rng)
        ds = Dataset(rng.random((8, 1, 8, 8)).astype(np.float32), np.zeros(8, np.int64), "img",
                     "direct", 3)
        x = torch.as_tensor(np.repeat(ds.x[None], 10, 0))
    else:
        g = _recurrent_graph(rng)
        if case == "refractory":
            g["h"].refractory, g["y"].refractory = 1, 2
        ds = _spikes(rng, 8, 24, 6)
        x = torch.as_tensor(ds.x).transpose(0, 1)
    qg, _ = quantize(g, ds)
    m = FixedPointModule(qg)
    _perturb(m, rng)  # integers off PTQ's: biases learned, weights moved
    decoded, outs = m(x)
    q2 = m.to_graph()
    res = simulate(q2, x, mode="fixed")
    name = q2.outputs[0]
    if case == "refractory":  # the period acts: never two output spikes within 2 steps
        s = res.outputs[name]
        assert s.any() and not (s[1:] * s[:-1]).any() and not (s[2:] * s[:-2]).any()
    assert torch.equal(outs[name], res.outputs[name])
    assert torch.equal(decoded, res.decoded)
    decoded.sum().backward()  # gradients reach every weight through the spikes
    assert all(float(p.grad.abs().sum()) > 0 for p in m.weights.values())


def test_finetune_recovers_agreement_that_ptq_lost() -> None:
    rng = np.random.default_rng(1)
    g = _recurrent_graph(rng)
    train = _spikes(rng, 96, 24, 6)
    qg, _ = quantize(g, train)
    damaged = FixedPointModule(qg)
    with torch.no_grad():  # a bad start: noise on one synapse's integers (30 % of the top)
        w = damaged.weights["o"]
        w += torch.as_tensor(np.random.default_rng(9).normal(0, 0.3 * float(w.abs().max()),
                                                             w.shape))
    damaged.clamp_()
    start = damaged.to_graph()
    q2, rep = finetune(g, train, start, epochs=4, lr=1.0, batch=32, rounding=False)
    assert rep.score[0] < 0.6 and rep.score[rep.best_epoch] > 0.9, rep.score  # 55 % → 96 %
    x = torch.as_tensor(train.x).transpose(0, 1)
    agree = np.mean(simulate(q2, x, mode="fixed").predictions == simulate(g, x).predictions)
    assert agree == pytest.approx(rep.score[rep.best_epoch])
    assert q2.metadata["quantized"]["qat"]["best_epoch"] == rep.best_epoch
    assert np.array_equal(q2.nodes["d"].weight, g.nodes["d"].weight)  # float fields kept


def test_rounding_for_the_float_activity_recovers_a_damaged_start() -> None:
    """The same damaged start, no epochs: re-rounding each synapse for the float model's own
    activity (qat.rounding) brings the fixed point back near float, on Lava's grid."""
    rng = np.random.default_rng(1)
    g = _recurrent_graph(rng)
    train = _spikes(rng, 96, 24, 6)
    qg, _ = quantize(g, train)
    damaged = FixedPointModule(qg)
    with torch.no_grad():
        w = damaged.weights["o"]
        w += torch.as_tensor(np.random.default_rng(9).normal(0, 0.3 * float(w.abs().max()),
                                                             w.shape))
    damaged.clamp_()
    start = damaged.to_graph()
    q2, rep = finetune(g, train, start, epochs=0)
    assert rep.ptq_score < 0.6 and rep.start == "rounding" and rep.score[0] > 0.9, rep
    assert "o" in rep.rounded and q2.metadata["quantized"]["qat"]["start"] == "rounding"
    x = torch.as_tensor(train.x).transpose(0, 1)
    agree = np.mean(simulate(q2, x, mode="fixed").predictions == simulate(g, x).predictions)
    assert agree == pytest.approx(rep.score[0])
    for name in rep.rounded:  # on the grid Lava keeps as it is
        from neurodeploy.formats import lava_effective_weights

        w = q2.nodes[name].quant.weight
        assert np.array_equal(lava_effective_weights(w, int(q2.nodes[name].quant.num_weight_bits)),
                              w)


def test_rounding_lowers_the_membrane_error_it_targets() -> None:
    """Each candidate's integers give a membrane closer to the float one (teacher-forced on the
    float spikes, near-threshold weighted as the candidate's own objective) than PTQ's."""
    from neurodeploy.qat.rounding import optimize_rounding

    rng = np.random.default_rng(5)
    g = _recurrent_graph(rng, T=40)
    train = _spikes(rng, 64, 40, 6)
    qg, _ = quantize(g, train)
    x = torch.as_tensor(train.x).transpose(0, 1)
    cands = optimize_rounding(g, qg, x, sigmas=(None,))
    assert len(cands) == 1 and cands[0][1], "something re-rounded"
    rq = cands[0][0]

    def err(q) -> float:  # Σ over neurons 'h' of the drive error, filtered as the neuron does
        rec = simulate(g, x, record=["h"]).records["h"]["s"]
        wf_d, wf_r = g.nodes["d"].weight.astype(np.float64), g.nodes["rec"].weight.astype(
            np.float64)
        wi_d = q.nodes["d"].quant.weight.astype(np.float64)
        wi_r = q.nodes["rec"].quant.weight.astype(np.float64)
        s_d = (wf_d * qg.nodes["d"].quant.weight).sum() / (wf_d ** 2).sum()
        s_r = (wf_r * qg.nodes["rec"].quant.weight).sum() / (wf_r ** 2).sum()
        ed, er = wi_d / s_d - wf_d, wi_r / s_r - wf_r
        prev = torch.cat([torch.zeros_like(rec[:1]), rec[:-1]]).double().numpy()
        drive = x.double().numpy() @ ed.T + prev @ er.T  # [T, B, 12]
        u = v = np.zeros(drive.shape[1:])
        total = 0.0
        for t in range(drive.shape[0]):
            u = 0.8 * u + drive[t]
            v = 0.9 * v * (1 - (rec[t - 1].numpy() if t else 0)) + u
            total += float((v ** 2).sum())
        return total

    assert err(rq) < 0.5 * err(qg)  # 0.21 here


def test_lava_runs_the_finetuned_graph_bit_exactly() -> None:
    pytest.importorskip("lava")
    from neurodeploy.lava.comparison import compare

    rng = np.random.default_rng(2)
    g = _recurrent_graph(rng, T=12)
    train = _spikes(rng, 32, 12, 6)
    q2, _ = finetune(g, train, epochs=1, lr=2.0)
    res = compare(q2, _spikes(rng, 2, 12, 6), samples=2)
    assert res["identical"], res["first_divergence"]


def test_refusals_are_one_line() -> None:
    rng = np.random.default_rng(3)
    g = Graph(metadata={"T": 4})
    g.add(Input("in", shape=(3,)))
    g.add(Dense("d", weight=rng.normal(0, 1, (3, 3)).astype(np.float32)), "in")
    g.add(SigmaDelta("sd", shape=(3,), vth=np.float32(0.1)), "d")
    g.add(Dense("o", weight=rng.normal(0, 1, (2, 3)).astype(np.float32)), "sd")
    g.add(Readout("out", shape=(2,)), "o")
    g.inputs, g.outputs = ["in"], ["out"]
    data = Dataset(rng.random((4, 3)).astype(np.float32), np.zeros(4, np.int64), "t", "direct", 2)
    qg, _ = quantize(g, data)
    with pytest.raises(NeurodeployError, match=r"^node 'sd' \(sigma_delta\): QAT trains "
                                               r"cuba_lif, readout neurons only$"):
        FixedPointModule(qg)
    with pytest.raises(NeurodeployError, match="^unknown QAT target 'x'"):
        finetune(g, data, target="x")
    with pytest.raises(NeurodeployError, match="^QAT needs epochs >= 0"):
        finetune(g, data, epochs=-1)


def test_cli_finetune(tmp_path, capsys) -> None:
    rng = np.random.default_rng(4)
    g = _recurrent_graph(rng, T=10)
    model = tmp_path / "m.ndg"
    save_graph(g, model)
    data = tmp_path / "d.npz"
    save_dataset(_spikes(rng, 24, 10, 6), data)
    out = tmp_path / "m.q.ndg"
    assert main(["finetune", str(model), "--data", str(data), "-o", str(out), "--epochs", "1",
                 "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert {"float_accuracy", "quantized_accuracy", "score", "best_epoch"} <= rep.keys()
    assert len(rep["score"]) == 2 and load_graph(out).nodes["d"].quant is not None
    assert main(["finetune", str(tmp_path / "none.ndg"), "--data", str(data), "-o",
                 str(tmp_path / "x.ndg")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "none.ndg" in err[0]
    assert main(["finetune", "--help"]) == 0
