"""``neurodeploy demo [-o DIR]``: train, export, quantize, map, run in Lava, energy, deploy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neurodeploy.cli.common import console, emit_json


def demo_cmd(
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="Directory for everything the demo writes.")] = Path("demo-output"),
    epochs: Annotated[int, typer.Option("--epochs", help="Training epochs.")] = 8,
    lava_samples: Annotated[int, typer.Option(
        "--lava-samples", help="Test inputs compared in Lava, layer by layer.")] = 20,
    test_limit: Annotated[int | None, typer.Option(
        "--test-limit", help="Measure accuracy on the first N test samples only.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """The whole job on scikit-learn's digits: train a small SNN with SuperSpike, export it,
    quantize it for Loihi 2, map it, compare the simulator with Lava, estimate energy, write
    the HTML report and the deploy bundle, and print a summary. Exit 1 if a check fails."""
    from neurodeploy.demo import check_demo, run_demo

    con = console()
    log = None if json_out else (lambda line: con.print(line))
    result = run_demo(output, epochs=epochs, lava_samples=lava_samples, test_limit=test_limit,
                      progress=not json_out, log=log)
    s = result.summary
    if json_out:
        emit_json({**s, "paths": result.paths})
    else:
        _print_summary(con, result)
    check_demo(result)


def _print_summary(con, result) -> None:  # noqa: ANN001 - rich Console, DemoResult
    from rich.table import Table

    s = result.summary
    e = s["energy_pj"]
    table = Table(title=f"neurodeploy demo: digits, SuperSpike SNN, T = {s['T']}",
                  show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("how")
    table.add_row("float accuracy", f"{s['float_accuracy']:.2%}",
                  f"IR float simulation, {s['test_samples']} test samples")
    table.add_row("quantized accuracy", f"{s['quantized_accuracy']:.2%}",
                  f"Loihi 2 integers, fixed-point simulator "
                  f"({(s['quantized_accuracy'] - s['float_accuracy']) * 100:+.2f} pp)")
    table.add_row("Lava agreement", "identical" if s["lava_identical"] else "DIVERGED",
                  f"{s['lava_samples']} inputs, every layer's s/u/v at every step")
    for name, v in e.items():
        ratio = v["snn"] / v["ann"] if v["ann"] else float("inf")
        table.add_row(f"energy {name}", f"{v['snn'] / 1e3:.3g} nJ",
                      f"SNN per inference; the same network as an ANN: {v['ann'] / 1e3:.3g} nJ "
                      f"(SNN/ANN {ratio:.2f})")
    table.add_row("Loihi 2 cores", str(s["loihi2_cores"]), f"{s['loihi2_chips']} chip(s)")
    table.add_row("latency", f"{s['latency_us']:.3g} µs", "per inference on Loihi 2 (model "
                  "estimate)")
    if s["bundle_identical"] is not None:
        table.add_row("bundle run.py", "identical" if s["bundle_identical"] else "DIFFERS",
                      s["bundle_backend"])
    con.print(table)
    for name, ok in result.checks.items():
        con.print(f"  {'✓' if ok else '✗'} {name}")
    secs = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
    con.print(f"time: {secs}")
    for key in ("checkpoint", "graph", "quantized", "report", "energy", "summary", "bundle"):
        con.print(f"  {key:<10} {result.paths[key]}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
