"""Issue 17's bad invocations replayed through the CLI, one table: every verb, given each bad
input the issue lists (hostile ``.ndg`` edits, broken NIR/netx files, checkpoints, profiles,
data, numbers, outputs onto inputs, broken bundles), exits 1 with exactly one ``error:`` line
naming what is wrong, no "internal error", no traceback, and leaves every input byte-for-byte
as it was."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from profile_edit import MINIMAL_PROFILE
from test_deploy import _npz
from test_lava_cases import conv_graph, mlp_graph, netx_ready

from neurodeploy.cli.main import main
from neurodeploy.data import Dataset, save_dataset
from neurodeploy.ir import save_graph
from neurodeploy.ir.io import _write_header

ORDER = ["in", "fc1", "lif1", "fc2", "out"]  # mlp_graph's nodes, as the file numbers them
PROFILE = MINIMAL_PROFILE


def _ndg(folder: Path, name: str, edit: Callable[[h5py.File], None] | None = None,
         graph=None) -> str:  # noqa: ANN001 - a Graph
    """A quantized mlp graph file, edited with h5py and re-signed (a crafted file)."""
    path = folder / name
    save_graph(graph if graph is not None else netx_ready(mlp_graph()), path)
    if edit is not None:
        with h5py.File(path, "a") as f:
            edit(f)
        _write_header(path)
    return str(path)


def _attr(node: str, field: str, value: object, quant: bool = False
          ) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        g = f["nodes"][str(ORDER.index(node))]
        g = g["quant"] if quant else g
        if value is None:
            del g.attrs[field]
        else:
            g.attrs[field] = value
    return edit


def _replace(node: str, field: str, make: Callable[[h5py.Group, str], None]
             ) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        g = f["nodes"][str(ORDER.index(node))]
        del g[field]
        make(g, field)
    return edit


def _zero_heap(path: Path) -> None:
    data = bytearray(path.read_bytes())
    at = data.find(b"GCOL")
    data[at + 16:at + 48] = bytes(32)
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every input of the table, built once (names → paths)."""
    from neurodeploy.converters.nir import write_nir

    from neurodeploy.lava.netx import export_netx
    from neurodeploy.nn import mlp
    from neurodeploy.nn.checkpoint import save_checkpoint

    d = tmp_path_factory.mktemp("replay")
    w = d / "w"
    w.mkdir()
    q = netx_ready(mlp_graph())
    f: dict[str, str] = {"dir": str(d), "w": str(w), "q": _ndg(w, "m.q.ndg")}
    f["data"] = str(_npz(q, d))
    x = (np.random.default_rng(0).random((4, 4, 20)) < 0.3).astype(np.float32)
    save_dataset(Dataset(x, np.array([0, 1, 2, 50]), "t", "spikes", 51, 4), d / "labels.npz")
    f["labels"] = str(d / "labels.npz")
    fl = mlp_graph()
    for node in fl:
        if hasattr(node, "quant"):
            node.quant = None
    f["float"] = _ndg(d, "m.ndg", graph=fl)
    fl["fc1"].weight[0, 0] = 1e15  # the largest float parameter validate admits
    f["huge_w"] = _ndg(d, "huge_w.ndg", graph=fl)
    fl["fc1"].weight[0, 0] = 1.0
    f["w3e38"] = _ndg(d, "w3e38.ndg", _replace("fc1", "weight", lambda g, k: g.create_dataset(
        k, data=np.full((24, 20), 3.4e38, np.float32))), graph=fl)
    f["refr"] = _ndg(d, "refr.ndg", _attr("lif1", "refractory", np.int64(10**12)), graph=fl)
    # hostile .ndg edits (the checksum header re-signed)
    edits = {
        "wexp64": _attr("fc1", "weight_exp", 64, quant=True),
        "bits0": _attr("in", "bits", 0, quant=True),
        "bexp100": _attr("lif1", "bias_exp", 100, quant=True),
        "scale_nan": _attr("lif1", "scale", np.nan, quant=True),
        "nwb99": _attr("fc1", "num_weight_bits", 99, quant=True),
        "no_du": _replace("lif1", "du", lambda g, k: None),
        "refr27": _attr("lif1", "refractory", 2.7),
        "delay19": lambda h: h.attrs.__setitem__("edges", '[["in", "fc1", 1.9]]'),
        "T-1": lambda h: h.attrs.__setitem__("metadata", '{"T": -1}'),
        "T1e9": lambda h: h.attrs.__setitem__("metadata", '{"T": 1000000000}'),
        "complex": _replace("fc1", "weight", lambda g, k: g.create_dataset(
            k, data=np.zeros((24, 20), np.complex64))),
        "ds1e9": _replace("fc1", "weight", lambda g, k: g.create_dataset(
            k, shape=(10**9,), dtype=np.float32)),
    }
    for name, edit in edits.items():
        f[name] = _ndg(d, f"{name}.ndg", edit)
    from neurodeploy.ir import CubaLIF, Graph, Input

    tiny = Graph(metadata={"T": 4})  # 4 neurons on disk, declared 1e9 after the edit
    tiny.add(Input("x", shape=(4,)))
    tiny.add(CubaLIF("lif", shape=(4,)), "x")
    tiny.inputs, tiny.outputs = ["x"], ["lif"]
    f["shape1e9"] = _ndg(d, "shape1e9.ndg", lambda h: [
        h["nodes"][i].attrs.__setitem__("shape", "[1000000000]") for i in "01"], graph=tiny)
    other = d / "other.h5"
    with h5py.File(other, "w") as h:
        h["v"] = np.ones((24, 20), np.float32)
    f["extlink"] = _ndg(d, "extlink.ndg", _replace(
        "fc1", "weight", lambda g, k: g.__setitem__(k, h5py.ExternalLink(str(other), "/v"))))
    f["stride3"] = _ndg(d, "stride3.ndg", lambda h: h["nodes"]["1"].attrs.__setitem__(
        "stride", "[1, 1, 1]"), graph=conv_graph())
    heap = Path(_ndg(d, "heap.ndg"))
    _zero_heap(heap)
    _write_header(heap)
    f["heap"] = str(heap)
    # NIR and netx
    nir_path, net_path = d / "m.nir", d / "m.net"
    write_nir(q, nir_path)
    export_netx(q, net_path, exact=True)
    for name, edit in {
        "nir_meta": lambda h: (h["node"]["metadata"].__delitem__("neurodeploy.order"),
                               h["node"]["metadata"].__setitem__("neurodeploy.order", "[oops")),
    }.items():
        path = d / f"{name}.nir"
        path.write_bytes(nir_path.read_bytes())
        with h5py.File(path, "a") as h:
            edit(h)
        f[name] = str(path)

    def net_edit(name: str, edit: Callable[[h5py.File], None]) -> None:
        path = d / f"{name}.net"
        path.write_bytes(net_path.read_bytes())
        with h5py.File(path, "a") as h:
            edit(h)
        f[name] = str(path)

    net_edit("idecay_inf", lambda h: (h["layer/1/neuron"].__delitem__("iDecay"),
                                      h["layer/1/neuron"].__setitem__("iDecay", np.inf)))
    net_edit("net1e9", lambda h: (h["layer/1"].__delitem__("weight"), h["layer/1"].create_dataset(
        "weight", shape=(10**9,), dtype=np.float32)))
    (d / "trunc.net").write_bytes(net_path.read_bytes()[:5000])
    f["trunc_net"] = str(d / "trunc.net")
    heap_nir = d / "heap.nir"
    heap_nir.write_bytes(nir_path.read_bytes())
    _zero_heap(heap_nir)
    f["heap_nir"] = str(heap_nir)
    # checkpoints
    model = mlp(20, [8], 10)
    save_checkpoint(d / "m.pt", model, {"T": 4, "task": "t"})
    f["pt"] = str(d / "m.pt")
    raw = (d / "m.pt").read_bytes()
    (d / "trunc.pt").write_bytes(raw[: len(raw) // 2])
    f["trunc_pt"] = str(d / "trunc.pt")
    import torch

    buf = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), buf)  # a pickled module
    (d / "pickled.pt").write_bytes(buf.getvalue())
    f["pickled"] = str(d / "pickled.pt")
    # profiles
    for name, extra in {"mem5": "memory = 5", "var5": "variants = 5",
                        "acnan": None}.items():
        text = (PROFILE.replace("ac_pj = 0.1", "ac_pj = nan") if extra is None
                else extra + "\n" + PROFILE)
        (d / f"{name}.toml").write_text(text)
        f[name] = str(d / f"{name}.toml")
    (d / "notes.txt").write_text("not a model\n")
    f["text"] = str(d / "notes.txt")
    (d / "afile").write_text("x")
    f["under_file"] = str(d / "afile" / "out.ndg")
    # a bundle, then its manifest broken three ways
    from neurodeploy.deploy.manifest import write_manifest

    for name, change in {"flip": lambda t: t.replace('"a.txt"', '"b.txt"'),
                         "empty": lambda t: "", "nohash": lambda t: t.replace('"sha256"',
                                                                              '"sha"')}.items():
        b = d / f"bundle_{name}"
        b.mkdir()
        (b / "a.txt").write_text("a\n")
        write_manifest(b, {"model": "t"})
        text = (b / "manifest.json").read_text()
        (b / "manifest.json").write_text(change(text))
        f[f"bundle_{name}"] = str(b)
    return f


