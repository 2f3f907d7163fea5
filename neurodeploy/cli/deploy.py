"""``neurodeploy deploy MODEL.q.ndg --target loihi2 -o BUNDLE/ [--run]``: a Loihi 2 bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neurodeploy.cli.common import console, emit_json, existing_file


def deploy_cmd(
    model: Annotated[Path, typer.Argument(
        help="Quantized graph file (.ndg); with --verify, a bundle directory.")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Bundle directory to write (must not exist or be empty).")] = None,
    target: Annotated[str, typer.Option(
        "--target", "-t", help="Chip profile: loihi2 (or loihi1, a .toml path).")] = "loihi2",
    data: Annotated[str | None, typer.Option(
        "--data", "-d", help="Inputs for the bundle's check run and the energy estimate: "
                             "digits, digits-image, randman or a .npz (test split). Default: "
                             "the task the model was trained on.")] = None,
    samples: Annotated[int, typer.Option(
        "--samples", "-n", help="Test inputs shipped in the bundle.")] = 20,
    steps: Annotated[int | None, typer.Option(
        "--T", help="Time steps per inference (default: the graph's T).")] = None,
    chips: Annotated[int, typer.Option(
        "--chips", help="Chips the target system has; a model needing more is refused.")] = 1,
    partition: Annotated[str | None, typer.Option(
        "--partition", help="INRC SLURM partition for run_inrc.sbatch (default oheogulch).")
    ] = None,
    loihi_gen: Annotated[str | None, typer.Option(
        "--loihi-gen", help="Loihi 2 chip generation (default N3B3, most INRC systems).")
    ] = None,
    run: Annotated[bool, typer.Option(
        "--run", help="Execute the bundle's run.py here (needs Lava) and check it reproduces "
                      "the simulator's predictions.")] = False,
    backend: Annotated[str, typer.Option(
        "--backend", help="With --run: auto (Loihi 2 if lava-loihi is installed, else CPU "
                          "simulation), sim or loihi2.")] = "auto",
    force: Annotated[bool, typer.Option(
        "--force", help="Replace a non-empty output directory.")] = False,
    verify: Annotated[bool, typer.Option(
        "--verify", help="MODEL is a bundle: check every file against its manifest.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the model fits the target, then write a self-contained bundle: netx .net (or the
    quantized graph when netx cannot express it), run script, SLURM job for INRC, inputs and
    expected outputs, mapping and energy reports, and a SHA-256 manifest."""
    from neurodeploy.errors import NeurodeployError

    if verify:
        _verify(model, json_out)
        return
    if output is None:  # usage errors (exit 2): optional only because --verify needs none
        raise typer.BadParameter("a bundle directory is required", param_hint="'-o/--output'")
    if backend not in ("auto", "sim", "loihi2"):
        raise typer.BadParameter(f"choose auto, sim or loihi2, not '{backend}'",
                                 param_hint="'--backend'")
    if run:  # fail before writing anything when the run cannot happen
        from neurodeploy.lava import require_lava

        require_lava("deploy --run")
    from neurodeploy.atomic import refuse_input_overwrite
    from neurodeploy.data import load_dataset
    from neurodeploy.deploy.bundle import build_bundle, run_bundle
    from neurodeploy.ir import load_graph

    refuse_input_overwrite(output, [model, data if str(data).endswith(".npz") else None],
                           directory=True)

    graph = load_graph(existing_file(model, "graph file"))
    spec = data or graph.metadata.get("task")
    if not spec:
        raise NeurodeployError(f"{model}: the graph does not say which data it was trained on; "
                               "pass --data")
    ds = load_dataset(spec, split="test")
    bundle = build_bundle(graph, ds, output, target=target, samples=samples, max_chips=chips,
                          partition=partition, loihi_gen=loihi_gen,
                          model_name=model.name.split(".")[0], force=force, T=steps)
    doc = {"bundle": str(bundle.path), "network": bundle.info["network"],
           "netx_refusal": bundle.info["netx_refusal"], "cores": bundle.mapping.n_cores,
           "chips": bundle.mapping.n_chips, "files": sorted(bundle.manifest["files"])}
    result = run_bundle(bundle.path, backend=backend) if run else None
    if result is not None:
        doc["run"] = {k: v for k, v in result.items()
                      if k not in ("stdout", "predictions", "scores", "spike_counts", "v")}
    if json_out:
        emit_json(doc)
    else:
        con = console()
        con.print(f"wrote {bundle.path}/: {len(doc['files'])} files + manifest.json; "
                  f"{doc['cores']} {target} cores on {doc['chips']} chip(s); network: "
                  f"{doc['network']}")
        if bundle.info["netx_refusal"]:
            con.print(f"  no model.net: {bundle.info['netx_refusal']}")
        if result is not None:
            spiking = ("" if "v_equal" not in result else
                       f"; spike counts {'equal' if result['spike_counts_equal'] else 'differ'}, "
                       f"output v {'equal' if result['v_equal'] else 'differs'} at every step")
            con.print(f"  run.py: {result['run_config']}; {result['agree_with_simulator']}/"
                      f"{result['samples']} predictions equal the simulator's{spiking}; "
                      f"{result['seconds']:.1f} s")
    if result is not None and not result["identical"]:
        raise NeurodeployError(f"{bundle.path / 'run.py'}: outputs differ from the simulator's: "
                               f"{'; '.join(result['differences'])} (see results.json)")


def _verify(bundle: Path, json_out: bool) -> None:
    from neurodeploy.deploy.manifest import verify_manifest
    from neurodeploy.errors import NeurodeployError

    if not bundle.is_dir():
        raise NeurodeployError(f"{bundle}: not a bundle directory")
    problems = verify_manifest(bundle)
    if json_out:
        emit_json({"bundle": str(bundle), "ok": not problems, "problems": problems})
    elif not problems:
        console().print(f"{bundle}: every file matches manifest.json (SHA-256)")
    if problems:
        raise NeurodeployError(f"{bundle}: {len(problems)} file(s) do not match the manifest: "
                               + "; ".join(problems[:5]))


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy_cmd)
