"""Terminal tables, JSON and HTML reports (:mod:`neurodeploy.report.energy`)."""

from __future__ import annotations

from neurodeploy.report.energy import (
    energy_html,
    energy_table,
    map_table,
    ratio_lines,
    report_dict,
)

__all__ = ["energy_html", "energy_table", "map_table", "ratio_lines", "report_dict"]
