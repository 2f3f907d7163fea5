"""``neurodeploy quantize MODEL.ndg --target loihi2 --calib DATA -o MODEL.q.ndg``
[``--weight-bits B``] [``--workers N`` | ``--scheduler ADDRESS`` | ``--slurm SPEC``]."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from neurodeploy.cli.common import console, emit_json, existing_file
from neurodeploy.cli.distopts import Scheduler, Slurm, Workers


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
    weight_bits: Annotated[int, typer.Option(
        "--weight-bits", help="Bits per synapse weight, 1-8 (Lava's num_weight_bits; mixed-sign "
        "weights count the sign).")] = 8,
    bias_correction: Annotated[bool, typer.Option(
        "--bias-correction/--no-bias-correction", help="Give each neuron a bias that takes out "
        "the mean error its rounded weights add on the calibration data (default), or keep "
        "the float bias.")] = True,
    sensitivity: Annotated[bool, typer.Option(
        "--sensitivity", help="Also run the float model 4 times with 1e-4 relative weight "
        "noise: how often its own predictions flip, and the float-vs-fixed agreement on the "
        "inputs they never flip (is a gap the quantizer's or the model's?).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    workers: Workers = None,
    scheduler: Scheduler = None,
    slurm: Slurm = None,
) -> None:
    """Quantize a float graph to Loihi's integer formats, calibrated on data; report accuracy
    (float vs fixed point, test split) and per-layer firing-rate drift. With
    --workers/--scheduler/--slurm the calibration samples' float activity is recorded and the
    test split simulated on Dask workers, split by samples (the same file and report)."""
    from neurodeploy.atomic import refuse_input_overwrite
    from neurodeploy.data import load_dataset
    from neurodeploy.distributed import cluster_spec
    from neurodeploy.errors import NeurodeployError
    from neurodeploy.ir import load_graph, save_graph

    spec = cluster_spec(workers, scheduler, slurm)
    if not 1 <= weight_bits <= 8:
        raise NeurodeployError(f"--weight-bits must be from 1 to 8 (Loihi's synapse widths), "
                               f"got {weight_bits}")
    refuse_input_overwrite(out, [model, calib if calib.endswith(".npz") else None])
    graph = load_graph(existing_file(model, "graph file"))
    train = load_dataset(calib, split="train", limit=calib_samples)
    test = load_dataset(calib, split="test", limit=samples)
    kw = {"target": target, "T": steps, "max_calib": calib_samples, "weight_bits": weight_bits,
          "bias_correction": bias_correction}
    show = not json_out
    if spec is None:
        from neurodeploy.quantize import quantize
        from neurodeploy.sim import run_dataset

        qgraph, report = quantize(graph, train, **kw)
        evaluation = _evaluate(lambda g, mode: run_dataset(g, test, mode=mode, T=steps,
                                                           progress=show),
                               graph, qgraph, sensitivity)
    else:
        from neurodeploy.distributed.cluster import open_cluster
        from neurodeploy.distributed.quantize import quantize as quantize_on
        from neurodeploy.distributed.simulate import run_dataset as run_on

        with open_cluster(spec) as cluster:
            qgraph, report = quantize_on(cluster, graph, train, **kw)
            evaluation = _evaluate(lambda g, mode: run_on(cluster, g, test, mode=mode, T=steps,
                                                          progress=show),
                                   graph, qgraph, sensitivity)
    acc_float, acc_fixed = evaluation["float_accuracy"], evaluation["quantized_accuracy"]
    save_graph(qgraph, out)
    layers = [r.__dict__ for r in report.layers]
    if json_out:
        emit_json({"model": str(model), "output": str(out), "target": target,
                   "weight_bits": weight_bits, "bias_correction": bias_correction,
                   "T": report.T, "n_test": len(test), **evaluation,
                   "input_scale": report.input_scale,
                   "input_bits": report.input_bits, "layers": layers,
                   "pool_folding": report.pool_folding})
        return
    from rich.table import Table

    table = Table(title=f"{model} → {out}  ({target}, {weight_bits}-bit weights, "
                        f"T={report.T})")
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
            f"fixed point {acc_fixed:.2%} ({(acc_fixed - acc_float) * 100:+.2f} pp); "
            f"predictions agree on {evaluation['prediction_agreement']:.2%}")
    sens = evaluation.get("float_sensitivity")
    if sens is not None:
        stable = sens["agreement_on_stable"]
        c.print(f"float vs itself with {sens['eps']:g} relative weight noise: "
                f"{sens['agreement_mean']:.2%} (worst of {len(sens['agreement'])} draws "
                f"{sens['agreement_worst']:.2%}); {sens['fragile']:.2%} of the inputs flip in "
                "some draw" + ("" if stable is None else
                               f"; on the others float and fixed agree on {stable:.2%}"))


def _evaluate(run: Callable[[Any, str], Any], graph: Any, qgraph: Any,
              sensitivity: bool) -> dict[str, Any]:
    """Float and fixed accuracy on the test split (``run(graph, mode)`` gives its
    ``DatasetResult``), their prediction agreement and, with ``sensitivity``, the float model's
    own agreement under weight noise (:mod:`neurodeploy.quantize.sensitivity`)."""
    import numpy as np

    ref, fixed = run(graph, "float"), run(qgraph, "fixed")
    same = ref.predictions == fixed.predictions
    out: dict[str, Any] = {"float_accuracy": ref.accuracy, "quantized_accuracy": fixed.accuracy,
                           "prediction_agreement": float(np.mean(same))}
    if sensitivity:
        from neurodeploy.quantize.sensitivity import float_sensitivity, split_agreement

        sens = float_sensitivity(graph, lambda g: run(g, "float").predictions, ref.predictions)
        stable, fragile = split_agreement(same, sens.fragile)
        out["float_sensitivity"] = {
            "eps": sens.eps, "agreement": sens.agreement, "agreement_mean": sens.mean,
            "agreement_worst": sens.worst, "fragile": float(np.mean(sens.fragile)),
            "agreement_on_stable": stable, "agreement_on_fragile": fragile}
    return out


def register(app: typer.Typer) -> None:
    app.command("quantize")(quantize_cmd)
