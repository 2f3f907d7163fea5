"""``simulate``: one batch through a graph, by the fast engine (:mod:`neurodeploy.sim.fast`)
or the reference engine (:mod:`neurodeploy.sim.reference`), which return the same results bit
for bit; the checks and the result assembly they share are in :mod:`neurodeploy.sim.prepare`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Graph
from neurodeploy.sim import fast, reference
from neurodeploy.sim.prepare import MODES, SimResult, decode, finish, prepare

ENGINES = {"fast": fast.run, "reference": reference.run}

__all__ = ["ENGINES", "MODES", "SimResult", "decode", "simulate"]


def simulate(graph: Graph, x: np.ndarray | torch.Tensor, mode: str = "float",
             record: bool | Sequence[str] = False, device: str = "cpu",
             engine: str = "fast") -> SimResult:
    """Run ``graph`` on ``x`` (``[T, B, *input_shape]``, encoded float values) step by step.

    ``mode``: ``float`` (the IR's float equations, float32) or ``fixed`` (Lava's bit-accurate
    integer arithmetic; needs a quantized graph). ``record``: True for every node or a list of
    node names. ``device``: ``cpu`` or ``cuda``. ``engine``: ``fast`` (in-place, exact dtypes
    chosen by bounds) or ``reference`` (plain int64/float32 steps); both give the same result.
    See :class:`SimResult` for what comes back.
    """
    if engine not in ENGINES:
        raise NeurodeployError(f"unknown simulation engine '{engine}' (choose fast or reference)")
    prep = prepare(graph, x, mode, record, device)
    return finish(prep, ENGINES[engine](prep))
