"""Study (not a test): each surrogate-gradient seed method's central claim, reproduced in kind,
and every trained model deployed on Loihi 2 (issue 19, part 1).

Over ``--seeds`` training seeds (3; ``--quick``: 1) on digits (MLP), Randman and digits-image
(conv), with the sizes printed in the report (:data:`FULL`, :data:`QUICK`):

- Zenke & Vogels 2021: surrogate shape × scale (steepness α = β) grid on Randman — shape matters
  little, scale matters; activity regularisation lowers spike counts at little accuracy cost;
- ASGL (Wang et al. 2023) vs a fixed-width surrogate of the same shape across initial widths;
- STE vs SGS vs SGS + Lipschitz: accuracy on the training and test sets and the gap;
- MSG: mask ratio p vs accuracy and the fraction of zero surrogate gradients; TWO on/off;
- SEI-style binary weights vs full precision (MLP and conv);
- every trained model quantized for Loihi 2 and simulated bit-accurately: float and fixed
  accuracy, synaptic ops and energy per inference (cmos45nm, loihi2), cores and latency from the
  chip model (the sweep's :func:`neurodeploy.sweep.run.run_point`) — one table, one Pareto plot.

Each claim's criterion is fixed in :data:`CLAIMS` before any result is seen; it is printed as
reproduced / not reproduced with its numbers. Writes ``study.json`` and ``study.html`` to
``-o/--output``::

    python tools/seed_study.py --quick -o /tmp/study-quick      # ~1-2 min, one seed
    python tools/seed_study.py -o study-out                      # the full study (~30-45 min)
    python tools/seed_study.py --parts grid,msg --seeds 1 -o /tmp/s
    python tools/seed_study.py --from study-out/study.json -o study-out   # re-render, no training

Exit status: 0 when the study ran (whatever the claims' verdicts), 1 with one ``error:`` line
on bad input, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: profiles every model is priced on (45 nm arithmetic and the Loihi 2 chip model)
PROFILES = ("cmos45nm", "loihi2")
PARTS = ("grid", "activity", "asgl", "sgs", "msg", "sei")
#: Spec.task → the task's name in the table
TASK_NAMES = {"digits": "digits", "randman": "randman-hard", "conv": "digits-image (conv)"}


@dataclass(frozen=True)
class Sizes:
    """The study's sizes: seeds, per-task TrainConfig overrides, the grids swept."""

    seeds: int
    tasks: dict[str, dict[str, Any]]
    shapes: tuple[str, ...]
    scales: tuple[float, ...]           # multiples of each surrogate's default α
    widths: tuple[float, ...]           # initial ASGL width = 1/α of the fixed sigmoid surrogate
    mask_ps: tuple[float, ...]          # MSG mask probabilities
    activity_reg: float = 1.0
    lipschitz: float = 1e-3


#: the Randman instance of the grid and the activity runs: harder than the ``randman`` task
#: (10 classes, 50 units, dim 1), on which every surrogate reaches 100 % and no claim about
#: shape or scale could show; generated (make_randman) into the output directory as .npz
RANDMAN_HARD = {"classes": 20, "units": 20, "dim": 2, "samples_per_class": 100, "seed": 0}
RANDMAN_FILE = "randman-hard.npz"

FULL = Sizes(
    seeds=3,
    tasks={"digits": {"task": "digits", "epochs": 15, "hidden": (128,)},
           "randman": {"task": RANDMAN_FILE, "epochs": 10, "hidden": (64,)},
           "conv": {"task": "digits-image", "arch": "conv", "epochs": 15, "hidden": (8,),
                    "lr": 1e-2}},
    shapes=("superspike", "sigmoid", "atan", "triangle"), scales=(0.1, 1.0, 10.0),
    widths=(0.02, 0.2, 2.0), mask_ps=(0.0, 0.25, 0.5, 0.75))
QUICK = Sizes(
    seeds=1,
    tasks={"digits": {"task": "digits", "epochs": 2, "hidden": (32,), "limit": 300,
                      "test_limit": 120},
           "randman": {"task": RANDMAN_FILE, "epochs": 3, "hidden": (32,), "limit": 600,
                       "test_limit": 200},
           "conv": {"task": "digits-image", "arch": "conv", "epochs": 2, "hidden": (4,),
                    "lr": 1e-2, "limit": 300, "test_limit": 120}},
    shapes=("superspike", "sigmoid"), scales=(0.1, 1.0), widths=(0.02, 2.0), mask_ps=(0.0, 0.5))


