"""Quantization-aware fine-tuning: train a quantized graph's integers through its fixed-point
forward pass (:class:`neurodeploy.qat.module.FixedPointModule`), from a float graph and data.

``finetune(graph, data)`` quantizes ``graph`` (post-training quantization, calibrated on the
first samples of ``data``) unless a quantized graph is given, re-rounds the weights of each
Dense synapse into a CUBA layer so that the membrane they drive tracks the float model's on the
float model's own activity (``rounding=True``, :mod:`neurodeploy.qat.rounding`; kept when it
scores at least as well as PTQ on the selection data), then trains its integer weights
and biases with Adam on the fixed-point forward pass (straight-through on every rounding,
surrogate spikes), towards either the float graph's predictions (``target="float"``: cross
entropy on the float prediction plus the KL divergence to the float model's softened outputs,
which is what makes fixed point agree with float) or the data's labels (``target="labels"``).
After each epoch the fixed-point graph is scored on the selection data (``val``, default the
training data) — agreement with float or accuracy — and the best epoch is kept, the PTQ start
included, so fine-tuning never hands back a graph that scores below PTQ on that data.

Returns the quantized graph (the same float fields, trained integers; the simulator and the
Lava backend run it as any quantized graph) and a :class:`QATReport`.

Measured on ``tools/bench_import.py --models random``'s random-weight recurrent snnTorch 12-38-7
(T = 256, 256 training inputs): the epochs lower the loss and raise agreement on the training
inputs (95 → 98 % in 6 epochs) while agreement on other inputs falls (97 → 92 %) — about 2200
weights fitted to predictions that near-ties decide (4.5 % of inputs have two equal float spike
counts) — so the selection keeps the start; Adam steps below ~0.02 integer units move no weight
off its grid point, from ~0.05 up they move many weights by a whole grid step; the output MSE
alone (``temperature=0``) barely moves agreement either way. The re-rounding is what helps
there.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Graph, validate
from neurodeploy.progress import track
from neurodeploy.qat.module import FixedPointModule
from neurodeploy.qat.rounding import optimize_rounding
from neurodeploy.quantize.threads import threads_for
from neurodeploy.sim import simulate
from neurodeploy.sim.dataset import input_encoding, steps_for

TARGETS = ("float", "labels")


@dataclass
class QATReport:
    """What :func:`finetune` did. ``score``: agreement of fixed-point predictions with float
    (``target="float"``) or accuracy (``labels``) on the selection data, per epoch (index 0:
    the start, PTQ or re-rounded); ``best_epoch``: the one handed back."""

    target: str
    epochs: int
    lr: float
    n_train: int
    n_select: int
    T: int
    #: PTQ's score, the re-rounded start's (None: rounding off or nothing to re-round), which
    #: one the epochs started from ("ptq" or "rounding"; score[0] is its score), and the
    #: synapses re-rounded
    ptq_score: float = 0.0
    rounding_score: float | None = None
    start: str = "ptq"
    rounded: list[str] = field(default_factory=list)
    score: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _encoded(graph: Graph, ds: Any, T: int | None, seed: int) -> tuple[torch.Tensor, int]:
    """``x [T, N, *shape]`` float32 as the simulator takes it, and T."""
    from neurodeploy.data import encode

    enc = input_encoding(graph, ds.encoding)
    steps = steps_for(graph, ds.encoding, ds.T, T)
    x = torch.as_tensor(np.asarray(encode(ds.x, enc, steps, seed=seed), np.float32))
    return x, int(x.shape[0])


def _decoded(graph: Graph, x: torch.Tensor, mode: str, batch: int) -> torch.Tensor:
    """Decoded outputs ``[N, n]`` of ``graph`` simulated on ``x`` in batches."""
    return torch.cat([simulate(graph, x[:, i:i + batch], mode=mode).decoded
                      for i in range(0, int(x.shape[1]), batch)])


def _student(module: FixedPointModule, x: torch.Tensor, batch: int) -> torch.Tensor:
    with torch.no_grad():
        module.eval()
        out = torch.cat([module(x[:, i:i + batch])[0] for i in range(0, int(x.shape[1]), batch)])
        module.train()
    return out


def finetune(graph: Graph, data: Any, qgraph: Graph | None = None, *, target: str = "float",
             epochs: int = 10, lr: float = 0.5, batch: int = 32, T: int | None = None,
             val: Any = None, calib_samples: int = 256, quant_target: str = "loihi2",
             temperature: float = 0.1, distill: float = 1.0, seed: int = 0,
             rounding: bool = True, rounding_samples: int = 256,
             progress: bool = False) -> tuple[Graph, QATReport]:
    """Fine-tune the fixed-point form of the float ``graph`` on ``data`` (a
    ``neurodeploy.data.Dataset``) — module docstring. ``qgraph``: the quantized graph to start
    from (default: ``quantize(graph, data)`` with ``calib_samples`` samples). ``lr``: Adam's
    step in integer weight units. ``val``: the data the best epoch is selected on (default
    ``data``). ``rounding``: start from the re-rounded weights (module docstring), chosen on
    the first ``rounding_samples`` samples of ``data``. Raises NeurodeployError naming what
    cannot be trained."""
    import time

    from neurodeploy.quantize import quantize

    t0 = time.time()
    if target not in TARGETS:
        raise NeurodeployError(f"unknown QAT target '{target}' (choose from {', '.join(TARGETS)})")
    if epochs < 0 or batch < 1 or not lr > 0:
        raise NeurodeployError(f"QAT needs epochs >= 0, batch >= 1 and lr > 0 (got {epochs}, "
                               f"{batch}, {lr})")
    validate(graph)
    if len(data) == 0:
        raise NeurodeployError("the fine-tuning data set has no samples")
    if qgraph is None:
        qgraph, _ = quantize(graph, data, target=quant_target, T=T, max_calib=calib_samples,
                             seed=seed)
    with threads_for(qgraph, batch):
        return _train(graph, data, qgraph, target, epochs, lr, batch, T, val, temperature,
                      distill, seed, progress, t0, rounding_samples if rounding else 0)


def _train(graph: Graph, data: Any, qgraph: Graph, target: str, epochs: int, lr: float,
           batch: int, T: int | None, val: Any, temperature: float, distill: float, seed: int,
           progress: bool, t0: float, rounding_samples: int) -> tuple[Graph, QATReport]:
    """The training loop of :func:`finetune` (arguments as there; ``t0``: its start time;
    ``rounding_samples``: 0 for no re-rounding)."""
    import time

    module = FixedPointModule(qgraph)
    x, steps = _encoded(graph, data, T, seed)
    sel = data if val is None else val
    xs, _ = (x, steps) if val is None else _encoded(graph, val, steps, seed + 1)
    if target == "float":
        teacher = _decoded(graph, x, "float", batch)
        goal = teacher.argmax(1)
        goal_sel = goal if val is None else _decoded(graph, xs, "float", batch).argmax(1)
    else:
        teacher = None
        goal = torch.as_tensor(np.asarray(data.y), dtype=torch.int64)
        goal_sel = torch.as_tensor(np.asarray(sel.y), dtype=torch.int64)
    # logits on a common scale: the float model's (or PTQ's) spread of decoded outputs
    ref = teacher if teacher is not None else _student(module, x, batch)
    spread = float(ref.std()) + 1e-12
    temp = temperature * spread

    teacher_sel = None if target != "float" else (
        teacher if val is None else _decoded(graph, xs, "float", batch))

    def rank(m: FixedPointModule) -> tuple[float, float]:
        """(score, −mean squared distance to the float outputs): ties in the score go to the
        graph whose outputs are nearer the float model's."""
        out = _student(m, xs, batch)
        agree = float((out.argmax(1) == goal_sel).float().mean())
        near = 0.0 if teacher_sel is None else -float(
            ((out.to(torch.float64) - teacher_sel.to(torch.float64)) ** 2).mean())
        return agree, near

    def score() -> float:
        return rank(module)[0]

    report = QATReport(target, epochs, lr, len(data), len(sel), steps)
    best_rank = rank(module)
    report.ptq_score = best_rank[0]
    if rounding_samples > 0:
        for rq, changed in optimize_rounding(graph, qgraph, x[:, :rounding_samples]):
            if not changed:
                continue
            cand = FixedPointModule(rq)
            r = rank(cand)
            if report.rounding_score is None or r[0] > report.rounding_score:
                report.rounding_score = r[0]
            if r > best_rank:
                best_rank, module, report.start, report.rounded = r, cand, "rounding", changed
    report.score.append(best_rank[0])
    best = (report.score[0], copy.deepcopy(module.state_dict()))
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = int(x.shape[1])
    for epoch in track(range(1, epochs + 1), "QAT epochs", total=epochs, enabled=progress):
        total = 0.0
        for idx in torch.randperm(n, generator=gen).split(batch):
            out, _ = module(x[:, idx])
            out = out.to(torch.float64)
            loss = F.cross_entropy(out / temp, goal[idx]) if temperature > 0 else out.sum() * 0
            if teacher is not None and distill > 0:  # the float model's outputs, all of them
                loss = loss + distill * F.mse_loss(out / spread, teacher[idx].to(out) / spread)
            opt.zero_grad()
            loss.backward()
            opt.step()
            module.clamp_()
            total += float(loss) * len(idx)
        report.loss.append(total / n)
        report.score.append(score())
        if report.score[-1] > best[0]:
            best = (report.score[-1], copy.deepcopy(module.state_dict()))
            report.best_epoch = epoch
    module.load_state_dict(best[1])
    out = module.to_graph()
    meta = dict(out.metadata.get("quantized", {}))
    meta["qat"] = {"target": target, "epochs": epochs, "best_epoch": report.best_epoch,
                   "score": report.score[report.best_epoch], "start": report.start}
    out.metadata = dict(out.metadata, quantized=meta)
    report.seconds = time.time() - t0
    return out, report