# (verb arguments with {placeholders} from `files`, text the one error line must contain)
CASES = [
    # hangs and resource blow-ups
    ("inspect {heap}", "damaged HDF5 global heap"),
    ("export {heap_nir} -o {dir}/o.ndg", "damaged HDF5 global heap"),
    ("inspect {ds1e9}", "declares 1000000000 elements"),
    ("map {shape1e9}", "output of 1000000000 elements"),
    ("simulate {T1e9} --data {data}", "metadata 'T' = 1000000000"),
    # wrong files accepted
    ("simulate {wexp64} --data {data} --mode fixed", "'quant.weight_exp' = 64"),
    ("simulate {bits0} --data {data} --mode fixed", "'quant.bits' = 0"),
    ("energy {bexp100} --data {data}", "'quant.bias_exp' = 100"),
    ("simulate {scale_nan} --data {data} --mode fixed", "'quant.scale' = nan"),
    ("map {nwb99}", "'quant.num_weight_bits' = 99"),
    ("inspect {no_du}", "required field 'du' is missing"),
    ("inspect {refr27}", "field 'refractory' must be an integer"),
    ("inspect {delay19}", "integer delay"),
    ("inspect {T-1}", "metadata 'T' = -1"),
    ("inspect {complex}", "dtype complex64"),
    ("inspect {extlink}", "ExternalLink"),
    ("inspect {stride3}", "stride"),
    # internal errors that were
    ("export {nir_meta} -o {dir}/o.ndg", "malformed NIR content"),
    ("export {idecay_inf} -o {dir}/o.ndg", "idecay_inf.net: "),
    ("export {net1e9} -o {dir}/o.ndg", "/layer/1/weight declares 1000000000"),
    ("export {trunc_net} -o {dir}/o.ndg", "trunc.net: "),
    ("export {q} -o {dir}", "is a directory"),
    ("export {q} -o {under_file}", "afile"),
    ("train -o {dir}/c.pt --batch-size 0", "--batch-size must be"),
    ("energy {q} --data {data} -p {mem5}", "'[memory]' must be a table, got 5"),
    ("map {q} -t {var5}", "'variants' must be a table"),
    ("quantize {huge_w} --calib {data} -o {dir}/h.q.ndg", "node 'lif1' (cuba_lif): threshold 1 becomes 0"),
    ("simulate {w3e38} --data {data}", "parameter 'weight' holds magnitudes up to 3.4e+38"),
    ("quantize {refr} --calib {data} -o {dir}/r.q.ndg", "refractory period 1000000000000"),
    ("quantize {no_du} --calib {data} -o {dir}/r.q.ndg", "required field 'du' is missing"),
    # inputs destroyed
    ("export {pt} -o {pt}", "-o/--output"),
    ("quantize {float} --calib {data} -o {float}", "-o/--output"),
    ("energy {q} --data {data} --html {q}", "--html"),
    ("deploy {q} -o {w} --force --data {data}", "-o/--output"),
    # bundle integrity
    ("deploy --verify {bundle_flip}", "manifest"),
    ("deploy --verify {bundle_empty}", "not a valid bundle manifest"),
    ("deploy --verify {bundle_nohash}", "manifest"),
    # silent nonsense
    ("simulate {q} --data {labels} --mode fixed", "labels span [0, 50]"),
    ("export {q} -o {dir}/o.ndg --dt -1", "--dt must be"),
    ("export {q} -o {dir}/o.ndg --T 0", "--T must be"),
    ("train -o {dir}/c.pt --T 0", "--T must be >= 1"),
    ("energy {q} --data {data} -p {acnan}", "key 'energy.ac_pj' must be a non-negative"),
    # checkpoints: truncated, a pickled module without --trust-pickle
    ("export {trunc_pt} -o {dir}/o.ndg", "trunc.pt: "),
    ("export {pickled} -o {dir}/o.ndg", "--trust-pickle"),
    # every verb given a file that is no model, or none at all
    *[(f"{verb} {{text}}{extra}", "notes.txt")
      for verb, extra in [("inspect", ""), ("export", " -o {dir}/o.ndg"),
                          ("quantize", " --calib {data} -o {dir}/o.q.ndg"),
                          ("simulate", " --data {data}"), ("compare", " --data {data}"),
                          ("map", ""), ("energy", " --data {data}"), ("sweep", " --data {data} -o {dir}/sw"),
                          ("deploy", " -o {dir}/b --data {data}")]],
    *[(f"{verb} {{dir}}/missing.ndg{extra}", "missing.ndg")
      for verb, extra in [("inspect", ""), ("simulate", " --data {data}"), ("map", ""),
                          ("energy", " --data {data}"), ("compare", " --data {data}")]],
    ("simulate {q} --data {dir}/missing.npz", "missing.npz"),
    ("simulate {q} --data {text}", "notes.txt"),
]


def _digests(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_bad_invocation_is_one_error_line(files: dict[str, str],
                                                capsys: pytest.CaptureFixture) -> None:
    """One test over the table (a per-case test would rebuild nothing but report more; the
    assertion message names the failing invocation)."""
    before = _digests(Path(files["dir"]))
    failures = []
    for args, expected in CASES:
        argv = args.format(**files).split()
        code = main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        ok = (code == 1 and len(err) == 1 and err[0].startswith("error: ")
              and "internal error" not in err[0] and expected in err[0])
        if not ok:
            failures.append(f"{args}: exit {code}, stderr {err!r:.300}")
    assert not failures, "\n".join(failures)
    assert _digests(Path(files["dir"])) == before  # no input rewritten or deleted
