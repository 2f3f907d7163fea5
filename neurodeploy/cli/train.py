"""``neurodeploy train``: train a small SNN on a reference task with a seed method, write a
checkpoint (``torch.load(path, weights_only=True)``-loadable)."""

from __future__ import annotations

from pathlib import Path

import typer

from neurodeploy.cli.common import console, emit_json

METHOD_HELP = ("superspike | sigmoid | atan | triangle | rect | ste (plain surrogates), sgs "
               "(surrogate gradient scaling), msg (masked surrogate gradients), asgl (adaptive "
               "smoothing), binary (binary weights)")


def train_cmd(
    task: str = typer.Option("digits", "--task",
                             help="digits | digits-image | randman | PATH.npz (x, y)."),
    method: str = typer.Option("superspike", "--method", help=METHOD_HELP),
    epochs: int = typer.Option(20, "--epochs", help="Training epochs."),
    seed: int = typer.Option(0, "--seed", help="Seed of initialisation, shuffling, masks."),
    output: Path = typer.Option(..., "-o", "--output",  # noqa: B008
                                help="Checkpoint file to write (.pt)."),
    two: bool = typer.Option(False, "--two",
                             help="Temporally weighted output: learn per-step decoding weights."),
    activity_reg: float = typer.Option(0.0, "--activity-reg",
                                       help="Strength of the spike-count regulariser."),
    lipschitz: float = typer.Option(0.0, "--lipschitz",
                                    help="λ of the spectral-norm (Lipschitz) penalty."),
    binary_weights: bool = typer.Option(False, "--binary-weights",
                                        help="±α weights per output channel (STE)."),
    hidden: str = typer.Option("128", "--hidden",
                               help="Hidden sizes, comma-separated (channels with --arch conv)."),
    arch: str = typer.Option("mlp", "--arch", help="mlp | conv (conv: --task digits-image)."),
    steps: int = typer.Option(None, "--T", help="Time steps (default: 8 for static data, the "
                                                "data's steps for spike data)."),
    encoding: str = typer.Option(None, "--encoding", help="direct | rate (static data)."),
    lr: float = typer.Option(5e-3, "--lr", help="Adam learning rate."),
    batch_size: int = typer.Option(64, "--batch-size"),
    limit: int = typer.Option(None, "--limit", help="Train on the first N samples only."),
    synapse_bias: bool = typer.Option(
        False, "--synapse-bias",
        help="Former models: a bias on each Linear/Conv2d (into the current u) instead of a "
             "learned bias on each neuron's v. Loihi has no synapse bias: quantization folds it "
             "into the neuron bias, exact only when du = 1."),
    train_mode: str = typer.Option(
        "bptt", "--train-mode",
        help="bptt (backpropagation through time, memory grows with T) | sltt (spatial "
             "learning through time) | ottt (online, presynaptic eligibility traces): sltt and "
             "ottt take a loss and a backward at every step, memory independent of T."),
    binary_alpha: str = typer.Option(
        "layer", "--binary-alpha",
        help="Binary weights: one α per layer (folds exactly into Loihi's per-layer threshold)"
             " | channel (one per output neuron; not deployable as 1-bit weights)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Train a spiking network with surrogate gradients and save a checkpoint."""
    from neurodeploy.errors import NeurodeployError
    from neurodeploy.nn.checkpoint import save_checkpoint
    from neurodeploy.nn.training import TrainConfig, train

    try:
        sizes = tuple(int(h) for h in hidden.split(",") if h.strip())
    except ValueError:
        raise NeurodeployError(f"--hidden must be comma-separated integers, got '{hidden}'"
                               ) from None
    from neurodeploy.atomic import refuse_input_overwrite

    refuse_input_overwrite(output, [task if str(task).endswith(".npz") else None])
    if batch_size < 1:
        raise NeurodeployError(f"--batch-size must be >= 1, got {batch_size}")
    if steps is not None and steps < 1:
        raise NeurodeployError(f"--T must be >= 1 time step, got {steps}")
    if epochs < 1:
        raise NeurodeployError(f"--epochs must be >= 1, got {epochs}")
    cfg = TrainConfig(task=task, method=method, epochs=epochs, seed=seed, T=steps,
                      encoding=encoding, hidden=sizes, arch=arch, lr=lr, batch_size=batch_size,
                      two=two, activity_reg=activity_reg, lipschitz=lipschitz,
                      binary_weights=binary_weights, limit=limit, synapse_bias=synapse_bias,
                      train_mode=train_mode, binary_alpha=binary_alpha)
    show = not json_out

    def report(row: dict) -> None:
        if show:
            console().print(f"epoch {row['epoch']:>3}  loss {row['loss']:.4f}  "
                            f"train accuracy {row['train_accuracy']:.2%}")

    result = train(cfg, progress=show, on_epoch=report)
    save_checkpoint(output, result.model, result.metadata)
    m = result.metadata
    if json_out:
        emit_json({"test_accuracy": result.test_accuracy,
                   "train_accuracy": result.train_accuracy, "method": method, "task": task,
                   "epochs": epochs, "seconds": result.seconds, "seed": seed, "T": m["T"],
                   "train_mode": train_mode,
                   "encoding": m["encoding"], "decoding": m["decoding"],
                   "two_weights": m["two_weights"], "checkpoint": str(output)})
        return
    console().print(f"test accuracy {result.test_accuracy:.2%} on {m['n_test']} samples "
                    f"({method}, {epochs} epochs, {result.seconds:.1f} s) → {output}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
