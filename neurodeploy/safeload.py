"""Limits for reading files a user (or an attacker) hands us.

- :func:`in_child`: run a parse in a forked child under a time and memory limit (the HDF5
  library can loop forever on a crafted file; a child costs the limit, not the process);
- :func:`check_hdf5_tree`: refuse links out of an HDF5 file, virtual or externally stored
  datasets and datasets declaring more elements than a cap, before any value is read.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.errors import NeurodeployError

#: the largest dataset a file we read may declare (elements)
MAX_DATASET_ELEMENTS = 1 << 27


def check_hdf5_tree(f: Any, path: Path, max_elements: int = MAX_DATASET_ELEMENTS) -> None:
    """Walk every link of open h5py file ``f`` without following any; raise a one-line
    NeurodeployError at a soft or external link, a virtual or externally stored dataset, or a
    dataset declaring more than ``max_elements`` elements."""
    import h5py

    def walk(group: Any, where: str) -> None:
        for name in group:
            link = group.get(name, getlink=True)
            at = f"{where}/{name}"
            if not isinstance(link, h5py.HardLink):
                raise NeurodeployError(f"{path}: {at} is a {type(link).__name__}; only the "
                                       "file's own objects are read")
            obj = group[name]
            if isinstance(obj, h5py.Group):
                walk(obj, at)
            elif isinstance(obj, h5py.Dataset):
                if obj.is_virtual or obj.external:
                    raise NeurodeployError(f"{path}: {at} is a virtual or external dataset; "
                                           "only the file's own values are read")
                size = int(np.prod(obj.shape, dtype=np.float64)) if obj.shape else 1
                if size > max_elements:
                    raise NeurodeployError(f"{path}: {at} declares {size} elements, more than "
                                           f"the {max_elements} allowed")

    walk(f, "")


def _vm_bytes() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def in_child(fn: Callable[[], Any], path: Path, timeout: float,
             memory: int = 8 << 30) -> Any:
    """Run ``fn`` in a forked child under a time and memory limit and return its result (or
    raise its NeurodeployError). The HDF5 library can loop forever or allocate without bound
    on a crafted file; in a child that costs ``timeout`` seconds, not the process. ``memory``:
    bytes the child may add. ``fn``'s result must pickle. Without ``fork`` (Windows), ``fn``
    runs here."""
    import pickle
    import select
    import signal
    import time

    if not hasattr(os, "fork"):
        return fn()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns
        try:
            os.close(r)
            vm = _vm_bytes()
            if vm:
                import resource

                soft, hard = resource.getrlimit(resource.RLIMIT_AS)
                limit = vm + memory
                if hard != resource.RLIM_INFINITY:
                    limit = min(limit, hard)
                with contextlib.suppress(ValueError, OSError):
                    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
            try:
                result: tuple[str, Any] = ("ok", fn())
            except NeurodeployError as exc:
                result = ("error", str(exc))
            except MemoryError:
                result = ("error", f"{path}: reading it needs more memory than the "
                                   f"{memory >> 30} GiB allowed")
            except Exception as exc:  # a bug of ours, reported (not a silent refusal)
                result = ("error", f"{path}: internal error reading the file "
                                   f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})")
            data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(data)
            while view:
                view = view[os.write(w, view):]
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NeurodeployError(f"{path}: reading the file took more "
                                       f"than {timeout:g} s (a damaged or crafted file); refused")
            ready, _, _ = select.select([r], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(r, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(r)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    if not chunks:
        raise NeurodeployError(f"{path}: the HDF5 library failed reading the file (a damaged "
                               "or crafted file); refused")
    status, value = pickle.loads(b"".join(chunks))  # our own child's output
    if status != "ok":
        raise NeurodeployError(value)
    return value


