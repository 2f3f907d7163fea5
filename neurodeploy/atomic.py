"""Atomic output files: write to a temporary name beside the target, then rename.

A crash or an error mid-write never leaves a half-written file under the user's name, and an
existing file is replaced only once the new one is complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from neurodeploy.errors import NeurodeployError


def check_writable_dir(directory: Path) -> None:
    """Raise NeurodeployError unless ``directory`` exists (or can be created) and is writable."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NeurodeployError(f"cannot create output directory '{directory}': "
                               f"{exc.strerror or exc}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise NeurodeployError(f"output directory '{directory}' is not writable")


def _same(a: Path, b: Path) -> bool:
    """Whether paths ``a`` and ``b`` name the same file (links and ``..`` resolved)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _inside(path: Path, directory: Path) -> bool:
    """Whether ``path`` (resolved) lies inside ``directory`` (resolved), or is it."""
    p, d = path.resolve(), directory.resolve()
    return p == d or d in p.parents


def refuse_input_overwrite(output: str | os.PathLike[str] | None,
                           inputs: Iterable[str | os.PathLike[str] | None],
                           option: str = "-o/--output", directory: bool = False) -> None:
    """Raise NeurodeployError when writing ``output`` would replace or delete one of the user's
    ``inputs`` (the same file, through links too; with ``directory``, any input inside it).

    Every verb calls this before it starts work, so a mistyped ``-o`` never costs the user a
    file.
    """
    if output is None:
        return
    out = Path(output)
    for item in inputs:
        if item is None:
            continue
        src = Path(item)
        if _same(out, src) or (directory and _inside(src, out)):
            where = "is" if _same(out, src) else "contains"
            raise NeurodeployError(f"{option} {out} {where} the input {src}; choose another "
                                   "output (neurodeploy never overwrites its inputs)")


def umask() -> int:
    """The process umask (read by setting and restoring it: there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it to ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    target = Path(path)
    if target.is_dir():
        raise NeurodeployError(f"output '{target}' is a directory; give a file name")
    check_writable_dir(target.parent if str(target.parent) else Path("."))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise NeurodeployError(f"cannot write '{target}': {exc.strerror or exc}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes 0600 files; give the result the mode a plain open() would have
        if tmp_path.exists() and not tmp_path.is_dir():
            os.chmod(tmp_path, 0o666 & ~umask())
        try:
            os.replace(tmp_path, target)
        except OSError as exc:
            raise NeurodeployError(f"cannot write '{target}': {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
