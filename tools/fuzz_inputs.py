"""Fuzz every file neurodeploy reads: mutated ``.ndg``, ``.nir``, ``.net``, ``.npz``, TOML
profiles and ``.pt`` checkpoints go through their loader and the next stage, in a worker subprocess with a time and a
memory limit.

    python tools/fuzz_inputs.py --cases 10000 --seed 0 [--timeout 20] [--kinds ndg,net]

Mutations: bit flips and byte overwrites (with the ``.ndg`` checksum header left stale or
re-signed), truncation, h5py edits of attributes and datasets (types, shapes, values, deletions,
unknown members, soft/external links, virtual datasets, huge declared sizes), JSON metadata
edits, ``.npz`` array edits, TOML value edits and deletions, checkpoint edits (arch entries,
state_dict tensors' dtypes, shapes and values, metadata, top-level keys, a pickled object).

Each case ends in one of:

- ``refused``: a clean one-line NeurodeployError;
- ``equivalent``: accepted, and what was loaded is exactly what the file holds (``.ndg``: every
  field compared against an independent raw h5py read) or the same result as the unmutated
  seed (other formats);
- ``valid-edit``: (formats without a checksum) accepted with a different but valid result:
  every number finite and the next stage ran — a file a user could have written;
- ``different``: accepted, but the loaded graph differs from the file's content (a coercion or
  a default), or the next stage produced non-finite numbers;
- ``exception``: any other exception, or the worker died (crash or memory limit);
- ``hang``: the case spent ``--timeout`` CPU seconds (worker and the children it forks)
  without an answer, or a reader's own time limit cut its parse off; a case only slowed by a
  busy machine (past ``--timeout`` wall seconds with less CPU) is waited for up to 10 times
  as long, and counted apart.

Prints the counts (and the first few failures with their reproducer files kept under
``--keep``) and exits 1 unless ``different``, ``exception`` and ``hang`` are all 0.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

KINDS = ("ndg", "nir", "net", "npz", "toml", "pt")
FAILURES = ("different", "exception", "hang")
OUTCOMES = ("refused", "equivalent", "valid-edit", *FAILURES)
ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- seeds (in the worker)


def _seed_graph(quantized: bool = True) -> Any:
    """20 binary inputs → dense → LIF → dense → readout, quantized for Loihi 2 (netx-ready)."""
    import numpy as np

    from neurodeploy.ir import CubaLIF, Dense, Graph, Input, InputQ, NeuronQ, Readout, WeightQ

    rng = np.random.default_rng(0)
    g = Graph(metadata={"T": 4, "source": "fuzz", "dt": 1e-3})
    g.add(Input("in", shape=(20,), encoding="spikes",
                quant=InputQ(scale=1.0, bits=1) if quantized else None))
    w1 = (rng.integers(-60, 60, (16, 20)) * 2).astype(np.int32)
    w2 = (rng.integers(-60, 60, (10, 16)) * 2).astype(np.int32)
    g.add(Dense("fc1", weight=w1.astype(np.float32) / 64,
                quant=WeightQ(w1, 0, 8, 1 / 64) if quantized else None), "in")
    g.add(CubaLIF("lif1", shape=(16,), du=0.5, dv=0.25, vth=1.0,
                  quant=NeuronQ(du=2047, dv=1024, vth=64, bias_exp=6, scale=1 / 64)
                  if quantized else None), "fc1")
    g.add(Dense("fc2", weight=w2.astype(np.float32) / 64,
                quant=WeightQ(w2, 0, 8, 1 / 64) if quantized else None), "lif1")
    g.add(Readout("out", shape=(10,), du=1.0, dv=0.0,
                  quant=NeuronQ(du=4095, dv=0, vth=2**17 - 1, bias_exp=6, scale=1 / 64)
                  if quantized else None), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def write_seeds(folder: Path) -> dict[str, Path]:
    """One valid file of each kind in ``folder``."""
    import numpy as np
    import torch
    from neurodeploy.converters.nir import write_nir

    from neurodeploy.data import Dataset, save_dataset
    from neurodeploy.ir import save_graph
    from neurodeploy.lava.netx import export_netx
    from neurodeploy.nn import mlp
    from neurodeploy.nn.checkpoint import save_checkpoint

    seeds = {"ndg": folder / "seed.ndg", "nir": folder / "seed.nir", "net": folder / "seed.net",
             "npz": folder / "seed.npz", "toml": folder / "seed.toml", "pt": folder / "seed.pt"}
    save_graph(_seed_graph(), seeds["ndg"])
    write_nir(_seed_graph(quantized=False), seeds["nir"])
    export_netx(_seed_graph(), seeds["net"], exact=True)
    rng = np.random.default_rng(1)
    x = (rng.random((6, 4, 20)) < 0.3).astype(np.float32)
    save_dataset(Dataset(x, np.arange(6) % 10, "fuzz", "spikes", 10, 4), seeds["npz"])
    shutil.copyfile(ROOT / "hardware_profiles" / "loihi2.toml", seeds["toml"])
    torch.manual_seed(0)
    save_checkpoint(seeds["pt"], mlp(20, [16], 10),
                    {"T": 4, "dt": 1e-3, "task": "fuzz", "encoding": "spikes"})
    return seeds


# ---------------------------------------------------------------- running one case (worker)


def _finite(obj: Any) -> bool:
    import math

    import numpy as np

    if isinstance(obj, dict):
        return all(_finite(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_finite(v) for v in obj)
    if isinstance(obj, float):
        return math.isfinite(obj)
    if hasattr(obj, "dtype") and hasattr(obj, "shape"):
        arr = np.asarray(obj.detach().cpu() if hasattr(obj, "detach") else obj)
        return not np.issubdtype(arr.dtype, np.floating) or bool(np.all(np.isfinite(arr)))
    return True


def _digest(obj: Any) -> str:
    import hashlib

    import numpy as np

    h = hashlib.sha256()

    def walk(o: Any) -> None:
        if isinstance(o, dict):
            for k in sorted(o):
                h.update(str(k).encode())
                walk(o[k])
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v)
        elif hasattr(o, "dtype") and hasattr(o, "shape"):
            arr = np.asarray(o.detach().cpu() if hasattr(o, "detach") else o)
            h.update(str(arr.shape).encode() + arr.astype(np.float64).tobytes())
        else:
            h.update(repr(o).encode())

    walk(obj)
    return h.hexdigest()


def _sim_outputs(graph: Any) -> Any:
    """The next stage of a graph: two samples through the simulator (fixed point when
    quantized), the output layer's decoded scores."""
    import numpy as np

    from neurodeploy.sim import simulate

    shape = graph.nodes[graph.inputs[0]].shape
    T = int(graph.metadata.get("T") or 4)
    if T * 2 * int(np.prod(shape)) > 1 << 22:
        from neurodeploy.errors import NeurodeployError

        raise NeurodeployError("fuzz: input too large to simulate")
    x = (np.random.default_rng(0).random((min(T, 8), 2, *shape)) < 0.3).astype(np.float32)
    quantized = all(getattr(n, "quant", None) is not None for n in graph
                    if hasattr(n, "quant"))
    res = simulate(graph, x, mode="fixed" if quantized else "float")
    return res.decoded


