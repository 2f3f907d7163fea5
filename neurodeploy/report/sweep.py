"""The HTML page of a design-space sweep: accuracy, energy and latency plots with the Pareto
front ringed, and the table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from neurodeploy.report.page import html_page
from neurodeploy.report.svg import scatter_chart

_CSS = "tr.front td { font-weight: bold; background: #f4f8ee; }\n"


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _series(rows: Sequence[Mapping[str, Any]], x: str, y: str
            ) -> dict[str, list[tuple[float, float, str, bool]]]:
    """Points per (target → profile) series for the rows that have both values."""
    out: dict[str, list[tuple[float, float, str, bool]]] = {}
    for r in rows:
        if r.get(x) is None or r.get(y) is None:
            continue
        name = f"{r['target']} → {r['profile']}"
        label = f"T={r['T']}" if r.get("weight_bits") is None else \
            f"{r['weight_bits']}-bit T={r['T']}"
        out.setdefault(name, []).append((float(r[x]), float(r[y]), label,
                                         bool(r.get("pareto"))))
    return out


def sweep_html(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
               title: str = "neurodeploy sweep") -> str:
    """A self-contained HTML page for the rows of :func:`neurodeploy.sweep.sweep`."""
    ok = [r for r in rows if r.get("status") == "ok"]
    ring = "Pareto front (accuracy, energy, latency)"
    log_e = bool(ok) and min(r["energy_pj"] for r in ok) > 0
    plots = [
        scatter_chart("accuracy vs energy", _series(ok, "energy_pj", "accuracy"),
                      "energy per inference (pJ)", "accuracy", log_x=log_e, ring=ring),
        scatter_chart("accuracy vs latency", _series(ok, "latency_us", "accuracy"),
                      "latency per inference (µs)", "accuracy", ring=ring),
        scatter_chart("latency vs energy", _series(ok, "energy_pj", "latency_us"),
                      "energy per inference (pJ)", "latency (µs)", log_x=log_e, ring=ring),
    ]
    head = "".join(f"<th class='l'>{escape(c)}</th>" if c in ("target", "profile", "status")
                   else f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cls = " class='front'" if r.get("pareto") else ""
        cells = "".join(f"<td class='l'>{escape(_cell(r.get(c)))}</td>"
                        if c in ("target", "profile", "status")
                        else f"<td>{escape(_cell(r.get(c)))}</td>" for c in columns)
        body.append(f"<tr{cls}>{cells}</tr>")
    parts = [
        f"<h1>{escape(title)}</h1>",
        "<p class='note'>Each point: the model quantized for a target with b-bit weights at T "
        "steps (labelled 'b-bit T=…'), accuracy from "
        "the bit-accurate fixed-point simulator on the test data, energy per inference from "
        "simulated activity on a hardware profile, latency from the chip mapping (estimates, "
        "not measurements). Ringed points are on the Pareto front: no other point has higher "
        "or equal accuracy with lower or equal energy and latency (a missing latency counts as "
        "the worst).</p>",
        *plots,
        f"<table id='sweep'><tr>{head}</tr>{''.join(body)}</table>",
    ]
    return html_page(title, parts, _CSS)
