"""Exact comparison of graphs (for round trips: file, NIR, converters)."""

from __future__ import annotations

import dataclasses

import numpy as np

from neurodeploy.ir.graph import Graph


def _value_diff(path: str, a: object, b: object) -> str | None:
    if dataclasses.is_dataclass(a) or dataclasses.is_dataclass(b):
        if type(a) is not type(b):
            return f"{path}: {type(a).__name__} vs {type(b).__name__}"
        for f in dataclasses.fields(a):  # type: ignore[arg-type]
            d = _value_diff(f"{path}.{f.name}", getattr(a, f.name), getattr(b, f.name))
            if d:
                return d
        return None
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if a is None or b is None:
            return f"{path}: {a!r} vs {b!r}"
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        if a_arr.shape != b_arr.shape or a_arr.dtype != b_arr.dtype:
            return f"{path}: {a_arr.dtype}{a_arr.shape} vs {b_arr.dtype}{b_arr.shape}"
        if not np.array_equal(a_arr, b_arr, equal_nan=a_arr.dtype.kind == "f"):
            return f"{path}: values differ"
        return None
    if a != b or type(a) is not type(b):
        return f"{path}: {a!r} vs {b!r}"
    return None


def graph_diff(a: Graph, b: Graph) -> str | None:
    """The first difference between two graphs as text, or None if they are identical
    (same nodes in the same order, same parameters bit for bit, same edges, I/O, metadata)."""
    if list(a.nodes) != list(b.nodes):
        return f"node lists differ: {list(a.nodes)} vs {list(b.nodes)}"
    for name in a.nodes:
        d = _value_diff(name, a.nodes[name], b.nodes[name])
        if d:
            return d
    for field in ("edges", "inputs", "outputs", "metadata"):
        if getattr(a, field) != getattr(b, field):
            return f"{field} differ: {getattr(a, field)!r} vs {getattr(b, field)!r}"
    return None


def graphs_equal(a: Graph, b: Graph) -> bool:
    """True when :func:`graph_diff` finds no difference."""
    return graph_diff(a, b) is None
