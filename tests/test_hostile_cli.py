"""Every bad input gets one line: the CLI cases of issue 17 exit 1 with one ``error:`` line and
no "internal error"; bad profiles, datasets, NIR and netx files are one-line refusals; and a
bounded run of tools/fuzz_inputs.py finds no hang, no other exception, nothing accepted that
differs from the file."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from profile_edit import MINIMAL_PROFILE
from test_lava_cases import mlp_graph, netx_ready

from neurodeploy.cli.main import main
from neurodeploy.data import Dataset, save_dataset
from neurodeploy.energy import load_profile
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import save_graph

ROOT = Path(__file__).resolve().parent.parent


def _one_error(capsys: pytest.CaptureFixture, code: int) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("error: "), (code, err)
    assert "internal error" not in err[0] and "Traceback" not in err[0]
    return err[0]


def test_cli_bad_numbers_are_one_line_errors(tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    model = tmp_path / "m.q.ndg"
    save_graph(netx_ready(mlp_graph()), model)
    x = (np.random.default_rng(0).random((4, 4, 20)) < 0.3).astype(np.float32)
    bad_labels = tmp_path / "labels.npz"
    save_dataset(Dataset(x, np.array([0, 1, 2, 50]), "t", "spikes", 51, 4), bad_labels)
    cases = [
        (["train", "-o", str(tmp_path / "c.pt"), "--batch-size", "0"], "--batch-size must be"),
        (["train", "-o", str(tmp_path / "c.pt"), "--T", "0"], "--T must be >= 1"),
        (["export", str(model), "-o", str(tmp_path / "o.ndg"), "--dt", "-1"], "--dt must be"),
        (["export", str(model), "-o", str(tmp_path / "o.ndg"), "--dt", "nan"], "--dt must be"),
        (["export", str(model), "-o", str(tmp_path / "o.ndg"), "--T", "0"], "--T must be"),
        (["simulate", str(model), "--data", str(bad_labels), "--mode", "fixed"],
         "labels span [0, 50] but the output layer 'out' has 10 classes"),
        (["simulate", str(model), "--data", str(bad_labels), "--T", "0"], "T = 0 time steps"),
        (["export", str(model), "-o", str(tmp_path)], "is a directory"),
    ]
    for argv, message in cases:
        line = _one_error(capsys, main(argv))
        assert message in line, (argv, line)
    assert not (tmp_path / "c.pt").exists() and not (tmp_path / "o.ndg").exists()


BASE = MINIMAL_PROFILE


@pytest.mark.parametrize("extra,message", [
    ("memory = 5", r"'\[memory\]' must be a table, got 5"),
    ("variants = 5", r"'variants' must be a table"),
    ("[variants.x]\nac_pj = nan", r"key 'x.ac_pj' must be a non-negative number"),
    ("[memory]\nsram_bytes = [1]\nsram_pj = [nan]\naccess_bits = 8\ndram_pj = 1",
     r"key 'memory.sram_pj\[0\]' must be"),
    ("[resources]\nx = 1", r"'resources' must be a table|unknown|must"),
])
def test_profile_toml_edge_cases(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(BASE + extra + "\n" if extra.startswith("[") else extra + "\n" + BASE)
    if extra.startswith("[resources]"):  # a cmos profile ignores resources: loads
        load_profile(path)
        return
    with pytest.raises(NeurodeployError, match=message) as info:
        load_profile(f"{path}:x" if "variants" in extra else path)
    assert str(info.value).startswith(f"hardware profile {path}")


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e400", '"x"', "99999999999999999999"])
def test_profile_numbers_are_finite_and_bounded(tmp_path: Path, value: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(BASE.replace("ac_pj = 0.1", f"ac_pj = {value}"))
    with pytest.raises(NeurodeployError, match=r"key 'energy.ac_pj' must be a non-negative"):
        load_profile(path)


def test_bad_nir_and_netx_files_are_one_line(tmp_path: Path) -> None:
    from neurodeploy.converters import convert_file
    from neurodeploy.converters.nir import write_nir

    from neurodeploy.lava.netx import export_netx

    g = netx_ready(mlp_graph())
    nir_path, net_path = tmp_path / "m.nir", tmp_path / "m.net"
    write_nir(g, nir_path)
    export_netx(g, net_path, exact=True)
    with h5py.File(nir_path, "a") as f:  # the exact-metadata JSON, broken
        meta = f["node"]["metadata"]
        del meta["neurodeploy.order"]
        meta["neurodeploy.order"] = "[not json"
    with pytest.raises(NeurodeployError, match=r"m\.nir: malformed NIR content"):
        convert_file(nir_path)
    with h5py.File(net_path, "a") as f:  # iDecay = inf: was an OverflowError
        nc = f["layer"]["1"]["neuron"]
        del nc["iDecay"]
        nc["iDecay"] = np.inf
    with pytest.raises(NeurodeployError, match=r"m\.net: "):
        convert_file(net_path)
    with h5py.File(net_path, "a") as f:
        del f["layer"]["1"]["weight"]
        f["layer"]["1"].create_dataset("weight", shape=(10**9,), dtype=np.float32)
    with pytest.raises(NeurodeployError, match=r"m\.net: /layer/1/weight declares 1000000000"):
        convert_file(net_path)


def test_bounded_fuzz_run_finds_nothing(capsys: pytest.CaptureFixture) -> None:
    """About a minute of tools/fuzz_inputs.py over every input kind (the full run, 10,000
    cases, is a tool run: see the tool's docstring)."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import fuzz_inputs
    finally:
        sys.path.pop(0)
    code = fuzz_inputs.main(["--cases", "100", "--seed", "17", "--timeout", "60"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "different   exception        hang" in out


def test_quantizing_a_huge_float_weight_is_one_line() -> None:
    """A float weight of 3.4e38 was a ZeroDivisionError in the quantizer."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import fuzz_inputs
    finally:
        sys.path.pop(0)
    from neurodeploy.quantize import quantize

    g = fuzz_inputs._seed_graph(quantized=False)
    x = (np.random.default_rng(1).random((6, 4, 20)) < 0.3).astype(np.float32)
    g["fc1"].weight[0, 0] = 3.4e38  # now refused as a float parameter no simulation keeps finite
    with pytest.raises(NeurodeployError, match=r"node 'fc1' \(dense\): parameter 'weight' holds "
                                               r"magnitudes up to 3.4e\+38, beyond the 1e\+15"):
        quantize(g, Dataset(x, np.arange(6) % 10, "t", "spikes", 10, 4))
    g["fc1"].weight[0, 0] = 1e15  # the largest allowed: the quantizer's own refusal
    with pytest.raises(NeurodeployError, match=r"node 'lif1' \(cuba_lif\): threshold 1 becomes 0"):
        quantize(g, Dataset(x, np.arange(6) % 10, "t", "spikes", 10, 4))
    g["fc1"].weight[0, 0] = 1.0
    g["lif1"].refractory = 10**12
    with pytest.raises(NeurodeployError, match=r"node 'lif1' .*refractory period 1000000000000"):
        quantize(g, Dataset(x, np.arange(6) % 10, "t", "spikes", 10, 4))


def test_a_billion_neurons_are_refused_before_anything_allocates(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture
                                                                 ) -> None:
    """A graph of 1e9 neurons (tiny on disk: shapes only) grew `map` to 9 GB."""
    from neurodeploy.ir import CubaLIF, Graph, Input, validate

    g = Graph(metadata={"T": 4})
    g.add(Input("x", shape=(10**9,)))
    g.add(CubaLIF("lif", shape=(10**9,)), "x")
    g.inputs, g.outputs = ["x"], ["lif"]
    with pytest.raises(NeurodeployError, match=r"node 'x' \(input\): output of 1000000000 "
                                               r"elements \(1000000000,\); at most 16777216"):
        validate(g)


@pytest.mark.parametrize("key", ["max_delay", "delay_slot_words_per_neuron"])
@pytest.mark.parametrize("value", ['"x"', "1.5", "true"])
def test_optional_chip_resources_are_integers(tmp_path: Path, key: str, value: str) -> None:
    """An optional resource the mapper reads with int() was taken as any string (seed-1 fuzz
    run, case 3224: a ValueError in map_graph)."""
    import re

    text = (ROOT / "hardware_profiles" / "loihi2.toml").read_text()
    path = tmp_path / "p.toml"
    path.write_text(re.sub(rf"(?m)^{key} = \d+", f"{key} = {value}", text, count=1))
    with pytest.raises(NeurodeployError, match=rf"p\.toml: key 'resources\.{key}' must be an "
                                               r"integer >= 0"):
        load_profile(path)