def _raw_matches(path: Path, graph: Any) -> str | None:
    """Compare the loaded ``graph`` with an independent raw h5py read of ``path``: every
    field present must be loaded as stored (values equal, no rounding or wrapping), every
    absent field must be None. Returns the first difference, or None."""
    import dataclasses
    import json as js

    import h5py
    import numpy as np

    with h5py.File(path, "r") as f:
        if js.loads(f.attrs["metadata"]) != graph.metadata:
            return "metadata"
        if [list(e) for e in js.loads(f.attrs["edges"])] != [[e.src, e.dst, e.delay]
                                                               for e in graph.edges]:
            return "edges"
        order = js.loads(f["nodes"].attrs["order"])
        if order != list(graph.nodes):
            return "order"

        def same(group: Any, obj: Any, where: str) -> str | None:
            for fld in dataclasses.fields(obj):
                value = getattr(obj, fld.name)
                if fld.name in group.attrs:
                    raw = group.attrs[fld.name]
                    if isinstance(value, tuple):
                        ok = list(value) == js.loads(raw)
                    elif isinstance(value, str):
                        ok = value == (raw.decode() if isinstance(raw, bytes) else raw)
                    else:
                        item = raw.item() if hasattr(raw, "item") else raw
                        widened = (type(value) is float and type(item) is int
                                   and float(item) == value and int(value) == item)
                        ok = (type(value) is type(item) or widened) and value == item
                    if not ok:
                        return f"{where}.{fld.name}: loaded {value!r}, file {raw!r}"
                elif fld.name in group:
                    item = group[fld.name]
                    if isinstance(item, h5py.Group):
                        bad = same(item, value, f"{where}.{fld.name}")
                        if bad:
                            return bad
                    else:
                        raw = item[()]
                        if (np.shape(raw) != np.shape(value) or np.iscomplexobj(raw)
                                or not np.array_equal(np.asarray(raw), np.asarray(value))):
                            return f"{where}.{fld.name}: array differs from the file"
                elif value is not None:
                    return f"{where}.{fld.name}: absent in the file, loaded as {value!r:.40}"
            return None

        for i, name in enumerate(order):
            bad = same(f["nodes"][str(i)], graph.nodes[name], name)
            if bad:
                return bad
    return None


