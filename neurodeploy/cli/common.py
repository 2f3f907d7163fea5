"""What every verb shares: JSON output, the rich console, loading a model argument."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from neurodeploy.errors import NeurodeployError
from neurodeploy.jsonsafe import to_jsonable as _clean


def emit_json(obj: Any) -> None:
    """Print ``obj`` as one JSON document on stdout (keys in the given order)."""
    sys.stdout.write(json.dumps(_clean(obj), indent=2) + "\n")


def console() -> Any:
    """A rich Console on stdout (plain text when stdout is not a terminal).

    Off a terminal rich assumes 80 columns and squeezes wide tables; use at least 120 there.
    """
    import shutil

    from rich.console import Console

    width = None if sys.stdout.isatty() else max(120, shutil.get_terminal_size((120, 24)).columns)
    return Console(highlight=False, width=width)


def existing_file(path: Path, what: str = "file") -> Path:
    """Return ``path`` if it is a readable file, else raise a one-line NeurodeployError."""
    if not path.exists():
        raise NeurodeployError(f"{path}: no such {what}")
    if not path.is_file():
        raise NeurodeployError(f"{path}: is not a {what}")
    return path
