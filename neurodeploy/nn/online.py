"""Memory-light training: SLTT and OTTT, one time step at a time, backward at every step.

BPTT (``bptt``, :func:`neurodeploy.nn.training.train`'s default) keeps every step's graph until
the loss over the whole sequence is differentiated: memory grows with ``T``. The two online
modes here run the network one step at a time (each neuron layer's own float step,
:meth:`neurodeploy.nn.layers.CubaLIF.step`, the same the sequence forward runs), take the
per-step loss ``L[t] = CE(v_out[t], y) / T`` on the readout's voltage and call ``backward`` at
every step; the gradients accumulate in ``.grad`` and the caller makes one optimizer step per
batch. Each step's graph is freed by its backward, so memory does not grow with ``T``.

- ``sltt`` (Meng et al. 2023, spatial learning through time): the neuron state ``(u, v)``
  enters each step detached, so the gradient flows only through the spatial path of the
  current step (``∂v[t]/∂I[t] = 1``).
- ``ottt`` (Xiao et al. 2022, online training through time): as SLTT, but each synapse sees,
  for its weight gradient, a presynaptic eligibility trace: the input filtered by the
  postsynaptic CUBA dynamics without reset, ``a[t] = (1 − du)·a[t−1] + x[t]``,
  ``x̂[t] = (1 − dv)·x̂[t−1] + a[t]``, so that ``∂L[t]/∂W = δ_v[t] ⊗ x̂[t]`` (the synapse's value
  stays ``W·x[t]``). For a linear integrator (a Readout) this is the exact gradient of the
  per-step loss; for a firing neuron it ignores the reset, as OTTT does.

Both run with every surrogate and spike method (SGS, MSG, ASGL) and with binary weights, TWO
and the Lipschitz penalty. Refused (:func:`check_train_mode`): the activity regulariser (a
squared hinge of each neuron's spike count over all T steps: no step sees its gradient), and
OTTT on a layer with per-neuron decays (one trace per input needs one ``du``/``dv`` per layer).
The decoded scores (for the accuracy and TWO) are accumulated online too.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from neurodeploy.errors import NeurodeployError
from neurodeploy.kinds.cuba import CubaState
from neurodeploy.nn.layers import NeuronLayer
from neurodeploy.nn.model import SNN

Tensor = torch.Tensor

#: ``--train-mode`` names: full backpropagation through time, and the two online modes
TRAIN_MODES = ("bptt", "sltt", "ottt")
ONLINE_MODES = ("sltt", "ottt")


def check_train_mode(mode: str, model: SNN | None = None, activity_reg: float = 0.0) -> None:
    """Raise a one-line NeurodeployError for an unknown ``mode`` or what cannot run in it (the
    activity regulariser online; OTTT on per-neuron decays, naming the layer)."""
    if mode not in TRAIN_MODES:
        raise NeurodeployError(f"unknown train mode '{mode}' (choose from "
                               f"{', '.join(TRAIN_MODES)})")
    if mode == "bptt":
        return
    if activity_reg:
        raise NeurodeployError(f"activity regularisation (--activity-reg) cannot run in train "
                               f"mode '{mode}': its penalty is a squared hinge of each neuron's "
                               "spike count over all T steps, which no single step's gradient "
                               "sees (use --train-mode bptt)")
    if mode == "ottt" and model is not None:
        for name, m in zip(model.names, model.layers, strict=True):
            if isinstance(m, NeuronLayer) and not all(_uniform(getattr(m, d))
                                                      for d in ("du", "dv")):
                raise NeurodeployError(f"layer '{name}' ({m.kind}): train mode 'ottt' keeps one "
                                       "presynaptic trace per input, which needs one du/dv per "
                                       "layer; this layer's decays differ per neuron (use sltt)")


def _uniform(t: Tensor) -> bool:
    return bool((t == t.flatten()[0]).all()) if t.numel() > 1 else True


def _post_neurons(model: SNN) -> dict[int, NeuronLayer]:
    """Synapse layer index → the neuron layer its output drives (through pools/Flatten)."""
    out: dict[int, NeuronLayer] = {}
    pending: list[int] = []
    for k, m in enumerate(model.layers):
        if isinstance(m, NeuronLayer):
            out.update({j: m for j in pending})
            pending = []
        elif isinstance(m, (nn.Linear, nn.Conv2d)):
            pending.append(k)
    return out


def _detach(st: CubaState) -> CubaState:
    return CubaState(st.u.detach(), st.v.detach(), st.ref)


class _Decoder:
    """The readout's decoding accumulated step by step (mean, sum, max, last, weighted)."""

    def __init__(self, decoding: str, weights: Tensor | None, T: int) -> None:
        if decoding == "weighted" and (weights is None or weights.numel() != T):
            got = None if weights is None else int(weights.numel())
            raise NeurodeployError(f"decoding 'weighted' needs one weight per step ({T}), "
                                   f"got {got}")
        self.decoding, self.weights, self.T = decoding, weights, T
        self.acc: Tensor | None = None

    def add(self, v: Tensor, t: int) -> None:
        d = self.decoding
        if d == "weighted":
            v = v * float(self.weights[t])  # type: ignore[index]
        if self.acc is None or d == "last":
            self.acc = v.clone()
        elif d == "max":
            self.acc = torch.maximum(self.acc, v)
        else:
            self.acc = self.acc + v

    def scores(self) -> Tensor:
        assert self.acc is not None
        return self.acc / self.T if self.decoding == "mean" else self.acc


