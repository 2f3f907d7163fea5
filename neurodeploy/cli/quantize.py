"""``neurodeploy quantize MODEL.ndg --target loihi2 --calib DATA -o MODEL.q.ndg``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neurodeploy.cli.common import console, emit_json, existing_file


def quantize_cmd(
    model: Annotated[Path, typer.Argument(help="Float graph file (.ndg).")],
    calib: Annotated[str, typer.Option("--calib", help="Calibration data: digits, digits-image, "
                              "randman or a .npz file (train split; accuracy on the test split).")],
    out: Annotated[Path, typer.Option("-o", "--output", help="Quantized graph file to write.")],
    target: Annotated[str, typer.Option("--target", help="loihi2 or loihi1.")] = "loihi2",
    steps: Annotated[int | None, typer.Option(
        "--T", help="Time steps (default: the graph's T).")] = None,
    calib_samples: Annotated[int, typer.Option(
        "--calib-samples", help="Samples used to calibrate.")] = 256,
    samples: Annotated[int | None, typer.Option("--samples", help="Evaluate on the first N test "
                                       "samples only.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Quantize a float graph to Loihi's integer formats, calibrated on data; report accuracy
    (float vs fixed point, test split) and per-layer firing-rate drift."""
    from neurodeploy.atomic import refuse_input_overwrite
    from neurodeploy.data import load_dataset
    from neurodeploy.ir import load_graph, save_graph
    from neurodeploy.quantize import quantize
    from neurodeploy.sim import run_dataset

    refuse_input_overwrite(out, [model, calib if calib.endswith(".npz") else None])
    graph = load_graph(existing_file(model, "graph file"))
    train = load_dataset(calib, split="train", limit=calib_samples)
    test = load_dataset(calib, split="test", limit=samples)
    qgraph, report = quantize(graph, train, target=target, T=steps, max_calib=calib_samples)
    show = not json_out
    acc_float = run_dataset(graph, test, T=steps, progress=show).accuracy
    acc_fixed = run_dataset(qgraph, test, mode="fixed", T=steps, progress=show).accuracy
    save_graph(qgraph, out)
    layers = [r.__dict__ for r in report.layers]
    if json_out:
        emit_json({"model": str(model), "output": str(out), "target": target, "T": report.T,
                   "n_test": len(test), "float_accuracy": acc_float,
                   "quantized_accuracy": acc_fixed, "input_scale": report.input_scale,
                   "input_bits": report.input_bits, "layers": layers,
                   "pool_folding": report.pool_folding})
        return
    from rich.table import Table

    table = Table(title=f"{model} → {out}  ({target}, T={report.T})")
    for col in ("layer", "type", "scale", "weight exp", "weight err", "saturated",
                "at bounds", "rate float", "rate fixed", "notes"):
        table.add_column(col)
    def rate(v: float | None) -> str:
        return "" if v is None else f"{v:.4f}"

    for r in report.layers:
        table.add_row(r.name, r.kind, f"{r.scale:.4g}",
                      ",".join(str(e) for e in r.weight_exp.values()),
                      "" if r.weight_error is None else f"{r.weight_error:.2%}",
                      str(r.saturated), str(r.states_at_bounds), rate(r.firing_rate_float),
                      rate(r.firing_rate_fixed) + (" DEAD" if r.dead else ""),
                      "; ".join(r.notes))
    c = console()
    c.print(table)
    for note in report.pool_folding:
        c.print(f"pool folding: {note}")
    c.print(f"accuracy on {len(test)} test samples: float {acc_float:.2%}, "
            f"fixed point {acc_fixed:.2%} ({(acc_fixed - acc_float) * 100:+.2f} pp)")


def register(app: typer.Typer) -> None:
    app.command("quantize")(quantize_cmd)
