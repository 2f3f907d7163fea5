"""Design-space sweeps: quantization target × time steps T × hardware profile, each point
quantized, simulated bit-accurately on the test data, priced and mapped; the Pareto front of
accuracy (higher), energy and latency (lower) marked.

- :func:`~neurodeploy.sweep.run.sweep` runs the points here or on a Dask cluster (one task per
  (target, T) point; the rows are the same either way).
- :func:`~neurodeploy.sweep.pareto.pareto_front`: which rows no other row dominates.
- :mod:`~neurodeploy.sweep.table`: the rows as CSV; :func:`neurodeploy.report.sweep_html` the
  HTML page with the plots.

The quantizer has one weight format per target (8-bit mantissas with a per-layer exponent),
so there is no bit-width axis: targets stand for the formats.
"""

from __future__ import annotations

from neurodeploy.sweep.pareto import pareto_front
from neurodeploy.sweep.run import run_point, sweep
from neurodeploy.sweep.table import COLUMNS, to_csv

__all__ = ["COLUMNS", "pareto_front", "run_point", "sweep", "to_csv"]
