"""Checkpoints (``.pt``) a user or an attacker hands us: read with ``weights_only`` (no pickle
runs), the arch built first on the meta device so a huge declared layer allocates nothing,
every state_dict tensor of the exact dtype and shape the arch gives and finite, the arch
exactly what the built model describes back (no coercion), the zip archive's entries stored
and no larger than the file; each refusal one line naming the file, layer and field."""

from __future__ import annotations

import io
import resource
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from neurodeploy.converters import convert_file

from neurodeploy.errors import NeurodeployError
from neurodeploy.nn import convnet, mlp
from neurodeploy.nn.checkpoint import load_checkpoint, save_checkpoint

META = {"T": 4, "dt": 1e-3, "task": "t", "encoding": "spikes"}


def _saved(tmp_path: Path, edit: Callable[[dict[str, Any]], None] | None = None,
           model: Any = None) -> Path:
    path = tmp_path / "m.pt"
    torch.manual_seed(0)
    save_checkpoint(path, model if model is not None else mlp(20, [16], 10), META)
    if edit is not None:
        ck = torch.load(path, weights_only=True)
        edit(ck)
        torch.save(ck, path)
    return path


def _layer(i: int, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda ck: ck["arch"]["layers"][i].__setitem__(key, value)


def _tensor(key: str, make: Callable[[torch.Tensor], Any]) -> Callable[[dict[str, Any]], None]:
    def edit(ck: dict[str, Any]) -> None:
        if make is None:
            del ck["state_dict"][key]
        else:
            ck["state_dict"][key] = make(ck["state_dict"][key])
    return edit


CASES = [
    # coercions the model builder would make silently
    (_layer(0, "binary", 5), r"layer 'fc1' \(linear\): arch 'binary' = 5 is read as True"),
    (_layer(0, "bias", 0), r"layer 'fc1' \(linear\): arch 'bias' = 0 is read as False"),
    (_layer(1, "refractory", 2.7), r"layer 'lif1' \(cuba_lif\): arch 'refractory' = 2.7 is "
                                   r"read as 2"),
    (_layer(1, "surprise", 1), r"layer 'lif1' \(cuba_lif\): arch key 'surprise' is not part"),
    (lambda ck: ck["arch"].__setitem__("input_shape", [20.0]),
     r"arch 'input_shape' = \[20.0\] is not a list of sizes"),
    # nonsense the builder raised on (internal errors before)
    (lambda ck: ck["arch"].__setitem__("layers", None), r"m\.pt: bad arch \(TypeError"),
    (lambda ck: ck["arch"].__setitem__("input_shape", 5), r"m\.pt: bad arch \(TypeError"),
    (_layer(3, "weights", -1), r"m\.pt: layer 'out': bad arch entry \(TypeError: iteration "
                               r"over a 0-d tensor\)"),  # seed-1 fuzz run, case 557
    # state_dict tensors: exact dtype and shape, finite, no more and no fewer
    (_tensor("layers.0.weight", lambda t: t.to(torch.int64)),
     r"layer 'fc1' field 'weight' has dtype torch.int64; expected torch.float32"),
    (_tensor("layers.0.weight", lambda t: t.to(torch.complex64)),
     r"layer 'fc1' field 'weight' has dtype torch.complex64"),
    (_tensor("layers.2.weight", lambda t: t.reshape(-1)),
     r"layer 'fc_out' field 'weight' has shape \(160,\); the arch gives \(10, 16\)"),
    (_tensor("layers.1.vth", lambda t: torch.full(t.shape, float("nan"))),
     r"layer 'lif1' field 'vth' holds NaN or infinite values"),
    (_tensor("layers.1.vth", lambda t: torch.zeros((0,))),
     r"layer 'lif1' field 'vth' has shape \(0,\)"),
    (_tensor("layers.0.weight", None), r"layer 'fc1' field 'weight' is missing"),
    (lambda ck: ck["state_dict"].__setitem__("layers.9.extra", torch.zeros(2)),
     r"state_dict entry 'layers.9.extra' is not part of the arch's model"),
    (lambda ck: ck["state_dict"].__setitem__("layers.0.weight", [1.0]),
     r"layer 'fc1' field 'weight' is a list, not a tensor"),
    # top level and metadata
    (lambda ck: ck.__setitem__("version", 99), r"checkpoint version 99 is not supported"),
    (lambda ck: ck.__setitem__("state_dict", []), r"entry 'state_dict' is missing or not"),
    (lambda ck: ck["metadata"].__setitem__("T", -1), r"metadata 'T' = -1 must be a whole"),
]


@pytest.mark.parametrize("edit,message", CASES)
def test_bad_checkpoint_is_one_line(tmp_path: Path, edit, message: str) -> None:
    path = _saved(tmp_path, edit)
    with pytest.raises(NeurodeployError, match=message) as info:
        convert_file(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_a_huge_declared_layer_allocates_nothing(tmp_path: Path) -> None:
    """An arch of 40000 x 40000 weights (6.4 GB as float32) and a state_dict of the real
    size: refused on the meta model, before a byte of the layer exists."""
    def edit(ck: dict[str, Any]) -> None:
        ck["arch"]["input_shape"] = [40000]
        ck["arch"]["layers"][0]["in_features"] = 40000
        ck["arch"]["layers"][0]["out_features"] = 40000
    path = _saved(tmp_path, edit)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(NeurodeployError, match=r"layer 'fc1' field 'weight' has shape "
                                               r"\(16, 20\); the arch gives \(40000, 40000\)"):
        load_checkpoint(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 1 << 20  # KiB: 1 GiB


def test_archive_is_checked_before_torch_reads_it(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    raw = path.read_bytes()
    (tmp_path / "t.pt").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(NeurodeployError, match=r"t\.pt: not a readable neurodeploy checkpoint "
                                               r"\(not the zip archive torch.save writes"):
        convert_file(tmp_path / "t.pt")
    # the same entries, deflated: a decompression bomb's shape
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp_path / "z.pt", "w",
                                                       zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    with pytest.raises(NeurodeployError, match=r"z\.pt: entry '.*' is compressed; torch.save "
                                               r"stores its entries"):
        convert_file(tmp_path / "z.pt")
    legacy = tmp_path / "legacy.pt"
    torch.save(torch.load(path, weights_only=True), legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(NeurodeployError, match=r"legacy\.pt: not a readable neurodeploy "
                                               r"checkpoint \(not the zip archive"):
        convert_file(legacy)


def test_a_pickled_object_never_runs(tmp_path: Path) -> None:
    import argparse

    path = _saved(tmp_path, lambda ck: ck["metadata"].__setitem__(
        "note", argparse.Namespace(code="would run")))
    with pytest.raises(NeurodeployError, match=r"m\.pt: not a readable neurodeploy checkpoint "
                                               r"\(Weights only load failed"):
        convert_file(path)
    buf = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), buf)
    (tmp_path / "mod.pt").write_bytes(buf.getvalue())
    from neurodeploy.cli.export import load_source

    with pytest.raises(NeurodeployError, match=r"mod\.pt: holds a pickled Python object"):
        load_source(tmp_path / "mod.pt")


@pytest.mark.parametrize("model", [
    lambda: mlp(20, [16], 10, two_weights=[0.5, 1.0, 1.5, 2.0]),
    lambda: convnet((1, 8, 8), [4], 10, pool="sum"),
    lambda: mlp(20, [16], 10, binary=True, per_neuron=True),
])
def test_checkpoints_neurodeploy_writes_still_load(tmp_path: Path, model) -> None:
    m = model()
    path = _saved(tmp_path, model=m)
    loaded, meta = load_checkpoint(path)
    assert meta == META and loaded.arch() == m.arch()
    for key, value in m.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_an_older_arch_without_later_keys_still_loads(tmp_path: Path) -> None:
    """Keys added to the arch later (``learn_du``, the spike config's ``delta``, ``p``,
    ``asgl_width``) may be absent, and ``alpha`` None (the surrogate's default)."""
    def edit(ck: dict[str, Any]) -> None:
        lif = ck["arch"]["layers"][1]
        del lif["learn_du"]
        lif["spike"] = {"surrogate": lif["spike"]["surrogate"], "alpha": None,
                        "method": "plain"}
    model, meta = load_checkpoint(_saved(tmp_path, edit))
    assert meta == META and model.arch()["layers"][1]["spike"]["alpha"] == 10.0
