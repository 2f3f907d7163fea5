"""``neurodeploy inspect``: table, JSON, and one-line errors on 1,000 corrupted files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from neurodeploy.cli.main import main
from neurodeploy.ir import Conv2d, CubaLIF, Dense, Flatten, Graph, Input, Readout, save_graph


def _conv_graph() -> Graph:
    g = Graph(metadata={"source": "test"})
    g.add(Input("x", shape=(1, 8, 8)))
    g.add(Conv2d("conv", weight=np.ones((4, 1, 3, 3), np.float32), padding=(1, 1)), "x")
    g.add(CubaLIF("lif", shape=(4, 8, 8)), "conv")
    g.add(Flatten("flat"), "lif")
    g.add(Dense("fc", weight=np.ones((10, 256), np.float32)), "flat")
    g.add(Readout("out", shape=(10,)), "fc")
    g.inputs, g.outputs = ["x"], ["out"]
    return g


@pytest.fixture()
def model(tmp_path):
    path = tmp_path / "m.ndg"
    save_graph(_conv_graph(), path)
    return path


def test_inspect_json_has_one_entry_per_node_with_exact_counts(model, capsys):
    assert main(["inspect", str(model), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [n["name"] for n in out["nodes"]] == ["x", "conv", "lif", "flat", "fc", "out"]
    by = {n["name"]: n for n in out["nodes"]}
    # 3x3 'same' conv on 8x8: (8·3 − 2)² taps per in/out channel pair
    assert by["conv"]["synapses"] == 22 * 22 * 4
    assert by["lif"]["neurons"] == 256 and by["lif"]["shape"] == [4, 8, 8]
    assert by["fc"]["synapses"] == 2560 and by["fc"]["parameters"] == 2560


def test_inspect_table_lists_every_node(model, capsys):
    assert main(["inspect", str(model)]) == 0
    text = capsys.readouterr().out
    for name in ("conv", "lif", "flat", "fc", "out", "total"):
        assert name in text


def _corruptions(data: bytes, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        buf = bytearray(data)
        kind = i % 4
        if kind == 0:  # flip random bytes
            for pos in rng.integers(0, len(buf), int(rng.integers(1, 64))):
                buf[pos] = int(rng.integers(0, 256))
        elif kind == 1:  # truncate
            buf = buf[: int(rng.integers(0, len(buf)))]
        elif kind == 2:  # overwrite a block with garbage
            start = int(rng.integers(0, len(buf)))
            length = int(rng.integers(1, 512))
            buf[start:start + length] = rng.integers(0, 256, len(buf[start:start + length]),
                                                     dtype=np.uint8).tobytes()
        else:  # zero a block
            start = int(rng.integers(0, len(buf)))
            buf[start:start + 256] = bytes(len(buf[start:start + 256]))
        yield bytes(buf)


def test_fuzz_1000_corrupted_files_give_one_line_error_and_exit_1(model, tmp_path, capsys):
    data = model.read_bytes()
    target = tmp_path / "fuzz.ndg"
    failures = 0
    for i, blob in enumerate(_corruptions(data, 1000)):
        target.write_bytes(blob)
        code = main(["inspect", str(target), "--json"])
        captured = capsys.readouterr()
        if code == 0:
            json.loads(captured.out)  # a corruption that left the file valid is fine
            continue
        failures += 1
        err = captured.err.strip()
        assert code == 1, (i, err)
        assert "\n" not in err and err.startswith("error: "), (i, err)
        assert "fuzz.ndg" in err and "Traceback" not in err and "internal error" not in err, err
    assert failures > 500  # most corruptions must be detected, not silently accepted


def test_cli_process_exit_codes_and_no_traceback(model, tmp_path):
    bad = tmp_path / "bad.ndg"
    bad.write_bytes(model.read_bytes()[:500])
    run = lambda *a: subprocess.run([sys.executable, "-m", "neurodeploy", *a],  # noqa: E731
                                    capture_output=True, text=True)
    r = run("inspect", str(bad))
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "bad.ndg" in r.stderr
    assert run("inspect").returncode == 2  # usage: missing argument
    assert run("--version").stdout.startswith("neurodeploy ")
    assert run("inspect", "--help").returncode == 0
