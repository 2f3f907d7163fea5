"""Terminal tables, JSON and HTML reports: energy (:mod:`neurodeploy.report.energy`), chip
mapping/performance (:mod:`neurodeploy.report.chip`), sweeps (:mod:`neurodeploy.report.sweep`)."""

from __future__ import annotations

from neurodeploy.report.chip import chip_dict, chip_html, chip_lines, map_table
from neurodeploy.report.energy import energy_html, energy_table, ratio_lines, report_dict
from neurodeploy.report.sweep import sweep_html

__all__ = ["chip_dict", "chip_html", "chip_lines", "energy_html", "energy_table", "map_table",
           "ratio_lines", "report_dict", "sweep_html"]
