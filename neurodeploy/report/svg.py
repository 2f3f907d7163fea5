"""Tiny inline-SVG bar charts and scatter plots (no plotting library, no network access to
view)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = ("#3b6ea5", "#e07b39", "#5a9e4b", "#b5485d", "#7c5fa8", "#8a7a3a")


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-2:
        return f"{v:.3g}"
    return f"{v:.3f}".rstrip("0").rstrip(".")


def bar_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[float]],
              unit: str = "", width: int = 720) -> str:
    """A horizontal grouped bar chart as an ``<svg>`` element: one group per label, one bar per
    series (legend on top). Values must be >= 0; each bar is labelled with its value."""
    names = list(series)
    n_series = max(len(names), 1)
    bar_h, gap, label_w, top = 14, 10, 160, 46
    group_h = n_series * bar_h + gap
    height = top + len(labels) * group_h + 10
    vmax = max([max(v, default=0.0) for v in series.values()] + [0.0]) or 1.0
    plot_w = width - label_w - 110
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
           f'<text x="4" y="16" font-size="14" font-weight="bold">{escape(title)}</text>']
    x = label_w
    for i, name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x}" y="24" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{x + 14}" y="33" font-size="11">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    for j, label in enumerate(labels):
        y0 = top + j * group_h
        out.append(f'<text x="{label_w - 6}" y="{y0 + n_series * bar_h / 2 + 4}" '
                   f'font-size="11" text-anchor="end">{escape(label)}</text>')
        for i, name in enumerate(names):
            v = float(series[name][j])
            w = max(0.0, v) / vmax * plot_w
            y = y0 + i * bar_h
            color = PALETTE[i % len(PALETTE)]
            out.append(f'<rect x="{label_w}" y="{y}" width="{w:.2f}" height="{bar_h - 2}" '
                       f'fill="{color}"><title>{escape(name)}: {_fmt(v)} {escape(unit)}'
                       '</title></rect>')
            out.append(f'<text x="{label_w + w + 4:.2f}" y="{y + bar_h - 4}" font-size="10">'
                       f'{_fmt(v)}{(" " + escape(unit)) if unit else ""}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _heat(v: float) -> str:
    """White (0) to dark red (1) for a value clipped to [0, 1]."""
    v = min(max(v, 0.0), 1.0)
    g = int(round(245 - 200 * v))
    return f"rgb({int(round(250 - 90 * v))},{g},{g})"


def floor_plan(title: str, cells: Sequence[tuple[int, int, float, str]], nx: int, ny: int,
               cell: int = 44) -> str:
    """A chip floor plan as an ``<svg>`` heat map: ``cells`` are ``(x, y, value 0..1, label)``
    (several cells on one position are drawn side by side, e.g. the cores of a routing tile);
    ``nx`` × ``ny`` positions."""
    per_pos: dict[tuple[int, int], list[tuple[float, str]]] = {}
    for x, y, v, label in cells:
        per_pos.setdefault((x, y), []).append((v, label))
    top = 28
    width, height = max(nx * cell + 8, 8 * len(title), 330), ny * cell + top + 24
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
           f'<text x="4" y="16" font-size="14" font-weight="bold">{escape(title)}</text>']
    for ix in range(nx):
        for iy in range(ny):
            out.append(f'<rect x="{4 + ix * cell}" y="{top + iy * cell}" width="{cell - 2}" '
                       f'height="{cell - 2}" fill="none" stroke="#ccc"/>')
    for (x, y), items in per_pos.items():
        k = len(items)
        w = (cell - 4) / k
        for i, (v, label) in enumerate(items):
            out.append(f'<rect x="{5 + x * cell + i * w:.2f}" y="{top + 1 + y * cell}" '
                       f'width="{max(w - 1, 1):.2f}" height="{cell - 4}" fill="{_heat(v)}" '
                       f'stroke="#888" stroke-width="0.5"><title>{escape(label)}: '
                       f'{_fmt(v)}</title></rect>')
    out.append(f'<text x="4" y="{height - 6}" font-size="10">one square per routing tile, its '
               'cores side by side; white = idle, dark red = 1.0</text>')
    out.append("</svg>")
    return "\n".join(out)


def line_chart(title: str, values: Sequence[float], unit: str = "", xlabel: str = "step",
               width: int = 720, height: int = 220) -> str:
    """A single-series line chart (x = index) as an ``<svg>`` element."""
    left, top, bottom = 60, 28, 28
    plot_w, plot_h = width - left - 16, height - top - bottom
    vmax = max(list(values) + [0.0]) or 1.0
    n = max(len(values) - 1, 1)
    pts = " ".join(f"{left + i / n * plot_w:.2f},{top + plot_h - v / vmax * plot_h:.2f}"
                   for i, v in enumerate(values))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
           f'<text x="4" y="16" font-size="14" font-weight="bold">{escape(title)}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
           'stroke="#888"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>',
           f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">'
           f'{_fmt(vmax)} {escape(unit)}</text>',
           f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end">0</text>',
           f'<text x="{left + plot_w}" y="{height - 8}" font-size="10" text-anchor="end">'
           f'{escape(xlabel)} {len(values) - 1}</text>',
           f'<polyline fill="none" stroke="{PALETTE[0]}" stroke-width="2" points="{pts}"/>']
    for i, v in enumerate(values):
        out.append(f'<circle cx="{left + i / n * plot_w:.2f}" '
                   f'cy="{top + plot_h - v / vmax * plot_h:.2f}" r="2.5" fill="{PALETTE[0]}">'
                   f'<title>{escape(xlabel)} {i}: {_fmt(v)} {escape(unit)}</title></circle>')
    out.append("</svg>")
    return "\n".join(out)


def _axis(lo: float, hi: float, log: bool) -> tuple[float, float]:
    """Axis range (in log10 units for a log axis) with a little margin."""
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    if hi <= lo:
        lo, hi = lo - 1.0, hi + 1.0
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def scatter_chart(title: str, series: dict[str, Sequence[tuple[float, float, str, bool]]],
                  x_label: str, y_label: str, log_x: bool = False, width: int = 520,
                  height: int = 340, ring: str = "") -> str:
    """A scatter plot as an ``<svg>`` element: one colour per series, each point
    ``(x, y, label, ringed)``; ringed points (e.g. a Pareto front) get a black ring and the
    legend names ``ring``. ``log_x`` draws x on a log scale (x values must be > 0)."""
    pts = [p for s in series.values() for p in s]
    left, right, top, bottom = 64, 16, 46, 44
    pw, ph = width - left - right, height - top - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
           f'<text x="4" y="16" font-size="14" font-weight="bold">{escape(title)}</text>']
    x = left
    for i, name in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        out.append(f'<circle cx="{x + 5}" cy="29" r="5" fill="{color}"/>')
        out.append(f'<text x="{x + 14}" y="33" font-size="11">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    if ring:
        out.append(f'<circle cx="{x + 5}" cy="29" r="7" fill="none" stroke="#000" '
                   'stroke-width="2"/>')
        out.append(f'<text x="{x + 16}" y="33" font-size="11">{escape(ring)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
               'stroke="#999"/>')
    if pts:
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        x0, x1 = _axis(min(xs), max(xs), log_x)
        y0, y1 = _axis(min(ys), max(ys), False)

        def sx(v: float) -> float:
            v = math.log10(v) if log_x else v
            return left + (v - x0) / (x1 - x0) * pw

        def sy(v: float) -> float:
            return top + ph - (v - y0) / (y1 - y0) * ph

        for k in range(5):
            fx = x0 + (x1 - x0) * k / 4
            vx = 10 ** fx if log_x else fx
            fy = y0 + (y1 - y0) * k / 4
            gx, gy = left + pw * k / 4, top + ph - ph * k / 4
            out.append(f'<text x="{gx:.1f}" y="{top + ph + 14}" font-size="10" '
                       f'text-anchor="middle">{_fmt(vx)}</text>')
            out.append(f'<text x="{left - 4}" y="{gy + 3:.1f}" font-size="10" '
                       f'text-anchor="end">{_fmt(fy)}</text>')
        for i, (name, s) in enumerate(series.items()):
            color = PALETTE[i % len(PALETTE)]
            for px, py, label, ringed in s:
                cx, cy = sx(px), sy(py)
                tip = f"{name} {label}: {_fmt(px)}, {_fmt(py)}"
                out.append(f'<circle cx="{cx:.2f}" cy="{cy:.2f}" r="5" fill="{color}">'
                           f'<title>{escape(tip)}</title></circle>')
                if ringed:
                    out.append(f'<circle class="front" cx="{cx:.2f}" cy="{cy:.2f}" r="8" '
                               'fill="none" stroke="#000" stroke-width="2"/>')
                out.append(f'<text x="{cx + 9:.2f}" y="{cy - 6:.2f}" font-size="9">'
                           f'{escape(label)}</text>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 8}" font-size="11" '
               f'text-anchor="middle">{escape(x_label)}{" (log)" if log_x else ""}</text>')
    out.append(f'<text x="12" y="{top + ph / 2:.1f}" font-size="11" text-anchor="middle" '
               f'transform="rotate(-90 12 {top + ph / 2:.1f})">{escape(y_label)}</text>')
    out.append("</svg>")
    return "\n".join(out)
