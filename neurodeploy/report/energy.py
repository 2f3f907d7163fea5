"""Energy and mapping reports: the terminal table (rich), the JSON document, the HTML page.

The HTML page is one self-contained file (inline CSS and SVG, no scripts, no network): per
layer firing rate, energy per layer per profile, and per chip profile the floor plans and step
timeline of :mod:`neurodeploy.report.chip`.
"""

from __future__ import annotations

from html import escape
from typing import Any

from neurodeploy.energy.estimate import EnergyReport
from neurodeploy.mapping.mapper import Mapping
from neurodeploy.perf.model import PerfResult
from neurodeploy.report.chip import chip_dict, chip_html
from neurodeploy.report.page import html_page
from neurodeploy.report.svg import bar_chart

Chips = dict[str, tuple[Mapping, PerfResult]]


def _num(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:,.2f}"


def _pj(v: float) -> str:
    """Energy with a unit that keeps 3-4 significant digits (pJ, nJ, µJ, mJ)."""
    for scale, unit in ((1e9, "mJ"), (1e6, "µJ"), (1e3, "nJ")):
        if abs(v) >= scale:
            return f"{v / scale:,.3f} {unit}"
    return f"{v:,.2f} pJ"


def report_dict(report: EnergyReport, chips: Chips | None = None) -> dict[str, Any]:
    """The ``energy --json`` document: :meth:`EnergyReport.to_dict` plus, per chip profile,
    cores, chips, utilisation and the performance model's figures under ``chips``."""
    doc = report.to_dict()
    if chips:
        doc["chips"] = {name: chip_dict(m, t) for name, (m, t) in chips.items()}
    return doc


def energy_table(report: EnergyReport, title: str = "energy per inference") -> Any:
    """A rich Table: per layer neurons, firing rate, MACs, ACs, energy per profile; totals."""
    from rich.table import Table

    table = Table(title=title)
    for col in ("layer", "kind", "neurons", "firing rate", "ANN MACs", "SNN MACs",
                "SNN ACs/synops"):
        table.add_column(col, justify="left" if col in ("layer", "kind") else "right")
    for p in report.profiles:
        table.add_column(f"{p.name} SNN", justify="right")
        table.add_column(f"{p.name} ANN", justify="right")
    for i, r in enumerate(report.layers):
        cells = [r.name, r.kind, f"{r.neurons:,}", f"{r.firing_rate:.4f}", _num(r.ann_macs),
                 _num(r.snn_macs), _num(r.snn_acs)]
        for p in report.profiles:
            s, a = report.energy[p.name][i]
            cells += [_pj(s), _pj(a)]
        table.add_row(*cells)
    tot = report.totals()
    cells = ["total", "", f"{sum(r.neurons for r in report.layers):,}", "",
             _num(tot["ann_macs"]), _num(tot["snn_macs"]), _num(tot["snn_acs"])]
    for p in report.profiles:
        e = tot["energy_pj"][p.name]
        cells += [_pj(e["snn"]), _pj(e["ann"])]
    table.add_row(*cells, style="bold")
    return table


def ratio_lines(report: EnergyReport) -> list[str]:
    """One line per profile: total SNN and ANN energy and their ratio."""
    lines = []
    for p in report.profiles:
        e = report.totals()["energy_pj"][p.name]
        ratio = e["ann"] / e["snn"] if e["snn"] else float("inf")
        lines.append(f"{p.name}: SNN {_pj(e['snn'])}, ANN {_pj(e['ann'])}, "
                     f"ANN/SNN = {ratio:.2f}x  ({p.description})")
    return lines


_CSS = "tr.total td { font-weight: bold; }\n"


def energy_html(report: EnergyReport, chips: Chips | None = None,
                title: str = "neurodeploy energy report") -> str:
    """A self-contained HTML page (tables + inline SVG plots)."""
    names = [r.name for r in report.layers]
    head = ("<tr><th class='l'>layer</th><th class='l'>kind</th><th>neurons</th>"
            "<th>firing rate</th><th>ANN MACs</th><th>SNN MACs</th><th>SNN ACs</th>"
            + "".join(f"<th>{escape(p.name)} SNN</th><th>{escape(p.name)} ANN</th>"
                      for p in report.profiles) + "</tr>")
    rows = []
    for i, r in enumerate(report.layers):
        cells = "".join(f"<td>{escape(_pj(report.energy[p.name][i][0]))}</td>"
                        f"<td>{escape(_pj(report.energy[p.name][i][1]))}</td>"
                        for p in report.profiles)
        rows.append(f"<tr><td class='l'>{escape(r.name)}</td><td class='l'>{escape(r.kind)}"
                    f"</td><td>{r.neurons:,}</td><td>{r.firing_rate:.4f}</td>"
                    f"<td>{_num(r.ann_macs)}</td><td>{_num(r.snn_macs)}</td>"
                    f"<td>{_num(r.snn_acs)}</td>{cells}</tr>")
    tot = report.totals()
    cells = "".join(f"<td>{escape(_pj(tot['energy_pj'][p.name]['snn']))}</td>"
                    f"<td>{escape(_pj(tot['energy_pj'][p.name]['ann']))}</td>"
                    for p in report.profiles)
    rows.append(f"<tr class='total'><td class='l'>total</td><td></td>"
                f"<td>{sum(r.neurons for r in report.layers):,}</td><td></td>"
                f"<td>{_num(tot['ann_macs'])}</td><td>{_num(tot['snn_macs'])}</td>"
                f"<td>{_num(tot['snn_acs'])}</td>{cells}</tr>")
    parts = [
        f"<h1>{escape(title)}</h1>",
        f"<p class='note'>Per inference (one sample, all T = {report.T} steps), counts from "
        "simulated activity. Energies are estimates from published per-operation figures "
        "(see each hardware profile's citations).</p>",
        "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in ratio_lines(report)) + "</ul>",
        f"<table id='layers'>{head}{''.join(rows)}</table>",
        "<h2>Firing rate per layer</h2>",
        bar_chart("firing rate (spikes per neuron per step)", names,
                  {"firing rate": [r.firing_rate for r in report.layers]}),
        "<h2>Energy per layer</h2>",
    ]
    for p in report.profiles:
        parts.append(bar_chart(f"{p.name}: energy per layer (pJ per inference)", names,
                               {"SNN": [s for s, _ in report.energy[p.name]],
                                "ANN": [a for _, a in report.energy[p.name]]}, unit="pJ"))
    for name, (m, t) in (chips or {}).items():
        parts.append(chip_html(name, m, t))
    return html_page(title, parts, _CSS)


__all__ = ["energy_html", "energy_table", "ratio_lines", "report_dict"]
