"""Reports: rich table, HTML that is self-contained and renders in headless Chromium."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import numpy as np
import pytest

from neurodeploy.energy import estimate_energy, load_profile
from neurodeploy.ir import CubaLIF, Dense, Graph, Input, Readout
from neurodeploy.mapping import map_graph
from neurodeploy.perf import simulate_perf
from neurodeploy.report import energy_html, energy_table, map_table


def _report():
    g = Graph(metadata={"T": 3})
    g.add(Input("in", shape=(4,), encoding="rate"))
    g.add(Dense("hidden_fc", weight=np.ones((3, 4), np.float32)), "in")
    g.add(CubaLIF("lif1", shape=(3,)), "hidden_fc")
    g.add(Dense("out_fc", weight=np.ones((2, 3), np.float32)), "lif1")
    g.add(Readout("out", shape=(2,)), "out_fc")
    g.inputs, g.outputs = ["in"], ["out"]
    counts = {"in": np.array([1.0, 0, 2, 3]), "hidden_fc": np.ones(3),
              "lif1": np.array([1.0, 2, 0]), "out_fc": np.ones(2), "out": np.ones(2)}
    profiles = [load_profile("cmos45nm"), load_profile("loihi1")]
    rep = estimate_energy(g, counts, 3, profiles)
    m = map_graph(g, profiles[1])
    activity = {"in": np.array([[[1, 0, 1, 1]], [[0, 0, 1, 1]], [[0, 0, 0, 1]]], np.float32),
                "lif1": np.array([[[1, 1, 0]], [[0, 1, 0]], [[0, 0, 0]]], np.float32),
                "out": np.zeros((3, 1, 2), np.float32)}
    return g, rep, {"loihi1": (m, simulate_perf(m, activity, profiles[1]))}


def test_terminal_tables_show_layers_and_totals():
    from rich.console import Console

    _, rep, chips = _report()
    buf = io.StringIO()
    con = Console(file=buf, width=200)
    con.print(energy_table(rep))
    con.print(map_table(chips["loihi1"][0]))
    text = buf.getvalue()
    for word in ("hidden_fc", "out_fc", "total", "cmos45nm SNN", "loihi1 ANN", "2.40 pJ",
                 "57.60 pJ", "lif1"):
        assert word in text


def test_html_is_self_contained():
    _, rep, chips = _report()
    html = energy_html(rep, chips, title="tiny <model>")
    assert html.startswith("<!DOCTYPE html>") and "tiny &lt;model&gt;" in html
    # firing rate, energy per profile, chip: use and busy floor plans, step timeline, layers
    assert html.count("<svg") == 1 + 2 + 4
    assert "loihi1: 2 cores, 1 chip(s)" in html and "busiest core" in html
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", html)
    assert "<script" not in html


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(_chromium() is None, reason="no chromium binary (apt-get install chromium)")
def test_html_renders_in_headless_chromium(tmp_path):
    from PIL import Image

    _, rep, chips = _report()
    page = tmp_path / "report.html"
    page.write_text(energy_html(rep, chips), encoding="utf-8")
    flags = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
             "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(flags + ["--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for word in ("hidden_fc", "out_fc", "Firing rate per layer", "loihi1: mapping and performance",
                 "<svg"):
        assert word in dom.stdout
    shot = tmp_path / "shot.png"
    run = subprocess.run(flags + [f"--screenshot={shot}", "--window-size=1000,1400",
                                  page.as_uri()], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[0] > 100 and len(np.unique(img.reshape(-1, 3), axis=0)) > 10  # not blank
