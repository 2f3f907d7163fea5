"""The checkpoint file: a plain dict loadable with ``torch.load(path, weights_only=True)``::

    {"format": "neurodeploy-ckpt", "version": 1,
     "arch": <JSON-able layer description, see neurodeploy.nn.model>,
     "state_dict": {name: tensor},
     "metadata": {"task", "method", "T", "encoding", "dt", "decoding", "two_weights",
                  "test_accuracy", "hyperparameters", ...}}

No pickled classes: the model is rebuilt from ``arch`` and filled from ``state_dict``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from neurodeploy.atomic import atomic_path
from neurodeploy.errors import NeurodeployError
from neurodeploy.nn.model import SNN, build_model, layer_arch

FORMAT = "neurodeploy-ckpt"
VERSION = 1


def save_checkpoint(path: str | os.PathLike[str], model: SNN, metadata: dict[str, Any]) -> None:
    """Write ``model`` and ``metadata`` (JSON-able) to ``path`` atomically."""
    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as exc:
        raise NeurodeployError(f"{path}: checkpoint metadata must be JSON-able ({exc})") from None
    ckpt = {"format": FORMAT, "version": VERSION, "arch": model.arch(),
            "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            "metadata": dict(metadata)}
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as a plain torch.save would (mkstemp makes it 0600)


def check_torch_zip(p: Path) -> None:
    """Refuse a file that is not the zip archive ``torch.save`` writes, or whose entries are
    compressed or declare more bytes than the file holds (what loading would allocate is then
    bounded by the file's size)."""
    import zipfile

    try:
        with zipfile.ZipFile(p) as z:
            infos = z.infolist()
    except Exception as exc:  # noqa: BLE001 - zipfile raises many types on a crafted file
        raise NeurodeployError(f"{p}: not a readable neurodeploy checkpoint (not the zip "
                               f"archive torch.save writes: {type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:160]})") from None
    size = p.stat().st_size
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED:
            raise NeurodeployError(f"{p}: entry '{info.filename:.80}' is compressed; "
                                   "torch.save stores its entries (a crafted file)")
        if info.file_size > size:
            raise NeurodeployError(f"{p}: entry '{info.filename:.80}' declares "
                                   f"{info.file_size} bytes, more than the file's {size}")


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checked checkpoint dict of ``path`` (NeurodeployError naming the file if bad)."""
    p = Path(path)
    if not p.is_file():
        raise NeurodeployError(f"{p}: no such checkpoint file")
    check_torch_zip(p)
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        msg = " ".join(str(exc).split())[:200]
        raise NeurodeployError(f"{p}: not a readable neurodeploy checkpoint ({msg})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise NeurodeployError(f"{p}: not a neurodeploy checkpoint (no format "
                               f"'{FORMAT}'; train one with `neurodeploy train`)")
    if ckpt.get("version") != VERSION:
        raise NeurodeployError(f"{p}: checkpoint version {ckpt.get('version')!r:.40} is not "
                               f"supported (this neurodeploy reads version {VERSION})")
    for key, typ in (("arch", dict), ("state_dict", dict), ("metadata", dict)):
        if not isinstance(ckpt.get(key), typ):
            raise NeurodeployError(f"{p}: checkpoint entry '{key}' is missing or not a dict")
    return ckpt


def _build(arch: dict, p: Path) -> SNN:
    """:func:`build_model` with every failure one line naming ``p``."""
    try:
        return build_model(arch)
    except NeurodeployError as exc:
        raise NeurodeployError(f"{p}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - arch comes from the file: any shape of nonsense
        raise NeurodeployError(f"{p}: bad arch ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:200]})") from None


def _same(a: Any, b: Any) -> bool:
    """``a`` (from the file) is what the model describes back as ``b``, with the same types
    throughout: ``True`` is not ``1``, ``"1"`` not ``1``; an integer where a float is read
    passes only when exact (as in a graph file). As the layers read them, a None (or a
    dict key an older file lacks) means the default, whatever that resolves to."""
    if a is None:
        return True
    if type(a) is int and type(b) is float:
        return float(a) == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return all(k in b and _same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _check_arch(arch: dict, model: SNN, p: Path) -> None:
    """Refuse an arch that the model built from it does not describe back exactly: a value
    coerced on the way (``binary: 5`` taken as true, ``[20.7]`` as 20) or a key no layer
    reads. Keys an older checkpoint lacks are allowed (the layer rebuilds as it was)."""
    built: dict[str, Any] = {"input_shape": list(model.input_shape), "layers": []}
    for name, module in zip(model.names, model.layers, strict=True):
        try:
            built["layers"].append(layer_arch(name, module))
        except Exception as exc:  # noqa: BLE001 - a value the layer took but cannot describe
            raise NeurodeployError(f"{p}: layer '{name}': bad arch entry ({type(exc).__name__}"
                                   f": {' '.join(str(exc).split())[:200]})") from None
    for key, value in arch.items():
        if key not in built:
            raise NeurodeployError(f"{p}: arch key '{key:.40}' is not part of a model's arch")
        if key != "layers" and not _same(value, built[key]):
            raise NeurodeployError(f"{p}: arch '{key}' = {value!r:.60} is not a list of sizes")
    for entry, back in zip(arch["layers"], built["layers"], strict=True):
        for key, value in entry.items():
            if key not in back:
                raise NeurodeployError(f"{p}: layer '{back['name']}' ({back['type']}): arch "
                                       f"key '{key:.40}' is not part of the layer")
            if not _same(value, back[key]):
                raise NeurodeployError(f"{p}: layer '{back['name']}' ({back['type']}): arch "
                                       f"'{key}' = {value!r:.60} is read as {back[key]!r:.60}")


def _check_state_dict(model: SNN, state: dict[str, Any], p: Path) -> None:
    """Refuse a state_dict that does not hold exactly ``model``'s tensors (a model built on
    the meta device: shapes only): every name, of the same dtype (no casting) and shape,
    with finite values. Names are reported as layer and field."""

    def fail(key: str, what: str) -> NeurodeployError:
        parts = key.split(".")
        where = f"state_dict entry '{key:.80}'"
        if len(parts) >= 3 and parts[0] == "layers" and parts[1].isdigit():
            i = int(parts[1])
            if i < len(model.names):
                where = f"layer '{model.names[i]}' field '{'.'.join(parts[2:])}'"
        return NeurodeployError(f"{p}: state_dict does not match the arch: {where} {what}")

    expected = model.state_dict()
    extra = sorted(set(state) - set(expected), key=str)
    if extra:
        raise fail(str(extra[0]), "is not part of the arch's model")
    for key, want in expected.items():
        if key not in state:
            raise fail(key, "is missing")
        got = state[key]
        if not isinstance(got, torch.Tensor):
            raise fail(key, f"is a {type(got).__name__}, not a tensor")
        if got.dtype != want.dtype:
            raise fail(key, f"has dtype {got.dtype}; expected {want.dtype}")
        if tuple(got.shape) != tuple(want.shape):
            raise fail(key, f"has shape {tuple(got.shape)}; the arch gives {tuple(want.shape)}")
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise fail(key, "holds NaN or infinite values")


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[SNN, dict[str, Any]]:
    """The model (in eval mode) and metadata saved in ``path``. The arch is first built on
    the meta device (no memory) and the state_dict checked against it, so what is allocated
    is what the file holds; the arch must then be what the built model describes back."""
    p = Path(path)
    ckpt = read_checkpoint(p)
    with torch.device("meta"):
        _check_state_dict(_build(ckpt["arch"], p), ckpt["state_dict"], p)
    model = _build(ckpt["arch"], p)
    _check_arch(ckpt["arch"], model, p)  # on real tensors: a layer's arch may read values
    try:
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except Exception as exc:  # noqa: BLE001 - checked above; a layer's own check, one line
        msg = " ".join(str(exc).split())[:200]
        raise NeurodeployError(f"{p}: state_dict does not match the arch ({msg})") from None
    model.eval()
    return model, dict(ckpt["metadata"])