def run_case(kind: str, path: Path, seeds: dict[str, Path], reference: dict[str, str]
             ) -> tuple[str, str]:
    """Load ``path`` (a file of ``kind``) and run its next stage: ``(outcome, detail)``."""
    from neurodeploy.errors import NeurodeployError

    try:
        if kind == "ndg":
            from neurodeploy.ir import load_graph

            graph = load_graph(path)  # the reader's own time limit (120 s wall)
            diff = _raw_matches(path, graph)
            if diff:
                return "different", diff
            out = _sim_outputs(graph)
            return ("equivalent", "") if _finite(out) else ("different", "non-finite output")
        if kind in ("nir", "net", "pt"):
            from neurodeploy.converters import convert_file

            graph = convert_file(path)
            out = _sim_outputs(graph)
        elif kind == "npz":
            from neurodeploy.data import load_dataset
            from neurodeploy.ir import load_graph
            from neurodeploy.sim import run_dataset

            ds = load_dataset(path)
            res = run_dataset(load_graph(seeds["ndg"]), ds, mode="fixed", progress=False)
            out = {"accuracy": res.accuracy, "n": len(ds)}
        else:
            from neurodeploy.energy import estimate_energy, load_profile
            from neurodeploy.ir import load_graph
            from neurodeploy.mapping import map_graph

            profile = load_profile(path)
            graph = load_graph(seeds["ndg"])
            mapping = map_graph(graph, profile)
            import numpy as np

            from neurodeploy.sim import simulate

            x = (np.random.default_rng(0).random((4, 2, 20)) < 0.3).astype(np.float32)
            sim = simulate(graph, x, mode="fixed")
            report = estimate_energy(graph, sim.counts, sim.T, [profile])
            from neurodeploy.report import report_dict

            out = {"cores": mapping.n_cores, "report": report_dict(report)}
    except NeurodeployError as exc:
        text = str(exc)
        if "\n" in text or not text or "internal error" in text:
            return "exception", f"malformed message: {text!r:.200}"
        if "reading the file took more than" in text:  # the reader's time limit cut a loop
            return "hang", text[:200]
        return "refused", text[:200]
    except Exception as exc:  # noqa: BLE001 - what the fuzzer looks for
        return "exception", f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    if not _finite(out):
        return "different", "accepted, but the next stage produced non-finite numbers"
    if _digest(out) == reference.get(kind):
        return "equivalent", ""
    return "valid-edit", ""


def worker(folder: Path) -> None:
    """Read ``kind path`` lines on stdin, answer one JSON line each on stdout."""
    import resource
    import warnings

    warnings.filterwarnings("ignore")
    limit = int(os.environ.get("FUZZ_MEMORY_BYTES", str(6 << 30)))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    seeds = {k: folder / f"seed.{k}" for k in KINDS if (folder / f"seed.{k}").exists()}
    reference: dict[str, str] = {}
    for kind in seeds:  # the seeds' own results, to recognise equivalent mutants
        outcome = run_case(kind, seeds[kind], seeds, {})
        if outcome[0] not in ("valid-edit", "equivalent"):
            raise SystemExit(f"seed {kind} does not run: {outcome}")
        reference[kind] = _reference_digest(kind, seeds)
    print("ready", flush=True)
    for line in sys.stdin:
        kind, path = line.rstrip("\n").split(" ", 1)
        outcome, detail = run_case(kind, Path(path), seeds, reference)
        print(json.dumps([outcome, detail]), flush=True)


