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
from neurodeploy.ir.graph import Edge, Graph
from neurodeploy.ir.nodes import NODE_TYPES, QUANT_TYPES, Node
from neurodeploy.ir.validate import validate
from neurodeploy.safeload import check_global_heaps, in_child

FORMAT = "neurodeploy-graph"
SCHEMA_VERSION = 1
USERBLOCK = 512
MAGIC = b"NEURODEPLOY-GRAPH"


# ---------------------------------------------------------------- the schema (writer and reader)

#: the largest array a field may declare (elements); a file declaring more is refused unread
MAX_ARRAY_ELEMENTS = 1 << 27
#: the most array elements one file may declare in all
MAX_TOTAL_ELEMENTS = 1 << 28
#: the longest text attribute (JSON lists, metadata, names), in bytes
MAX_TEXT_BYTES = 16 << 20
#: the most nodes a file may hold
MAX_NODES = 1 << 16
#: longest parse of the HDF5 structure before it is abandoned (a crafted file can make the HDF5
#: library loop); the parse runs in a forked child, so a hang costs this, not the process
PARSE_TIMEOUT_S = 120.0
#: memory the parsing child may add to the process (bytes); beyond it the file is refused
PARSE_MEMORY_BYTES = 8 << 30
#: graph-level attributes of the root group, all required
ROOT_ATTRS = ("format", "schema_version", "neurodeploy_version", "metadata", "inputs",
              "outputs", "edges")
INT32 = (-(2**31), 2**31 - 1)


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """How one dataclass field is stored: ``form`` is ``str``, ``int``, ``float``, ``bool``,
    ``tuple`` (a JSON list of ints in an attribute; ``length`` None = any), ``array`` (a
    dataset of ``dtype``) or ``record`` (a subgroup holding one of ``records``). ``optional``:
    the field may be None, stored as absent; every other field is required in a file, unless
    ``has_absent``: a field added after files were written declares the value older files
    mean (``field(default=..., metadata={"absent": value})``) and loads as ``absent``."""

    name: str
    form: str
    optional: bool
    length: int | None = None
    dtype: type | None = None
    records: tuple[str, ...] = ()
    has_absent: bool = False
    absent: Any = None


def field_specs(cls: type) -> tuple[FieldSpec, ...]:
    """The stored form of every field of node or record dataclass ``cls``, from its type
    hints (the module uses postponed annotations: hints are text). New fields are picked up
    as they are declared; an array field's dtype may be given as ``field(metadata={"dtype":
    ...})``, else int32 for quantized records and float32 for nodes."""
    specs = []
    for f in dataclasses.fields(cls):
        extra = ({"has_absent": True, "absent": f.metadata["absent"]}
                 if "absent" in f.metadata else {})
        parts = [t.strip() for t in str(f.type).split("|")]
        optional = "None" in parts
        parts = [t for t in parts if t != "None"]
        hint = parts[0] if len(parts) == 1 else ""
        if hint in ("str", "int", "float", "bool"):
            specs.append(FieldSpec(f.name, hint, optional, **extra))
        elif hint.startswith("tuple["):
            inner = [t.strip() for t in hint[6:-1].split(",")]
            specs.append(FieldSpec(f.name, "tuple", optional,
                                   None if "..." in inner else len(inner), **extra))
        elif "ndarray" in hint:
            dtype = f.metadata.get("dtype") or (np.int32 if cls in QUANT_TYPES.values()
                                                else np.float32)
            specs.append(FieldSpec(f.name, "array", optional, dtype=dtype, **extra))
        elif parts and all(t in QUANT_TYPES for t in parts):
            specs.append(FieldSpec(f.name, "record", optional, records=tuple(parts), **extra))
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: no stored form for type {f.type}")
    return tuple(specs)


