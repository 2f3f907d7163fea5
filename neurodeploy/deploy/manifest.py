"""The bundle manifest: what was used to build it, and the SHA-256 of every file in it."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from neurodeploy import __version__
from neurodeploy.errors import NeurodeployError

MANIFEST = "manifest.json"
#: distributions whose versions a bundle records (absent ones are recorded as null)
PACKAGES = ("numpy", "torch", "h5py", "nir", "lava-nc", "lava-dl")


def _run_output(rel: str) -> bool:
    """Files a run of the bundle adds (run.py's results, SLURM logs): not part of the bundle."""
    name = rel.rsplit("/", 1)[-1]
    return "__pycache__" in rel or name == "results.json" or name.endswith(".out")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def package_versions() -> dict[str, str | None]:
    """Python, neurodeploy and the installed versions of :data:`PACKAGES`."""
    out: dict[str, str | None] = {"python": platform.python_version(), "neurodeploy": __version__}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def build_manifest(bundle: Path, info: dict[str, Any]) -> dict[str, Any]:
    """The manifest of every file under ``bundle`` (except the manifest itself): relative path
    → {sha256, bytes}, with ``info`` (target, model, backend facts) and package versions."""
    files = {}
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        rel = path.relative_to(bundle).as_posix()
        if rel == MANIFEST or _run_output(rel):
            continue
        files[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return {"format": "neurodeploy-bundle", "version": 1, **info,
            "versions": package_versions(), "files": files}


def write_manifest(bundle: Path, info: dict[str, Any]) -> dict[str, Any]:
    """Write ``manifest.json`` into ``bundle`` and return it."""
    manifest = build_manifest(bundle, info)
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return manifest


def verify_manifest(bundle: str | Path) -> list[str]:
    """Problems found checking ``bundle`` against its manifest: one line per missing, changed
    or unlisted file; an empty list means every hash verifies."""
    bundle = Path(bundle)
    try:
        manifest = json.loads((bundle / MANIFEST).read_text())
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NeurodeployError(f"{bundle / MANIFEST}: not a readable bundle manifest "
                               f"({' '.join(str(exc).split())})") from None
    problems = []
    for rel, entry in files.items():
        path = bundle / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{rel}: SHA-256 differs from the manifest")
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        rel = path.relative_to(bundle).as_posix()
        if rel != MANIFEST and rel not in files and not _run_output(rel):
            problems.append(f"{rel}: not listed in the manifest")
    return problems