def _reference_digest(kind: str, seeds: dict[str, Path]) -> str:
    """Digest of the seed's next-stage result (computed like :func:`run_case` does)."""
    captured: dict[str, str] = {}
    original = globals()["_digest"]

    def spy(obj: Any) -> str:
        captured["d"] = original(obj)
        return captured["d"]

    globals()["_digest"] = spy
    try:
        run_case(kind, seeds[kind], seeds, {})
    finally:
        globals()["_digest"] = original
    return captured.get("d", "")


# ---------------------------------------------------------------- mutations (in the driver)


def _resign(path: Path) -> None:
    from neurodeploy.ir.io import _write_header

    _write_header(path)


def _bytes_mutation(rng: random.Random, data: bytes, start: int = 0) -> bytes:
    buf = bytearray(data)
    how = rng.choice(("flip", "flip", "overwrite", "truncate", "zero-run"))
    if how == "truncate":
        return bytes(buf[: rng.randrange(0, len(buf))])
    if how == "zero-run":
        i = rng.randrange(start, len(buf))
        n = rng.randint(1, 64)
        buf[i:i + n] = bytes(len(buf[i:i + n]))
        return bytes(buf)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(start, len(buf))
        if how == "flip":
            buf[i] ^= 1 << rng.randrange(8)
        else:
            buf[i] = rng.randrange(256)
    return bytes(buf)


def _odd_value(rng: random.Random) -> Any:
    import numpy as np

    return rng.choice([
        0, -1, 1, 2**31, -(2**63), 10**9, 64, 1000, 2.7, -0.5, float("nan"), float("inf"),
        1e38, 3.4e38, 1e-45, True, "no", "", "abc", "[1, 2, 3]", "[64.7]", "[]", "{}",
        '{"T": -1}', "[[\"in\", \"fc1\", 1.9]]", np.arange(3), np.zeros((2, 2)),
        np.array([1 + 2j]), np.int64(2**40), np.float16(1.5), np.array(["x"], dtype="S"),
    ])


def _h5_mutation(rng: random.Random, path: Path, tmp: Path) -> None:
    """One structural or value edit of an HDF5 file, in place."""
    import h5py
    import numpy as np

    with h5py.File(path, "a") as f:
        groups: list[Any] = [f]
        f.visititems(lambda n, o: groups.append(o) if isinstance(o, h5py.Group) else None)
        g = rng.choice(groups)
        datasets = [k for k in g if isinstance(g.get(k, getlink=True), h5py.HardLink)
                    and isinstance(g[k], h5py.Dataset)]
        attrs = list(g.attrs)
        how = rng.choice(("attr-value", "attr-value", "attr-delete", "ds-replace", "ds-replace",
                          "ds-delete", "ds-huge", "link-soft", "link-external", "virtual",
                          "attr-new", "group-new"))
        if how == "attr-value" and attrs:
            g.attrs[rng.choice(attrs)] = _odd_value(rng)
        elif how == "attr-delete" and attrs:
            del g.attrs[rng.choice(attrs)]
        elif how == "ds-replace" and datasets:
            name = rng.choice(datasets)
            old = np.asarray(g[name][()])
            del g[name]
            choice = rng.randrange(6)
            if choice == 0:
                new = old.astype(rng.choice([np.float64, np.int64, np.complex64, np.int8,
                                             np.uint32, np.bool_]))
            elif choice == 1:
                new = old.reshape(-1) if old.ndim else np.array([old])
            elif choice == 2:
                new = np.full(old.shape, _odd_number(rng))
            elif choice == 3:
                new = old.astype(np.float64) * rng.choice([1e30, -1, 0, 1.5, 1e-30])
            elif choice == 4:
                new = np.zeros((0,) + old.shape[1:], old.dtype)
            else:
                new = np.array(b"text")
            g.create_dataset(name, data=new)
        elif how == "ds-delete" and datasets:
            del g[rng.choice(datasets)]
        elif how == "ds-huge" and datasets:
            name = rng.choice(datasets)
            del g[name]
            g.create_dataset(name, shape=(rng.choice([10**9, 2**31, 10**7]),), dtype=np.float32)
        elif how == "link-soft" and datasets:
            name = rng.choice(datasets)
            del g[name]
            g[name] = h5py.SoftLink(rng.choice(["/nodes", "/missing", f"{g.name}/{name}"]))
        elif how in ("link-external", "virtual") and datasets:
            other = tmp / "other.h5"
            name = rng.choice(datasets)
            value = np.asarray(g[name][()])
            with h5py.File(other, "w") as o:
                o.create_dataset("v", data=value)
            del g[name]
            if how == "virtual" and value.ndim:
                layout = h5py.VirtualLayout(shape=value.shape, dtype=value.dtype)
                layout[...] = h5py.VirtualSource(str(other), "v", shape=value.shape)
                g.create_virtual_dataset(name, layout)
            else:
                g[name] = h5py.ExternalLink(str(other), "/v")
        elif how == "attr-new":
            g.attrs[rng.choice(["extra", "du", "weight", "quant", "T"])] = _odd_value(rng)
        else:
            g.create_group(rng.choice(["extra", "quant", "9"]) + str(rng.randrange(3)))


