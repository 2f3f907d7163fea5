"""Benchmark: test accuracy and training time of every seed method on the reference tasks.

Targets (issue #3): digits ≥ 93 % test accuracy in ≤ 3 minutes per method on 2 CPU cores,
Randman (default size) ≥ 85 %. Prints one table row per (task, method) with the target check.
The seed methods (SuperSpike ± activity regularisation, SGS ± Lipschitz, MSG ± TWO, ASGL, binary
weights) and the plain surrogates sigmoid/atan/triangle/rect are checked against the targets;
the straight-through surrogate "ste" is not a seed method: its rows are extras
(:data:`EXTRAS`), printed with the reason and no target, and never make the bench exit 1.

    python tools/bench_train.py                       # all methods, digits and randman
    python tools/bench_train.py --tasks digits --methods superspike,msg+two
    python tools/bench_train.py --save-dir /tmp/nd-models   # also write each checkpoint there
    python tools/bench_train.py --synapse-bias        # the former models (bias on the synapses)
    python tools/bench_train.py --memory              # peak memory vs T: BPTT vs SLTT / OTTT

``--memory`` (issue #19): peak training memory and time of one batch for T = 8 … 256 in each
train mode (bptt, sltt, ottt), each (mode, T) in a fresh subprocess, then the test accuracy of
each mode on the tasks (superspike; digits 20 epochs, Randman 15). "process peak" is the
process's peak resident set (``getrusage`` ``ru_maxrss``, a high-water mark the kernel keeps:
runtime, model, data and the batch — what has to fit); "batch" is that peak minus the resident
set just before the measured batch (``/proc/self/statm``), after a warm-up batch at T = 1 has
allocated the gradients and Adam's state and the T-step input is in memory: what the batch's
forward and backward add (torch's CPU tensors come from the C allocator, which ``tracemalloc``
does not see; a fresh process per configuration keeps one high-water mark from hiding
another). For SLTT/OTTT the batch column is one step's graph, a few MiB, which the C
allocator's heap layout moves by about 1 MiB. Checks: SLTT/OTTT process peak within 20 % from
T = 16 to T = 256 while BPTT's grows; SLTT/OTTT accuracy within 2 pp of BPTT.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from neurodeploy.nn.checkpoint import save_checkpoint
from neurodeploy.nn.training import TrainConfig, train

#: row name → TrainConfig overrides (method first); digits: 64-128-10, T = 8, 20 epochs
DIGITS: dict[str, dict] = {
    "superspike": {"method": "superspike"},
    "sigmoid": {"method": "sigmoid"},
    "atan": {"method": "atan"},
    "triangle": {"method": "triangle"},
    "rect": {"method": "rect"},
    # the pure straight-through gradient (1 everywhere) needs a wider layer and fewer steps
    "ste": {"method": "ste", "hidden": (256,), "T": 4, "epochs": 30},
    "sgs": {"method": "sgs"},
    "sgs+lipschitz": {"method": "sgs", "lipschitz": 1e-3},
    "msg": {"method": "msg"},
    "msg+two": {"method": "msg", "two": True},
    "asgl": {"method": "asgl"},
    "superspike+activity-reg": {"method": "superspike", "activity_reg": 1.0},
    "binary": {"method": "binary"},
    "superspike-conv": {"method": "superspike", "task": "digits-image", "arch": "conv",
                        "hidden": (8,), "lr": 1e-2},
}
#: Randman: 50-128-10, T = 50 (the data's), leaky readout decoded by max over time, 15 epochs
RANDMAN: dict[str, dict] = {
    "superspike": {"method": "superspike"},
    "sigmoid": {"method": "sigmoid"},
    "atan": {"method": "atan"},
    "triangle": {"method": "triangle"},
    "rect": {"method": "rect"},
    # known short of the target (~64 %): a gradient of 1 at every one of 50 steps; lr, decays and
    # width sweeps (lr 1e-3..1e-2, du/dv 0.05..1) stayed at 46-58 %
    "ste": {"method": "ste"},
    "sgs": {"method": "sgs"},
    "msg+two": {"method": "msg", "two": True},
    "asgl": {"method": "asgl"},
    "superspike+activity-reg": {"method": "superspike", "activity_reg": 1.0},
    "binary": {"method": "binary"},
}
TARGETS = {"digits": 0.93, "randman": 0.85}
#: row name → why it is an extra with no target (printed in its row; not a seed method)
EXTRAS: dict[str, str] = {
    "ste": "not a seed method: the pure straight-through gradient is 1 at every step for every "
           "neuron (no locality around the threshold), which on Randman's 50 steps does not "
           "reach the target (~50-65 %)",
}
TIME_LIMIT_S = 180.0


def config(task: str, overrides: dict, epochs: int | None = None,
           synapse_bias: bool = False) -> dict:
    """TrainConfig keywords of a row: the task's epochs and seed 0, then the row's overrides."""
    kw = {"task": task, "epochs": 20 if task == "digits" else 15, "seed": 0, **overrides}
    if epochs is not None:
        kw["epochs"] = epochs
    if synapse_bias:
        kw["synapse_bias"] = True
    return kw


def checkpoint_name(task: str, name: str, synapse_bias: bool = False) -> str:
    """File name of a row's checkpoint (``task`` as in the TrainConfig, e.g. digits-image)."""
    return f"{task}-{name}{'+synapse-bias' if synapse_bias else ''}.pt"


