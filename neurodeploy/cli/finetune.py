"""``neurodeploy finetune MODEL.ndg --data DATA -o MODEL.q.ndg``: quantization-aware training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neurodeploy.cli.common import console, emit_json, existing_file


def finetune_cmd(
    model: Annotated[Path, typer.Argument(help="Float graph file (.ndg).")],
    data: Annotated[str, typer.Option("--data", help="Training data: digits, digits-image, "
                             "randman or a .npz file (train split; accuracy on the test split).")],
    out: Annotated[Path, typer.Option("-o", "--output", help="Quantized graph file to write.")],
    start: Annotated[Path | None, typer.Option(
        "--from", help="Quantized graph to start from (default: quantize MODEL on the data).")
    ] = None,
    target: Annotated[str, typer.Option(
        "--target", help="float: agree with the float model; labels: the data's labels.")
    ] = "float",
    epochs: Annotated[int, typer.Option("--epochs", help="Passes over the training data.")] = 10,
    lr: Annotated[float, typer.Option("--lr", help="Adam step, in integer weight units.")] = 0.5,
    batch: Annotated[int, typer.Option("--batch", help="Samples per step.")] = 32,
    steps: Annotated[int | None, typer.Option(
        "--T", help="Time steps (default: the graph's T).")] = None,
    train_samples: Annotated[int | None, typer.Option(
        "--train-samples", help="Train on the first N training samples only.")] = None,
    samples: Annotated[int | None, typer.Option("--samples", help="Evaluate on the first N test "
                                       "samples only.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Quantization-aware fine-tuning: train the integer weights and biases of the quantized
    model through Loihi's fixed-point forward pass (straight-through rounding); the best epoch
    on the training data is kept (PTQ included). Reports float and fixed-point accuracy on the
    test split."""
    from neurodeploy.atomic import refuse_input_overwrite
    from neurodeploy.data import load_dataset
    from neurodeploy.ir import load_graph, save_graph
    from neurodeploy.qat import finetune
    from neurodeploy.sim import run_dataset

    refuse_input_overwrite(out, [model, start, data if data.endswith(".npz") else None])
    graph = load_graph(existing_file(model, "graph file"))
    qstart = load_graph(existing_file(start, "quantized graph file")) if start else None
    train = load_dataset(data, split="train", limit=train_samples)
    test = load_dataset(data, split="test", limit=samples)
    show = not json_out
    qgraph, report = finetune(graph, train, qstart, target=target, epochs=epochs, lr=lr,
                              batch=batch, T=steps, progress=show)
    acc_float = run_dataset(graph, test, T=steps, progress=show).accuracy
    acc_fixed = run_dataset(qgraph, test, mode="fixed", T=steps, progress=show).accuracy
    save_graph(qgraph, out)
    if json_out:
        emit_json({"model": str(model), "output": str(out), "n_test": len(test),
                   "float_accuracy": acc_float, "quantized_accuracy": acc_fixed,
                   **report.to_dict()})
        return
    c = console()
    what = "agreement with float" if target == "float" else "accuracy"
    rounded = ("" if report.rounding_score is None else
               f", re-rounded for the float activity {report.rounding_score:.2%}")
    c.print(f"{what} on {report.n_select} training samples: PTQ {report.ptq_score:.2%}{rounded}; "
            f"by epoch (0: the start, {report.start}): "
            + ", ".join(f"{s:.2%}" for s in report.score)
            + f"; kept epoch {report.best_epoch}")
    c.print(f"accuracy on {len(test)} test samples: float {acc_float:.2%}, fixed point "
            f"{acc_fixed:.2%} ({(acc_fixed - acc_float) * 100:+.2f} pp) → {out}")


def register(app: typer.Typer) -> None:
    app.command("finetune")(finetune_cmd)
