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

The models are TrainConfig's default, Loihi-native: synapses without bias and a learned bias on
each neuron's v (exact after quantization). ``--synapse-bias`` trains the former models, whose
Linear/Conv2d bias charges the current u (checkpoints named ``<task>-<row>+synapse-bias.pt``).
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
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
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
