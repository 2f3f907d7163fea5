"""A hostile ``.ndg`` file (edited with h5py, its checksum header re-signed) is refused with one
line naming the file, the node and the field, before any value is used: links out of the
file, virtual datasets, members outside the schema, missing fields, values of the wrong type or
shape, out-of-range Loihi formats, huge declared sizes. Reproducers of issue 17."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import h5py
import numpy as np
import pytest
from test_lava_cases import conv_graph, mlp_graph

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Conv2d, Dense, Graph, Input, graph_diff, load_graph, save_graph
from neurodeploy.ir.io import MAX_ARRAY_ELEMENTS, _write_header

ORDER = ["in", "fc1", "lif1", "fc2", "out"]  # mlp_graph's nodes, in file order


def _node(f: h5py.File, name: str) -> h5py.Group:
    return f["nodes"][str(ORDER.index(name))]


def _edited(tmp_path: Path, edit: Callable[[h5py.File], None], graph: Graph | None = None
            ) -> Path:
    path = tmp_path / "g.ndg"
    save_graph(graph or mlp_graph(), path)
    with h5py.File(path, "a") as f:
        edit(f)
    _write_header(path)  # an attacker re-signs the header
    return path


def _set(name: str, field: str, value: object, quant: bool = False
         ) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        g = _node(f, name)["quant"] if quant else _node(f, name)
        if value is None:
            del g.attrs[field]
        else:
            g.attrs[field] = value
    return edit


def _dataset(name: str, field: str, data: object, quant: bool = False
             ) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        g = _node(f, name)["quant"] if quant else _node(f, name)
        del g[field]
        if data is not None:
            g.create_dataset(field, data=data)
    return edit


CASES = [
    # quantized fields: Loihi's formats
    (_set("fc1", "weight_exp", 64, quant=True), r"node 'fc1' .*'quant.weight_exp' = 64 must"),
    (_set("fc1", "weight_exp", 1000, quant=True), r"'quant.weight_exp' = 1000 must"),
    (_set("in", "bits", 0, quant=True), r"node 'in' .*'quant.bits' = 0 must"),
    (_set("in", "bits", -1, quant=True), r"'quant.bits' = -1 must"),
    (_set("lif1", "bias_exp", 100, quant=True), r"node 'lif1' .*'quant.bias_exp' = 100"),
    (_set("lif1", "scale", np.nan, quant=True), r"'quant.scale' = nan must be a finite"),
    (_set("fc2", "scale", 0.0, quant=True), r"node 'fc2' .*'quant.scale' = 0.0 must"),
    (_set("in", "scale", np.inf, quant=True), r"node 'in' .*'quant.scale' = inf must"),
    (_set("out", "scale", 1e38, quant=True), r"node 'out' .*'quant.scale' = 1e\+38 must"),
    (_set("fc1", "num_weight_bits", 0, quant=True), r"'quant.num_weight_bits' = 0 must"),
    (_set("fc1", "num_weight_bits", 99, quant=True), r"'quant.num_weight_bits' = 99 must"),
    # missing fields are never filled with defaults
    (_dataset("lif1", "du", None), r"node 'lif1' \(cuba_lif\): required field 'du' is missing"),
    (_set("fc1", "weight_exp", None, quant=True),
     r"node 'fc1' \(dense\)/quant: required field 'weight_exp' is missing"),
    (_set("lif1", "scale", None, quant=True), r"node 'lif1' .*required field 'scale'"),
    (_set("lif1", "reset", None), r"node 'lif1' .*required field 'reset' is missing"),
    # no coercion
    (_set("lif1", "refractory", 2.7), r"node 'lif1' .*field 'refractory' must be an integer"),
    (_set("in", "shape", "[20.7]"), r"node 'in' .*field 'shape' must be a list of integers"),
    (_set("in", "signed", "no", quant=True), r"node 'in' .*field 'signed' must be true or false"),
    (_set("in", "signed", 1, quant=True), r"field 'signed' must be true or false"),
    (_set("lif1", "du", 0.5), r"attribute 'du' is not part of a CubaLIF"),
    (_dataset("fc1", "weight", np.zeros((24, 20), np.complex64)),
     r"node 'fc1' \(dense\): field 'weight' has dtype complex64; expected floating point"),
    (_dataset("fc1", "weight", np.full((24, 20), 2**40, np.int64), quant=True),
     r"node 'fc1' \(dense\)/quant: field 'weight' holds values outside int32's range"),
    (_dataset("fc1", "weight", np.zeros((24, 20)), quant=True),
     r"'weight' has dtype float64; expected integer"),
    (_dataset("fc1", "weight", np.full((24, 20), 1e39)), r"'weight' holds NaN or infinite"),
    (_dataset("lif1", "du", np.array([b"x"])), r"'du' has dtype \|S1; expected floating"),
    # graph-level: edges and metadata
    (lambda f: f.attrs.__setitem__("edges", '[["in", "fc1", 1.9]]'),
     r"'edges' must be a list of \[source, destination, integer delay\]"),
    *[(lambda f, t=t: f.attrs.__setitem__("metadata", f'{{"T": {t}}}'),
       r"metadata 'T' = .* must be a whole number of steps")
      for t in ("-1", "0", '"abc"', "NaN", "1000000000", "8.0", "true")],
    (lambda f: f.attrs.__setitem__("metadata", '{"dt": -1}'), r"metadata 'dt' = -1 must"),
    # anything outside the schema, before values are read
    (lambda f: _node(f, "fc1").attrs.__setitem__("surprise", 1),
     r"node 'fc1' \(dense\): attribute 'surprise' is not part of a Dense"),
    (lambda f: _node(f, "fc1").create_dataset("surprise", data=[1.0]),
     r"node 'fc1' \(dense\): 'surprise' is not part of a Dense"),
    (lambda f: f.create_group("extra"), r"/: holds \['extra', 'nodes'\]"),
    (lambda f: f.attrs.__setitem__("extra", 1), r"/: attribute 'extra' is not part"),
    (lambda f: _node(f, "lif1")["quant"].attrs.__setitem__("type", "WeightQ"),
     r"'quant' of type 'WeightQ' does not belong here \(expected NeuronQ\)"),
    (lambda f: _node(f, "in").attrs.__setitem__("kind", "dense"),
     r"node 'in' \(dense\): attribute '(shape|encoding)' is not part of a Dense"),
    (lambda f: _node(f, "fc1").attrs.__setitem__("name", "lif1"),
     r"node 'fc1': /nodes/1 is named 'lif1'"),
    (lambda f: f["nodes"].attrs.__setitem__("order", '["in"]'),
     r"/nodes: holds 5 groups for the 1 nodes of 'order'"),
    (lambda f: _node(f, "in").attrs.create("shape", np.zeros(1000)),
     r"attribute 'shape' has shape \(1000,\); expected a scalar"),
]


@pytest.mark.parametrize("edit,message", CASES)
def test_hostile_edit_is_refused_naming_node_and_field(tmp_path: Path, edit, message) -> None:
    path = _edited(tmp_path, edit)
    with pytest.raises(NeurodeployError, match=message) as info:
        load_graph(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_conv_tuple_length_and_kernel_checked(tmp_path: Path) -> None:
    g = conv_graph()
    order = list(g.nodes)
    for value, message in (("[1, 1, 1]", r"'stride' must be a list of 2 integers"),
                           ("[1, true]", r"'stride' must be a list of 2 integers"),
                           ("[1, 99999999999]", r"'stride' = \[1, 99999999999\] is outside the 32-bit")):
        path = _edited(tmp_path, lambda f, v=value: f["nodes"][str(order.index("conv"))]
                       .attrs.__setitem__("stride", v), g)
        with pytest.raises(NeurodeployError, match=r"node 'conv' \(conv2d\): field " + message):
            load_graph(path)


def test_links_and_virtual_datasets_are_refused_before_reading(tmp_path: Path) -> None:
    other = tmp_path / "weights.h5"
    with h5py.File(other, "w") as f:
        f["w"] = np.ones((24, 20), np.float32)

    def external(f: h5py.File) -> None:
        del _node(f, "fc1")["weight"]
        _node(f, "fc1")["weight"] = h5py.ExternalLink(str(other), "/w")

    def soft(f: h5py.File) -> None:
        del _node(f, "fc1")["weight"]
        _node(f, "fc1")["weight"] = h5py.SoftLink("/nodes/3/weight")

    def virtual(f: h5py.File) -> None:
        del _node(f, "fc1")["weight"]
        layout = h5py.VirtualLayout(shape=(24, 20), dtype=np.float32)
        layout[:] = h5py.VirtualSource(str(other), "/w", shape=(24, 20))
        _node(f, "fc1").create_virtual_dataset("weight", layout)

    def raw_external(f: h5py.File) -> None:
        del _node(f, "fc1")["weight"]
        _node(f, "fc1").create_dataset("weight", shape=(24, 20), dtype=np.float32,
                                       external=[(str(tmp_path / "raw.bin"), 0, 24 * 20 * 4)])

    (tmp_path / "raw.bin").write_bytes(b"\0" * 24 * 20 * 4)
    for edit, what in ((external, "ExternalLink"), (soft, "SoftLink"),
                       (virtual, "virtual dataset"), (raw_external, "external dataset")):
        path = _edited(tmp_path, edit)
        with pytest.raises(NeurodeployError, match=rf"node 'fc1' \(dense\)/weight is a {what}"):
            load_graph(path)


def test_huge_declared_dataset_is_refused_fast_without_reading(tmp_path: Path) -> None:
    def huge(f: h5py.File) -> None:
        del _node(f, "fc1")["weight"]
        _node(f, "fc1").create_dataset("weight", shape=(10**9,), dtype=np.float32)

    path = _edited(tmp_path, huge)
    assert path.stat().st_size < 100_000  # declared, never written
    start = time.perf_counter()
    with pytest.raises(NeurodeployError, match=rf"node 'fc1' \(dense\): field 'weight' declares "
                                               rf"1000000000 elements .* {MAX_ARRAY_ELEMENTS}"):
        load_graph(path)
    assert time.perf_counter() - start < 10


def test_a_parse_that_hangs_is_cut_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The HDF5 parse runs in a forked child with a time limit: a crafted file that makes the
    HDF5 library loop costs the limit, not the process (the loop is simulated here)."""
    from neurodeploy.ir import io

    path = tmp_path / "g.ndg"
    save_graph(mlp_graph(), path)
    monkeypatch.setattr(io, "_read", lambda f: time.sleep(60))
    start = time.perf_counter()
    with pytest.raises(NeurodeployError, match=r"g\.ndg: reading the file "
                                               r"took more than 1 s"):
        load_graph(path, timeout=1.0)
    assert time.perf_counter() - start < 10
    monkeypatch.setattr(io, "_read", lambda f: __import__("os")._exit(3))  # a crash
    with pytest.raises(NeurodeployError, match=r"g\.ndg: the HDF5 library failed"):
        load_graph(path)


