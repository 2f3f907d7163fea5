"""The HTML page of the surrogate-gradient seed study (``tools/seed_study.py``): the claims with
their verdicts and numbers, one plot per experiment, the Pareto plot of accuracy vs Loihi 2
energy and the table of every trained configuration (means over seeds)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from neurodeploy.report.page import html_page
from neurodeploy.report.svg import bar_chart, scatter_chart

_CSS = """tr.front td { font-weight: bold; background: #f4f8ee; }
td.yes { background: #e3f1dc; } td.no { background: #f6dede; }
"""

#: (field, header, kind): kind "pct" shows a 0-1 value in %, "num" 4 significant digits
COLUMNS = (("labels", "configuration", "text"), ("config", "key", "text"), ("task", "task", "text"),
           ("method", "method", "text"), ("seeds", "seeds", "num"),
           ("test_accuracy", "float acc % (torch)", "pct"), ("gap", "train − test pp", "pct"),
           ("float_accuracy", "float acc % (IR)", "pct"),
           ("fixed_accuracy", "Loihi 2 fixed acc %", "pct"),
           ("hidden_spikes", "hidden spikes / inf", "num"),
           ("zero_grad_fraction", "zero surrogate grads %", "pct"),
           ("synops", "synops / inf", "num"), ("energy_cmos45nm_pj", "45 nm pJ / inf", "num"),
           ("energy_loihi2_pj", "Loihi 2 pJ / inf", "num"), ("cores", "cores", "num"),
           ("latency_us", "latency µs", "num"), ("train_seconds", "train s", "num"))


def _cell(r: Mapping[str, Any], key: str, kind: str) -> str:
    v = r.get(key)
    if isinstance(v, list):
        return " / ".join(str(x) for x in v)
    if v is None:
        return "–"
    if kind == "pct":
        s = f"{100 * float(v):.1f}"
        sd = r.get(f"{key}_std")
        return s + (f" ± {100 * float(sd):.1f}" if sd and r.get("seeds", 1) > 1 else "")
    if kind == "num" and isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _values(doc: Mapping[str, Any], part: str, key: str) -> dict[str, float | None]:
    """label → seed-mean ``key`` of each configuration of ``part``."""
    by_config = {r["config"]: r for r in doc["table"]}
    for p in doc["parts"]:
        if p["name"] == part:
            return {c["label"]: by_config[c["config"]].get(key) for c in p["configs"]}
    return {}


def _pct(vals: Sequence[float | None]) -> list[float]:
    return [0.0 if v is None else 100.0 * float(v) for v in vals]


#: experiments plotted as one bar per configuration and one series per field, in %:
#: (part, title, ((series label, field), ...))
_PERCENT_PLOTS = (
    ("sgs", "digits: STE vs SGS vs SGS + Lipschitz",
     (("train accuracy", "train_accuracy"), ("test accuracy", "test_accuracy"),
      ("gap (train − test)", "gap"))),
    ("msg", "digits, MSG: test accuracy and fraction of zero surrogate gradients",
     (("test accuracy", "test_accuracy"), ("zero surrogate gradients", "zero_grad_fraction"))),
    ("sei", "binary weights vs full precision",
     (("float", "test_accuracy"), ("Loihi 2 fixed", "fixed_accuracy"))),
)


def part_plots(doc: Mapping[str, Any]) -> list[str]:
    """One bar chart per experiment that ran (accuracies in %)."""
    names = {p["name"] for p in doc["parts"]}
    z = doc["sizes"]
    out = []
    if "grid" in names:
        acc = _values(doc, "grid", "test_accuracy")
        out.append(bar_chart(
            "Randman (hard) test accuracy: surrogate shape × scale (α = default × scale)",
            z["shapes"], {f"scale ×{s:g}": _pct([acc[f"{sh} ×{s:g}"] for sh in z["shapes"]])
                          for s in z["scales"]}, unit="%"))
    if "activity" in names:
        acc = _values(doc, "activity", "test_accuracy")
        spk = _values(doc, "activity", "hidden_spikes")
        labels = list(acc)
        out.append(bar_chart("activity regularisation: test accuracy", labels,
                             {"test accuracy": _pct([acc[k] for k in labels])}, unit="%"))
        out.append(bar_chart("activity regularisation: hidden spikes per inference",
                             labels, {"spikes": [float(spk[k] or 0.0) for k in labels]}))
    if "asgl" in names:
        acc = _values(doc, "asgl", "test_accuracy")
        widths = [f"{w:g}" for w in z["widths"]]
        out.append(bar_chart("digits test accuracy vs initial width: ASGL vs fixed width",
                             [f"width {w}" for w in widths],
                             {m: _pct([acc[f"{m} w={w}"] for w in widths])
                              for m in ("asgl", "fixed")}, unit="%"))
    for name, title, fields in _PERCENT_PLOTS:
        if name in names:
            labels = list(_values(doc, name, fields[0][1]))
            out.append(bar_chart(title, labels,
                                 {k: _pct(list(_values(doc, name, f).values()))
                                  for k, f in fields}, unit="%"))
    return out


def pareto_plot(rows: Sequence[Mapping[str, Any]]) -> str:
    """Loihi 2 fixed accuracy vs Loihi 2 energy per inference, one series per task, the
    per-task Pareto front ringed."""
    series: dict[str, list[tuple[float, float, str, bool]]] = {}
    for r in rows:
        if r.get("fixed_accuracy") is None or not r.get("energy_loihi2_pj"):
            continue
        series.setdefault(r["task"], []).append(
            (float(r["energy_loihi2_pj"]), 100.0 * float(r["fixed_accuracy"]), r["label"],
             bool(r.get("pareto"))))
    return scatter_chart("accuracy vs energy on Loihi 2 (every configuration, mean over seeds)",
                         series, "energy per inference, loihi2 profile (pJ)",
                         "Loihi 2 fixed-point test accuracy (%)", log_x=bool(series),
                         ring="Pareto front within the task", width=760, height=460)


def _claims_table(claims: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for c in claims:
        nums = escape(c.get("reason") or "") + "<br>".join(
            f"{escape(k)}: {v:.4g}" for k, v in c["numbers"].items())
        if c.get("seed_std") is not None:
            nums += f"<br><i>largest seed std of a test accuracy: {c['seed_std']:.4g}</i>"
        cls = "yes" if c["reproduced"] else "no"
        rows.append(f"<tr><td class='l'>{escape(c['source'])}</td>"
                    f"<td class='l'>{escape(c['claim'])}</td>"
                    f"<td class='l'>{escape(c['criterion'])}</td>"
                    f"<td class='l {cls}'>{escape(c['verdict'])}</td>"
                    f"<td class='l'>{nums}</td></tr>")
    return ("<table id='claims'><tr><th class='l'>source</th><th class='l'>claim</th>"
            "<th class='l'>criterion (fixed before the runs)</th><th class='l'>verdict</th>"
            f"<th class='l'>numbers (means over seeds)</th></tr>{''.join(rows)}</table>")


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = "".join(f"<th class='l'>{escape(h)}</th>" if k == "text" else f"<th>{escape(h)}</th>"
                   for _, h, k in COLUMNS)
    body = []
    for r in rows:
        cls = " class='front'" if r.get("pareto") else ""
        cells = "".join(f"<td class='l'>{escape(_cell(r, f, k))}</td>" if k == "text"
                        else f"<td>{escape(_cell(r, f, k))}</td>" for f, h, k in COLUMNS)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table id='study'><tr>{head}</tr>{''.join(body)}</table>"


def _sizes(z: Mapping[str, Any]) -> str:
    tasks = "; ".join(f"{k}: " + ", ".join(f"{a}={v}" for a, v in t.items())
                      for k, t in z["tasks"].items())
    return (f"<p class='note'>Sizes: {z['seeds']} seed(s) per configuration; {escape(tasks)}; "
            f"shapes {escape(', '.join(z['shapes']))} × scales "
            f"{escape(', '.join(f'{s:g}' for s in z['scales']))}; ASGL widths "
            f"{escape(', '.join(f'{w:g}' for w in z['widths']))}; MSG p "
            f"{escape(', '.join(f'{p:g}' for p in z['mask_ps']))}; activity regularisation "
            f"{z['activity_reg']:g}; Randman (hard): make_randman "
            f"{escape(', '.join(f'{k}={v}' for k, v in z.get('randman_hard', {}).items()))}; "
            f"Lipschitz λ {z['lipschitz']:g}; profiles "
            f"{escape(', '.join(z['profiles']))}.</p>")


def study_html(doc: Mapping[str, Any], title: str = "neurodeploy seed-method study") -> str:
    """A self-contained HTML page for the document of ``tools/seed_study.py``."""
    parts = [
        f"<h1>{escape(title)} ({escape(str(doc.get('mode', '')))})</h1>",
        _sizes(doc["sizes"]),
        "<h2>Claims</h2>", _claims_table(doc["claims"]),
        "<h2>Experiments</h2>", *part_plots(doc),
        "<h2>Deployment on Loihi 2</h2>",
        "<p class='note'>Every configuration quantized for Loihi 2 (calibrated on its training "
        "data) and simulated bit-accurately on the test data: fixed-point accuracy, synaptic "
        "operations and energy per inference from the recorded activity (45 nm arithmetic and "
        "the loihi2 profile), cores and latency from the chip mapping and performance model "
        "(estimates, not measurements). Means over seeds (± population std).</p>",
        pareto_plot(doc["table"]),
        _table(doc["table"]),
    ]
    return html_page(title, parts, _CSS)
