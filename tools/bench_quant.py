"""Benchmark: float vs fixed-point (Loihi) test accuracy of models trained with the seed methods.

Issue #5: on the reference tasks (digits, Randman) quantized accuracy must stay within 0.5
percentage points of float accuracy. For each (task, method) row of ``tools/bench_train.py``
(same training configurations, imported), the trained model is exported to the IR, quantized
for each target with the task's whole training split as calibration data, and both graphs are
simulated on the test split. One table row per (task, method, target): float and fixed test
accuracy, Δ = float − fixed in points, the check |Δ| ≤ margin, weights clipped to the mantissa
range, neuron-steps whose state hit its 24-bit bound on the test split. Rows over the margin
are followed by the quantizer's per-layer report. Exits 1 if any row is over the margin.

Checkpoints are reused from ``--models-dir`` (default /tmp/nd-models, where
``bench_train.py --save-dir`` writes them) when their saved training configuration (every
TrainConfig field, ``synapse_bias`` included) matches the bench's, else trained and saved there.
The models are Loihi-native (no synapse bias; a learned bias on each neuron's v, which the
quantizer puts on its grid exactly); ``--synapse-bias`` measures the former models, whose synapse
bias the quantizer has to fold into a constant neuron bias (exact only for du = 1).

    python tools/bench_quant.py                                   # digits and randman, both targets
    python tools/bench_quant.py --tasks digits --methods superspike --targets loihi2
    python tools/bench_quant.py --json
    python tools/bench_quant.py --tasks randman --synapse-bias    # the former models
    python tools/bench_quant.py --methods superspike --targets loihi2 --qat 6   # + QAT columns
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from neurodeploy.converters.neurodeploy_nn import to_graph

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Graph
from neurodeploy.nn.checkpoint import load_checkpoint
from neurodeploy.nn.training import TrainConfig, load_task
from neurodeploy.qat import finetune
from neurodeploy.quantize import QuantReport, quantize
from neurodeploy.sim import run_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_train  # noqa: E402  (tools/ is not a package: its training configurations)

#: the seed methods' rows of bench_train run by default (both tasks have them)
DEFAULT_METHODS = ("superspike", "superspike+activity-reg", "sgs", "msg+two", "asgl", "binary")
MARGIN_PP = 0.5


def _config(task: str, name: str, synapse_bias: bool = False) -> dict[str, Any]:
    """bench_train's TrainConfig keywords of row ``name`` on ``task``."""
    table = {"digits": bench_train.DIGITS, "randman": bench_train.RANDMAN}[task]
    if name not in table:
        raise NeurodeployError(f"bench_train has no row '{name}' for task '{task}' (rows: "
                               f"{', '.join(table)})")
    return bench_train.config(task, table[name], None, synapse_bias)


def _same_config(metadata: dict[str, Any], kw: dict[str, Any]) -> bool:
    """Whether a checkpoint's saved hyperparameters are those of TrainConfig(**kw)."""
    want = {k: v for k, v in asdict(TrainConfig(**kw)).items() if k != "task"}
    norm = json.loads(json.dumps(want))
    have = json.loads(json.dumps(metadata.get("hyperparameters", {})))
    return metadata.get("task") == kw["task"] and have == norm


def trained_graph(task: str, name: str, models_dir: Path, synapse_bias: bool = False
                  ) -> tuple[Graph, dict[str, Any], bool]:
    """The IR graph of bench_train's row ``name`` on ``task``, its checkpoint metadata and
    whether it was trained now (False: reused from ``models_dir``)."""
    kw = _config(task, name, synapse_bias)
    path = models_dir / bench_train.checkpoint_name(kw["task"], name, synapse_bias)
    trained = False
    if path.is_file():
        model, meta = load_checkpoint(path)
        if not _same_config(meta, kw):
            path.unlink()
    if not path.is_file():
        models_dir.mkdir(parents=True, exist_ok=True)
        overrides = {"digits": bench_train.DIGITS, "randman": bench_train.RANDMAN}[task][name]
        bench_train.run(task, name, overrides, None, models_dir, synapse_bias)
        trained = True
    model, meta = load_checkpoint(path)
    return to_graph(model, meta), meta, trained


def layer_lines(rep: QuantReport) -> list[str]:
    """The per-layer quantization report, one line per neuron layer."""
    lines = []
    for r in rep.layers:
        rate = ("" if r.firing_rate_float is None else
                f" rate {r.firing_rate_float:.3f}→{r.firing_rate_fixed:.3f}")
        out = "" if r.output_error is None else f" output drift {r.output_error:.3f}"
        lines.append(f"      {r.name:<10} {r.kind:<9} scale {r.scale:9.1f} exp {r.weight_exp} "
                     f"clip {r.clip} w-err {r.weight_error or 0:.4f} clipped {r.saturated} "
                     f"at-bounds {r.states_at_bounds} vth {r.vth} du {r.du} dv {r.dv}{rate}{out}"
                     + (" DEAD" if r.dead else ""))
        lines += [f"        note: {note}" for note in r.notes]
    return lines


