"""Limits for reading files a user (or an attacker) hands us.

- :func:`in_child`: run a parse in a forked child under a time and memory limit (the HDF5
  library can loop forever on a crafted file; a child costs the limit, not the process);
- :func:`check_hdf5_tree`: refuse links out of an HDF5 file, virtual or externally stored
  datasets and datasets declaring more elements than a cap, before any value is read;
- :func:`check_global_heaps`: refuse a damaged HDF5 global heap (where variable-length strings
  live) on which the HDF5 library itself would loop forever.
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

    check_global_heaps(f, path)

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


#: HDF5's smallest global heap collection (bytes, ``H5HG_MINSIZE``); a smaller declared size
#: is not a collection HDF5 would read, so a stray "GCOL" in data is not taken for one
_HEAP_MIN_BYTES = 4096


def _length_size(data: Any) -> int:
    """The superblock's "size of lengths" (bytes) of the HDF5 file in ``data``: the superblock
    sits at byte 0, 512, 1024, 2048, ...; 8 (h5py's) when it is not found."""
    at = 0
    while at + 16 <= len(data):
        if data[at:at + 8] == b"\x89HDF\r\n\x1a\n":
            version = data[at + 8]
            size = data[at + 14] if version < 2 else data[at + 10]
            return size if size in (2, 4, 8) else 8
        at = 512 if at == 0 else at * 2
    return 8


def _heap_walk_fault(data: Any, start: int, length_size: int) -> tuple[str, set[int]] | None:
    """Walk the global heap collection at byte ``start`` exactly as the HDF5 library decodes
    it (``H5HG__cache_heap_deserialize``: object headers of index, reference count, reserved,
    size; the next object at ``begin + header + size rounded up to 8``, or ``begin + size``
    for the free-space object 0). HDF5 never checks that this advances: a free-space object
    of size 0 loops forever. Returns what is wrong and the indexes of the objects decoded
    before it, or None for a collection whose objects tile it exactly (as every HDF5 writer
    leaves it) or that HDF5 would refuse itself."""
    header = 8 + length_size  # signature, version, reserved, collection size
    obj_header = 8 + length_size  # index, references, reserved, object size
    if start + header > len(data) or data[start + 4] != 1:
        return None  # not version 1: HDF5 refuses it with an error of its own
    size = int.from_bytes(data[start + 8:start + 8 + length_size], "little")
    if size < _HEAP_MIN_BYTES or start + size > len(data):
        return None  # not a collection HDF5 could load (a stray signature, or truncated)
    pos, decoded = header, set()
    while pos < size:
        if pos + obj_header > size:
            return None  # a tail too small for a header: HDF5 takes it as free space
        at = start + pos
        index = int.from_bytes(data[at:at + 2], "little")
        obj = int.from_bytes(data[at + 8:at + 8 + length_size], "little")
        need = obj_header + (obj + 7) // 8 * 8 if index else obj
        if need == 0:
            return (f"its free-space object at byte {at} has size 0, on which the HDF5 "
                    "library loops forever"), decoded
        if pos + need > size:
            return (f"object {index} at byte {at} declares {obj} bytes, past the "
                    f"collection's {size}"), decoded
        decoded.add(index)
        pos += need
    return None


def _vlen_datasets_into(f: Any, start: int, length_size: int) -> list[tuple[str, int]]:
    """``(name, object index)`` of the datasets of open h5py file ``f`` whose first
    variable-length value points into the global heap collection at byte ``start`` (read
    from the raw file bytes, so no heap is decoded; compact or chunked datasets, and
    attributes, are not located)."""
    import h5py

    found: list[tuple[str, int]] = []
    with open(f.filename, "rb") as fh:

        def visit(name: str, obj: Any) -> None:
            if not isinstance(obj, h5py.Dataset) or h5py.check_vlen_dtype(obj.dtype) is None:
                return
            offset = obj.id.get_offset()
            if offset is None:
                return
            fh.seek(offset)  # H5Dget_offset counts the user block; heap addresses do not
            raw = fh.read(8 + length_size)
            if int.from_bytes(raw[4:4 + length_size], "little") + f.userblock_size == start:
                found.append((name, int.from_bytes(raw[4 + length_size:], "little")))

        with contextlib.suppress(Exception):  # naming is a courtesy: the refusal stands
            f.visititems(visit)
    return found


def check_global_heaps(f: Any, path: Path) -> None:
    """Raise a one-line NeurodeployError naming ``path``, the dataset (group and field) whose
    text lives in a damaged global heap collection of open h5py file ``f`` (or "an
    attribute" where no dataset can be located) and the fault, when the collection would make
    the HDF5 library loop forever or read past it (see :func:`_heap_walk_fault`). Reads the
    file's bytes; decodes no HDF5 value."""
    import mmap

    with open(f.filename, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            length_size = _length_size(data)
            at = data.find(b"GCOL")
            while at >= 0:
                walked = _heap_walk_fault(data, at, length_size)
                if walked:
                    fault, decoded = walked
                    users = _vlen_datasets_into(f, at, length_size)
                    lost = [name for index, name in sorted((i, n) for n, i in users)
                            if index not in decoded]
                    where = (f"/{lost[0]}" if lost else f"/{users[0][0]}" if users
                             else "an attribute's text")
                    raise NeurodeployError(
                        f"{path}: {where}: its variable-length value lives in a damaged HDF5 "
                        f"global heap at byte {at}: {fault}; refused")
                at = data.find(b"GCOL", at + 4)


def _vm_bytes() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _die_with(parent: int, timeout: float) -> None:
    """In a forked child: end when ``parent`` dies (Linux ``PR_SET_PDEATHSIG``), and after
    ``timeout`` seconds of CPU in any case, so a parent killed while it waits (its own
    time limit never runs then) leaves no child spinning in the HDF5 library."""
    import resource
    import signal

    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
    seconds = int(timeout) + 2
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        used = resource.getrusage(resource.RUSAGE_SELF)
        limit = int(used.ru_utime + used.ru_stime) + seconds
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))


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
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # child: never returns
        try:
            os.close(r)
            _die_with(parent, timeout)
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


