"""A sweep's rows as CSV (the JSON document is the rows themselves)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

#: one row per (target, weight bits, T, profile); units: energies in pJ per inference,
#: latency in µs, synapse memory in the profile's words (summed over the cores)
COLUMNS = ("target", "weight_bits", "T", "profile", "status", "accuracy", "float_accuracy",
           "energy_pj", "ann_energy_pj", "chip_energy_pj", "latency_us", "cores",
           "synmem_words", "chips", "pareto")


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows with :data:`COLUMNS` as header; a missing value is an empty cell."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in COLUMNS])
    return buf.getvalue()