def _stored_array(value: Any, want: np.dtype, where: str, name: str) -> np.ndarray:
    """``value`` in the schema's dtype, as the reader will take it: floats rounded to float32
    (the IR's precision; the simulator computes in it), integers only when they fit."""
    arr = np.asarray(value)
    out = arr.astype(want)
    if want.kind in "iu" and not np.array_equal(out, arr):
        raise NeurodeployError(f"{where}: field '{name}' holds values that {want} cannot hold")
    if want.kind == "f" and not np.array_equal(np.isfinite(out), np.isfinite(arr)):
        raise NeurodeployError(f"{where}: field '{name}' holds values beyond the {want} range")
    return out


def _write_fields(group: Any, obj: object, where: str) -> None:
    for spec in field_specs(type(obj)):
        value = getattr(obj, spec.name)
        if value is None:
            continue
        if spec.form == "record":
            sub = group.create_group(spec.name)
            sub.attrs["type"] = type(value).__name__
            _write_fields(sub, value, f"{where}.{spec.name}")
        elif spec.form == "array":
            group.create_dataset(spec.name, data=_stored_array(value, np.dtype(spec.dtype),
                                                               where, spec.name))
        elif spec.form == "tuple":
            group.attrs[spec.name] = json.dumps([int(v) for v in value])
        else:
            group.attrs[spec.name] = value


# ---------------------------------------------------------------- the safe reader


class _Bad(Exception):
    """A schema violation found while reading; becomes a NeurodeployError naming the file."""


