"""The one error type users see.

Every user-facing check (bad file, bad parameter, model that cannot be mapped) raises
:class:`NeurodeployError` with a one-line message that names the file, layer or parameter at
fault. The CLI prints that line and exits with code 1; anything else is a bug in neurodeploy.
"""

from __future__ import annotations


class NeurodeployError(Exception):
    """A problem with the user's input, reported as one line (no traceback in the CLI)."""

    def __init__(self, message: str) -> None:
        # Keep the message on one line whatever the caller passed.
        super().__init__(" ".join(str(message).split()))
