"""``neurodeploy sweep``: the Pareto front on a hand-made table; a 2 targets × 3 T sweep and a
2 weight widths sweep on two Dask workers write the table and the plots, identical to the sweep
in one process; fewer weight bits reach the quantized graph and the mapping."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from neurodeploy.cli.main import main
from neurodeploy.ir import CubaLIF, Dense, Graph, Input, Readout, save_graph
from neurodeploy.sweep import COLUMNS, pareto_front


def _same_on_two_workers(args: list[str], tmp_path, capsys) -> str:
    """Run the sweep ``args`` in one process (one torch thread, as the workers: MKL's float
    sums depend on the thread count) and on 2 local workers; assert the same stdout and the
    same bytes in every file written; return the stdout."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main([*args, "-o", str(tmp_path / "one")]) == 0
    finally:
        torch.set_num_threads(threads)
    one = capsys.readouterr().out
    assert main([*args, "-o", str(tmp_path / "two"), "--workers", "2"]) == 0
    assert capsys.readouterr().out == one
    for name in ("sweep.json", "sweep.csv", "sweep.html"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    return one

def test_pareto_front_on_a_hand_made_table() -> None:
    rows = [
        {"name": "A", "accuracy": 0.95, "energy_pj": 100.0, "latency_us": 10.0},  # front
        {"name": "B", "accuracy": 0.90, "energy_pj": 50.0, "latency_us": 10.0},   # front
        {"name": "C", "accuracy": 0.90, "energy_pj": 60.0, "latency_us": 10.0},   # B beats it
        {"name": "D", "accuracy": 0.80, "energy_pj": 40.0, "latency_us": 30.0},   # front: energy
        {"name": "E", "accuracy": 0.80, "energy_pj": 80.0, "latency_us": 5.0},    # front: latency
        {"name": "F", "accuracy": 0.95, "energy_pj": 100.0, "latency_us": 10.0},  # ties A: front
        {"name": "G", "accuracy": 0.85, "energy_pj": 45.0, "latency_us": None},   # no latency
        {"name": "H", "accuracy": 0.70, "energy_pj": 200.0, "latency_us": 50.0},  # beaten by all
    ]
    assert [r["name"] for r, f in zip(rows, pareto_front(rows), strict=True) if f] == \
        ["A", "B", "D", "E", "F", "G"]
    # without latency G competes on accuracy and energy only: D (less accurate) stays,
    # E and C fall to B, and the tie A/F stays
    two = pareto_front(rows, minimize=("energy_pj",))
    assert [r["name"] for r, f in zip(rows, two, strict=True) if f] == ["A", "B", "D", "F", "G"]
    assert pareto_front([]) == []
    assert pareto_front([{"accuracy": None, "energy_pj": None, "latency_us": None}]) == [True]


def _model(path) -> None:
    rng = np.random.default_rng(7)
    g = Graph(metadata={"T": 6, "source": "test"})
    g.add(Input("in", shape=(64,), encoding="rate"))  # binary spikes: Loihi 1 and 2
    g.add(Dense("fc1", weight=rng.normal(0, 0.4, (24, 64)).astype(np.float32)), "in")
    g.add(CubaLIF("lif1", shape=(24,), du=0.5, dv=0.1, vth=1.0), "fc1")
    g.add(Dense("fc2", weight=rng.normal(0, 0.5, (10, 24)).astype(np.float32)), "lif1")
    g.add(Readout("out", shape=(10,)), "fc2")
    g.inputs, g.outputs = ["in"], ["out"]
    save_graph(g, path)


def test_sweep_two_targets_three_T_on_two_workers(tmp_path, capsys) -> None:
    pytest.importorskip("distributed")
    model = tmp_path / "m.ndg"
    _model(model)
    args = ["sweep", str(model), "--data", "digits", "--target", "loihi1", "--target",
            "loihi2", "--T", "3", "--T", "4", "--T", "6", "--samples", "48",
            "--calib-samples", "16", "--json"]
    _same_on_two_workers(args, tmp_path, capsys)
    doc = json.loads((tmp_path / "two" / "sweep.json").read_text())
    rows = doc["rows"]
    assert [(r["target"], r["weight_bits"], r["T"], r["profile"]) for r in rows] == [
        (t, 8, T, t) for t in ("loihi1", "loihi2") for T in (3, 4, 6)]
    assert all(r["status"] == "ok" for r in rows), [r["status"] for r in rows]
    for r in rows:
        assert 0 <= r["accuracy"] <= 1 and r["energy_pj"] > 0 and r["latency_us"] > 0
        assert r["cores"] >= 2
    # more steps cost more energy and time on the same target
    for t in ("loihi1", "loihi2"):
        mine = [r for r in rows if r["target"] == t]
        assert [r["latency_us"] for r in mine] == sorted(r["latency_us"] for r in mine)
    assert [r["pareto"] for r in rows] == pareto_front(rows)
    table = list(csv.reader(io.StringIO((tmp_path / "two" / "sweep.csv").read_text())))
    assert tuple(table[0]) == COLUMNS and len(table) == 7
    html = (tmp_path / "two" / "sweep.html").read_text()
    assert html.count("<svg") == 3
    front = sum(r["pareto"] for r in rows)
    assert front >= 1 and html.count('class="front"') == 3 * front


def test_sweep_over_weight_bits_on_two_workers(tmp_path, capsys) -> None:
    """A digits MLP (64-24-10, trained 4 epochs) at 8 and 2 bits on Loihi 2 and on a Loihi 2
    whose cores hold 400 synapse-memory words: 8 bits keep the float accuracy, 2 bits (sign + 1
    bit) lose some; the 2-bit rows are what quantize(weight_bits=2) simulates, take less
    synapse memory (and fewer cores where memory fills them); 1 bit of mixed sign is a row the
    quantizer refused; in one process and on 2 workers the same bytes."""
    pytest.importorskip("distributed")
    from profile_edit import edited_profile

    from neurodeploy.data import load_dataset
    from neurodeploy.ir import load_graph
    from neurodeploy.quantize import quantize
    from neurodeploy.sim import run_dataset

    model = tmp_path / "m.ndg"
    assert main(["train", "--task", "digits", "--epochs", "4", "--hidden", "24", "-o",
                 str(tmp_path / "m.pt")]) == 0
    assert main(["export", str(tmp_path / "m.pt"), "-o", str(model)]) == 0
    capsys.readouterr()
    tight = edited_profile(tmp_path, "loihi2", name="loihi2-small", synmem_words_per_core=400)
    tight_path = sorted(tmp_path.glob("loihi2-edited-*.toml"))[0]
    args = ["sweep", str(model), "--data", "digits", "--target", "loihi2", "--weight-bits",
            "8,2", "--weight-bits", "1", "--T", "4", "--profile", "loihi2", "--profile",
            str(tight_path), "--samples", "200", "--calib-samples", "32", "--json"]
    one = _same_on_two_workers(args, tmp_path, capsys)
    doc = json.loads(one)
    assert doc["weight_bits"] == [8, 2, 1]
    rows = {(r["weight_bits"], r["profile"]): r for r in doc["rows"]}
    assert list(rows) == [(b, p) for b in (8, 2, 1) for p in ("loihi2", tight.name)]
    for p in ("loihi2", tight.name):
        assert rows[(1, p)]["status"].startswith("refused by the quantizer: node 'fc1' "), \
            rows[(1, p)]["status"]
        assert "1-bit weights of mixed sign" in rows[(1, p)]["status"]
        assert not rows[(1, p)]["pareto"]
    graph = load_graph(model)
    calib = load_dataset("digits", "train", limit=32)
    test = load_dataset("digits", "test", limit=200)
    synapses = [s for s in graph.nodes if graph.nodes[s].kind == "dense"]
    for bits in (8, 2):
        qg, _ = quantize(graph, calib, target="loihi2", T=4, max_calib=32, weight_bits=bits)
        res = run_dataset(qg, test, mode="fixed", T=4)
        assert all(qg.nodes[s].quant.num_weight_bits == bits for s in synapses)
        assert rows[(bits, "loihi2")]["accuracy"] == round(res.accuracy, 6)
    eight, two = rows[(8, "loihi2")], rows[(2, "loihi2")]
    assert eight["float_accuracy"] > 0.8  # trained
    assert abs(eight["accuracy"] - eight["float_accuracy"]) <= 0.02
    assert two["accuracy"] < eight["accuracy"] - 0.05
    # 2-bit mantissas are a different network: other spikes, other energy
    assert two["energy_pj"] != eight["energy_pj"] and two["synops"] != eight["synops"]
    assert two["synmem_words"] < eight["synmem_words"] and two["cores"] == eight["cores"] == 2
    # fc1 (64 axons x 24 synapses) takes 64 x (2 + 24 x 8 / 32) = 512 words at 8 bits: two
    # cores of 400 words; at 2 bits 64 x (2 + 24 x 2 / 32) = 256, one core
    t8, t2 = rows[(8, tight.name)], rows[(2, tight.name)]
    assert (t8["cores"], t2["cores"]) == (3, 2)
    html = (tmp_path / "one" / "sweep.html").read_text()
    assert "2-bit T=4" in html and "8-bit T=4" in html


def test_sweep_bad_input_is_one_line(tmp_path, capsys) -> None:
    model = tmp_path / "m.ndg"
    _model(model)
    for extra, msg in [(["--target", "loihi3"], "error: unknown target 'loihi3'"),
                       (["--T", "0"], "error: --T must be >= 1, got 0"),
                       (["--T", "4", "--T", "4"], "error: --T 4 given twice"),
                       (["--profile", "tpu"], "error: "),
                       (["--weight-bits", "0"], "error: --weight-bits must be from 1 to 8 "
                                                "(Loihi's synapse widths), got 0"),
                       (["--weight-bits", "8,9"], "error: --weight-bits must be from 1 to 8 "
                                                  "(Loihi's synapse widths), got 9"),
                       (["--weight-bits", "4.5"], "error: --weight-bits: '4.5' is not a whole "
                                                  "number of bits (1 to 8)"),
                       (["--weight-bits", "8,4", "--weight-bits", "4"],
                        "error: --weight-bits 4 given twice"),
                       (["--workers", "0"], "error: --workers must be >= 1, got 0")]:
        assert main(["sweep", str(model), "--data", "digits", "-o", str(tmp_path / "o"),
                     *extra]) == 1
        err = capsys.readouterr().err
        assert err.startswith(msg) and err.count("\n") == 1, err
    assert not (tmp_path / "o" / "sweep.json").exists()


def test_sweep_unreachable_scheduler_is_one_line(tmp_path, capsys) -> None:
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    model = tmp_path / "m.ndg"
    _model(model)
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert main(["sweep", str(model), "--data", "digits", "-o", str(tmp_path / "o"),
                     "--weight-bits", "8,4", "--scheduler", "tcp://127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:1: ")
    assert err.count("\n") == 1 and not (tmp_path / "o" / "sweep.json").exists()
