"""``neurodeploy simulate MODEL --data DATA [--mode float|fixed] [--backend sim|lava]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neurodeploy.cli.common import console, emit_json, existing_file
from neurodeploy.errors import NeurodeployError


def _lava_dataset(graph, ds, steps: int | None, batch_size: int, progress: bool,
                  mode: str = "fixed"):
    """Accuracy and firing rates through ``neurodeploy.lava.simulate_lava``."""
    import numpy as np

    try:
        from neurodeploy.lava import simulate_lava
    except ImportError as exc:
        raise NeurodeployError(f"the Lava backend is not available ({exc}); use --backend sim "
                               "or install the full stack (tools/env.sh)") from None
    from neurodeploy.data import encode
    from neurodeploy.progress import track
    from neurodeploy.sim.dataset import input_encoding, steps_for

    enc = input_encoding(graph, ds.encoding)
    T = steps_for(graph, ds.encoding, ds.T, steps)
    preds, rates, n = [], {}, len(ds)
    starts = range(0, n, batch_size)
    for i, lo in enumerate(track(starts, "simulating (lava)", total=len(starts),
                                 enabled=progress)):
        xb = ds.x[lo:lo + batch_size]
        res = simulate_lava(graph, encode(xb, enc, T, seed=i), record=False, mode=mode)
        preds.append(np.asarray(res.predictions))
        for k, r in res.firing_rates.items():
            rates[k] = rates.get(k, 0.0) + r * len(xb) / n
    predictions = np.concatenate(preds)
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
) -> None:
    """Simulate a graph on a dataset; print accuracy and per-layer firing rates."""
    from neurodeploy.data import load_dataset
    from neurodeploy.ir import load_graph
    from neurodeploy.sim import run_dataset

    if backend not in ("sim", "lava"):
        raise NeurodeployError(f"unknown backend '{backend}' (choose sim or lava)")
    if mode not in ("float", "fixed"):
        raise NeurodeployError(f"unknown mode '{mode}' (choose float or fixed)")
    graph = load_graph(existing_file(model, "graph file"))
    ds = load_dataset(data, split="test", limit=samples)
    if backend == "lava":  # fixed → Lava fixed_pt, float → Lava floating_pt
        accuracy, predictions, rates = _lava_dataset(graph, ds, steps, batch_size, not json_out,
                                                     mode)
    else:
        res = run_dataset(graph, ds, mode=mode, T=steps, batch_size=batch_size, device=device,
                          progress=not json_out)
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
