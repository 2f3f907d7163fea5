"""The frame every HTML report shares: a self-contained page (no external files) with one
style sheet; each report adds its own rules."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

#: rules every report uses: body, tables (numbers right-aligned, ``class='l'`` left), notes
BASE_CSS = """
body { font-family: sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 12px 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #eef2f7; } td.l, th.l { text-align: left; }
.note { color: #555; font-size: 12px; max-width: 900px; }
"""


def html_page(title: str, body: Sequence[str], css: str = "") -> str:
    """A whole HTML document titled ``title`` (escaped here) whose body is the HTML fragments
    ``body``, one per line, styled by :data:`BASE_CSS` plus ``css``."""
    head = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>\n"
            f"<title>{escape(title)}</title><style>{BASE_CSS}{css}</style></head><body>")
    return "\n".join([head, *body, "</body></html>"]) + "\n"
