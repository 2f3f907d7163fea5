"""``neurodeploy simulate MODEL --data DATA [--mode float|fixed] [--backend sim|lava]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neurodeploy.cli.common import console, emit_json, existing_file
from neurodeploy.cli.distopts import Scheduler, Slurm, Workers
from neurodeploy.errors import NeurodeployError


def _lava_batches(graph, ds, T: int | None, batch_size: int, mode: str = "fixed",
                  progress: bool = False, first_batch: int = 0) -> list[tuple]:
    """Per batch of ``ds``: (predictions, firing rates, samples) through
    ``neurodeploy.lava.simulate_lava``, batch ``i`` encoded with seed ``first_batch + i``."""
    import numpy as np

    try:
        from neurodeploy.lava import simulate_lava
    except ImportError as exc:
        raise NeurodeployError(f"the Lava backend is not available ({exc}); use --backend sim "
                               "or install the full stack (tools/env.sh)") from None
    from neurodeploy.data import encode
    from neurodeploy.progress import track
    from neurodeploy.sim.dataset import batch_starts, input_encoding, steps_for

    enc = input_encoding(graph, ds.encoding)
    steps = steps_for(graph, ds.encoding, ds.T, T)
    starts = batch_starts(ds, batch_size)
    parts = []
    for i, lo in enumerate(track(starts, "simulating (lava)", total=len(starts),
                                 enabled=progress)):
        xb = ds.x[lo:lo + batch_size]
        res = simulate_lava(graph, encode(xb, enc, steps, seed=first_batch + i), record=False,
                            mode=mode)
        parts.append((np.asarray(res.predictions), res.firing_rates, len(xb)))
    return parts


def _lava_dataset(spec, graph, ds, steps: int | None, batch_size: int, progress: bool,
                  mode: str = "fixed"):
    """Accuracy, predictions and firing rates through Lava, here or on the cluster ``spec``."""
    import numpy as np

    if spec is None:
        parts = _lava_batches(graph, ds, steps, batch_size, mode, progress)
    else:
        from functools import partial

        from neurodeploy.distributed.cluster import open_cluster
        from neurodeploy.distributed.simulate import map_batches
        from neurodeploy.distributed.worker import run_with_lava

        fn = partial(run_with_lava, _lava_batches, graph=graph, T=steps, batch_size=batch_size,
                     mode=mode)
        with open_cluster(spec) as cluster:
            parts = map_batches(cluster, fn, ds, batch_size, "simulating (lava)", progress)
    rates: dict[str, float] = {}
    n = len(ds)
    for _, batch_rates, b in parts:
        for k, r in batch_rates.items():
            rates[k] = rates.get(k, 0.0) + r * b / n
    predictions = np.concatenate([p for p, _, _ in parts])
    return float(np.mean(predictions == ds.y)), predictions, rates


def simulate_cmd(
    model: Annotated[Path, typer.Argument(help="Graph file (.ndg).")],
    data: Annotated[str, typer.Option("--data", help="digits, digits-image, randman or a .npz file "
                             "(test split).")],
    mode: Annotated[str, typer.Option("--mode", help="float or fixed (needs a quantized graph).")] = "float",
    device: Annotated[str, typer.Option("--device", help="cpu or cuda.")] = "cpu",
    backend: Annotated[str, typer.Option("--backend", help="sim (this simulator) or lava.")] = "sim",
    samples: Annotated[int | None, typer.Option("--samples", help="First N samples only.")] = None,
    steps: Annotated[int | None, typer.Option("--T", help="Time steps (default: the graph's T).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Samples per batch.")] = 256,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workers: Workers = None,
    scheduler: Scheduler = None,
    slurm: Slurm = None,
) -> None:
    """Simulate a graph on a dataset; print accuracy and per-layer firing rates.

    With --workers/--scheduler/--slurm the batches (--batch-size) are shared among Dask workers;
    the result is identical to the run in one process with the same --batch-size."""
    from neurodeploy.data import load_dataset
    from neurodeploy.distributed import cluster_spec
    from neurodeploy.distributed.simulate import dataset_result
    from neurodeploy.ir import load_graph

    if backend not in ("sim", "lava"):
        raise NeurodeployError(f"unknown backend '{backend}' (choose sim or lava)")
    if mode not in ("float", "fixed"):
        raise NeurodeployError(f"unknown mode '{mode}' (choose float or fixed)")
    spec = cluster_spec(workers, scheduler, slurm)
    graph = load_graph(existing_file(model, "graph file"))
    ds = load_dataset(data, split="test", limit=samples)
    if backend == "lava":  # fixed → Lava fixed_pt, float → Lava floating_pt
        accuracy, predictions, rates = _lava_dataset(spec, graph, ds, steps, batch_size,
                                                     not json_out, mode)
    else:
        res = dataset_result(spec, graph, ds, mode=mode, T=steps, batch_size=batch_size,
                             device=device, progress=not json_out)
        accuracy, predictions, rates = res.accuracy, res.predictions, res.firing_rates
    layers = [{"name": k, "firing_rate": v} for k, v in rates.items()]
    if json_out:
        emit_json({"model": str(model), "data": data, "mode": mode, "backend": backend,
                   "n_samples": len(ds), "accuracy": accuracy,
                   "predictions": [int(p) for p in predictions], "layers": layers})
        return
    from rich.table import Table

    table = Table(title=f"{model} on {data} ({mode}, {backend}, {len(ds)} samples)")
    table.add_column("layer")
    table.add_column("firing rate (spikes/neuron/step)", justify="right")
    for row in layers:
        table.add_row(row["name"], f"{row['firing_rate']:.4f}")
    c = console()
    c.print(table)
    c.print(f"accuracy: {accuracy:.2%}")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_cmd)