def run(task: str, name: str, overrides: dict, epochs: int | None, save_dir: Path | None,
        synapse_bias: bool = False) -> dict:
    """Train one row and return its table entry (saving the checkpoint in ``save_dir``)."""
    kw = config(task, overrides, epochs, synapse_bias)
    r = train(TrainConfig(**kw))
    seed = name not in EXTRAS
    ok = r.test_accuracy >= TARGETS[task] and (task != "digits" or r.seconds <= TIME_LIMIT_S)
    row = {"task": kw["task"], "method": name, "epochs": kw["epochs"], "T": r.metadata["T"],
           "test_accuracy": r.test_accuracy, "seconds": r.seconds,
           "target": TARGETS[task] if seed else None, "ok": ok, "seed_method": seed,
           "note": EXTRAS.get(name), "synapse_bias": synapse_bias}
    if save_dir is not None:
        path = save_dir / checkpoint_name(kw["task"], name, synapse_bias)
        save_checkpoint(path, r.model, r.metadata)
        row["checkpoint"] = str(path)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default="digits,randman")
    ap.add_argument("--methods", default=None, help="comma-separated row names (default all)")
    ap.add_argument("--epochs", type=int, default=None, help="override every row's epochs")
    ap.add_argument("--save-dir", type=Path, default=None)
    ap.add_argument("--synapse-bias", action="store_true",
                    help="train the former models (bias on the synapses, not the neurons)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--memory", action="store_true",
                    help="peak memory and time vs T of bptt/sltt/ottt, then their accuracy")
    ap.add_argument("--steps", default=",".join(str(t) for t in MEMORY_T),
                    help="--memory: the T values (comma-separated)")
    ap.add_argument("--no-accuracy", action="store_true",
                    help="--memory: skip the accuracy runs")
    ap.add_argument("--memory-probe", nargs=2, metavar=("MODE", "T"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe[0], int(args.memory_probe[1]))))
        return 0
    if args.memory:
        steps = [int(t) for t in args.steps.split(",")]
        tasks = [] if args.no_accuracy else args.tasks.split(",")
        return memory_bench(steps, tasks, args.epochs, args.json)
    if args.save_dir is not None:
        args.save_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for task in args.tasks.split(","):
        table = {"digits": DIGITS, "randman": RANDMAN}[task]
        names = args.methods.split(",") if args.methods else list(table)
        for name in names:
            if name not in table:
                continue
            row = run(task, name, table[name], args.epochs, args.save_dir, args.synapse_bias)
            rows.append(row)
            if not args.json:
                print(format_row(row), flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0 if all(r["ok"] for r in rows if r["seed_method"]) else 1


MEMORY_T = (8, 16, 32, 64, 128, 256)
#: the probe's network and batch: 64 inputs (rate spikes), 256 hidden CUBA LIF, 10 outputs
PROBE = {"n_in": 64, "hidden": 256, "n_out": 10, "batch": 128}
FLAT_TOLERANCE = 0.20
ACCURACY_TOLERANCE = 0.02


def _rss_bytes() -> int:
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _maxrss_bytes() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def memory_probe(mode: str, T: int) -> dict:
    """Peak memory (bytes above the resident set before the batch) and seconds of one training
    batch of ``T`` steps in ``mode``, in this (fresh) process; see the module docstring."""
    import time

    from torch.nn import functional as F

    from neurodeploy.nn import online
    from neurodeploy.nn.model import mlp

    torch.manual_seed(0)
    p = PROBE
    model = mlp(p["n_in"], (p["hidden"],), p["n_out"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, p["n_out"], (p["batch"],), generator=gen)

    def batch(x: torch.Tensor) -> None:
        opt.zero_grad()
        if mode == "bptt":
            F.cross_entropy(model.decode(model(x)), y).backward()
        else:
            online.train_batch(model, x, y, mode)
        opt.step()

    batch((torch.rand(1, p["batch"], p["n_in"], generator=gen) < 0.2).float())
    x = (torch.rand(T, p["batch"], p["n_in"], generator=gen) < 0.2).float()
    before = _rss_bytes()
    t0 = time.perf_counter()
    batch(x)
    seconds = time.perf_counter() - t0
    peak = _maxrss_bytes()
    return {"mode": mode, "T": T, "peak_bytes": peak, "batch_bytes": max(0, peak - before),
            "seconds": seconds}


def memory_bench(steps: list[int], tasks: list[str], epochs: int | None,
                 as_json: bool) -> int:
    """The ``--memory`` table: peak memory and time per (mode, T), then accuracy per mode."""
    import subprocess

    from neurodeploy.nn.online import TRAIN_MODES

    rows = []
    for mode in TRAIN_MODES:
        for T in steps:
            out = subprocess.run([sys.executable, __file__, "--memory-probe", mode, str(T)],
                                 check=True, capture_output=True, text=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            rows.append(row)
            if not as_json:
                print(f"memory  {mode:<5} T {T:>4}  process peak {row['peak_bytes'] / 2**20:7.1f}"
                      f" MiB  batch {row['batch_bytes'] / 2**20:7.1f} MiB  "
                      f"{row['seconds']:7.2f} s/batch", flush=True)
    peak = {(r["mode"], r["T"]): r["peak_bytes"] for r in rows}
    checks = []
    lo, hi = (16, 256) if {16, 256} <= set(steps) else (min(steps), max(steps))
    for mode in TRAIN_MODES:
        growth = peak[(mode, hi)] / max(peak[(mode, lo)], 1)
        ok = growth <= 1 + FLAT_TOLERANCE if mode != "bptt" else growth > 1 + FLAT_TOLERANCE
        want = (f"flat within {FLAT_TOLERANCE:.0%}" if mode != "bptt" else "grows")
        checks.append({"check": f"{mode} process peak T={hi} / T={lo} = {growth:.2f} ({want})",
                       "ok": ok})
    acc_rows = []
    for task in tasks:
        base = None
        for mode in TRAIN_MODES:
            kw = config(task, {"method": "superspike", "train_mode": mode}, epochs)
            r = train(TrainConfig(**kw))
            base = r.test_accuracy if mode == "bptt" else base
            acc_rows.append({"task": task, "mode": mode, "epochs": kw["epochs"],
                             "test_accuracy": r.test_accuracy, "seconds": r.seconds})
            if not as_json:
                print(f"accuracy {task:<8} {mode:<5} epochs {kw['epochs']:>3}  test acc "
                      f"{r.test_accuracy:7.2%}  {r.seconds:6.1f} s", flush=True)
            if mode != "bptt":
                gap = base - r.test_accuracy  # type: ignore[operator]
                checks.append({"check": f"{task} {mode} {gap * 100:+.2f} pp below bptt "
                                        f"(within {ACCURACY_TOLERANCE * 100:.0f} pp)",
                               "ok": gap <= ACCURACY_TOLERANCE})
    if as_json:
        print(json.dumps({"memory": rows, "accuracy": acc_rows, "checks": checks}, indent=2))
    else:
        for c in checks:
            print(f"check   {'ok  ' if c['ok'] else 'FAIL'} {c['check']}")
    return 0 if all(c["ok"] for c in checks) else 1


def format_row(row: dict) -> str:
    """One table line: accuracy, time and the target check (seed methods) or the extra's note."""
    limit = f", ≤ {TIME_LIMIT_S:.0f} s" if row["task"].startswith("digits") else ""
    if row["seed_method"]:
        check = (f"{'ok' if row['ok'] else 'BELOW TARGET'} (≥ {TARGETS[row['task'].split('-')[0]]:.0%}"
                 f"{limit})")
    else:
        check = (f"extra, no target ({'at or above' if row['ok'] else 'below'} the seed target)"
                 f" — {row['note']}")
    method = row["method"] + ("+synapse-bias" if row.get("synapse_bias") else "")
    return (f"{row['task']:<13} {method:<24} epochs {row['epochs']:>3}  T {row['T']:>3}  "
            f"test acc {row['test_accuracy']:7.2%}  {row['seconds']:6.1f} s  {check}")


if __name__ == "__main__":
    sys.exit(main())