# ------------------------------------------------------------------------------ the runs


@dataclass(frozen=True)
class Spec:
    """One training configuration (all seeds): the task sizes' key, the method preset, spike
    overrides of the preset and TrainConfig overrides, as sorted item tuples (hashable)."""

    task: str                                   # key of Sizes.tasks
    method: str                                 # neurodeploy.nn.training.METHODS name
    spike: tuple[tuple[str, Any], ...] = ()
    train: tuple[tuple[str, Any], ...] = ()

    @property
    def key(self) -> str:
        extra = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                 for k, v in (*self.spike, *self.train)]
        return " ".join([self.task, self.method, *extra])


def spec(task: str, method: str, spike: dict[str, Any] | None = None,
         **train: Any) -> Spec:
    """A :class:`Spec` whose spike overrides equal to the preset's value are dropped, so that
    one configuration reached by two parts is trained once."""
    from neurodeploy.nn.functional import SpikeConfig
    from neurodeploy.nn.training import METHODS

    preset = {k: v for k, v in METHODS[method].items() if k != "binary_weights"}
    base = SpikeConfig(**preset).to_dict()
    sp = {k: float(v) for k, v in (spike or {}).items() if not math.isclose(float(v), base[k])}
    return Spec(task, method, tuple(sorted(sp.items())), tuple(sorted(train.items())))


@dataclass
class Part:
    """One experiment: named configurations (label → Spec) in display order."""

    name: str
    title: str
    configs: list[tuple[str, Spec]] = field(default_factory=list)


def plan(sizes: Sizes, parts: Sequence[str]) -> list[Part]:
    """The experiments of ``parts`` at ``sizes``."""
    from neurodeploy.nn.surrogates import default_alpha

    out = []
    if "grid" in parts:
        p = Part("grid", "Randman (hard): surrogate shape × scale (α = default × scale)")
        for shape in sizes.shapes:
            for s in sizes.scales:
                p.configs.append((f"{shape} ×{s:g}",
                                  spec("randman", shape, {"alpha": default_alpha(shape) * s})))
        out.append(p)
    if "activity" in parts:
        p = Part("activity", "activity regularisation (superspike), Randman and digits")
        for task in ("randman", "digits"):
            p.configs.append((f"{task} off", spec(task, "superspike")))
            p.configs.append((f"{task} on", spec(task, "superspike",
                                                 activity_reg=sizes.activity_reg)))
        out.append(p)
    if "asgl" in parts:
        p = Part("asgl", "digits: ASGL vs fixed-width sigmoid surrogate across initial widths")
        for w in sizes.widths:
            p.configs.append((f"asgl w={w:g}", spec("digits", "asgl", {"asgl_width": w})))
            p.configs.append((f"fixed w={w:g}", spec("digits", "sigmoid", {"alpha": 1.0 / w})))
        out.append(p)
    if "sgs" in parts:
        p = Part("sgs", "digits: STE vs SGS vs SGS + Lipschitz (generalization gap)")
        p.configs += [("ste", spec("digits", "ste")), ("sgs", spec("digits", "sgs")),
                      ("sgs+lipschitz", spec("digits", "sgs", lipschitz=sizes.lipschitz))]
        out.append(p)
    if "msg" in parts:
        p = Part("msg", "digits: MSG mask ratio p (triangle surrogate) and TWO")
        for q in sizes.mask_ps:
            p.configs.append((f"p={q:g}", spec("digits", "msg", {"p": q})))
        p.configs.append(("p=0.5 + TWO", spec("digits", "msg", {"p": 0.5}, two=True)))
        out.append(p)
    if "sei" in parts:
        p = Part("sei", "binary weights (SEI) vs full precision")
        p.configs += [("digits fp", spec("digits", "superspike")),
                      ("digits binary", spec("digits", "binary")),
                      ("conv fp", spec("conv", "superspike")),
                      ("conv binary", spec("conv", "binary"))]
        out.append(p)
    return out


