"""Frontends: one module per source framework, each emitting a ``neurodeploy.ir.Graph``.

Installed as ``neurodeploy.converters`` (pyproject's package-dir maps this folder).

- :func:`convert` ``(source, sample=None, **opts) -> Graph``: dispatches on what ``source`` is —
  an ``nn.Module`` from snnTorch / SpikingJelly / Norse / neurodeploy.nn, a ``nir.NIRGraph``, or
  a path (``.nir``, netx ``.net``, ``.ndg``, a neurodeploy checkpoint ``.pt``).
- :func:`export` ``(module, sample, path=None, format="ndg", **opts) -> Graph``: convert and
  write ``.ndg`` / ``.nir`` / ``.onnx`` (one time step, :mod:`neurodeploy.converters.onnx`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neurodeploy.errors import NeurodeployError

FRAMEWORKS = ("snntorch", "spikingjelly", "norse")


def detect_framework(module: Any) -> str:
    """The source framework of a module: the first of neurodeploy / snnTorch / SpikingJelly /
    Norse whose classes it contains. Raises NeurodeployError when none is found."""
    roots = {type(m).__module__.split(".")[0] for m in module.modules()}
    if any(type(m).__module__.startswith("neurodeploy.nn") for m in module.modules()):
        return "neurodeploy"
    for fw in FRAMEWORKS:
        if fw in roots:
            return fw
    raise NeurodeployError(
        f"module '{type(module).__name__}': no spiking neuron modules from snnTorch, "
        "SpikingJelly, Norse or neurodeploy.nn found; nothing to export")


def _input_shape(module: Any, sample: Any, framework: str) -> tuple[int, ...]:
    if sample is None:
        raise NeurodeployError(f"module '{type(module).__name__}': a sample input (one time "
                               "step, [B, *shape]) is needed to know the input shape")
    shape = tuple(int(s) for s in getattr(sample, "shape", ()))
    multi = framework == "spikingjelly" and any(
        getattr(m, "step_mode", "s") == "m" for m in module.modules())
    per_sample = shape[2:] if multi else shape[1:]
    if not per_sample:
        raise NeurodeployError(f"sample of shape {shape}: expected [B, *shape] (one time step)")
    return per_sample


def convert(source: Any, sample: Any = None, **opts: Any) -> Any:
    """Any supported source → validated Graph.

    ``opts``: ``dt`` (seconds; NIR import and metadata), ``T`` (steps, metadata),
    ``nir_convention`` (NIR import: :data:`neurodeploy.converters.nir.CONVENTIONS`),
    ``allow_bntt``, ``decoding``. Raises NeurodeployError naming the module or file at fault.
    """
    if isinstance(source, (str, Path)):
        return convert_file(Path(source), **opts)
    try:
        import nir

        if isinstance(source, nir.NIRGraph):
            return _nir_in(source, opts)
    except ImportError:  # pragma: no cover - nir is a dependency
        pass
    import torch.nn as nn

    if not isinstance(source, nn.Module):
        raise NeurodeployError(f"cannot export a {type(source).__name__}: expected an "
                               "nn.Module, a NIR graph or a file path")
    fw = detect_framework(source)
    if fw == "neurodeploy":
        from neurodeploy.converters.neurodeploy_nn import to_graph

        meta = {k: opts[k] for k in ("dt", "T") if opts.get(k) is not None}
        return to_graph(source, meta)
    shape = _input_shape(source, sample, fw)
    mod = __import__(f"neurodeploy.converters.{fw}", fromlist=["convert"])
    opts = {k: v for k, v in opts.items() if v is not None}
    return mod.convert(source, shape, **opts)


def _nir_in(source: Any, opts: dict[str, Any]) -> Any:
    from neurodeploy.converters.nir import from_nir

    g = from_nir(source, dt=float(opts.get("dt") or 1e-4),
                 convention=opts.get("nir_convention") or "nir")
    if opts.get("T") is not None:
        g.metadata["T"] = int(opts["T"])
    return g


def convert_file(path: Path, **opts: Any) -> Any:
    """A ``.nir`` file, a lava-dl netx ``.net`` file (or any HDF5 file with netx's ``layer/``
    groups), a neurodeploy ``.ndg`` graph or a neurodeploy checkpoint → Graph.

    ``opts``: ``dt``, ``T`` (metadata; NIR's time step), ``nir_convention``, ``input_bits`` (netx: input message
    bits, 0 = binary spikes)."""
    if not path.is_file():
        raise NeurodeployError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".nir":
        return _nir_in(path, opts)
    from neurodeploy.converters.netx import from_netx, is_netx

    if suffix == ".net" or is_netx(path):
        g = from_netx(path, input_bits=opts.get("input_bits"))
        for k in ("dt", "T"):
            if opts.get(k) is not None:
                g.metadata[k] = opts[k]
        return g
    if suffix == ".ndg":
        from neurodeploy.ir import load_graph

        return load_graph(path)
    from neurodeploy.converters.neurodeploy_nn import to_graph

    from neurodeploy.nn.checkpoint import load_checkpoint

    module, meta = load_checkpoint(path)
    meta = dict(meta or {})
    for k in ("dt", "T"):
        if opts.get(k) is not None:
            meta[k] = opts[k]
    try:
        return to_graph(module, meta)
    except NeurodeployError as exc:  # the checkpoint's metadata or layers: name the file
        raise NeurodeployError(f"{path}: {exc}") from None


def write(graph: Any, path: str | Path, format: str = "ndg") -> None:
    """Write ``graph`` as ``ndg`` (neurodeploy's file), ``nir`` or ``onnx`` (atomically)."""
    if format == "ndg":
        from neurodeploy.ir import save_graph

        save_graph(graph, path)
    elif format == "nir":
        from neurodeploy.converters.nir import write_nir

        write_nir(graph, path)
    elif format == "onnx":
        from neurodeploy.converters.onnx import write_onnx

        write_onnx(graph, path)
    else:
        raise NeurodeployError(f"unknown export format '{format}' (ndg, nir or onnx)")


def export(module: Any, sample: Any = None, path: str | Path | None = None,
           format: str = "ndg", **opts: Any) -> Any:
    """Convert ``module`` (or a NIR graph / file) and, with ``path``, write it; returns the
    Graph. ``sample``: one time step's input ``[B, *shape]``."""
    graph = convert(module, sample, **opts)
    if path is not None:
        write(graph, path, format)
    return graph
