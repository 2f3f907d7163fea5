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
FORMAT = "neurodeploy-bundle"
VERSION = 2
#: the manifest's hash of its own canonical content (every other key, sorted, compact JSON)
SELF_HASH = "manifest_sha256"
MAX_MANIFEST_BYTES = 64 << 20
#: distributions whose versions a bundle records (absent ones are recorded as null)
PACKAGES = ("numpy", "torch", "h5py", "nir", "lava-nc", "lava-dl")


def is_run_output(rel: str) -> bool:
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
    → {sha256, bytes}, with ``info`` (target, model, backend facts), package versions and
    ``manifest_sha256``: the SHA-256 of the manifest's own canonical text without that key."""
    files = {}
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        rel = path.relative_to(bundle).as_posix()
        if rel == MANIFEST or is_run_output(rel):
            continue
        files[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest = {"format": FORMAT, "version": VERSION, **info,
                "versions": package_versions(), "files": files}
    manifest[SELF_HASH] = _self_hash(manifest)
    return manifest


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _self_hash(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in manifest.items()
                                      if k != SELF_HASH})).hexdigest()


def manifest_text(manifest: dict[str, Any]) -> str:
    """The one text a manifest is written as (verification demands exactly these bytes)."""
    return json.dumps(manifest, indent=2, ensure_ascii=True) + "\n"


def write_manifest(bundle: Path, info: dict[str, Any]) -> dict[str, Any]:
    """Write ``manifest.json`` into ``bundle`` and return it."""
    manifest = build_manifest(bundle, info)
    (bundle / MANIFEST).write_text(manifest_text(manifest), encoding="ascii")
    return manifest


def _read_manifest(bundle: Path) -> dict[str, Any]:
    """Parse and check the manifest's structure and self-hash; one-line error otherwise."""
    where = bundle / MANIFEST

    def bad(why: str) -> NeurodeployError:
        return NeurodeployError(f"{where}: not a valid bundle manifest ({why})")

    try:
        raw = where.read_bytes()
    except OSError as exc:
        raise bad(f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise bad(f"{len(raw)} bytes, more than the {MAX_MANIFEST_BYTES} allowed")
    try:
        manifest = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad(" ".join(str(exc).split())[:120]) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise bad(f"no '\"format\": \"{FORMAT}\"'")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise bad("'files' is not an object")
    for rel, entry in files.items():
        if (not isinstance(entry, dict) or set(entry) != {"sha256", "bytes"}
                or not isinstance(entry["sha256"], str) or type(entry["bytes"]) is not int):
            raise bad(f"entry '{rel}' is not {{sha256: text, bytes: integer}}")
        parts = rel.split("/")
        if rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise bad(f"entry '{rel}' is not a relative path inside the bundle")
    if SELF_HASH not in manifest:
        raise bad(f"no '{SELF_HASH}' (written by an older neurodeploy: rebuild the bundle)")
    if manifest[SELF_HASH] != _self_hash(manifest):
        raise bad(f"its content does not match its '{SELF_HASH}': the manifest was changed")
    if raw != manifest_text(manifest).encode("ascii"):
        raise bad("its text is not the form neurodeploy writes: the manifest was changed")
    return manifest


def verify_manifest(bundle: str | Path) -> list[str]:
    """Problems found checking ``bundle`` against its manifest: one line per missing, changed
    (size or SHA-256) or unlisted file; an empty list means every byte verifies. A manifest
    that is malformed or was itself changed raises a one-line NeurodeployError."""
    bundle = Path(bundle)
    files = _read_manifest(bundle)["files"]
    problems = []
    for rel, entry in files.items():
        path = bundle / rel
        if path.is_symlink() or not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != entry["bytes"]:
            problems.append(f"{rel}: {path.stat().st_size} bytes, the manifest says "
                            f"{entry['bytes']}")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{rel}: SHA-256 differs from the manifest")
    for path in sorted(p for p in bundle.rglob("*") if p.is_file() or p.is_symlink()):
        rel = path.relative_to(bundle).as_posix()
        if rel != MANIFEST and rel not in files and not is_run_output(rel):
            problems.append(f"{rel}: not listed in the manifest")
    return problems
