"""The ``.ndg`` file: a Graph in HDF5 (h5py), schema-versioned, validated on load.

Layout (schema 1). The first 512 bytes are an HDF5 *user block* (HDF5 skips it) holding a
header line ``NEURODEPLOY-GRAPH schema=<n> sha256=<hex of every byte after the block>``;
it is checked before HDF5 parses anything, because corrupt HDF5 metadata can send the HDF5
library into an endless loop instead of an error. Then::

    /                 attrs: format="neurodeploy-graph", schema_version=1, neurodeploy_version,
                             metadata (JSON), inputs (JSON list), outputs (JSON list),
                             edges (JSON list of [src, dst, delay])
    /nodes            attrs: order (JSON list of node names)
    /nodes/<i>        one group per node (i = position in ``order``), attrs: name, kind, and
                      every scalar/tuple/string field; datasets: every array field
    /nodes/<i>/quant  the node's quantized parameters, attrs: type (InputQ|WeightQ|NeuronQ)

A Dense's optional ``delay`` dataset (int32, the weight's shape) holds its synaptic delays;
files without it (every file before delays existed) load as delay-free synapses.

Fields that are ``None`` are absent. Any unreadable, truncated, foreign or newer file raises a
NeurodeployError whose one-line message names the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import typing
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy import __version__
from neurodeploy.atomic import atomic_path
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import nodes as nodes_mod
from neurodeploy.ir.graph import Edge, Graph
from neurodeploy.ir.nodes import NODE_TYPES, QUANT_TYPES, Node
from neurodeploy.ir.validate import validate

FORMAT = "neurodeploy-graph"
SCHEMA_VERSION = 1
USERBLOCK = 512
MAGIC = b"NEURODEPLOY-GRAPH"


def _hints(cls: type) -> dict[str, str]:
    """Field name → annotation text (the module uses postponed annotations)."""
    return {f.name: str(f.type) for f in dataclasses.fields(cls)}


def _write_fields(group: Any, obj: object) -> None:
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if value is None:
            continue
        if dataclasses.is_dataclass(value):
            sub = group.create_group(f.name)
            sub.attrs["type"] = type(value).__name__
            _write_fields(sub, value)
        elif isinstance(value, np.ndarray):
            group.create_dataset(f.name, data=value)
        elif isinstance(value, tuple):
            group.attrs[f.name] = json.dumps([int(v) for v in value])
        else:
            group.attrs[f.name] = value


def _array_dtype(cls: type, field: str) -> type | None:
    if cls in (nodes_mod.WeightQ, nodes_mod.NeuronQ, nodes_mod.SigmaDeltaQ):
        return np.int32
    if cls is nodes_mod.Dense and field == "delay":
        return None  # as stored: the node makes int32 of integers and refuses the rest by name
    return np.float32


def _read_fields(group: Any, cls: type) -> object:
    kwargs: dict[str, Any] = {}
    for name, hint in _hints(cls).items():
        if name in group.attrs and name != "type":
            raw = group.attrs[name]
            if hint.startswith("tuple"):
                kwargs[name] = tuple(int(v) for v in json.loads(raw))
            elif hint == "str":
                kwargs[name] = str(raw.decode() if isinstance(raw, bytes) else raw)
            elif hint == "int":
                kwargs[name] = int(raw)
            elif hint == "float":
                kwargs[name] = float(raw)
            elif hint == "bool":
                kwargs[name] = bool(raw)
            else:
                raise ValueError(f"attribute '{name}' of {cls.__name__} has no scalar form")
        elif name in group:
            item = group[name]
            if "ndarray" in hint:
                kwargs[name] = np.asarray(item[()], dtype=_array_dtype(cls, name))
            else:
                qtype = str(item.attrs["type"])
                if qtype not in QUANT_TYPES or qtype not in hint:
                    raise ValueError(f"quantized parameters of type '{qtype}' do not belong here")
                kwargs[name] = _read_fields(item, QUANT_TYPES[qtype])
    return cls(**kwargs)


def save_graph(graph: Graph, path: str | os.PathLike[str]) -> None:
    """Validate ``graph`` and write it to ``path`` (``.ndg``) atomically."""
    import h5py

    validate(graph)
    order = list(graph.nodes)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", userblock_size=USERBLOCK) as f:
            f.attrs["format"] = FORMAT
            f.attrs["schema_version"] = SCHEMA_VERSION
            f.attrs["neurodeploy_version"] = __version__
            f.attrs["metadata"] = json.dumps(graph.metadata, sort_keys=True)
            f.attrs["inputs"] = json.dumps(graph.inputs)
            f.attrs["outputs"] = json.dumps(graph.outputs)
            f.attrs["edges"] = json.dumps([[e.src, e.dst, e.delay] for e in graph.edges])
            g_nodes = f.create_group("nodes")
            g_nodes.attrs["order"] = json.dumps(order)
            for i, name in enumerate(order):
                node = graph.nodes[name]
                g = g_nodes.create_group(str(i))
                g.attrs["kind"] = node.kind
                _write_fields(g, node)
        _write_header(tmp)


def _write_header(path: Path, schema: int = SCHEMA_VERSION) -> None:
    """Fill the user block with the magic line, schema version and the body's SHA-256."""
    with open(path, "r+b") as fh:
        fh.seek(USERBLOCK)
        digest = hashlib.sha256(fh.read()).hexdigest()
        line = MAGIC + f" schema={schema} sha256={digest}\n".encode()
        fh.seek(0)
        fh.write(line.ljust(USERBLOCK, b"\0"))


