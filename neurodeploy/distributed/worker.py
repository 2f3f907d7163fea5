"""What a shard that runs Lava needs on a Dask worker."""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable
from typing import Any

#: the Lava module that sets the start method when first imported
_LAVA_MP = "lava.magma.runtime.message_infrastructure.multiprocessing"


def allow_lava_import() -> None:
    """Let Lava set its multiprocessing start method in this worker process.

    lava-nc 0.10 (``message_infrastructure/multiprocessing.py``) calls
    ``multiprocessing.set_start_method('fork')`` without ``force`` when first imported; in a
    process whose start method is already set — a Dask worker started with ``spawn`` — that
    raises "context has already been set". Clearing the setting first lets Lava's import set
    its own; Dask's worker does not use the global setting (it asks for explicit contexts).
    """
    if _LAVA_MP not in sys.modules and multiprocessing.get_start_method(allow_none=True):
        multiprocessing.set_start_method(None, force=True)


def run_with_lava(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """``fn(**kwargs)`` after :func:`allow_lava_import` (the task a Lava shard runs)."""
    allow_lava_import()
    return fn(**kwargs)
