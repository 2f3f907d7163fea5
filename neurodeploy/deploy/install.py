"""Put a finished bundle directory in place of the user's output without ever losing both.

A bundle is written into a temporary directory beside the output (``.<name>.nd-XXXX.tmp``).
Installing it:

- no output yet: one ``rename`` (atomic);
- an output that is a bundle neurodeploy wrote (its ``manifest.json`` says so and it holds no
  file the manifest does not list): Linux's ``renameat2(RENAME_EXCHANGE)`` swaps the two
  directories in one atomic step, then the old one (now under the temporary name) is removed.
  Where the exchange is not available, the old bundle is first renamed aside
  (``.<name>.nd-XXXX.old``), the new one renamed in, the old one removed; a crash between the
  two renames is repaired by the next run, which renames the old bundle back.

A crash at any step therefore leaves the complete old or the complete new bundle under the
user's name, plus at most one leftover temporary directory that :func:`clean_leftovers`
removes on the next run. Any other directory is never replaced or deleted.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

from neurodeploy.errors import NeurodeployError

MANIFEST = "manifest.json"
TAG = ".nd-"

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap directories ``a`` and ``b``; False when the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _parent(out: Path) -> Path:
    return out.parent if str(out.parent) else Path(".")


def temp_dir(out: Path) -> Path:
    """A new empty temporary directory beside ``out`` to build the bundle in."""
    return Path(tempfile.mkdtemp(prefix=f".{out.name}{TAG}", suffix=".tmp", dir=_parent(out)))


def _leftovers(out: Path, suffix: str) -> list[Path]:
    parent = _parent(out)
    if not parent.is_dir():
        return []
    return sorted(p for p in parent.glob(f".{out.name}{TAG}*{suffix}")
                  if p.is_dir() and not p.is_symlink())


def clean_leftovers(out: Path) -> list[Path]:
    """Repair and remove what an interrupted earlier run left beside ``out``: an old bundle
    renamed aside while ``out`` is missing is renamed back; other temporary directories of
    ``out`` are removed. Returns the paths removed or restored."""
    done = []
    old = _leftovers(out, ".old")
    if not out.exists() and old:
        os.replace(old[-1], out)
        done.append(old.pop())
    for p in _leftovers(out, ".tmp") + old:
        shutil.rmtree(p, ignore_errors=True)
        done.append(p)
    return done


def unlisted_files(bundle: Path) -> list[str] | None:
    """Files under ``bundle`` its manifest does not list (run outputs excepted), or None when
    ``bundle`` holds no manifest neurodeploy wrote."""
    from neurodeploy.deploy.manifest import FORMAT, is_run_output

    try:
        manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        if manifest.get("format") != FORMAT or not isinstance(files, dict):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return [rel for rel in (p.relative_to(bundle).as_posix()
                            for p in sorted(bundle.rglob("*")) if p.is_file() or p.is_symlink())
            if rel != MANIFEST and rel not in files and not is_run_output(rel)]


def check_replaceable(out: Path, force: bool) -> None:
    """Raise NeurodeployError unless ``out`` may receive a new bundle: absent, an empty
    directory, or (with ``force``) a bundle neurodeploy wrote with no files of the user's."""
    if out.is_symlink():
        raise NeurodeployError(f"output '{out}' is a symbolic link; give the directory itself")
    if out.exists() and not out.is_dir():
        raise NeurodeployError(f"output '{out}' exists and is not a directory")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not force:
        raise NeurodeployError(f"output directory '{out}' is not empty; choose another or pass "
                               "--force to replace it")
    extra = unlisted_files(out)
    if extra is None:
        raise NeurodeployError(f"--force replaces only a bundle neurodeploy wrote; '{out}' has "
                               f"no neurodeploy {MANIFEST}: choose another directory")
    if extra:
        raise NeurodeployError(f"--force replaces only a bundle neurodeploy wrote; '{out}' holds "
                               f"{len(extra)} file(s) its manifest does not list (first: "
                               f"{extra[0]}): move them or choose another directory")


def install(tmp: Path, out: Path) -> None:
    """Move the finished bundle ``tmp`` to ``out`` (see the module docstring)."""
    if not out.exists():
        os.replace(tmp, out)
        return
    if _exchange(tmp, out):
        shutil.rmtree(tmp)  # tmp now holds the old bundle
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}{TAG}", suffix=".old", dir=_parent(out)))
    os.replace(out, old)    # old bundle aside: a crash now is repaired by clean_leftovers
    os.replace(tmp, out)
    shutil.rmtree(old)
