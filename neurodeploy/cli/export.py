"""``neurodeploy export INPUT -o model.ndg``: a trained model or a NIR / netx file into the IR."""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from neurodeploy.cli.common import console, emit_json, existing_file
from neurodeploy.errors import NeurodeployError

FORMATS = ("ndg", "nir", "onnx")


def _factory(spec: str) -> Any:
    mod_name, _, attr = spec.partition(":")
    if not mod_name or not attr:
        raise NeurodeployError(f"--model-module '{spec}': expected 'package.module:factory'")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as exc:
        raise NeurodeployError(f"--model-module '{spec}': cannot import '{mod_name}' "
                               f"({exc})") from None
    if not hasattr(mod, attr):
        raise NeurodeployError(f"--model-module '{spec}': '{mod_name}' has no '{attr}'")
    return getattr(mod, attr)


def load_source(path: Path, trust_pickle: bool = False, model_module: str | None = None,
                input_shape: tuple[int, ...] | None = None, **opts: Any) -> Any:
    """Read ``path`` (checkpoint, state_dict + factory, pickled module, ``.nir``, a netx
    ``.net`` or other HDF5 file with netx layers, ``.ndg``) and convert it to a Graph."""
    import neurodeploy.converters as conv
    from neurodeploy.converters.netx import is_netx

    if path.suffix.lower() in (".nir", ".net", ".ndg") or is_netx(path):
        return conv.convert_file(path, **opts)
    import pickle
    import zipfile

    import torch

    from neurodeploy.nn.checkpoint import check_torch_zip

    if zipfile.is_zipfile(path):  # (the older non-zip format stays readable)
        check_torch_zip(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not trust_pickle:
            raise NeurodeployError(
                f"{path}: holds a pickled Python object (a full module); loading it runs code "
                "from the file, so it is refused: pass --trust-pickle if you trust its source, "
                "or save a state_dict and pass --model-module pkg.mod:factory") from None
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise NeurodeployError(f"{path}: not a readable PyTorch file ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:200]})") from None
    if isinstance(obj, dict) and obj.get("format") == "neurodeploy-ckpt":
        return conv.convert_file(path, **opts)
    if isinstance(obj, dict):
        if not model_module:
            raise NeurodeployError(f"{path}: holds a state_dict, not a model; pass "
                                   "--model-module pkg.mod:factory to build the model for it")
        module = _factory(model_module)()
        try:
            module.load_state_dict(obj)
        except RuntimeError as exc:
            raise NeurodeployError(f"{path}: does not fit the model from {model_module} "
                                   f"({' '.join(str(exc).split())[:200]})") from None
        obj = module
    if not isinstance(obj, torch.nn.Module):
        raise NeurodeployError(f"{path}: holds a {type(obj).__name__}, not a model")
    obj.eval()
    sample = None
    if input_shape is not None:
        sample = torch.zeros((1, *input_shape))
    elif getattr(obj, "example_input", None) is not None:
        sample = obj.example_input
    return conv.convert(obj, sample, **opts)


def _shape(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        return tuple(int(s) for s in text.replace("x", ",").split(",") if s.strip())
    except ValueError:
        raise NeurodeployError(f"--input-shape '{text}': expected sizes like 1,28,28") from None


def export_cmd(
    source: Annotated[Path, typer.Argument(help="Checkpoint (.pt), pickled module, state_dict, "
                                                ".nir, netx .net or .ndg file.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output file.")],
    fmt: Annotated[str, typer.Option("--format", help="ndg | nir | onnx")] = "ndg",
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    trust_pickle: Annotated[bool, typer.Option(
        "--trust-pickle", help="Allow loading a pickled module (runs its code).")] = False,
    model_module: Annotated[str | None, typer.Option(
        "--model-module", help="pkg.mod:factory building the model for a state_dict.")] = None,
    input_shape: Annotated[str | None, typer.Option(
        "--input-shape", help="Per-step input shape, e.g. 1,28,28 (PyTorch modules).")] = None,
    dt: Annotated[float | None, typer.Option(
        "--dt", help="Time step in seconds (NIR input: default 1e-4).")] = None,
    steps: Annotated[int | None, typer.Option(
        "--T", help="Time steps per sample (metadata).")] = None,
    nir_convention: Annotated[str | None, typer.Option(
        "--nir-convention", help="NIR input: nir (reset at the spike, the default) or snntorch "
                                 "(files from snnTorch's export_to_nir, reset_delay=True).")
                              ] = None,
    allow_bntt: Annotated[bool, typer.Option(
        "--allow-bntt", help="Approximate per-time-step BatchNorm by its mean.")] = False,
) -> None:
    """Export a trained model or a NIR / netx file into the IR (or NIR / ONNX)."""
    from neurodeploy.converters import write
    from neurodeploy.ir import summarize

    if fmt not in FORMATS:
        raise NeurodeployError(f"--format '{fmt}': choose one of {', '.join(FORMATS)}")
    from neurodeploy.atomic import refuse_input_overwrite

    refuse_input_overwrite(output, [source])
    if dt is not None and not (math.isfinite(dt) and dt > 0):
        raise NeurodeployError(f"--dt must be a positive number of seconds, got {dt}")
    if steps is not None and steps < 1:
        raise NeurodeployError(f"--T must be >= 1 time step, got {steps}")
    opts: dict[str, Any] = {"dt": dt, "T": steps}
    if nir_convention is not None:
        if source.suffix.lower() != ".nir":
            raise NeurodeployError(f"--nir-convention: {source} is not a .nir file")
        opts["nir_convention"] = nir_convention
    if allow_bntt:
        opts["allow_bntt"] = True
    graph = load_source(existing_file(source, "model file"), trust_pickle, model_module,
                        _shape(input_shape), **opts)
    if dt is not None:
        graph.metadata["dt"] = dt
    if steps is not None:
        graph.metadata["T"] = steps
    write(graph, output, fmt)
    rows = summarize(graph)
    summary = {
        "output": str(output), "format": fmt,
        "source": graph.metadata.get("source", "unknown"),
        "nodes": len(graph.nodes), "edges": len(graph.edges),
        "neurons": sum(r.neurons for r in rows), "synapses": sum(r.synapses for r in rows),
        "inputs": graph.inputs, "outputs": graph.outputs, "metadata": graph.metadata,
    }
    if json_out:
        emit_json(summary)
    else:
        console().print(f"exported {source} ({summary['source']}) → {output} [{fmt}]: "
                        f"{summary['nodes']} nodes, {summary['neurons']:,} neurons, "
                        f"{summary['synapses']:,} synapses")


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
