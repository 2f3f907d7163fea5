"""The .ndg file: round trips of every node kind, and one-line errors on bad files."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from graphs import random_graphs
from hypothesis import given

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import (
    NODE_TYPES,
    Conv2d,
    CubaLIF,
    Dense,
    Graph,
    Input,
    graph_diff,
    load_graph,
    save_graph,
    validate,
)
from neurodeploy.ir.io import SCHEMA_VERSION, _write_header


@given(random_graphs())
def test_save_load_round_trip_is_identity(tmp_path_factory, graph):
    path = tmp_path_factory.mktemp("rt") / "g.ndg"
    save_graph(graph, path)
    loaded = load_graph(path)
    assert graph_diff(graph, loaded) is None


def test_random_graphs_cover_every_node_kind():
    from hypothesis import find

    seen: set[str] = set()

    def covers(g: Graph) -> bool:
        seen.update(n.kind for n in g)
        return seen >= set(NODE_TYPES)

    find(random_graphs(), covers, settings=None)
    assert seen == set(NODE_TYPES)


def _mlp() -> Graph:
    g = Graph()
    g.add(Input("x", shape=(3,)))
    g.add(Dense("fc", weight=np.ones((2, 3), np.float32)), "x")
    g.add(CubaLIF("lif", shape=(2,)), "fc")
    g.inputs, g.outputs = ["x"], ["lif"]
    return g


def test_newer_schema_is_refused_with_upgrade_hint(tmp_path):
    path = tmp_path / "g.ndg"
    save_graph(_mlp(), path)
    with h5py.File(path, "a") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION + 1
    _write_header(path, schema=SCHEMA_VERSION + 1)  # as a newer neurodeploy would
    with pytest.raises(NeurodeployError, match=r"g\.ndg: schema version 2 is newer .* upgrade"):
        load_graph(path)


def test_foreign_hdf5_and_truncated_and_text_files_name_the_file(tmp_path):
    foreign = tmp_path / "other.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(NeurodeployError, match=r"other\.h5: not a neurodeploy graph file"):
        load_graph(foreign)
    good = tmp_path / "g.ndg"
    save_graph(_mlp(), good)
    truncated = tmp_path / "t.ndg"
    truncated.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(NeurodeployError, match=r"t\.ndg: corrupted or truncated"):
        load_graph(truncated)
    text = tmp_path / "notes.ndg"
    text.write_text("hello")
    with pytest.raises(NeurodeployError, match=r"notes\.ndg"):
        load_graph(text)
    edited = tmp_path / "e.ndg"  # changed behind our back: the checksum catches it
    save_graph(_mlp(), edited)
    with h5py.File(edited, "a") as f:
        f.attrs["inputs"] = "[]"
    with pytest.raises(NeurodeployError, match=r"e\.ndg: corrupted .*checksum mismatch"):
        load_graph(edited)
    with pytest.raises(NeurodeployError, match=r"missing\.ndg: no such file"):
        load_graph(tmp_path / "missing.ndg")


def test_save_is_atomic_and_keeps_the_old_file_on_error(tmp_path):
    path = tmp_path / "g.ndg"
    save_graph(_mlp(), path)
    before = path.read_bytes()
    bad = _mlp()
    bad.nodes["fc"].weight[0, 0] = np.nan
    with pytest.raises(NeurodeployError, match="node 'fc' .* NaN"):
        save_graph(bad, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.ndg"]


@pytest.mark.parametrize("mutate, message", [
    (lambda g: setattr(g.nodes["fc"], "weight", np.ones((2, 4), np.float32)),
     r"node 'fc' \(dense\): weight of shape \(2, 4\) does not take an input of shape \(3,\)"),
    (lambda g: setattr(g.nodes["lif"], "dv", np.float32(1.5)),
     r"node 'lif' \(cuba_lif\): decay 'dv' must lie in \[0, 1\]"),
    (lambda g: setattr(g.nodes["lif"], "vth", np.float32(0.0)),
     r"node 'lif' \(cuba_lif\): threshold 'vth' must be positive"),
    (lambda g: setattr(g.nodes["lif"], "reset", "soft"),
     r"node 'lif' \(cuba_lif\): reset 'soft' is not one of zero, subtract, none"),
    (lambda g: g.connect("lif", "fc"),
     r"node 'fc' \(dense\): has 2 incoming edges; takes exactly 1"),
    (lambda g: g.connect("lif", "lif"),
     r"node 'lif': it lies on a cycle of same-step edges"),
    (lambda g: g.connect("lif", "nowhere"), r"edge 'lif' -> 'nowhere': no node named 'nowhere'"),
    (lambda g: setattr(g, "outputs", ["y"]), r"graph output 'y': no node of that name"),
    (lambda g: setattr(g.nodes["lif"], "bias", np.zeros(5, np.float32)),
     r"node 'lif' \(cuba_lif\): parameter 'bias' has shape \(5,\); expected a scalar or \(2,\)"),
])
def test_validation_names_node_and_fault(mutate, message):
    g = _mlp()
    mutate(g)
    with pytest.raises(NeurodeployError, match=message):
        validate(g)


def test_save_writes_the_schema_dtypes_so_the_file_loads(tmp_path):
    """float64 parameters (int32 x float32 gives float64) are stored as the IR's float32; an
    value a float32 simulation cannot keep finite is refused at save, naming node and field."""
    g = Graph(metadata={"T": 4})
    g.add(Input("in", shape=(2, 4, 4)))
    w = np.full((3, 2, 3, 3), 0.1, np.float64)  # 0.1 is not a float32 value
    g.add(Conv2d("conv", weight=w, padding=(1, 1)), "in")
    g.add(CubaLIF("lif", shape=(3, 4, 4)), "conv")
    g.inputs, g.outputs = ["in"], ["lif"]
    save_graph(g, tmp_path / "g.ndg")
    back = load_graph(tmp_path / "g.ndg")
    assert back["conv"].weight.dtype == np.float32
    np.testing.assert_array_equal(back["conv"].weight, w.astype(np.float32))
    g["conv"].weight[0, 0, 0, 0] = 1e300
    with pytest.raises(NeurodeployError, match=r"node 'conv' \(conv2d\): parameter 'weight' "
                                               r"holds magnitudes up to 1e\+300"):
        save_graph(g, tmp_path / "h.ndg")
    assert not (tmp_path / "h.ndg").exists()