def hidden_spikes(model: Any, ds: Any, T: int, encoding: str) -> float:
    """Spikes of all hidden neuron layers per inference (eval mode, float model, test set)."""
    import torch

    from neurodeploy.nn.training import encode_batch

    model.eval()
    total = 0.0
    with torch.no_grad():
        for k, start in enumerate(range(0, len(ds), 256)):
            xb = encode_batch(ds.x[start:start + 256], encoding, T, seed=k)
            _, spikes = model(xb, return_spikes=True)
            total += float(sum(s.sum() for s in spikes))
    return total / max(len(ds), 1)


def zero_grad_fraction(model: Any, x: Any) -> float:
    """Fraction of (neuron, step) elements of the hidden layers whose surrogate gradient
    ∂s/∂(v − vth) is exactly 0, in training mode (MSG's masks drawn) on input ``x``
    ``[T, B, ...]``: each layer is rerun on its recorded input with a spike function that
    differentiates the layer's own spike rule element-wise."""
    import torch

    from neurodeploy.nn import functional as snf
    from neurodeploy.nn.layers import CubaLIF

    inputs: dict[Any, Any] = {}
    layers = [m for m in model.layers if isinstance(m, CubaLIF)]
    hooks = [m.register_forward_pre_hook(lambda mod, args: inputs.__setitem__(mod, args[0]))
             for m in layers]
    model.train()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    zeros, total = 0, 0
    for m in layers:
        p = {k: v.detach() for k, v in m.effective().items()}
        width = m.width.detach().clamp(min=1e-2) if m.spike_cfg.method == "asgl" else None

        def fn(d: Any, v: Any, m: Any = m, width: Any = width) -> Any:
            nonlocal zeros, total
            leaf = d.detach().requires_grad_(True)
            with torch.enable_grad():
                s = snf.spike(leaf, v.detach(), m.spike_cfg, width, True)
                (g,) = torch.autograd.grad(s.sum(), leaf)
            zeros += int((g == 0).sum())
            total += g.numel()
            return s.detach()

        snf.cuba_lif(inputs[m].detach(), p["du"], p["dv"], p["vth"], p["bias"], m.reset, fn,
                     refractory=m.refractory)
    model.eval()
    return zeros / total if total else 0.0


def write_randman(directory: Path) -> Path:
    """Generate :data:`RANDMAN_HARD` into ``directory`` (spike rasters ``[N, T, units]``)."""
    import io

    import numpy as np

    from neurodeploy.atomic import write_bytes
    from neurodeploy.data.randman import make_randman

    x, y = make_randman(**RANDMAN_HARD)
    buf = io.BytesIO()
    np.savez_compressed(buf, x=x, y=y, encoding="spikes")
    path = directory / RANDMAN_FILE
    write_bytes(path, buf.getvalue())
    return path


def with_data(sizes: Sizes, directory: Path) -> Sizes:
    """``sizes`` with the generated Randman file's path (written into ``directory``)."""
    from dataclasses import replace

    path = str(write_randman(directory))
    tasks = {k: ({**t, "task": path} if t["task"] == RANDMAN_FILE else t)
             for k, t in sizes.tasks.items()}
    return replace(sizes, tasks=tasks)


def run_one(sp: Spec, seed: int, sizes: Sizes) -> dict[str, Any]:
    """Train ``sp`` with ``seed``, measure it, deploy it on Loihi 2; one result row."""
    import torch
    from neurodeploy.converters.neurodeploy_nn import to_graph

    from neurodeploy.nn.training import TrainConfig, encode_batch, evaluate, load_task, train
    from neurodeploy.sweep.run import run_point

    torch.set_num_threads(1)
    kw = {**sizes.tasks[sp.task], **dict(sp.train)}
    t0 = time.perf_counter()
    r = train(TrainConfig(method=sp.method, seed=seed, spike=dict(sp.spike) or None, **kw))
    train_s = time.perf_counter() - t0
    T, enc = r.metadata["T"], r.metadata["encoding"]
    train_ds, test_ds = load_task(kw["task"], 0)
    if kw.get("limit") is not None:
        train_ds = train_ds.subset(slice(0, kw["limit"]))
    if kw.get("test_limit") is not None:
        test_ds = test_ds.subset(slice(0, kw["test_limit"]))
    train_eval, _ = evaluate(r.model, train_ds, T, enc)
    row: dict[str, Any] = {
        "config": sp.key, "task": TASK_NAMES[sp.task], "method": sp.method, "seed": seed,
        "T": int(T), "epochs": kw["epochs"], "test_accuracy": r.test_accuracy,
        "train_accuracy": train_eval, "gap": train_eval - r.test_accuracy,
        "hidden_spikes": hidden_spikes(r.model, test_ds, T, enc),
        "zero_grad_fraction": zero_grad_fraction(
            r.model, encode_batch(train_ds.x[:128], enc, T, seed=seed)),
        "train_seconds": train_s,
    }
    graph = to_graph(r.model, r.metadata)
    for prow in run_point(graph, train_ds, test_ds, "loihi2", T, PROFILES):
        prof = prow["profile"]
        if prow["status"] != "ok":
            row.setdefault("deploy_status", prow["status"])
            continue
        row["float_accuracy"] = prow["float_accuracy"]
        row["fixed_accuracy"] = prow["accuracy"]
        row["synops"] = prow["synops"]
        row[f"energy_{prof}_pj"] = prow["energy_pj"]
        if prof == "loihi2" and "cores" in prow:
            row["cores"], row["latency_us"] = prow["cores"], prow["latency_us"]
    row.setdefault("deploy_status", "ok")
    row["seconds"] = time.perf_counter() - t0
    return row


