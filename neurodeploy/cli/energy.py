"""``neurodeploy energy MODEL.ndg --data DATA``: operation counts and energy per inference."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neurodeploy.cli.common import console, emit_json, existing_file
from neurodeploy.cli.distopts import Scheduler, Slurm, Workers


def energy_cmd(
    model: Annotated[Path, typer.Argument(help="Graph file (.ndg).")],
    data: Annotated[str, typer.Option(
        "--data", "-d", help="Dataset: digits, digits-image, randman, or a .npz file.")],
    profile: Annotated[list[str] | None, typer.Option(
        "--profile", "-p",
        help="Hardware profile (repeatable): cmos45nm, cmos45nm:fp32, loihi1, loihi2, or a "
             ".toml path. Default: cmos45nm and loihi2.")] = None,
    samples: Annotated[int | None, typer.Option(
        "--samples", "-n", help="Use the first N test samples (default: all).")] = None,
    steps: Annotated[int | None, typer.Option(
        "--steps", "-T", help="Time steps (default: the graph's metadata T).")] = None,
    memory: Annotated[bool, typer.Option(
        "--memory", help="Memory-aware estimate: add an SRAM weight read per op.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the JSON document.")] = False,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Write a self-contained HTML report with plots.")] = None,
    perf_samples: Annotated[int, typer.Option(
        "--perf-samples", help="Samples the chip performance model runs on (step by step).")
    ] = 16,
    workers: Workers = None,
    scheduler: Scheduler = None,
    slurm: Slurm = None,
) -> None:
    """Simulate the model on the data, count MACs/ACs per layer, price them per profile.
    With --workers/--scheduler/--slurm the simulation's batches run on Dask workers (the same
    counts as in one process)."""
    from neurodeploy.atomic import refuse_input_overwrite, write_text
    from neurodeploy.data import load_dataset
    from neurodeploy.distributed import cluster_spec
    from neurodeploy.distributed.simulate import dataset_result
    from neurodeploy.energy import estimate_energy, load_profile
    from neurodeploy.errors import NeurodeployError
    from neurodeploy.ir import load_graph
    from neurodeploy.perf import chip_estimates, record_activity
    from neurodeploy.report import chip_lines, energy_html, energy_table, ratio_lines, report_dict

    refuse_input_overwrite(html, [model, data if str(data).endswith(".npz") else None],
                           option="--html")
    spec = cluster_spec(workers, scheduler, slurm)
    from neurodeploy.quantize.pool_folding import fold_pools

    graph, folding = fold_pools(load_graph(existing_file(model, "graph file")))
    if samples is not None and samples < 1:
        raise NeurodeployError(f"--samples must be >= 1, got {samples}")
    if perf_samples < 1:
        raise NeurodeployError(f"--perf-samples must be >= 1, got {perf_samples}")
    profiles = [load_profile(p) for p in (profile or ["cmos45nm", "loihi2"])]
    ds = load_dataset(data, split="test", limit=samples)
    quantized = any(getattr(n, "quant", None) is not None for n in graph)
    res = dataset_result(spec, graph, ds, mode="fixed" if quantized else "float", T=steps,
                         progress=not json_out)
    meta = {"model": model.name, "data": str(data), "samples": int(res.n_samples),
            "mode": "fixed" if quantized else "float", "accuracy": round(res.accuracy, 6),
            "pool_folding": [str(n) for n in folding]}
    report = estimate_energy(graph, res.counts, res.T, profiles, memory=memory, metadata=meta,
                             spike_data=ds.encoding == "spikes")
    chips = {}
    if any(p.is_chip for p in profiles):
        chips = chip_estimates(graph, record_activity(graph, ds, T=steps, samples=perf_samples),
                               profiles)
    if html is not None:
        write_text(html, energy_html(report, chips, title=f"neurodeploy energy: {model.name}"))
    if json_out:
        emit_json(report_dict(report, chips))
        return
    con = console()
    con.print(energy_table(report, title=f"{model.name} on {data}: {res.n_samples} samples, "
                                         f"T = {res.T}, per inference"))
    for line in ratio_lines(report):
        con.print(line)
    for note in folding:
        con.print(f"pool folding: {note}")
    for name, (m, t) in chips.items():
        for line in chip_lines(name, m, t):
            con.print(line)
    if html is not None:
        con.print(f"wrote {html}")


def register(app: typer.Typer) -> None:
    app.command("energy")(energy_cmd)
