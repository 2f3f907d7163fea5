"""Tiny inline-SVG bar charts (no plotting library, no network access to view)."""

from __future__ import annotations

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