# ----------------------------------------------------------------------- aggregation, claims

NUMERIC = ("test_accuracy", "train_accuracy", "gap", "hidden_spikes", "zero_grad_fraction",
           "float_accuracy", "fixed_accuracy", "synops", "energy_cmos45nm_pj",
           "energy_loihi2_pj", "cores", "latency_us", "train_seconds")


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per configuration key: seed count, then mean and (population) std of each number."""
    import numpy as np

    out: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys(r["config"] for r in rows):
        rs = [r for r in rows if r["config"] == key]
        agg: dict[str, Any] = {"config": key, "task": rs[0]["task"], "method": rs[0]["method"],
                               "seeds": len(rs), "T": rs[0]["T"], "epochs": rs[0]["epochs"],
                               "deploy_status": next((r["deploy_status"] for r in rs
                                                      if r["deploy_status"] != "ok"), "ok")}
        for k in NUMERIC:
            vals = [float(r[k]) for r in rs if r.get(k) is not None]
            agg[k] = float(np.mean(vals)) if vals else None
            agg[f"{k}_std"] = float(np.std(vals)) if vals else None
        out[key] = agg
    return out


@dataclass(frozen=True)
class Claim:
    """A paper's claim, the part that tests it, and its criterion (text and code), fixed before
    the results: ``check(acc)`` gets ``acc(label, field)`` (seed mean of a configuration of the
    part) and returns (reproduced, numbers)."""

    id: str
    part: str
    source: str
    claim: str
    criterion: str
    check: Callable[[Callable[[str, str], float], Sizes], tuple[bool, dict[str, float]]]


def _spread(vals: Sequence[float]) -> float:
    return max(vals) - min(vals)


def _shape_effect(acc: Callable[[str, str], float], z: Sizes
                  ) -> tuple[float, float, dict[str, float]]:
    """(shape effect, scale effect, per-point accuracies) of the Randman grid."""
    nums = {f"{sh} ×{s:g}": acc(f"{sh} ×{s:g}", "test_accuracy")
            for sh in z.shapes for s in z.scales}
    shape = sum(_spread([nums[f"{sh} ×{s:g}"] for sh in z.shapes]) for s in z.scales) / len(
        z.scales)
    scale = sum(_spread([nums[f"{sh} ×{s:g}"] for s in z.scales]) for sh in z.shapes) / len(
        z.shapes)
    return shape, scale, nums


def _shape_little(acc: Callable[[str, str], float], z: Sizes) -> tuple[bool, dict[str, float]]:
    at1 = [acc(f"{sh} ×1", "test_accuracy") for sh in z.shapes]
    return _spread(at1) <= 0.05, {"spread across shapes at the default scale": _spread(at1),
                                  **{f"{sh} ×1": a for sh, a in zip(z.shapes, at1, strict=True)}}


def _scale_matters(acc: Callable[[str, str], float], z: Sizes) -> tuple[bool, dict[str, float]]:
    shape, scale, nums = _shape_effect(acc, z)
    return scale >= 2 * shape and scale >= 0.05, {"scale effect": scale, "shape effect": shape,
                                                  **nums}


def _activity(task: str) -> Callable[[Callable[[str, str], float], Sizes],
                                     tuple[bool, dict[str, float]]]:
    def check(acc: Callable[[str, str], float], z: Sizes) -> tuple[bool, dict[str, float]]:
        s0, s1 = acc(f"{task} off", "hidden_spikes"), acc(f"{task} on", "hidden_spikes")
        a0, a1 = acc(f"{task} off", "test_accuracy"), acc(f"{task} on", "test_accuracy")
        cut = 1 - s1 / s0 if s0 > 0 else 0.0
        return cut >= 0.2 and a0 - a1 <= 0.02, {
            "spikes/inference off": s0, "spikes/inference on": s1, "spike reduction": cut,
            "accuracy off": a0, "accuracy on": a1}
    return check


def _asgl(acc: Callable[[str, str], float], z: Sizes) -> tuple[bool, dict[str, float]]:
    a = [acc(f"asgl w={w:g}", "test_accuracy") for w in z.widths]
    f = [acc(f"fixed w={w:g}", "test_accuracy") for w in z.widths]
    nums = {"asgl spread": _spread(a), "fixed spread": _spread(f), "asgl worst": min(a),
            "fixed worst": min(f)}
    nums.update({f"asgl w={w:g}": v for w, v in zip(z.widths, a, strict=True)})
    nums.update({f"fixed w={w:g}": v for w, v in zip(z.widths, f, strict=True)})
    return _spread(a) < _spread(f) and min(a) >= min(f), nums


def _gap(lo: str, hi: str) -> Callable[[Callable[[str, str], float], Sizes],
                                       tuple[bool, dict[str, float]]]:
    def check(acc: Callable[[str, str], float], z: Sizes) -> tuple[bool, dict[str, float]]:
        nums = {}
        for m in (hi, lo):
            nums.update({f"{m} train": acc(m, "train_accuracy"), f"{m} test": acc(m, "test_accuracy"),
                         f"{m} gap": acc(m, "gap")})
        return nums[f"{lo} gap"] < nums[f"{hi} gap"], nums
    return check


def _msg(acc: Callable[[str, str], float], z: Sizes) -> tuple[bool, dict[str, float]]:
    ps = sorted(z.mask_ps)
    zero = [acc(f"p={q:g}", "zero_grad_fraction") for q in ps]
    nums = {f"p={q:g} accuracy": acc(f"p={q:g}", "test_accuracy") for q in ps}
    nums.update({f"p={q:g} zero-gradient fraction": v for q, v in zip(ps, zero, strict=True)})
    monotone = all(b > a for a, b in zip(zero, zero[1:], strict=False))
    return (monotone and nums["p=0.5 accuracy"] >= nums["p=0 accuracy"]), nums


def _two(acc: Callable[[str, str], float], z: Sizes) -> tuple[bool, dict[str, float]]:
    a0, a1 = acc("p=0.5", "test_accuracy"), acc("p=0.5 + TWO", "test_accuracy")
    return a1 > a0, {"msg p=0.5": a0, "msg p=0.5 + TWO": a1}


def _sei(acc: Callable[[str, str], float], z: Sizes) -> tuple[bool, dict[str, float]]:
    nums = {}
    ok = True
    for t in ("digits", "conv"):
        for f in ("test_accuracy", "fixed_accuracy"):
            fp, b = acc(f"{t} fp", f), acc(f"{t} binary", f)
            nums[f"{t} {f} fp"], nums[f"{t} {f} binary"] = fp, b
            nums[f"{t} {f} cost"] = fp - b
            ok = ok and fp - b <= 0.02
    return ok, nums


CLAIMS: tuple[Claim, ...] = (
    Claim("zv-shape", "grid", "Zenke & Vogels 2021",
          "surrogate-gradient learning is robust to the surrogate's shape",
          "at the default scale, the seed-mean test accuracies of the shapes lie within 5 pp",
          _shape_little),
    Claim("zv-scale", "grid", "Zenke & Vogels 2021",
          "the surrogate's scale (steepness β) matters",
          "scale effect (mean over shapes of the accuracy spread across scales) ≥ 2 × shape "
          "effect (mean over scales of the spread across shapes) and ≥ 5 pp", _scale_matters),
    *(Claim(f"zv-activity-{t}", "activity", "Zenke & Vogels 2021",
            f"activity regularisation gives sparser activity at little accuracy cost ({t})",
            "hidden spikes per inference fall by ≥ 20 % and test accuracy by ≤ 2 pp",
            _activity(t)) for t in ("randman", "digits")),
    Claim("asgl-robust", "asgl", "Wang et al. 2023 (ASGL)",
          "adaptive smoothing is robust to the choice of the initial width",
          "across the initial widths ASGL's accuracy spread is smaller than the fixed-width "
          "surrogate's and its worst accuracy is at least the fixed one's worst", _asgl),
    Claim("sgs-gap", "sgs", "SGS (surrogate gradient scaling)",
          "SGS generalizes better than the straight-through estimator",
          "seed-mean gap (train − test accuracy, final model) of SGS < that of STE",
          _gap("sgs", "ste")),
    Claim("sgs-lipschitz", "sgs", "SGS + Lipschitz penalty",
          "the Lipschitz penalty narrows the generalization gap further",
          "seed-mean gap of SGS + Lipschitz < that of SGS", _gap("sgs+lipschitz", "sgs")),
    Claim("msg-sparse", "msg", "MSG (masked surrogate gradients)",
          "masking surrogate gradients makes them sparse without losing accuracy",
          "the zero-gradient fraction rises strictly with p and the seed-mean test accuracy at "
          "p = 0.5 ≥ at p = 0", _msg),
    Claim("msg-two", "msg", "MSG + TWO (temporally weighted output)",
          "TWO improves accuracy", "seed-mean test accuracy with TWO > without (p = 0.5)", _two),
    Claim("sei-binary", "sei", "SEI (binary-weight SNNs)",
          "binary weights cost little accuracy",
          "full precision − binary ≤ 2 pp on digits (MLP) and digits-image (conv), in float and "
          "Loihi 2 fixed point", _sei),
)


class _Missing(Exception):
    """A number a claim needs is missing (its configuration did not deploy)."""


def judge(parts: Sequence[Part], agg: dict[str, dict[str, Any]], sizes: Sizes
          ) -> list[dict[str, Any]]:
    """Each claim whose part ran: verdict (reproduced, not reproduced, or not measurable with
    the ``reason``), reproduced (bool), its numbers and ``seed_std``: the largest
    standard deviation over seeds of a test accuracy in the part (the scale of seed noise
    against which the differences of means are read; 0 with one seed)."""
    by_name = {p.name: p for p in parts}
    out = []
    for c in CLAIMS:
        part = by_name.get(c.part)
        if part is None:
            continue
        keys = {label: sp.key for label, sp in part.configs}

        def acc(label: str, f: str, keys: dict[str, str] = keys) -> float:
            v = agg[keys[label]][f]
            if v is None:
                raise _Missing(f"{label}: no {f} ({agg[keys[label]]['deploy_status']})")
            return float(v)

        reason = None
        try:
            ok, nums = c.check(acc, sizes)
            status = "reproduced" if ok else "not reproduced"
        except _Missing as exc:  # a deployment the quantizer or chip refused
            ok, nums, status, reason = False, {}, "not measurable", str(exc)
        stds = [agg[k]["test_accuracy_std"] for k in keys.values()
                if agg[k]["test_accuracy_std"] is not None]
        out.append({"id": c.id, "part": c.part, "source": c.source, "claim": c.claim,
                    "criterion": c.criterion, "reproduced": bool(ok), "verdict": status,
                    "numbers": {k: round(v, 6) for k, v in nums.items()}, "reason": reason,
                    # the verdict compares seed means; this says how large seed noise is
                    "seed_std": round(max(stds), 6) if stds else None})
    return out


def table(parts: Sequence[Part], agg: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The one table: every configuration once (``label``: the first part's name for it,
    ``labels``: every part's), with the
    Pareto front of (fixed accuracy ↑, Loihi 2 energy ↓) marked within each task."""
    from neurodeploy.sweep.pareto import pareto_front

    rows: dict[str, dict[str, Any]] = {}
    for p in parts:
        for label, sp in p.configs:
            if sp.key in rows:
                rows[sp.key]["parts"].append(p.name)
                rows[sp.key]["labels"].append(label)
                continue
            rows[sp.key] = {"label": label, "labels": [label], "parts": [p.name],
                            **agg[sp.key]}
    out = list(rows.values())
    for task in dict.fromkeys(r["task"] for r in out):
        rs = [r for r in out if r["task"] == task]
        ok = [r for r in rs if r["fixed_accuracy"] is not None and r["energy_loihi2_pj"]
              is not None]
        front = pareto_front(ok, maximize=("fixed_accuracy",), minimize=("energy_loihi2_pj",))
        for r, f in zip(ok, front, strict=True):
            r["pareto"] = f
    for r in out:
        r.setdefault("pareto", False)
    return out


