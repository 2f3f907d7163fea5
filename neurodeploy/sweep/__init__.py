"""Design-space sweeps: quantization target × weight bits × time steps T × hardware profile,
each point quantized, simulated bit-accurately on the test data, priced and mapped; the Pareto
front of accuracy (higher), energy and latency (lower) marked.

- :func:`~neurodeploy.sweep.run.sweep` runs the points here or on a Dask cluster (one task per
  (target, weight bits, T) point; the rows are the same either way).
- :func:`~neurodeploy.sweep.pareto.pareto_front`: which rows no other row dominates.
- :mod:`~neurodeploy.sweep.table`: the rows as CSV; :func:`neurodeploy.report.sweep_html` the
  HTML page with the plots.

Weight bits are Lava's ``num_weight_bits`` (1-8; a mixed-sign synapse counts its sign as a
bit): the mantissa keeps its range and loses low bits, the weight exponent stays per layer.
Fewer bits change the accuracy and, through the spikes, the energy; the chip mapping packs
fewer bits per synapse into its synapse memory (``synmem_words``, and fewer cores where
synapse memory is what fills them).
"""

from __future__ import annotations

from neurodeploy.sweep.pareto import pareto_front
from neurodeploy.sweep.run import parse_bits, run_point, sweep
from neurodeploy.sweep.table import COLUMNS, to_csv

__all__ = ["COLUMNS", "pareto_front", "parse_bits", "run_point", "sweep", "to_csv"]
