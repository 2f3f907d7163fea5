"""Terminal tables, JSON and HTML reports (:mod:`neurodeploy.report.energy`,
:mod:`neurodeploy.report.sweep`)."""

from __future__ import annotations

from neurodeploy.report.energy import (
    energy_html,
    energy_table,
    map_table,
    ratio_lines,
    report_dict,
)
from neurodeploy.report.sweep import sweep_html

__all__ = ["energy_html", "energy_table", "map_table", "ratio_lines", "report_dict",
           "sweep_html"]