# -------------------------------------------------------------------------------- the driver


def _run_all(todo: list[tuple[Spec, int]], sizes: Sizes, jobs: int, log: Callable[[str], None]
             ) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def done(sp: Spec, seed: int, row: dict[str, Any]) -> None:
        rows.append(row)
        log(f"[{len(rows):>3}/{len(todo)}] {sp.key} seed {seed}: test {row['test_accuracy']:.2%}"
            f", fixed {row.get('fixed_accuracy', float('nan')):.2%}, {row['seconds']:.1f} s")

    if jobs <= 1:
        for sp, seed in todo:
            done(sp, seed, run_one(sp, seed, sizes))
        return rows
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as ex:
        futs = [(sp, seed, ex.submit(run_one, sp, seed, sizes)) for sp, seed in todo]
        for sp, seed, fut in futs:
            done(sp, seed, fut.result())
    order = {(sp.key, seed): i for i, (sp, seed) in enumerate(todo)}
    return sorted(rows, key=lambda r: order[(r["config"], r["seed"])])


def study(sizes: Sizes, parts: Sequence[str], directory: Path, jobs: int = 1,
          log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Run the study and return its JSON document (sizes, runs, table, claims); the generated
    Randman data goes to ``directory``."""
    t0 = time.perf_counter()
    experiments = plan(sizes, parts)
    if any(sp.task == "randman" for p in experiments for _, sp in p.configs):
        sizes = with_data(sizes, directory)
    specs = list(dict.fromkeys(sp for p in experiments for _, sp in p.configs))
    todo = [(sp, seed) for sp in specs for seed in range(sizes.seeds)]
    log(f"{len(specs)} configurations × {sizes.seeds} seed(s) = {len(todo)} trainings")
    rows = _run_all(todo, sizes, jobs, log)
    return document(sizes, experiments, rows, time.perf_counter() - t0)


def document(sizes: Sizes, experiments: Sequence[Part], rows: list[dict[str, Any]],
             seconds: float) -> dict[str, Any]:
    """The study's JSON document from its result rows: sizes, parts, claims, table, runs."""
    agg = aggregate(rows)
    return {
        "study": "surrogate-gradient seed methods on Loihi 2 (issue 19)",
        "sizes": {"seeds": sizes.seeds, "tasks": sizes.tasks, "randman_hard": RANDMAN_HARD,
                  "shapes": list(sizes.shapes), "scales": list(sizes.scales),
                  "widths": list(sizes.widths), "mask_ps": list(sizes.mask_ps),
                  "activity_reg": sizes.activity_reg, "lipschitz": sizes.lipschitz,
                  "profiles": list(PROFILES)},
        "parts": [{"name": p.name, "title": p.title,
                   "configs": [{"label": label, "config": sp.key} for label, sp in p.configs]}
                  for p in experiments],
        "claims": judge(experiments, agg, sizes),
        "table": table(experiments, agg),
        "runs": rows,
        "seconds": seconds,
    }


def redo(path: Path) -> dict[str, Any]:
    """The document of a saved ``study.json`` recomputed from its runs (claims, table) by this
    code, without training: a report re-rendered after a change to the report or the table."""
    from neurodeploy.errors import NeurodeployError

    try:
        old = json.loads(path.read_text(encoding="utf-8"))
        z = old["sizes"]
        sizes = Sizes(seeds=int(z["seeds"]), tasks=z["tasks"], shapes=tuple(z["shapes"]),
                      scales=tuple(z["scales"]), widths=tuple(z["widths"]),
                      mask_ps=tuple(z["mask_ps"]), activity_reg=float(z["activity_reg"]),
                      lipschitz=float(z["lipschitz"]))
        experiments = plan(sizes, [p["name"] for p in old["parts"]])
        doc = document(sizes, experiments, old["runs"], float(old["seconds"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NeurodeployError(f"{path}: not a study.json of this tool ({type(exc).__name__}: "
                               f"{exc})") from None
    doc["mode"] = old.get("mode", "")
    return doc


def claim_lines(claims: Sequence[dict[str, Any]]) -> list[str]:
    """One line per claim (verdict, claim, criterion) and one with its numbers."""
    out = []
    for c in claims:
        nums = c["reason"] or ", ".join(f"{k} {v:.4g}" for k, v in c["numbers"].items())
        out.append(f"{c['verdict'].upper():<15} {c['id']:<14} {c['claim']} — {c['criterion']}")
        out.append(f"{'':<15} {'':<14} {nums}; largest seed std of a test accuracy "
                   f"{c['seed_std'] if c['seed_std'] is not None else float('nan'):.4g}")
    return out


TABLE_COLUMNS = (("label", "config"), ("task", "task"), ("seeds", "seeds"),
                 ("test_accuracy", "float acc (torch)"), ("gap", "train−test"),
                 ("float_accuracy", "float acc (IR)"), ("fixed_accuracy", "Loihi 2 fixed acc"),
                 ("hidden_spikes", "spikes/inf"), ("synops", "synops/inf"),
                 ("energy_cmos45nm_pj", "45 nm pJ/inf"), ("energy_loihi2_pj", "Loihi 2 pJ/inf"),
                 ("cores", "cores"), ("latency_us", "latency µs"), ("pareto", "Pareto"))


def table_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The one table as text (means over seeds)."""
    def cell(r: dict[str, Any], k: str) -> str:
        v = r.get(k)
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "*" if v else ""
        if k.endswith("accuracy") or k == "gap":
            return f"{100 * v:.1f}"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    head = " | ".join(h for _, h in TABLE_COLUMNS)
    return [head] + [" | ".join(cell(r, k) for k, _ in TABLE_COLUMNS) for r in rows]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few epochs, one seed, small grids")
    ap.add_argument("-o", "--output", type=Path, default=Path("seed-study"),
                    help="directory for study.json and study.html")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"subset of {','.join(PARTS)}")
    ap.add_argument("--seeds", type=int, default=None, help="training seeds (default 3; quick 1)")
    ap.add_argument("--jobs", type=int, default=1, help="parallel trainings (processes)")
    ap.add_argument("--from", dest="from_json", type=Path, default=None,
                    help="recompute claims, table and report from a saved study.json (no "
                         "training)")
    ap.add_argument("--json", action="store_true", help="print the JSON document")
    ap.add_argument("--debug", action="store_true", help="tracebacks on errors")
    args = ap.parse_args(argv)
    from dataclasses import replace

    from neurodeploy.atomic import check_writable_dir, write_text
    from neurodeploy.errors import NeurodeployError
    from neurodeploy.jsonsafe import to_jsonable
    from neurodeploy.report.study import study_html

    try:
        parts = [p for p in args.parts.split(",") if p]
        bad = [p for p in parts if p not in PARTS]
        if bad or not parts:
            raise NeurodeployError(f"--parts: unknown part '{bad[0] if bad else ''}' (choose "
                                   f"from {', '.join(PARTS)})")
        sizes = QUICK if args.quick else FULL
        if args.seeds is not None:
            if args.seeds < 1:
                raise NeurodeployError(f"--seeds must be >= 1, got {args.seeds}")
            sizes = replace(sizes, seeds=args.seeds)
        if args.jobs < 1:
            raise NeurodeployError(f"--jobs must be >= 1, got {args.jobs}")
        check_writable_dir(args.output)
        log = (lambda s: print(s, file=sys.stderr, flush=True)) if not args.json else (
            lambda s: None)
        if args.from_json is not None:
            doc = to_jsonable(redo(args.from_json))
        else:
            doc = to_jsonable(study(sizes, parts, args.output, args.jobs, log))
            doc["mode"] = "quick" if args.quick else "full"
        write_text(args.output / "study.json", json.dumps(doc, indent=1) + "\n")
        write_text(args.output / "study.html", study_html(doc))
    except NeurodeployError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(doc, indent=1))
        return 0
    print("\n".join(table_lines(doc["table"])))
    print()
    print("\n".join(claim_lines(doc["claims"])))
    print(f"\n{len(doc['runs'])} trainings in {doc['seconds']:.0f} s → "
          f"{args.output / 'study.json'}, {args.output / 'study.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