def test_files_in_the_earlier_layout_still_load(tmp_path: Path) -> None:
    """Files written by earlier versions: float64 arrays, byte-string kinds, int scales,
    absent optional fields (bias None, quant None) load unchanged."""
    g = Graph(metadata={"T": 4})
    g.add(Input("x", shape=(3,)))
    g.add(Dense("fc", weight=np.ones((2, 3), np.float32)), "x")
    g.inputs, g.outputs = ["x"], ["fc"]
    path = tmp_path / "old.ndg"
    save_graph(g, path)
    with h5py.File(path, "a") as f:
        f["nodes"]["1"].attrs["kind"] = np.bytes_(b"dense")
        del f["nodes"]["1"]["weight"]
        f["nodes"]["1"]["weight"] = np.ones((2, 3), np.float64)
    _write_header(path)
    assert graph_diff(load_graph(path), g) is None
    g2 = conv_graph()
    save_graph(g2, path)
    assert graph_diff(load_graph(path), g2) is None
    assert isinstance(load_graph(path)["conv"], Conv2d)


@dataclass(eq=False)
class DenseV2(Dense):
    """A Dense with a field added later, declaring what older files mean."""

    delay_bits: int = field(default=6, metadata={"absent": 6})
    kind: ClassVar[str] = "dense"


@dataclass(eq=False)
class DenseV3(Dense):
    """A Dense with a field added later, without saying what older files mean."""

    delay_bits: int = 6
    kind: ClassVar[str] = "dense"


def test_a_field_added_later_loads_from_older_files_only_when_it_says_how(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The schema comes from the node dataclasses: a new field is written and read with no
    change to io.py; files written before it existed load only if the field declares the value
    they mean (``metadata={"absent": ...}``), else they are refused naming the field."""
    from neurodeploy.ir import io

    path = tmp_path / "old.ndg"
    save_graph(mlp_graph(), path)  # written without the field
    monkeypatch.setitem(io.NODE_TYPES, "dense", DenseV2)
    g = load_graph(path)
    assert isinstance(g["fc1"], DenseV2) and g["fc1"].delay_bits == 6
    g["fc1"].delay_bits = 3
    save_graph(g, tmp_path / "new.ndg")
    assert load_graph(tmp_path / "new.ndg")["fc1"].delay_bits == 3
    monkeypatch.setitem(io.NODE_TYPES, "dense", DenseV3)
    with pytest.raises(NeurodeployError, match=r"node 'fc1' \(dense\): required field "
                                               r"'delay_bits' is missing"):
        load_graph(path)
