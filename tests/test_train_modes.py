"""Memory-light training (issue #19, part 3): SLTT and OTTT run the network one step at a time
with the layers' own step, call backward at every step, and hold autograd memory independent
of T. Their gradients are checked against BPTT where they must agree (no temporal memory;
OTTT on a linear integrator, where the eligibility trace is exact). Accuracy vs BPTT and peak
process memory are measured by ``tools/bench_train.py --memory``, not asserted here."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from neurodeploy.cli.main import main
from neurodeploy.errors import NeurodeployError
from neurodeploy.nn import CubaLIF, Readout, SpikeConfig, mlp
from neurodeploy.nn.model import SNN
from neurodeploy.nn.online import check_train_mode, train_batch
from neurodeploy.nn.training import METHODS, TrainConfig, train


def _spikes(T: int, B: int, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, n, generator=g) < 0.3).float()


def _bptt_grads(model: SNN, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gradients of the online modes' objective Σ_t CE(v_out[t], y) / T by full BPTT."""
    model.zero_grad()
    v = model(x)
    sum(F.cross_entropy(v[t], y) for t in range(v.shape[0])).div(v.shape[0]).backward()
    return {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}


def _online_grads(model: SNN, x: torch.Tensor, y: torch.Tensor, mode: str
                  ) -> dict[str, torch.Tensor]:
    model.zero_grad()
    train_batch(model, x, y, mode)
    return {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("mode", ["sltt", "ottt"])
def test_online_forward_is_the_sequence_forward_exactly(mode: str) -> None:
    torch.manual_seed(0)
    model = mlp(12, (16, 8), 4, decoding="max", readout_dv=0.1)
    x, y = _spikes(10, 5, 12), torch.tensor([0, 1, 2, 3, 0])
    with torch.no_grad():
        want = model.decode(model(x))
    scores, correct, loss = train_batch(model, x, y, mode)
    assert torch.equal(scores, want)
    v = model(x).detach()
    assert torch.equal(correct, (v.argmax(-1) == y).sum(1).float())
    assert loss == pytest.approx(float(sum(F.cross_entropy(v[t], y) for t in range(10)) / 10),
                                 rel=1e-5)


@pytest.mark.parametrize("mode", ["sltt", "ottt"])
def test_without_temporal_memory_online_gradients_equal_bptt(mode: str) -> None:
    # du = dv = 1: u and v keep nothing from the last step, the temporal path carries no
    # gradient, so the spatial path alone (SLTT) and the trace (= the input, OTTT) are exact
    torch.manual_seed(1)
    model = mlp(12, (16,), 4, du=1.0, dv=1.0, readout_dv=1.0)
    x, y = _spikes(6, 5, 12, 1), torch.tensor([0, 1, 2, 3, 1])
    want, got = _bptt_grads(model, x, y), _online_grads(model, x, y, mode)
    assert set(got) == set(want)
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-5, atol=1e-7, msg=k)


def test_ottt_trace_gives_the_exact_gradient_of_a_leaky_integrator_and_sltt_does_not() -> None:
    torch.manual_seed(2)
    model = SNN((12,), [("fc", nn.Linear(12, 4, bias=False)),
                        ("out", Readout(4, du=0.3, dv=0.2))])
    x, y = _spikes(8, 5, 12, 2), torch.tensor([0, 1, 2, 3, 1])
    want = _bptt_grads(model, x, y)["layers.0.weight"]
    ottt = _online_grads(model, x, y, "ottt")["layers.0.weight"]
    sltt = _online_grads(model, x, y, "sltt")["layers.0.weight"]
    torch.testing.assert_close(ottt, want, rtol=1e-5, atol=1e-7)
    assert not torch.allclose(sltt, want, rtol=1e-2)  # the spatial path only: not the same


