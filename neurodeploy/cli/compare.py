"""``neurodeploy compare MODEL.q.ndg --data DATA [--samples N] [--mode fixed|float] [--json]``:
simulator vs Lava.

Exit status 0 whether or not the two agree (a divergence is a finding, not a usage error; read
``identical`` in the JSON, as ``diff``-style exit codes would collide with the CLI's 1 = error).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neurodeploy.cli.common import console, emit_json, existing_file
from neurodeploy.cli.distopts import Scheduler, Slurm, Workers


def compare_cmd(
    model: Annotated[Path, typer.Argument(help="Quantized graph file (.ndg).")],
    data: Annotated[str, typer.Option("--data", help="digits, digits-image, randman or a .npz "
                                                     "file (test split).")],
    samples: Annotated[int, typer.Option("--samples", help="Number of samples to run.")] = 20,
    steps: Annotated[int | None, typer.Option("--T", help="Time steps (default: the graph's "
                                                          "T).")] = None,
    mode: Annotated[str, typer.Option("--mode", help="fixed (simulator fixed point vs Lava "
                                      "fixed_pt, exact) or float (float simulator vs Lava "
                                      "floating_pt, 1e-5 relative).")] = "fixed",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workers: Workers = None,
    scheduler: Scheduler = None,
    slurm: Slurm = None,
) -> None:
    """Run the simulator and Lava on the same inputs and check that every neuron layer's spikes
    s, currents u and voltages v agree at every step (fixed: identical; float: spikes
    identical, u and v within 1e-5 relative). With --workers/--scheduler/--slurm
    the samples are shared among Dask workers; the result is the same as in one process."""
    from neurodeploy.data import load_dataset
    from neurodeploy.distributed import cluster_spec
    from neurodeploy.ir import load_graph
    from neurodeploy.lava import compare

    spec = cluster_spec(workers, scheduler, slurm)
    graph = load_graph(existing_file(model, "graph file"))
    ds = load_dataset(data, split="test", limit=samples)
    if spec is None:
        result = compare(graph, ds, samples=samples, T=steps, progress=not json_out, mode=mode)
    else:
        from neurodeploy.distributed.cluster import open_cluster
        from neurodeploy.distributed.compare import compare as compare_on
        with open_cluster(spec) as cluster:
            result = compare_on(cluster, graph, ds, samples=samples, T=steps,
                                progress=not json_out, mode=mode)
    if json_out:
        emit_json({"model": str(model), "data": data, **result})
        return
    c = console()
    if result["identical"]:
        how = "agree" if mode == "fixed" else f"agree (u, v within {result['rtol']:g} rel.)"
        c.print(f"identical: {len(result['layers'])} layers (s, u, v) {how} at every step "
                f"({result['samples']} samples, T={result['T']})")
        return
    d = result["first_divergence"]
    bad = [e["layer"] for e in result["layers"] if not e["identical"]]
    c.print(f"DIVERGED: first at layer '{d['layer']}' step {d['step']} neuron {d['neuron']} "
            f"variable {d['variable']} (sample {d['sample']}): sim {d['sim']} vs lava "
            f"{d['lava']}; layers differing: {', '.join(bad)}")


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_cmd)
