"""Deploy bundles with a sigma-delta (graded) output layer: lava-dl's PilotNet SDNN deploys on
one Loihi 2 chip and its run.py (netx, Lava fixed_pt) reproduces the graded output every step —
which is lava-dl's own output.npy; a small netx SDNN streams three samples back to back (netx's
pipeline timing) and matches step for step; an SDNN netx cannot express runs as the process
network with the IR's timing; run.py's check reports a graded difference."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from test_deploy import _dataset
from test_sigma_delta import SDNN, _need

from neurodeploy.cli.main import main
from neurodeploy.deploy.bundle import build_bundle, run_bundle
from neurodeploy.deploy.run_bundle import check
from neurodeploy.ir import Dense, Graph, Input, InputQ, SigmaDelta, SigmaDeltaQ, WeightQ

N = 3


def _sdq(vth: int, bias: object = 0) -> SigmaDeltaQ:
    return SigmaDeltaQ(vth=vth, bias=bias, spike_exp=6, state_exp=6, scale=2.0**-6)


def netx_sdnn_graph(seed: int = 0) -> Graph:
    """Netx-expressible SDNN: signed 8-bit frames (24,) → Delta input block → dense →
    SigmaDelta ReLU (biased) → dense → Sigma read-out (4,)."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": 8, "source": "test"})
    g.add(Input("in", shape=(24,), encoding="direct",
                quant=InputQ(scale=1 / 16, bits=8, signed=True)))
    g.add(SigmaDelta("enc", shape=(24,), mode="delta", activation="identity", quant=_sdq(1)),
          "in")
    w = (rng.integers(-60, 60, (16, 24)) * 2).astype(np.int32)
    g.add(Dense("fc1", weight=w * np.float32(2.0**-12), quant=WeightQ(weight=w)), "enc")
    bias = rng.integers(-40, 40, 16).astype(np.int32)
    g.add(SigmaDelta("sd1", shape=(16,), vth=np.float32(0.1), quant=_sdq(3, bias)), "fc1")
    w = (rng.integers(-60, 60, (4, 16)) * 2).astype(np.int32)
    g.add(Dense("fc2", weight=w * np.float32(2.0**-12), quant=WeightQ(weight=w)), "sd1")
    g.add(SigmaDelta("out", shape=(4,), mode="sigma", activation="identity", quant=_sdq(0)),
          "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def _frames(g: Graph, seed: int = 2):
    """Spike-encoded frames that change within each sample (so a one-step misalignment of the
    stream would show)."""
    from neurodeploy.data import Dataset

    rng = np.random.default_rng(seed)
    shape = g[g.inputs[0]].shape
    x = rng.integers(-100, 100, (N, 8) + shape) / 16.0
    x[:, 4:] += rng.integers(-40, 40, (N, 4) + shape) / 16.0
    g[g.inputs[0]].encoding = "spikes"
    return Dataset(x.astype(np.float32), np.arange(N) % 4, "t", "spikes", 4, 8)


def _graded_run(res: dict, bundle: Path) -> None:
    expected = json.loads((bundle / "expected.json").read_text())
    assert res["identical"] is True and res["differences"] == [] and res["s_equal"] is True
    assert res["s"] == expected["s"] and res["predictions"] == expected["predictions"]
    s = np.asarray(expected["s"])
    assert len(np.unique(s)) > 5  # the graded output moves


@pytest.mark.lava
def test_pilotnet_sdnn_deploys_and_its_run_reproduces_lava_dls_output(tmp_path: Path,
                                                                       capsys) -> None:
    _need(SDNN / "network.net", SDNN / "input.npy", SDNN / "output.npy")
    pytest.importorskip("lava.lib.dl.netx")
    assert main(["export", str(SDNN / "network.net"), "-o", str(tmp_path / "p.ndg")]) == 0
    frame = np.load(SDNN / "input.npy")[..., 0].T.astype(np.float32)  # [C, H, W]
    np.savez(tmp_path / "frame.npz", x=frame[None], y=np.zeros(1, np.int64))
    bundle = tmp_path / "bundle"
    capsys.readouterr()
    assert main(["deploy", str(tmp_path / "p.ndg"), "--target", "loihi2", "-o", str(bundle),
                 "--data", str(tmp_path / "frame.npz"), "--samples", "1", "--T", "9",
                 "--run", "--backend", "sim", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["network"] == "netx" and doc["chips"] == 1
    info = json.loads((bundle / "bundle.json").read_text())
    assert info["timing"] == "netx-pipeline"
    assert info["output"] == {"node": "layer9.neuron", "kind": "sigma_delta",
                              "scale": 2.0**-12, "mode": "sigma", "decoding": "last",
                              "weights": None}
    assert doc["run"]["identical"] is True and doc["run"]["s_equal"] is True
    expected = json.loads((bundle / "expected.json").read_text())
    lava_dl = np.load(SDNN / "output.npy").astype(np.int64)  # (1 neuron, 9 steps)
    np.testing.assert_array_equal(np.asarray(expected["s"])[0, :, 0], lava_dl[0])
    results = json.loads((bundle / "results.json").read_text())
    assert results["s"] == expected["s"]
    assert results["scores"] == [[lava_dl[0, -1] / 4096.0]]  # a Sigma is read at the last step
    assert "graded output" in (bundle / "README.md").read_text()


@pytest.mark.lava
def test_netx_sdnn_bundle_streams_samples_back_to_back(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("lava.lib.dl.netx")
    g = netx_sdnn_graph()
    b = build_bundle(g, _frames(g), tmp_path / "bundle", samples=N)
    assert b.info["network"] == "netx" and b.info["timing"] == "netx-pipeline"
    monkeypatch.chdir(tmp_path)
    _graded_run(run_bundle("bundle", backend="sim"), b.path)


@pytest.mark.lava
def test_sdnn_netx_cannot_express_runs_as_the_process_network(tmp_path: Path,
                                                              monkeypatch) -> None:
    pytest.importorskip("lava.lib.dl.netx")
    from test_lava_sigma_delta import sdnn_graph

    g = sdnn_graph()  # a CUBA branch into a sigma-delta layer: no netx chain
    for node in g:  # some float fields are float64 (int32 · float32), which .ndg refuses
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if isinstance(value, np.ndarray) and value.dtype == np.float64:
                setattr(node, f.name, value.astype(np.float32))
    b = build_bundle(g, _dataset(g), tmp_path / "bundle", samples=2)
    assert b.info["network"] == "lava-processes" and b.info["timing"] == "ir"
    monkeypatch.chdir(tmp_path)
    _graded_run(run_bundle("bundle", backend="sim"), b.path)


def test_run_script_compares_the_graded_output_exactly() -> None:
    output = {"node": "out", "kind": "sigma_delta", "scale": 0.5, "mode": "sigma",
              "decoding": "last", "weights": None}
    s = np.array([[[0, 2], [4, -6]], [[1, 1], [3, 8]]], np.int64)  # [N, T, n]
    expected = {"predictions": [0, 1], "scores": [[2.0, -3.0], [1.5, 4.0]], "s": s.tolist()}
    y = np.array([0, 1])
    ok = check({"s": s}, output, expected, y)
    assert ok["identical"] is True and ok["predictions"] == [0, 1]
    off = s.copy()
    off[1, 0, 0] += 1  # an early step differs, the last (decoded) one does not
    bad = check({"s": off}, output, expected, y)
    assert bad["identical"] is False and bad["differences"] == ["s at 1 sample-steps"]
