"""Chip reports: a mapping and its performance as terminal lines, JSON and HTML (floor plans).

The floor plan draws the board's mesh of routing tiles (chips side by side), each tile's cores
side by side, coloured by the core's most used resource (mapping) or by its busy time relative
to the busiest core (performance).
"""

from __future__ import annotations

from html import escape
from typing import Any

from neurodeploy.mapping.mapper import Mapping
from neurodeploy.perf.model import PerfResult
from neurodeploy.report.svg import bar_chart, floor_plan, line_chart


def map_table(mapping: Mapping) -> Any:
    """A rich Table of a mapping: per layer neurons, cores, synapse memory, axons."""
    from rich.table import Table

    table = Table(title=f"mapping on {mapping.profile}: {mapping.n_cores} cores, "
                        f"{mapping.n_chips} chip(s)")
    for col in ("layer", "synapses", "neurons", "cores", "neurons/core", "synapse words",
                "fan-in", "input axons/core", "output axons/core"):
        table.add_column(col, justify="left" if col in ("layer", "synapses") else "right")
    for m in mapping.layers:
        table.add_row(m.name, ", ".join(m.synapses), f"{m.neurons:,}", str(m.cores),
                      f"{m.neurons_per_core:,}", f"{m.synmem_words:,}", f"{m.fan_in:,}",
                      f"{m.axons_in:,}", f"{m.axons_out:,}")
    return table


def chip_dict(mapping: Mapping, perf: PerfResult | None = None) -> dict[str, Any]:
    """Cores, chips, cores per layer, utilisation and (with ``perf``) the performance."""
    doc: dict[str, Any] = {
        "cores": mapping.n_cores, "chips": mapping.n_chips,
        "cores_by_layer": {m.name: m.cores for m in mapping.layers},
        "utilisation": {k: round(v, 6) for k, v in mapping.utilisation().items()},
    }
    if perf is not None:
        doc["performance"] = perf.to_dict(per_core=False)
    return doc


def chip_lines(name: str, mapping: Mapping, perf: PerfResult | None = None) -> list[str]:
    """Terminal summary lines of one chip profile."""
    util = mapping.utilisation()
    lines = [f"{name}: {mapping.n_cores} cores, {mapping.n_chips} chip(s); mean use of the used "
             f"cores: neurons {util['neurons']:.1%}, synapse memory {util['synapse_memory']:.1%}"
             f", input axons {util['axons_in']:.1%}, output axons {util['axons_out']:.1%}"]
    if perf is not None:
        bc = mapping.cores[perf.busiest_core] if perf.busiest_core >= 0 else None
        lines.append(
            f"{name}: {perf.step_us:.3f} µs per step, {perf.latency_us:.3f} µs per inference "
            f"({perf.throughput_per_s:,.0f}/s), dynamic {perf.dynamic_energy_pj / 1e6:.4g} µJ + "
            f"static {perf.static_energy_pj / 1e6:.4g} µJ per inference (model estimate, "
            f"{perf.samples} sample(s))")
        if bc is not None:
            link = perf.busiest_link
            lines.append(
                f"{name}: busiest core {bc.core} (layer '{bc.layer}', "
                f"{perf.core_ns[:, bc.core].sum() / 1e3:.3f} µs busy per inference); "
                + ("no core-to-core traffic" if link is None else
                   f"busiest link {link[:2]}→{link[2:]} "
                   f"({perf.link_messages[link]:,.0f} messages per inference)"))
    return lines


def _positions(mapping: Mapping) -> tuple[int, int]:
    """The board's mesh of routing tiles: every chip used, whole."""
    lim = mapping.limits
    return max(mapping.n_chips, 1) * lim["mesh_tiles_x"], lim["mesh_tiles_y"]


def chip_html(name: str, mapping: Mapping, perf: PerfResult | None = None) -> str:
    """An HTML section: summary, floor plans (use, busy time), step timeline, per-core bars."""
    nx, ny = _positions(mapping)
    parts = [f"<h2>{escape(name)}: mapping and performance</h2>",
             "<ul>" + "".join(f"<li>{escape(line)}</li>"
                              for line in chip_lines(name, mapping, perf)) + "</ul>",
             floor_plan(f"{name}: core use (most used resource, fraction of a core)",
                        [(c.x, c.y, mapping.core_use(c), f"core {c.core} {c.layer}")
                         for c in mapping.cores], nx, ny)]
    if perf is not None and mapping.cores:
        busy = perf.core_ns.sum(0)
        top = float(busy.max()) or 1.0
        parts.append(floor_plan(f"{name}: busy time per core (relative to the busiest, "
                                f"{top / 1e3:.3f} µs per inference)",
                                [(c.x, c.y, float(busy[c.core]) / top,
                                  f"core {c.core} {c.layer}") for c in mapping.cores], nx, ny))
        parts.append(line_chart(f"{name}: time per step (µs)",
                                [float(v) / 1e3 for v in perf.step_ns], unit="µs"))
        layers = [m.name for m in mapping.layers]
        parts.append(bar_chart(
            f"{name}: busy time of each layer's busiest core (µs per inference)", layers,
            {"busy": [max(float(busy[i]) for i in m.core_ids) / 1e3 if m.core_ids else 0.0
                      for m in mapping.layers]}, unit="µs"))
    return "\n".join(parts)


__all__ = ["chip_dict", "chip_html", "chip_lines", "map_table"]