def _ottt_synapse(m: nn.Module, x: Tensor, trace: tuple[Tensor, Tensor] | None,
                  post: NeuronLayer) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """``m(x)`` in value, with the weight gradient taken on the eligibility trace ``x̂``."""
    p = post.effective()
    du, dv = p["du"].detach().flatten()[0], p["dv"].detach().flatten()[0]
    a_prev, xh_prev = trace if trace is not None else (torch.zeros_like(x), torch.zeros_like(x))
    a = a_prev * (1 - du) + x
    xh = xh_prev * (1 - dv) + a
    y_trace = m(xh)
    with torch.no_grad():
        y = m(x)
    # value exactly y (y_trace − y_trace.detach() is exactly 0), gradient through y_trace
    return y + (y_trace - y_trace.detach()), (a.detach(), xh.detach())


def train_batch(model: SNN, x: Tensor, y: Tensor, mode: str) -> tuple[Tensor, Tensor, float]:
    """Run ``model`` (train mode) over ``x`` ``[T, B, *input_shape]`` one step at a time in
    ``mode`` (``sltt`` | ``ottt``), calling ``backward`` on ``CE(v_out[t], y) / T`` at every
    step (gradients accumulate in ``.grad``; zero them before, step the optimizer after).

    Returns the decoded scores ``[B, n]`` (the readout's decoding, detached), the number of
    correct argmax predictions of ``v_out[t]`` at each step ``[T]`` (for TWO) and the loss
    ``Σ_t L[t]``."""
    if mode not in ONLINE_MODES:
        raise NeurodeployError(f"train_batch runs the online modes ({', '.join(ONLINE_MODES)}),"
                               f" got '{mode}'")
    if tuple(x.shape[2:]) != model.input_shape:
        raise NeurodeployError(f"input has per-step shape {list(x.shape[2:])}; the model "
                               f"expects {list(model.input_shape)} (as [T, B, ...])")
    T = int(x.shape[0])
    post = _post_neurons(model) if mode == "ottt" else {}
    states: dict[int, Any] = {}
    traces: dict[int, tuple[Tensor, Tensor]] = {}
    readout = model.readout
    decoder = _Decoder(readout.decoding, readout.weights, T)
    correct = torch.zeros(T)
    total = 0.0
    for t in range(T):
        h = x[t]
        for k, m in enumerate(model.layers):
            if isinstance(m, NeuronLayer):
                st = states.get(k)
                h, st = m.step(h, m.initial_state(h) if st is None else st)
                states[k] = _detach(st)
            elif k in post:
                h, traces[k] = _ottt_synapse(m, h, traces.get(k), post[k])
            else:
                h = m(h)
        loss = F.cross_entropy(h, y) / T
        loss.backward()
        total += float(loss)
        with torch.no_grad():
            v = h.detach()
            decoder.add(v, t)
            correct[t] = (v.argmax(-1) == y).sum()
    return decoder.scores(), correct, total


__all__ = ["ONLINE_MODES", "TRAIN_MODES", "check_train_mode", "train_batch"]
