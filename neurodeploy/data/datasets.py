"""Datasets as plain arrays: the bundled tasks, and ``.npz`` files users bring."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurodeploy.atomic import atomic_path
from neurodeploy.data.encoding import ENCODINGS
from neurodeploy.data.randman import make_randman
from neurodeploy.errors import NeurodeployError

TASKS = ("digits", "digits-image", "randman")
SPLITS = ("train", "test", "all")


@dataclass(eq=False)
class Dataset:
    """Samples and labels.

    ``x`` is ``[N, *shape]`` float32 for static data (``direct``/``rate`` encoding) or
    ``[N, T, *shape]`` for ``spikes``; ``y`` is ``[N]`` int64 class labels in
    ``[0, n_classes)``. ``T`` is the number of steps of spike data (None for static data).
    """

    x: np.ndarray
    y: np.ndarray
    name: str
    encoding: str = "direct"
    n_classes: int = 0
    T: int | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        """Per-sample, per-step input shape (without N and T)."""
        return tuple(self.x.shape[2:] if self.encoding == "spikes" else self.x.shape[1:])

    def subset(self, index: np.ndarray | slice) -> Dataset:
        """The samples at ``index`` (same name, encoding, classes)."""
        return Dataset(self.x[index], self.y[index], self.name, self.encoding, self.n_classes,
                       self.T)


def _split(n: int, y: np.ndarray, test_fraction: float, split: str) -> np.ndarray:
    """Indices of ``split``: a stratified split, fixed (seed 0) so every run sees the same."""
    if split == "all":
        return np.arange(n)
    rng = np.random.default_rng(0)
    test = []
    for k in np.unique(y):
        idx = np.flatnonzero(y == k)
        rng.shuffle(idx)
        test.append(idx[: int(round(len(idx) * test_fraction))])
    is_test = np.zeros(n, bool)
    is_test[np.concatenate(test)] = True
    return np.flatnonzero(is_test if split == "test" else ~is_test)


def _digits(image: bool, split: str) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    if image:
        x = x.reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    idx = _split(len(y), y, 0.3, split)
    return Dataset(x[idx], y[idx], "digits-image" if image else "digits", "direct", 10)


def _randman(split: str, seed: int) -> Dataset:
    x, y = make_randman(seed=seed)
    idx = _split(len(y), y, 0.2, split)
    return Dataset(x[idx], y[idx], "randman", "spikes", int(y.max()) + 1, x.shape[1])


def _npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as f:
            if "x" not in f or "y" not in f:
                raise NeurodeployError(f"{path}: a dataset file needs arrays 'x' and 'y', found "
                                       f"{sorted(f.files)}")
            x, y = np.asarray(f["x"]), np.asarray(f["y"])
            encoding = str(f["encoding"]) if "encoding" in f else None
    except NeurodeployError:
        raise
    except Exception as exc:
        raise NeurodeployError(f"{path}: not a readable .npz dataset ({' '.join(str(exc).split())})"
                               ) from None
    if x.ndim < 2:
        raise NeurodeployError(f"{path}: x has shape {list(x.shape)}; needs [N, ...] samples")
    if y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise NeurodeployError(f"{path}: x has {x.shape[0]} samples but y has shape "
                               f"{list(y.shape)} (needs [N] labels)")
    if (not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x)
            or not np.all(np.isfinite(x))):
        raise NeurodeployError(f"{path}: x must be finite real numbers")
    if x.dtype != np.float32 and not np.array_equal(x.astype(np.float32).astype(x.dtype), x):
        raise NeurodeployError(f"{path}: x holds {x.dtype} values float32 cannot represent "
                               "exactly")
    if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
        raise NeurodeployError(f"{path}: y must hold non-negative integer class labels")
    if encoding is None:  # binary data with a time axis is spike data
        encoding = "spikes" if x.ndim >= 3 and np.isin(x, (0, 1)).all() else "direct"
    if encoding not in ENCODINGS:
        raise NeurodeployError(f"{path}: unknown encoding '{encoding}' "
                               f"(choose from {', '.join(ENCODINGS)})")
    n_classes = int(y.max()) + 1 if y.size else 0
    return Dataset(x.astype(np.float32), y.astype(np.int64), path.stem, encoding, n_classes,
                   int(x.shape[1]) if encoding == "spikes" else None)


def load_dataset(spec: str | os.PathLike[str], split: str = "test", seed: int = 0,
                 limit: int | None = None) -> Dataset:
    """Load a task by name (``digits``, ``digits-image``, ``randman``) or a ``.npz`` file.

    ``split``: ``train`` | ``test`` | ``all`` (files are returned whole). ``seed`` seeds the
    Randman generator. ``limit`` keeps the first ``limit`` samples.
    """
    if split not in SPLITS:
        raise NeurodeployError(f"unknown split '{split}' (choose from {', '.join(SPLITS)})")
    text = str(spec)
    if text in ("digits", "digits-image"):
        ds = _digits(text == "digits-image", split)
    elif text == "randman":
        ds = _randman(split, seed)
    else:
        path = Path(text)
        if not path.exists():
            raise NeurodeployError(f"dataset '{text}': neither a task ({', '.join(TASKS)}) nor "
                                   "an existing .npz file")
        ds = _npz(path)
    if limit is not None:
        if limit < 1:
            raise NeurodeployError(f"limit must be >= 1, got {limit}")
        ds = ds.subset(slice(0, limit))
    return ds


def save_dataset(ds: Dataset, path: str | os.PathLike[str]) -> None:
    """Write ``ds`` as ``.npz`` (``x``, ``y``, ``encoding``) atomically; ``load_dataset`` reads it."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, x=ds.x, y=ds.y, encoding=np.array(ds.encoding))
