"""What every verb shares: JSON output, the rich console, loading a model argument."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from neurodeploy.errors import NeurodeployError


def _clean(obj: Any) -> Any:
    """Make ``obj`` JSON-safe: numpy scalars/arrays to Python, NaN/inf to None."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a core dependency
        np = None  # type: ignore[assignment]
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if np is not None and isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if np is not None and isinstance(obj, np.generic):
        return _clean(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def emit_json(obj: Any) -> None:
    """Print ``obj`` as one JSON document on stdout (keys in the given order)."""
    sys.stdout.write(json.dumps(_clean(obj), indent=2) + "\n")


def console() -> Any:
    """A rich Console on stdout (plain text when stdout is not a terminal)."""
    from rich.console import Console

    return Console(highlight=False)


def existing_file(path: Path, what: str = "file") -> Path:
    """Return ``path`` if it is a readable file, else raise a one-line NeurodeployError."""
    if not path.exists():
        raise NeurodeployError(f"{path}: no such {what}")
    if not path.is_file():
        raise NeurodeployError(f"{path}: is not a {what}")
    return path
