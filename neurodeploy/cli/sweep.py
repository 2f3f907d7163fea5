"""``neurodeploy sweep MODEL.ndg --data DATA --target loihi1 --target loihi2 --weight-bits 8,4
--T 4 --T 8 -o DIR``: a design-space sweep (quantization target × weight bits × T × hardware
profile) with its Pareto front."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neurodeploy.cli.common import console, emit_json, existing_file
from neurodeploy.cli.distopts import Scheduler, Slurm, Workers


def _num(row: dict, key: str, fmt: str, scale: float | None = None) -> str:
    v = row.get(key)
    return "" if v is None else fmt.format(v if scale is None else v * scale)


def sweep_cmd(
    model: Annotated[Path, typer.Argument(help="Float graph file (.ndg).")],
    data: Annotated[str, typer.Option("--data", help="digits, digits-image, randman or a .npz "
                                                     "file: accuracy on its test split.")],
    calib: Annotated[str | None, typer.Option(
        "--calib", help="Calibration data (train split; default: --data).")] = None,
    target: Annotated[list[str] | None, typer.Option(
        "--target", help="Quantization target (repeatable): loihi2, loihi1. Default: "
                         "both.")] = None,
    weight_bits: Annotated[list[str] | None, typer.Option(
        "--weight-bits", help="Synapse weight widths, 1-8 bits (repeatable or comma-separated: "
        "8,6,4; Lava's num_weight_bits, mixed-sign weights count the sign). Default: 8.")
    ] = None,
    steps: Annotated[list[int] | None, typer.Option(
        "--T", help="Time steps (repeatable). Default: the graph's T.")] = None,
    profile: Annotated[list[str] | None, typer.Option(
        "--profile", "-p", help="Hardware profile (repeatable): loihi1, loihi2, cmos45nm, ... "
        "or a .toml path; every point is priced on each. Default: each target's own chip.")
    ] = None,
    samples: Annotated[int | None, typer.Option(
        "--samples", help="First N test samples only.")] = None,
    calib_samples: Annotated[int, typer.Option(
        "--calib-samples", help="Samples used to calibrate each point.")] = 256,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Samples per batch.")] = 256,
    out: Annotated[Path, typer.Option(
        "-o", "--output", help="Directory for sweep.json, sweep.csv and sweep.html.")
    ] = Path("sweep-output"),
    json_out: Annotated[bool, typer.Option("--json", help="Print the JSON document.")] = False,
    workers: Workers = None,
    scheduler: Scheduler = None,
    slurm: Slurm = None,
) -> None:
    """Quantize the model for each target, weight width and T, simulate it bit-accurately on
    the test data, estimate energy and latency per hardware profile (and map it: cores,
    synapse memory), and mark the Pareto front
    (accuracy up, energy and latency down). With --workers/--scheduler/--slurm the points run
    on Dask workers (the same table)."""
    from neurodeploy.atomic import check_writable_dir, write_text
    from neurodeploy.data import load_dataset
    from neurodeploy.distributed import cluster_spec
    from neurodeploy.errors import NeurodeployError
    from neurodeploy.ir import load_graph
    from neurodeploy.jsonsafe import to_jsonable
    from neurodeploy.report import sweep_html
    from neurodeploy.sweep import COLUMNS, parse_bits, sweep, to_csv

    spec = cluster_spec(workers, scheduler, slurm)
    bits = parse_bits(weight_bits or ["8"])
    if samples is not None and samples < 1:
        raise NeurodeployError(f"--samples must be >= 1, got {samples}")
    if calib_samples < 1:
        raise NeurodeployError(f"--calib-samples must be >= 1, got {calib_samples}")
    graph = load_graph(existing_file(model, "graph file"))
    if not steps:
        if graph.metadata.get("T") is None:
            raise NeurodeployError(f"{model}: the graph's metadata has no T; pass --T")
        steps = [int(graph.metadata["T"])]
    targets = list(target or ["loihi1", "loihi2"])
    from neurodeploy.atomic import refuse_input_overwrite

    for name in ("sweep.json", "sweep.csv", "sweep.html"):
        refuse_input_overwrite(out / name, [model, *(d for d in (data, calib)
                                                     if d and str(d).endswith(".npz"))])
    check_writable_dir(out)
    train = load_dataset(calib or data, split="train", limit=calib_samples)
    test = load_dataset(data, split="test", limit=samples)
    kwargs = {"profiles": profile, "calib_samples": calib_samples, "batch_size": batch_size,
              "progress": not json_out, "weight_bits": bits}
    if spec is None:
        rows = sweep(graph, train, test, targets, steps, **kwargs)
    else:
        from neurodeploy.distributed.cluster import open_cluster

        with open_cluster(spec) as cluster:
            rows = sweep(graph, train, test, targets, steps, cluster=cluster, **kwargs)
    doc = {"model": model.name, "data": data, "calib": calib or data, "n_test": len(test),
           "targets": targets, "weight_bits": bits, "T": list(steps), "profiles": profile,
           "units": {"energy_pj": "pJ per inference (SNN, the profile's energy model)",
                     "chip_energy_pj": "pJ per inference on the chip (dynamic + static)",
                     "latency_us": "µs per inference (chip mapping estimate)",
                     "synmem_words": "synapse memory words over the mapped cores"},
           "columns": list(COLUMNS), "rows": rows}
    import json

    write_text(out / "sweep.json", json.dumps(to_jsonable(doc), indent=2) + "\n")
    write_text(out / "sweep.csv", to_csv(rows))
    write_text(out / "sweep.html", sweep_html(rows, COLUMNS, title=f"neurodeploy sweep: "
                                                                   f"{model.name} on {data}"))
    if json_out:
        emit_json(doc)
        return
    from rich.table import Table

    table = Table(title=f"{model.name} on {data}: {len(test)} test samples "
                        "(★ = Pareto front: accuracy, energy, latency)")
    for col in ("", "target", "bits", "T", "profile", "accuracy", "float acc.", "energy (nJ)",
                "latency (µs)", "cores", "synmem", "status"):
        table.add_column(col)
    for r in rows:
        table.add_row("★" if r["pareto"] else "", r["target"], str(r["weight_bits"]),
                      str(r["T"]), r["profile"],
                      _num(r, "accuracy", "{:.2%}"), _num(r, "float_accuracy", "{:.2%}"),
                      _num(r, "energy_pj", "{:.3f}", 1e-3), _num(r, "latency_us", "{:.3f}"),
                      _num(r, "cores", "{}"), _num(r, "synmem_words", "{}"), r["status"])
    c = console()
    c.print(table)
    c.print(f"wrote {out / 'sweep.json'}, {out / 'sweep.csv'}, {out / 'sweep.html'}")


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep_cmd)
