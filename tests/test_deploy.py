"""Deploy bundles: run.py reproduces the simulator (a readout's decoded voltage; a spiking
output layer's spike counts and voltage, exactly), manifest hashes verify, and the refusals
(model does not fit, Lava missing, output not writable) are one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from test_lava_cases import T_STEPS, _lif, _wq, conv_graph, graph_input, mlp_graph, netx_ready

from neurodeploy.cli.main import main
from neurodeploy.data import Dataset
from neurodeploy.deploy.bundle import build_bundle, run_bundle
from neurodeploy.deploy.manifest import verify_manifest
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Conv2d, Dense, Graph, Input, InputQ, Readout, save_graph
from neurodeploy.sim import simulate

N = 6


def _dataset(g: Graph) -> Dataset:
    """The graph's own test inputs as a Dataset (spike data [N, T, ...] or static [N, ...])."""
    x = graph_input(g, 7, B=N)  # [T, N, ...]
    y = np.arange(N) % 10
    if g[g.inputs[0]].encoding == "spikes":
        return Dataset(np.swapaxes(x, 0, 1).copy(), y, "t", "spikes", 10, x.shape[0])
    return Dataset(x[0].copy(), y, "t", "direct", 10)


def _check_run(g: Graph, bundle: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    ds = _dataset(g)
    from neurodeploy.data import encode

    out = g.outputs[0]
    sim = simulate(g, encode(ds.x, ds.encoding if ds.encoding == "spikes" else "direct",
                             g.metadata["T"]), mode="fixed", record=[out])
    monkeypatch.chdir(bundle.parent)  # a relative bundle path, as `make demo` passes one
    res = run_bundle(Path(bundle.name), backend="sim")
    assert "Loihi2SimCfg(select_tag='fixed_pt')" in res["stdout"]  # says where it ran
    assert res["backend"] == "sim" and res["identical"] is True and res["differences"] == []
    assert res["predictions"] == sim.predictions.tolist()
    np.testing.assert_allclose(res["scores"], sim.decoded.numpy(), rtol=1e-6, atol=0)
    assert len(set(map(tuple, np.round(res["scores"], 6)))) > 1  # outputs differ per sample
    if g[out].kind == "cuba_lif":  # spike counts and every step's voltage, exactly
        s, v = (sim.records[out][k].numpy().astype(np.int64) for k in "sv")  # [T, N, *shape]
        counts = s.sum(0).reshape(N, -1)
        v = np.swapaxes(v.reshape(v.shape[0], N, -1), 0, 1)
        assert res["spike_counts_equal"] is True and res["v_equal"] is True
        assert res["output"] == {"node": out, "kind": "cuba_lif"}
        np.testing.assert_array_equal(res["spike_counts"], counts)
        np.testing.assert_array_equal(res["v"], v)
        assert 0 < counts.sum() < s[:, 0].size * N  # the layer fires, not always
        assert len(np.unique(v.reshape(-1))) > 10  # the voltages are not trivial
    assert verify_manifest(bundle) == []  # results.json is a run output, not a bundle file
    return res


def test_netx_bundle_runs_and_reproduces_the_simulator(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("lava.lib.dl.netx")
    capsys.readouterr()  # lava-dl's first import prints torch's CUDA notice on stderr
    g = mlp_graph()  # lif1 has a bias exponent netx cannot store: its stock loader rounds it
    b = build_bundle(g, _dataset(g), tmp_path / "bundle", samples=N, model_name="mlp")
    assert b.info["network"] == "netx" and (b.path / "model.net").is_file()
    assert b.info["netx_patched"] == ["lif1"]  # run.py applies the exact integers
    manifest = json.loads((b.path / "manifest.json").read_text())
    assert set(manifest["files"]) == {p.name for p in b.path.iterdir()} - {"manifest.json"}
    _check_run(g, b.path, monkeypatch)
    # a changed file is caught, by name, and the CLI's --verify exits 1 with one line
    data = bytearray((b.path / "inputs.npz").read_bytes())
    data[-1] ^= 1
    (b.path / "inputs.npz").write_bytes(bytes(data))
    assert verify_manifest(b.path) == ["inputs.npz: SHA-256 differs from the manifest"]
    assert main(["deploy", "--verify", str(b.path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "inputs.npz: SHA-256 differs" in err[0]


def test_process_network_bundle_when_netx_cannot_express_the_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("lava.lib.dl.netx")
    g = conv_graph()  # sum pooling: netx has no pool layer
    b = build_bundle(g, _dataset(g), tmp_path / "bundle", samples=N)
    assert b.info["network"] == "lava-processes" and not (b.path / "model.net").exists()
    assert "'pool'" in b.info["netx_refusal"]
    _check_run(g, b.path, monkeypatch)


def spiking_conv_graph(seed: int = 11) -> Graph:
    """(2, 8, 10) binary input → conv 3×3 → LIF → conv 3×3 stride 2 → a spiking CubaLIF output
    (3, 4, 5): not square, so Lava's (W, H, C) layout must be turned back to the IR's."""
    rng = np.random.default_rng(seed)
    g = Graph(metadata={"T": T_STEPS, "source": "test"})
    g.add(Input("in", shape=(2, 8, 10), encoding="spikes", quant=InputQ(scale=1.0, bits=1)))
    q = _wq(rng, (4, 2, 3, 3), 0, -60, 100)
    g.add(Conv2d("conv1", weight=q.weight.astype(np.float32), padding=(1, 1), quant=q), "in")
    g.add(_lif("lif1", rng, (4, 8, 10), vth=1000), "conv1")
    q = _wq(rng, (3, 4, 3, 3), 0, -60, 100)
    g.add(Conv2d("conv2", weight=q.weight.astype(np.float32), padding=(1, 1), stride=(2, 2),
                 quant=q), "lif1")
    g.add(_lif("out", rng, (3, 4, 5), vth=4000), "conv2")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


@pytest.mark.lava
def test_spiking_output_netx_bundle_reproduces_spike_counts_and_voltage(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A graph ending in a CubaLIF: run.py records its spikes (netx ``out`` into a sink) and
    its v, and both equal the simulator's, every sample, neuron and step."""
    pytest.importorskip("lava.lib.dl.netx")
    g = spiking_conv_graph()
    b = build_bundle(g, _dataset(g), tmp_path / "bundle", samples=N)
    assert b.info["network"] == "netx" and b.info["netx_patched"] == ["lif1", "out"]
    assert b.info["output"] == {"node": "out", "kind": "cuba_lif", "scale": 1.0,
                                "decoding": "spike_count"}
    expected = json.loads((b.path / "expected.json").read_text())
    assert np.shape(expected["spike_counts"]) == (N, 60)
    assert np.shape(expected["v"]) == (N, T_STEPS, 60)
    assert "reads its answer from `v`" in (b.path / "README.md").read_text()
    _check_run(g, b.path, monkeypatch)


@pytest.mark.lava
def test_spiking_output_process_network_bundle(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("lava.lib.dl.netx")
    g = conv_graph()  # sum pooling: netx has no pool layer
    g.nodes["out"] = _lif("out", np.random.default_rng(9), (10,), vth=800)
    b = build_bundle(g, _dataset(g), tmp_path / "bundle", samples=N)
    assert b.info["network"] == "lava-processes" and b.info["output"]["kind"] == "cuba_lif"
    _check_run(g, b.path, monkeypatch)


def test_run_script_compares_spike_counts_and_voltage_exactly() -> None:
    """run.py's check: one spike or one voltage unit off is a difference, named."""
    from neurodeploy.deploy.run_bundle import check

    rng = np.random.default_rng(0)
    s = (rng.random((3, 5, 4)) < 0.4).astype(np.int64)  # [N, T, n]
    v = rng.integers(-500, 500, (3, 5, 4))
    counts = s.sum(1)
    output = {"node": "out", "kind": "cuba_lif", "scale": 0.5, "decoding": "spike_count"}
    expected = {"predictions": counts.argmax(1).tolist(), "spike_counts": counts.tolist(),
                "v": v.tolist()}
    y = np.zeros(3, np.int64)
    res = check({"s": s, "v": v}, output, expected, y)
    assert res["identical"] is True and res["differences"] == []
    assert res["scores"] == counts.tolist() and res["predictions"] == expected["predictions"]
    v2 = v.copy()
    v2[1, 3, 2] += 1
    res = check({"s": s, "v": v2}, output, expected, y)
    assert res["identical"] is False and res["spike_counts_equal"] is True
    assert res["differences"] == ["v at 1 sample-steps"]
    s2 = s.copy()
    s2[2, 0, :] = 1 - s2[2, 0, :]
    res = check({"s": s2, "v": v}, output, expected, y)
    assert res["identical"] is False and res["v_equal"] is True
    assert res["differences"][-1] == "spike counts"


def _wide_graph(n_in: int) -> Graph:
    g = Graph(metadata={"T": 4, "task": "digits"})
    g.add(Input("in", shape=(n_in,), encoding="direct"))
    g.add(Dense("fc", weight=np.zeros((10, n_in), np.float32)), "in")
    g.add(Readout("out", shape=(10,)), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    return g


def test_model_that_does_not_fit_is_refused_before_writing(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    save_graph(_wide_graph(9000), tmp_path / "wide.ndg")
    out = tmp_path / "bundle"
    assert main(["deploy", str(tmp_path / "wide.ndg"), "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: layer 'out' (fed by fc): fan-in 9000 per neuron exceeds loihi2's "
                   "limit of 8192 (resource: fan-in / input axons per neuron)"]
    assert not out.exists()
    # more cores than the target's chips hold: a 2-core chip, 64 neurons per core
    toml = Path(__file__).parents[1] / "hardware_profiles" / "loihi2.toml"
    text = toml.read_text().replace("cores_per_chip = 128", "cores_per_chip = 2")
    text = text.replace("neurons_per_core = 3200", "neurons_per_core = 4")
    small = tmp_path / "tiny.toml"
    small.write_text(text.replace('name = "loihi2"', 'name = "tiny"'))
    with pytest.raises(NeurodeployError) as exc:
        build_bundle(_wide_graph(16), None, out, target=str(small))
    assert str(exc.value) == ("the model does not fit: it needs 3 cores = 2 tiny chips, the "
                              "target has 1 (--chips); largest layer 'out' takes 3 cores")
    assert not out.exists()


def test_missing_lava_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture) -> None:
    for name in [m for m in sys.modules if m == "lava" or m.startswith("lava.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "lava", None)  # import lava → ImportError
    g = netx_ready(mlp_graph())
    save_graph(g, tmp_path / "m.q.ndg")
    out = tmp_path / "bundle"
    assert main(["deploy", str(tmp_path / "m.q.ndg"), "-o", str(out), "--run",
                 "--data", "digits"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: deploy --run needs lava-nc 0.10")
    assert not out.exists()
    # the bundle's own run.py says the same without a traceback
    build_bundle(g, _dataset(g), out, samples=2)
    sys.path.insert(0, str(out))
    try:
        import run as bundle_run  # the bundle's run.py
    finally:
        sys.path.remove(str(out))
    monkeypatch.chdir(out)
    with pytest.raises(SystemExit) as exc:
        bundle_run.main(["--backend", "sim"])
    assert str(exc.value).startswith("error: Lava is not installed in this Python")
    sys.modules.pop("run", None)


def test_unwritable_or_occupied_output_is_refused(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    g = netx_ready(mlp_graph())
    save_graph(g, tmp_path / "m.q.ndg")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = main(["deploy", str(tmp_path / "m.q.ndg"), "-o", str(blocker / "bundle"),
                 "--data", str(_npz(g, tmp_path))])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith(f"error: cannot create output directory '{blocker}'")
    # a non-empty directory is the user's: refused without --force, and left as it was
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code = main(["deploy", str(tmp_path / "m.q.ndg"), "-o", str(mine),
                 "--data", str(_npz(g, tmp_path))])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err == [f"error: output directory '{mine}' is not empty; choose "
                                 "another or pass --force to replace it"]
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no leftovers


def _npz(g: Graph, tmp_path: Path) -> Path:
    from neurodeploy.data import save_dataset

    path = tmp_path / "data.npz"
    if not path.exists():
        save_dataset(_dataset(g), path)
    return path


def test_missing_output_is_a_usage_error(tmp_path: Path) -> None:
    save_graph(netx_ready(mlp_graph()), tmp_path / "m.q.ndg")
    assert main(["deploy", str(tmp_path / "m.q.ndg")]) == 2
    assert main(["deploy", str(tmp_path / "m.q.ndg"), "-o", str(tmp_path / "b"),
                 "--backend", "fpga"]) == 2
    assert not (tmp_path / "b").exists()


@pytest.mark.lava
def test_pilotnet_lif_deploys_on_one_loihi2_chip_and_its_run_reproduces_v(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """lava-dl's PilotNet LIF, whose output layer is a CubaLIF (vThMant 2**17 − 1): `deploy`
    maps it onto one Loihi 2 chip and the bundle's run.py (netx, T = 3 to keep Lava short)
    reproduces the output layer's spike counts and voltage on lava-dl's frame."""
    from test_netx_input_neuron import IMAGE, PILOTNET, _need, frame_input

    _need(PILOTNET, IMAGE)
    pytest.importorskip("lava.lib.dl.netx")
    assert main(["export", str(PILOTNET), "-o", str(tmp_path / "p.ndg")]) == 0
    np.savez(tmp_path / "frame.npz", x=frame_input(1)[0], y=np.zeros(1, np.int64))
    bundle = tmp_path / "bundle"
    capsys.readouterr()
    assert main(["deploy", str(tmp_path / "p.ndg"), "--target", "loihi2", "-o", str(bundle),
                 "--data", str(tmp_path / "frame.npz"), "--samples", "1", "--T", "3",
                 "--run", "--backend", "sim", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["network"] == "netx" and doc["chips"] == 1
    assert json.loads((bundle / "mapping.json").read_text())["chips"] == 1
    info = json.loads((bundle / "bundle.json").read_text())
    assert info["T"] == 3 and info["output"]["node"] == "layer10.neuron"
    assert info["output"]["kind"] == "cuba_lif"
    assert doc["run"]["identical"] is True and doc["run"]["v_equal"] is True
    expected = json.loads((bundle / "expected.json").read_text())
    results = json.loads((bundle / "results.json").read_text())
    assert np.shape(expected["v"]) == (1, 3, 1) and np.any(expected["v"])  # v moves
    assert results["v"] == expected["v"] and results["spike_counts"] == [[0]]