@pytest.mark.parametrize("mode", ["sltt", "ottt"])
def test_every_method_runs_online_with_gradients_everywhere(mode: str) -> None:
    x, y = _spikes(5, 8, 12, 3), torch.arange(8) % 4
    for method, preset in METHODS.items():
        torch.manual_seed(3)
        preset = dict(preset)
        binary = preset.pop("binary_weights", False)
        model = mlp(12, (16,), 4, spike=SpikeConfig(**preset), binary=binary,
                    binary_alpha="layer")
        grads = _online_grads(model, x, y, mode)
        for name in ("layers.0.weight", "layers.2.weight"):
            assert torch.isfinite(grads[name]).all() and grads[name].abs().sum() > 0, (method,
                                                                                       name)
        if preset.get("method") == "asgl":
            assert "layers.1.width" in grads  # ASGL's width learns online too


class _SavedBytes:
    """Live and peak bytes of tensors autograd holds for backward (saved-tensor hooks)."""

    def __init__(self) -> None:
        self.live = self.peak = 0

    def hooks(self) -> torch.autograd.graph.saved_tensors_hooks:
        meter = self

        class Held:
            def __init__(self, t: torch.Tensor) -> None:
                self.t, self.n = t, t.numel() * t.element_size()
                meter.live += self.n
                meter.peak = max(meter.peak, meter.live)

            def __del__(self) -> None:
                meter.live -= self.n

        return torch.autograd.graph.saved_tensors_hooks(Held, lambda h: h.t)


def _saved_peak(mode: str, T: int) -> int:
    torch.manual_seed(4)
    model = mlp(12, (32,), 4)
    x, y = _spikes(T, 8, 12, 4), torch.arange(8) % 4
    meter = _SavedBytes()
    with meter.hooks():
        if mode == "bptt":
            F.cross_entropy(model.decode(model(x)), y).backward()
        else:
            train_batch(model, x, y, mode)
    return meter.peak


def test_online_autograd_memory_does_not_grow_with_T_while_bptt_does() -> None:
    for mode in ("sltt", "ottt"):
        assert _saved_peak(mode, 4) == _saved_peak(mode, 32), mode
    assert _saved_peak("bptt", 32) > 6 * _saved_peak("bptt", 4)


def test_short_online_training_learns_and_records_its_mode() -> None:
    r = train(TrainConfig(task="digits", epochs=2, limit=400, test_limit=200, T=4,
                          train_mode="ottt", two=True, lipschitz=1e-4))
    assert r.test_accuracy > 0.5, r.test_accuracy  # chance is 0.1
    assert r.metadata["train_mode"] == "ottt" and r.metadata["decoding"] == "weighted"


def test_bad_train_modes_are_refused_in_one_line(tmp_path, capsys) -> None:
    with pytest.raises(NeurodeployError, match=r"^unknown train mode 'tbptt' \(choose from "
                                               r"bptt, sltt, ottt\)$"):
        TrainConfig(train_mode="tbptt")
    with pytest.raises(NeurodeployError, match="activity regularisation .* cannot run in train "
                                               "mode 'sltt'"):
        TrainConfig(train_mode="sltt", activity_reg=1.0)
    model = mlp(6, (5,), 3, per_neuron=True)
    check_train_mode("ottt", model)  # per-neuron parameters that are still all equal: fine
    lif = model.layers[1]
    assert isinstance(lif, CubaLIF)
    with torch.no_grad():
        lif.dv[0] = 0.5
    check_train_mode("sltt", model)
    with pytest.raises(NeurodeployError, match=r"layer 'lif1' \(cuba_lif\): train mode 'ottt' "
                                               "keeps one presynaptic trace per input"):
        check_train_mode("ottt", model)
    for args, msg in ((["--train-mode", "foo"], "unknown train mode 'foo'"),
                      (["--train-mode", "ottt", "--activity-reg", "1"],
                       "cannot run in train mode 'ottt'")):
        rc = main(["train", *args, "-o", str(tmp_path / "x.pt")])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 1 and len(err) == 1 and err[0].startswith("error: ") and msg in err[0]
