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
from neurodeploy.nn.model import SNN, build_model

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


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checked checkpoint dict of ``path`` (NeurodeployError naming the file if bad)."""
    p = Path(path)
    if not p.is_file():
        raise NeurodeployError(f"{p}: no such checkpoint file")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        msg = " ".join(str(exc).split())[:200]
        raise NeurodeployError(f"{p}: not a readable neurodeploy checkpoint ({msg})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise NeurodeployError(f"{p}: not a neurodeploy checkpoint (no format "
                               f"'{FORMAT}'; train one with `neurodeploy train`)")
    if ckpt.get("version") != VERSION:
        raise NeurodeployError(f"{p}: checkpoint version {ckpt.get('version')!r} is not "
                               f"supported (this neurodeploy reads version {VERSION})")
    for key, typ in (("arch", dict), ("state_dict", dict), ("metadata", dict)):
        if not isinstance(ckpt.get(key), typ):
            raise NeurodeployError(f"{p}: checkpoint entry '{key}' is missing or not a dict")
    return ckpt


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[SNN, dict[str, Any]]:
    """The model (in eval mode) and metadata saved in ``path``."""
    ckpt = read_checkpoint(path)
    try:
        model = build_model(ckpt["arch"])
    except NeurodeployError as exc:
        raise NeurodeployError(f"{path}: {exc}") from None
    try:
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except RuntimeError as exc:
        msg = " ".join(str(exc).split())[:200]
        raise NeurodeployError(f"{path}: state_dict does not match the arch ({msg})") from None
    model.eval()
    return model, dict(ckpt["metadata"])