def _link_kinds(group: Any, where: str) -> dict[str, Any]:
    """Members of ``group`` → the object, refusing every link but a hard link inside the file
    and every virtual or externally stored dataset (before any value is read)."""
    import h5py

    out = {}
    for name in group:
        link = group.get(name, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise _Bad(f"{where}/{name} is a {type(link).__name__}; a graph file holds only its "
                       "own objects")
        obj = group[name]
        if isinstance(obj, h5py.Dataset):
            if obj.is_virtual or obj.external:
                raise _Bad(f"{where}/{name} is a {'virtual' if obj.is_virtual else 'external'} "
                           "dataset; a graph file holds its own values")
        elif not isinstance(obj, h5py.Group):
            raise _Bad(f"{where}/{name} is neither a group nor a dataset")
        out[name] = obj
    return out


def _attr(group: Any, name: str, where: str) -> Any:
    """One attribute's value, after checking it is a scalar of bounded size."""
    import h5py

    try:
        aid = h5py.h5a.open(group.id, name.encode())
    except KeyError:
        raise _Bad(f"{where}: required attribute '{name}' is missing") from None
    if aid.shape != ():
        raise _Bad(f"{where}: attribute '{name}' has shape {aid.shape}; expected a scalar")
    dt = aid.dtype
    if dt.kind not in "biufSO" or (dt.kind == "O" and h5py.check_string_dtype(dt) is None):
        raise _Bad(f"{where}: attribute '{name}' has type {dt}; expected a number or text")
    if aid.get_storage_size() > MAX_TEXT_BYTES:
        raise _Bad(f"{where}: attribute '{name}' declares {aid.get_storage_size()} bytes, more "
                   f"than the {MAX_TEXT_BYTES} allowed")
    value = group.attrs[name]
    if isinstance(value, (str, bytes)) and len(value) > MAX_TEXT_BYTES:
        raise _Bad(f"{where}: attribute '{name}' holds {len(value)} bytes, more than the "
                   f"{MAX_TEXT_BYTES} allowed")
    return value


def _text(value: Any, where: str, name: str) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise _Bad(f"{where}: attribute '{name}' is not UTF-8 text") from None
    if not isinstance(value, str):
        raise _Bad(f"{where}: '{name}' must be text, got {type(value).__name__}")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _json(value: Any, where: str, name: str) -> Any:
    try:
        return json.loads(_text(value, where, name))
    except (ValueError, RecursionError):
        raise _Bad(f"{where}: attribute '{name}' is not valid JSON") from None


def _scalar(spec: FieldSpec, raw: Any, where: str) -> Any:
    """A scalar/tuple/text field's value, exactly (no coercion): the wrong type is refused."""
    name = spec.name
    if spec.form == "str":
        return _text(raw, where, name)
    if isinstance(raw, np.ndarray) and raw.ndim == 0:
        raw = raw[()]
    if spec.form == "int":
        if not _is_int(raw):
            raise _Bad(f"{where}: field '{name}' must be an integer, got {raw!r}")
        return int(raw)
    if spec.form == "float":
        if not (_is_int(raw) or isinstance(raw, (float, np.floating))):
            raise _Bad(f"{where}: field '{name}' must be a number, got {raw!r}")
        if _is_int(raw) and int(float(raw)) != int(raw):
            raise _Bad(f"{where}: field '{name}' = {raw} has no exact floating-point value")
        return float(raw)
    if spec.form == "bool":
        if not isinstance(raw, (bool, np.bool_)):
            raise _Bad(f"{where}: field '{name}' must be true or false, got {raw!r}")
        return bool(raw)
    # tuple: a JSON list of integers, of the declared length
    items = _json(raw, where, name)
    if (not isinstance(items, list) or not all(type(v) is int for v in items)
            or (spec.length is not None and len(items) != spec.length)):
        want = f"{spec.length} integers" if spec.length is not None else "integers"
        raise _Bad(f"{where}: field '{name}' must be a list of {want}, got {raw!r:.80}")
    if any(not INT32[0] <= v <= INT32[1] for v in items):
        raise _Bad(f"{where}: field '{name}' = {items} is outside the 32-bit range")
    return tuple(items)


def _array(spec: FieldSpec, ds: Any, where: str, budget: list[int]) -> np.ndarray:
    """An array field: its declared size bounded first, its dtype matched without wrapping
    or dropping parts (float fields finite; integer fields inside their integer type)."""
    name = spec.name
    if not isinstance(ds, np.ndarray) and ds.__class__.__name__ != "Dataset":
        raise _Bad(f"{where}: '{name}' must be a dataset")
    size = int(np.prod(ds.shape, dtype=np.float64)) if ds.shape is not None else 0
    if size > MAX_ARRAY_ELEMENTS:
        raise _Bad(f"{where}: field '{name}' declares {size} elements (shape {ds.shape}), more "
                   f"than the {MAX_ARRAY_ELEMENTS} allowed per array")
    budget[0] += size
    if budget[0] > MAX_TOTAL_ELEMENTS:
        raise _Bad(f"{where}: the file declares more than {MAX_TOTAL_ELEMENTS} array elements "
                   "in all")
    want = np.dtype(spec.dtype)
    kind = ds.dtype.kind
    if want.kind == "f" and kind != "f" or want.kind in "iu" and kind not in "iu":
        raise _Bad(f"{where}: field '{name}' has dtype {ds.dtype}; expected "
                   f"{'floating point' if want.kind == 'f' else 'integer'} values")
    value = np.asarray(ds[()])
    if want.kind == "f":
        with np.errstate(over="ignore"):
            out = value.astype(want)
        if not np.all(np.isfinite(out)):
            raise _Bad(f"{where}: field '{name}' holds NaN or infinite values (in {want})")
        if value.dtype != want and not np.array_equal(out.astype(value.dtype), value):
            raise _Bad(f"{where}: field '{name}' holds {value.dtype} values that {want} cannot "
                       "represent exactly")
        return out
    info = np.iinfo(want)
    if value.size and (value.min() < info.min or value.max() > info.max):
        raise _Bad(f"{where}: field '{name}' holds values outside {want}'s range")
    return value.astype(want)


def _read_fields(group: Any, cls: type, where: str, budget: list[int],
                 extra_attrs: tuple[str, ...]) -> object:
    """Build ``cls`` from ``group``: every member and attribute must be one of the fields,
    every required field present, each value of its stored form."""
    specs = {s.name: s for s in field_specs(cls)}
    members = _link_kinds(group, where)
    for name in group.attrs:
        if name not in extra_attrs and (name not in specs
                                        or specs[name].form in ("array", "record")):
            raise _Bad(f"{where}: attribute '{name}' is not part of a {cls.__name__}")
    for name in members:
        if name not in specs or specs[name].form not in ("array", "record"):
            raise _Bad(f"{where}: '{name}' is not part of a {cls.__name__}")
    kwargs: dict[str, Any] = {}
    for spec in specs.values():
        if spec.form in ("array", "record"):
            present = spec.name in members
        else:
            present = spec.name in group.attrs
        if not present:
            if spec.has_absent:
                kwargs[spec.name] = spec.absent
            elif not spec.optional:
                raise _Bad(f"{where}: required field '{spec.name}' is missing")
            continue
        if spec.form == "array":
            kwargs[spec.name] = _array(spec, members[spec.name], where, budget)
        elif spec.form == "record":
            sub = members[spec.name]
            if not hasattr(sub, "attrs") or sub.__class__.__name__ != "Group":
                raise _Bad(f"{where}: '{spec.name}' must be a group")
            rtype = _text(_attr(sub, "type", f"{where}/{spec.name}"), where, "type")
            if rtype not in spec.records:
                raise _Bad(f"{where}: '{spec.name}' of type '{rtype:.40}' does not belong here "
                           f"(expected {' or '.join(spec.records)})")
            kwargs[spec.name] = _read_fields(sub, QUANT_TYPES[rtype], f"{where}/{spec.name}",
                                             budget, ("type",))
        else:
            kwargs[spec.name] = _scalar(spec, _attr(group, spec.name, where), where)
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
                _write_fields(g, node, f"node '{name}' ({node.kind})")
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
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        head = fh.read(USERBLOCK)
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
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
    if len(head) < USERBLOCK or digest.hexdigest() != fields.get("sha256"):
        raise NeurodeployError(
            f"{path}: corrupted or truncated neurodeploy graph file (checksum mismatch)"
        )


def _read(f: Any) -> Graph:
    """The graph in open file ``f``, read against the schema (raises _Bad or
    NeurodeployError)."""
    for name in f.attrs:
        if name not in ROOT_ATTRS:
            raise _Bad(f"/: attribute '{name}' is not part of a graph file")
    fmt = _attr(f, "format", "/")
    if (fmt.decode("utf-8", "replace") if isinstance(fmt, bytes) else fmt) != FORMAT:
        raise NeurodeployError(f"not a neurodeploy graph file (no '{FORMAT}' marker)")
    version = _scalar(FieldSpec("schema_version", "int", False),
                      _attr(f, "schema_version", "/"), "/")
    if version > SCHEMA_VERSION:
        raise NeurodeployError(f"schema version {version} is newer than this neurodeploy reads "
                               f"({SCHEMA_VERSION}); upgrade neurodeploy")
    if version < 1:
        raise _Bad(f"/: schema version {version} is not valid")
    _text(_attr(f, "neurodeploy_version", "/"), "/", "neurodeploy_version")
    root = _link_kinds(f, "")
    if set(root) != {"nodes"}:
        raise _Bad(f"/: holds {sorted(root)!r:.80}; a graph file holds only 'nodes'")
    g_nodes = root["nodes"]
    if g_nodes.__class__.__name__ != "Group" or set(g_nodes.attrs) != {"order"}:
        raise _Bad("/nodes must be a group whose only attribute is 'order'")
    order = _json(_attr(g_nodes, "order", "/nodes"), "/nodes", "order")
    if (not isinstance(order, list) or not all(isinstance(n, str) for n in order)
            or len(set(order)) != len(order)):
        raise _Bad("/nodes: 'order' must be a list of distinct node names")
    if len(order) > MAX_NODES:
        raise _Bad(f"/nodes: {len(order)} nodes, more than the {MAX_NODES} allowed")
    members = _link_kinds(g_nodes, "/nodes")
    if set(members) != {str(i) for i in range(len(order))}:
        raise _Bad(f"/nodes: holds {len(members)} groups for the {len(order)} nodes of 'order'")
    metadata = _json(_attr(f, "metadata", "/"), "/", "metadata")
    if not isinstance(metadata, dict):
        raise _Bad("/: 'metadata' must be a JSON object")
    ends = {}
    for key in ("inputs", "outputs"):
        ends[key] = _json(_attr(f, key, "/"), "/", key)
        if not isinstance(ends[key], list) or not all(isinstance(n, str) for n in ends[key]):
            raise _Bad(f"/: '{key}' must be a list of node names")
    edges = _json(_attr(f, "edges", "/"), "/", "edges")
    if not isinstance(edges, list) or not all(
            isinstance(e, list) and len(e) == 3 and isinstance(e[0], str)
            and isinstance(e[1], str) and type(e[2]) is int for e in edges):
        raise _Bad("/: 'edges' must be a list of [source, destination, integer delay]")
    graph = Graph(metadata=metadata, inputs=ends["inputs"], outputs=ends["outputs"],
                  edges=[Edge(s, d, k) for s, d, k in edges])
    budget = [0]
    for i, name in enumerate(order):
        g = members[str(i)]
        where = f"node '{name}'"
        if g.__class__.__name__ != "Group":
            raise _Bad(f"{where}: /nodes/{i} must be a group")
        kind = _text(_attr(g, "kind", where), where, "kind")
        if kind not in NODE_TYPES:
            raise NeurodeployError(f"node '{name}' has unknown kind '{kind:.40}'")
        node = typing.cast(Node, _read_fields(g, NODE_TYPES[kind], f"{where} ({kind})", budget,
                                              ("kind",)))
        if node.name != name:
            raise _Bad(f"{where}: /nodes/{i} is named '{node.name:.40}'")
        graph.nodes[node.name] = node
    return graph


def _parse(path: Path) -> Graph:
    """Open ``path`` with h5py and read it (raises NeurodeployError naming ``path``)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            check_global_heaps(f, path)  # names the file itself
            return _read(f)
    except NeurodeployError as exc:
        text = str(exc)
        raise NeurodeployError(text if text.startswith(f"{path}: ") else f"{path}: {text}"
                               ) from None
    except _Bad as exc:
        raise NeurodeployError(f"{path}: {exc}") from None
    except MemoryError:
        raise NeurodeployError(f"{path}: reading it needs more memory than the "
                               f"{PARSE_MEMORY_BYTES >> 30} GiB allowed") from None
    except Exception as exc:  # h5py/json/numpy raise many types on corrupt input
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise NeurodeployError(f"{path}: not a readable neurodeploy graph file ({reason})"
                               ) from None


def load_graph(path: str | os.PathLike[str], timeout: float = PARSE_TIMEOUT_S) -> Graph:
    """Read and validate a ``.ndg`` file.

    Raises NeurodeployError (one line, naming ``path`` and where in the file) for a missing,
    unreadable, truncated, foreign, newer-schema or invalid file, and for anything outside the
    schema: links to other files, virtual datasets, unknown members, missing fields, values of
    the wrong type or shape, array sizes above :data:`MAX_ARRAY_ELEMENTS`. ``timeout``: the
    longest the HDF5 parse may take (seconds).
    """
    p = Path(path)
    if not p.is_file():
        raise NeurodeployError(f"{p}: no such file")
    try:
        _check_header(p)
    except OSError as exc:
        raise NeurodeployError(f"{p}: cannot read ({exc.strerror or exc})") from None
    graph = in_child(lambda: _parse(p), p, timeout, PARSE_MEMORY_BYTES)
    try:
        validate(graph)
    except NeurodeployError as exc:
        raise NeurodeployError(f"{p}: {exc}") from None
    except Exception as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise NeurodeployError(f"{p}: invalid graph ({reason})") from None
    return graph


__all__ = ["FORMAT", "SCHEMA_VERSION", "load_graph", "save_graph"]