def run_row(task: str, name: str, targets: list[str], models_dir: Path, max_calib: int | None,
            margin: float, synapse_bias: bool = False, qat_epochs: int = 0,
            qat_target: str = "float") -> list[dict[str, Any]]:
    """One row per target for bench_train's row ``name`` on ``task``."""
    g, meta, trained = trained_graph(task, name, models_dir, synapse_bias)
    train_ds, test_ds = load_task(meta["task"])
    flt = run_dataset(g, test_ds)
    rows = []
    for target in targets:
        row: dict[str, Any] = {"task": meta["task"],
                               "method": name + ("+synapse-bias" if synapse_bias else ""),
                               "target": target,
                               "float_accuracy": flt.accuracy, "trained_now": trained,
                               "n_test": len(test_ds)}
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            qg, rep = quantize(g, train_ds, target=target,
                               max_calib=max_calib or len(train_ds))
            row.update(quantize_wall=time.perf_counter() - t0,
                       quantize_cpu=time.process_time() - c0, load=os.getloadavg()[0])
        except NeurodeployError as exc:
            row.update(refused=str(exc), ok=True)
            rows.append(row)
            continue
        fx = run_dataset(qg, test_ds, mode="fixed")
        delta = 100 * (flt.accuracy - fx.accuracy)
        row.update(fixed_accuracy=fx.accuracy, delta_pp=delta, ok=abs(delta) <= margin + 1e-9,
                   disagreements=int(np.sum(fx.predictions != flt.predictions)),
                   weights_clipped=sum(r.saturated for r in rep.layers),
                   states_at_bounds=int(sum(fx.saturations.values())),
                   seconds=time.perf_counter() - t0, layers=rep.to_dict()["layers"],
                   report_lines=layer_lines(rep))
        if qat_epochs > 0:
            c1 = time.process_time()
            q2, qrep = finetune(g, train_ds, qg, target=qat_target, epochs=qat_epochs)
            fq = run_dataset(q2, test_ds, mode="fixed")
            row.update(qat_accuracy=fq.accuracy, qat_delta_pp=100 * (flt.accuracy - fq.accuracy),
                       qat_cpu=time.process_time() - c1, qat_best_epoch=qrep.best_epoch,
                       qat_score=qrep.score)
        rows.append(row)
    return rows


def format_row(row: dict[str, Any], margin: float) -> str:
    """One table line."""
    head = (f"{row['task']:<8} {row['method']:<24} {row['target']:<7} "
            f"float {row['float_accuracy']:7.2%}  ")
    if "refused" in row:
        return head + f"refused (not counted): {row['refused']}"
    return head + (f"fixed {row['fixed_accuracy']:7.2%}  Δ {row['delta_pp']:+5.2f} pp  "
                   f"{'within' if row['ok'] else 'OVER'} {margin} pp  "
                   f"({row['disagreements']}/{row['n_test']} predictions differ)  "
                   f"weights clipped {row['weights_clipped']:>3}  "
                   f"states at bounds {row['states_at_bounds']:>5}  {row['seconds']:5.1f} s  "
                   f"(quantize {row['quantize_wall']:.1f} s wall, {row['quantize_cpu']:.1f} s "
                   f"CPU, load {row['load']:.1f})"
                   + (f"  QAT fixed {row['qat_accuracy']:7.2%}  Δ {row['qat_delta_pp']:+5.2f} pp "
                      f"(epoch {row['qat_best_epoch']}, {row['qat_cpu']:.0f} s CPU)"
                      if "qat_accuracy" in row else ""))


def main(argv: list[str] | None = None) -> int:
    """Run the table; 0 when every row is within the margin, else 1."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default="digits,randman")
    ap.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                    help="comma-separated bench_train row names")
    ap.add_argument("--targets", default="loihi2,loihi1")
    ap.add_argument("--models-dir", type=Path, default=Path("/tmp/nd-models"))
    ap.add_argument("--max-calib", type=int, default=None,
                    help="calibration samples (default: the whole training split)")
    ap.add_argument("--margin", type=float, default=MARGIN_PP, help="allowed |Δ| in points")
    ap.add_argument("--synapse-bias", action="store_true",
                    help="the former models: bias on the synapses (folded by the quantizer)")
    ap.add_argument("--qat", type=int, default=0, metavar="EPOCHS",
                    help="also fine-tune each quantized model (neurodeploy.qat) for EPOCHS")
    ap.add_argument("--qat-target", default="float", help="QAT target: float or labels")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    rows = []
    for task in args.tasks.split(","):
        for name in args.methods.split(","):
            for row in run_row(task, name, args.targets.split(","), args.models_dir,
                               args.max_calib, args.margin, args.synapse_bias, args.qat,
                               args.qat_target):
                rows.append(row)
                if not args.json:
                    print(format_row(row, args.margin), flush=True)
                    if not row["ok"]:
                        print("\n".join(row["report_lines"]), flush=True)
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "report_lines"} for r in rows],
                         indent=2))
    else:
        over = [r for r in rows if not r["ok"]]
        measured = [r for r in rows if "refused" not in r]
        refused = len(rows) - len(measured)
        print(f"{len(measured) - len(over)}/{len(measured)} measured rows within {args.margin} pp"
              + (f" ({refused} refused by their target, not counted)" if refused else "")
              + (f"; over: {', '.join(r['task'] + '/' + r['method'] + '/' + r['target'] for r in over)}"
                 if over else ""))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
