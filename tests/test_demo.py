"""``neurodeploy demo`` shortened (3 epochs, 3 Lava inputs): the whole path runs, quantized
accuracy stays within 1 pp of float on the full digits test split, Lava agrees exactly, and the
bundle's run.py reproduces the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neurodeploy.cli.main import main
from neurodeploy.deploy.manifest import verify_manifest


def test_demo_shortened_meets_its_checks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("lava.lib.dl.netx")
    out = tmp_path / "demo"
    code = main(["demo", "-o", str(out), "--epochs", "3", "--lava-samples", "3"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    s = json.loads((out / "summary.json").read_text())
    assert s["test_samples"] == 539  # the whole digits test split
    assert s["float_accuracy"] > 0.85  # it learned (chance is 10 %)
    assert abs(s["quantized_accuracy"] - s["float_accuracy"]) <= 0.01
    assert s["lava_identical"] is True and s["lava_samples"] == 3
    assert s["bundle_identical"] is True and s["bundle_network"] == "netx"
    assert s["loihi2_cores"] >= 2 and s["latency_us"] > 0
    assert all(s["checks"].values())
    for row in ("float accuracy", "quantized accuracy", "Lava agreement", "energy cmos45nm",
                "energy loihi2", "Loihi 2 cores", "latency"):
        assert row in printed
    for name in ("digits.pt", "digits.ndg", "digits.q.ndg", "report.html", "energy.json"):
        assert (out / name).is_file(), name
    assert verify_manifest(out / "bundle") == []