def _odd_number(rng: random.Random) -> float:
    return rng.choice([0, -1, 2**31, -(2**31) - 1, 1e9, 3.4e38, float("nan"), float("inf"),
                       -float("inf"), 0.5, 4096, 4097, -2])


def _npz_mutation(rng: random.Random, src: Path, dst: Path) -> None:
    import numpy as np

    with np.load(src, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    key = rng.choice(sorted(arrays))
    how = rng.randrange(6)
    if how == 0:
        del arrays[key]
    elif how == 1:
        arrays[key] = arrays[key].astype(rng.choice([np.float64, np.int64, np.complex64,
                                                     np.bool_, np.int8, np.uint8]))
    elif how == 2:
        arrays[key] = np.full(arrays[key].shape, _odd_number(rng))
    elif how == 3:
        arrays[key] = arrays[key].reshape(-1)[: rng.randrange(0, arrays[key].size + 1)]
    elif how == 4:
        arrays[key] = np.array(rng.choice(["rate", "bogus", "spikes", ""]))
    else:
        arrays["extra"] = np.zeros(3)
    np.savez(dst, **arrays)


def _toml_mutation(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    idx = [i for i, ln in enumerate(lines) if "=" in ln and not ln.lstrip().startswith("#")]
    how = rng.randrange(5)
    if how == 0 and idx:
        del lines[rng.choice(idx)]
    elif how in (1, 2) and idx:
        i = rng.choice(idx)
        key = lines[i].split("=", 1)[0]
        lines[i] = key + "= " + rng.choice(
            ["nan", "inf", "-inf", "-1", "0", "1e308", "5", '"x"', "true", "[]", "{}",
             "[1, 2]", "99999999999999999999", "0.0", "1.5"])
    elif how == 3:
        lines.append(rng.choice(["memory = 5", "variants = 5", "[variants.x]\nac_pj = nan",
                                 "energy = 3", "[memory]\nsram_bytes = [1]\nsram_pj = [nan]\n"
                                 "access_bits = 8\ndram_pj = 1", "resources = []"]))
    else:
        return _bytes_mutation(rng, text.encode()).decode("utf-8", "replace")
    return "\n".join(lines) + "\n"


def _pt_value(rng: random.Random) -> Any:
    """An odd value for a checkpoint's arch, metadata or top level (plain Python mostly, as
    ``weights_only`` loading admits; sometimes a numpy object, which it refuses)."""
    import numpy as np

    value = rng.choice([_odd_value(rng), _odd_number(rng), 10**5, 10**9, 2**31, -1, 0,
                        [10**9], [1, 1, 1], [], {}, None, "linear", "cuba_lif"])
    if isinstance(value, np.ndarray) and rng.random() < 0.8:
        return value.tolist()
    if isinstance(value, np.generic) and rng.random() < 0.8:
        return value.item()
    return value


def _pt_mutation(rng: random.Random, src: Path, dst: Path) -> str:
    """One edit of the checkpoint dict (arch, state_dict, metadata, top level), saved with
    ``torch.save``; returns the edit's name."""
    import argparse as ap

    import torch

    ck = torch.load(src, map_location="cpu", weights_only=True)
    how = rng.choice(("arch", "arch", "arch-delete", "tensor", "tensor", "tensor-delete",
                      "tensor-extra", "metadata", "top", "pickled"))
    if how in ("arch", "arch-delete"):
        entry = rng.choice([ck["arch"], *ck["arch"]["layers"]])
        key = rng.choice(sorted(entry))
        if how == "arch-delete":
            del entry[key]
        else:
            entry[key] = _pt_value(rng)
    elif how in ("tensor", "tensor-delete", "tensor-extra"):
        sd = ck["state_dict"]
        key = rng.choice(sorted(sd))
        t = sd[key]
        if how == "tensor-delete":
            del sd[key]
        elif how == "tensor-extra":
            sd[key + "_extra"] = torch.zeros(3)
        else:
            choice = rng.randrange(6)
            if choice == 0:
                sd[key] = t.to(rng.choice([torch.int64, torch.complex64, torch.float64,
                                           torch.bool, torch.float16, torch.int8]))
            elif choice == 1:
                sd[key] = t.reshape(-1) if t.dim() != 1 else t.reshape(1, -1)
            elif choice == 2:
                sd[key] = torch.full(t.shape, float(_odd_number(rng)))
            elif choice == 3:
                sd[key] = t * rng.choice([1e30, -1.0, 0.0, 1e-30])
            elif choice == 4:
                sd[key] = torch.zeros((0,) + tuple(t.shape[1:]))
            else:
                sd[key] = torch.zeros(rng.choice([(10**6,), (2, 2)]))
    elif how == "metadata":
        ck["metadata"][rng.choice(["T", "dt", "encoding", "decoding", "task", "extra"])] = \
            _pt_value(rng)
    elif how == "top":
        key = rng.choice(["format", "version", "arch", "state_dict", "metadata"])
        if rng.random() < 0.3:
            del ck[key]
        else:
            ck[key] = _pt_value(rng)
    else:
        ck["metadata"]["note"] = ap.Namespace(code="runs on load")  # not weights_only
    torch.save(ck, dst)
    return f"pt-{how}"


def make_case(rng: random.Random, kind: str, seeds: dict[str, Path], out: Path) -> str:
    """Write one mutant of the ``kind`` seed to ``out``; returns the mutation's name."""
    seed = seeds[kind]
    if kind == "pt" and rng.random() < 0.6:
        return _pt_mutation(rng, seed, out)
    if kind == "npz" and rng.random() < 0.5:
        try:
            _npz_mutation(rng, seed, out)
            return "npz-arrays"
        except (ValueError, TypeError):  # an edit numpy refuses (text → int): bytes instead
            pass
    if kind == "toml":
        out.write_text(_toml_mutation(rng, seed.read_text()))
        return "toml-text"
    if kind in ("ndg", "net", "nir") and rng.random() < 0.6:
        shutil.copyfile(seed, out)
        for _ in range(rng.randint(1, 2)):
            try:
                _h5_mutation(rng, out, out.parent)
            except Exception:  # noqa: BLE001 - an edit h5py refuses is simply skipped
                pass
        if kind == "ndg":
            _resign(out)
        return "h5py-edit"
    data = seed.read_bytes()
    start = 512 if kind == "ndg" else 0
    out.write_bytes(_bytes_mutation(rng, data, start))
    if kind == "ndg" and rng.random() < 0.7 and out.stat().st_size >= 512:
        _resign(out)
        return "bytes-resigned"
    return "bytes"


# ---------------------------------------------------------------- the driver


class Worker:
    """A worker subprocess (imports once); restarted after a hang or a crash."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.proc: subprocess.Popen[str] | None = None
        self.slow = 0  # cases that answered only after their wall limit (a busy machine)

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", str(self.folder)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if line.strip() != "ready":
            raise SystemExit(f"fuzz worker failed to start: {line!r}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def run(self, kind: str, path: Path, timeout: float) -> tuple[str, str]:
        """Run one case. A hang is a case whose worker (with the children it forks) spends
        ``timeout`` CPU seconds without answering; past ``timeout`` wall seconds with less CPU
        than that, the machine is only busy, and the case gets up to ``SLOW_FACTOR`` times
        the wall time (counted in ``self.slow``) before it is a hang all the same."""
        import select

        if self.proc is None:
            self.start()
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        cpu0 = _tree_cpu(self.proc.pid)
        start = time.monotonic()
        self.proc.stdin.write(f"{kind} {path}\n")
        self.proc.stdin.flush()
        slow = False
        while True:
            wait = timeout if not slow else min(5.0, start + SLOW_FACTOR * timeout
                                                - time.monotonic())
            ready, _, _ = select.select([self.proc.stdout], [], [], max(wait, 0.0))
            if ready:
                break
            cpu = _tree_cpu(self.proc.pid) - cpu0
            wall = time.monotonic() - start
            if cpu >= timeout or wall >= SLOW_FACTOR * timeout:
                self.stop()
                return "hang", f"no answer in {wall:.0f} s ({cpu:.0f} CPU-s)"
            slow = True
        if slow:
            self.slow += 1
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.proc = None
            return "exception", f"worker died (exit {code})"
        outcome, detail = json.loads(line)
        return outcome, detail


#: a case past its wall limit that used less CPU than the limit (a busy machine) may take up
#: to this many times the limit before it counts as a hang
SLOW_FACTOR = 10


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid``, its reaped children and its live
    descendants (Linux ``/proc``; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15]) / tick  # utime stime cutime cstime
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError, IndexError):
            continue
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="CPU seconds a case may spend (a hang beyond); see Worker.run")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--keep", type=Path, default=None, help="copy failing cases here")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--progress", type=int, default=0, metavar="N",
                    help="print the running counts on stderr every N cases")
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    kinds = [k for k in args.kinds.split(",") if k]
    if not kinds or any(k not in KINDS for k in kinds) or args.cases < 1 or args.timeout <= 0:
        ap.error(f"--kinds from {','.join(KINDS)}, --cases >= 1, --timeout > 0")
    rng = random.Random(args.seed)
    counts = {k: {o: 0 for o in OUTCOMES} for k in kinds}
    failures: list[str] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nd-fuzz-") as tmpdir:
        folder = Path(tmpdir)
        seeds = write_seeds(folder)
        work = Worker(folder)
        try:
            for i in range(args.cases):
                kind = kinds[i % len(kinds)]
                case = folder / f"case.{kind}"
                for extra in folder.glob("other.h5"):
                    extra.unlink()
                mutation = make_case(rng, kind, seeds, case)
                outcome, detail = work.run(kind, case, args.timeout)
                counts[kind][outcome] += 1
                if args.progress and (i + 1) % args.progress == 0:
                    done = {o: sum(c[o] for c in counts.values()) for o in OUTCOMES}
                    print(f"[{i + 1}/{args.cases}, {time.perf_counter() - start:.0f} s] "
                          + " ".join(f"{o}={n}" for o, n in done.items()), file=sys.stderr,
                          flush=True)
                if outcome in FAILURES:
                    failures.append(f"case {i} ({kind}, {mutation}): {outcome}: {detail}")
                    if args.keep is not None:
                        args.keep.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(case, args.keep / f"case{i}.{kind}")
        finally:
            work.stop()
    slow = work.slow
    seconds = time.perf_counter() - start
    total = {o: sum(c[o] for c in counts.values()) for o in OUTCOMES}
    if args.json:
        print(json.dumps({"cases": args.cases, "seed": args.seed, "seconds": round(seconds, 1),
                          "total": total, "by_kind": counts, "failures": failures[:50],
                          "slow_not_hang": slow},
                         indent=2))
    else:
        print(f"{args.cases} cases, seed {args.seed}, {seconds:.0f} s")
        print(f"{'kind':<6}" + "".join(f"{o:>12}" for o in OUTCOMES))
        for k in kinds:
            print(f"{k:<6}" + "".join(f"{counts[k][o]:>12}" for o in OUTCOMES))
        print(f"{'all':<6}" + "".join(f"{total[o]:>12}" for o in OUTCOMES))
        if slow:
            print(f"{slow} cases answered after {args.timeout:g} s wall having used less CPU "
                  "than that (a busy machine, not a hang)")
        for line in failures[:20]:
            print(line)
    return 1 if any(total[o] for o in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())
