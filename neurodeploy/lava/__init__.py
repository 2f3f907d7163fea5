"""Lava backend: compile a Graph to lava-nc processes, run it, compare, netx export.

Lava (lava-nc 0.10, lava-dl 0.6) supports Python 3.10 only, so it is imported lazily:
``import neurodeploy.lava`` always works, and each function below raises a NeurodeployError
saying how to get Lava (``tools/env.sh`` / ``pip install neurodeploy[lava]``) when it is missing.

- :func:`simulate_lava` — ``simulate_lava(graph, x [T, B, ...], record=False, mode="fixed")
  -> SimResult``: the simulator's result type, bit-exact with ``simulate(graph, x,
  mode="fixed")`` (Lava ``fixed_pt``); ``mode="float"`` runs the float graph in Lava
  ``floating_pt``, equal to ``simulate(graph, x, mode="float")`` to float rounding.
- :func:`compile_graph` — the process network (``LavaNetwork``) behind it; the pipeline
  schedule that equalises Lava's one-step synapses is :func:`neurodeploy.lava.schedule.schedule`.
- :func:`compare` — simulator vs Lava on a dataset, layer by layer, first divergence.
- :func:`export_netx` — a lava-dl netx ``.net`` (HDF5) of the graph; with ``patch=True`` it
  also stores the exact integers a stock netx loader cannot carry, which :func:`load_netx`
  applies to the netx Network (bit-exact for quantizer-made Dense chains).
"""

from __future__ import annotations

from typing import Any

__all__ = ["compare", "compile_graph", "export_netx", "load_netx", "require_lava",
           "simulate_lava"]


def require_lava(what: str = "the Lava backend") -> None:
    """Raise NeurodeployError (with how to install it) unless lava-nc can be imported."""
    from neurodeploy.lava._require import require_lava as _req

    _req(what)


def simulate_lava(graph: Any, x: Any, record: Any = False, progress: bool = False,
                  mode: str = "fixed", lanes: int | None = None) -> Any:
    """Run a graph in Lava (``mode``: fixed → fixed_pt, float → floating_pt; ``lanes``:
    samples side by side, None = automatic); see :func:`neurodeploy.lava.run.simulate_lava`."""
    require_lava("simulate --backend lava")
    from neurodeploy.lava.run import simulate_lava as _run

    return _run(graph, x, record=record, progress=progress, mode=mode, lanes=lanes)


def compile_graph(graph: Any, x: Any, record: Any = False, mode: str = "fixed") -> Any:
    """Build the Lava process network; see :func:`neurodeploy.lava.compiler.compile_graph`."""
    require_lava()
    from neurodeploy.lava.compiler import compile_graph as _compile

    return _compile(graph, x, record=record, mode=mode)


def compare(graph: Any, ds: Any, samples: int = 20, T: int | None = None,
            lava_graph: Any = None, progress: bool = False, mode: str = "fixed",
            rtol: float = 1e-5) -> dict:
    """Simulator vs Lava, layer by layer; see :func:`neurodeploy.lava.comparison.compare`."""
    require_lava("compare")
    from neurodeploy.lava.comparison import compare as _compare

    return _compare(graph, ds, samples=samples, T=T, lava_graph=lava_graph, progress=progress,
                    mode=mode, rtol=rtol)


def export_netx(graph: Any, path: Any, exact: bool = True, patch: bool = False) -> Any:
    """Write a lava-dl netx ``.net``; see :func:`neurodeploy.lava.netx.export_netx`."""
    from neurodeploy.lava.netx import export_netx as _export

    return _export(graph, path, exact=exact, patch=patch)


def load_netx(path: Any, input_message_bits: int | None = None, **kwargs: Any) -> Any:
    """Load a ``.net`` as a lava-dl netx Network with the exact integers ``export_netx(...,
    patch=True)`` stored; see :func:`neurodeploy.lava.netx.load_netx`."""
    from neurodeploy.lava.netx import load_netx as _load

    return _load(path, input_message_bits=input_message_bits, **kwargs)