def _check_header(path: Path) -> None:
    """Raise a one-line NeurodeployError unless the user block proves the file intact."""
    with open(path, "rb") as fh:
        head = fh.read(USERBLOCK)
        body = fh.read()
    if not head.startswith(MAGIC):
        kind = "an HDF5 file" if head.startswith(b"\x89HDF") else "a file of another kind"
        raise NeurodeployError(f"{path}: not a neurodeploy graph file ({kind})")
    fields = dict(
        item.split("=", 1)
        for item in head[len(MAGIC):].split(b"\n", 1)[0].decode("ascii", "replace").split()
        if "=" in item
    )
    try:
        version = int(fields["schema"])
    except (KeyError, ValueError):
        raise NeurodeployError(f"{path}: corrupted neurodeploy graph file (bad header)") from None
    if version > SCHEMA_VERSION:
        raise NeurodeployError(
            f"{path}: schema version {version} is newer than this neurodeploy reads "
            f"({SCHEMA_VERSION}); upgrade neurodeploy"
        )
    if len(head) < USERBLOCK or hashlib.sha256(body).hexdigest() != fields.get("sha256"):
        raise NeurodeployError(
            f"{path}: corrupted or truncated neurodeploy graph file (checksum mismatch)"
        )


def _read(f: Any, path: Path) -> Graph:
    fmt = f.attrs.get("format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt != FORMAT:
        raise NeurodeployError(f"{path}: not a neurodeploy graph file (no '{FORMAT}' marker)")
    version = int(f.attrs["schema_version"])
    if version > SCHEMA_VERSION:
        raise NeurodeployError(
            f"{path}: schema version {version} is newer than this neurodeploy reads "
            f"({SCHEMA_VERSION}); upgrade neurodeploy"
        )
    if version < 1:
        raise ValueError(f"schema version {version} is not valid")
    order = json.loads(f["nodes"].attrs["order"])
    graph = Graph(
        metadata=dict(json.loads(f.attrs["metadata"])),
        inputs=[str(n) for n in json.loads(f.attrs["inputs"])],
        outputs=[str(n) for n in json.loads(f.attrs["outputs"])],
        edges=[Edge(str(s), str(d), int(k)) for s, d, k in json.loads(f.attrs["edges"])],
    )
    for i, name in enumerate(order):
        g = f["nodes"][str(i)]
        kind = g.attrs["kind"]
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        if kind not in NODE_TYPES:
            raise NeurodeployError(f"{path}: node '{name}' has unknown kind '{kind}'")
        node = typing.cast(Node, _read_fields(g, NODE_TYPES[kind]))
        if node.name != name:
            raise ValueError(f"node {i} is named '{node.name}' but listed as '{name}'")
        graph.nodes[node.name] = node
    return graph


def load_graph(path: str | os.PathLike[str]) -> Graph:
    """Read and validate a ``.ndg`` file.

    Raises NeurodeployError (one line, naming ``path``) for a missing, unreadable, truncated,
    foreign, newer-schema or invalid file.
    """
    import h5py

    p = Path(path)
    if not p.is_file():
        raise NeurodeployError(f"{p}: no such file")
    try:
        _check_header(p)
    except OSError as exc:
        raise NeurodeployError(f"{p}: cannot read ({exc.strerror or exc})") from None
    try:
        with h5py.File(p, "r") as f:
            graph = _read(f, p)
    except NeurodeployError:
        raise
    except Exception as exc:  # h5py/json/numpy raise many types on corrupt input
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise NeurodeployError(f"{p}: not a readable neurodeploy graph file ({reason})") from None
    try:
        validate(graph)
    except NeurodeployError as exc:
        raise NeurodeployError(f"{p}: {exc}") from None
    except Exception as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise NeurodeployError(f"{p}: invalid graph ({reason})") from None
    return graph


__all__ = ["FORMAT", "SCHEMA_VERSION", "load_graph", "save_graph"]
