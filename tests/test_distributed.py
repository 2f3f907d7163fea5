"""Runs on Dask equal the single-process runs byte for byte (simulate, energy, compare, and
quantize's calibration recording); failures are one line.

One LocalCluster (2 single-threaded worker processes) is shared by the module; the CLI tests
start their own (--workers 2) or a separate `dask scheduler` / `dask worker` pair."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

pytest.importorskip("distributed")

import dask  # noqa: E402
from graphs import digits_mlp

from neurodeploy.cli.main import main  # noqa: E402
from neurodeploy.data import load_dataset  # noqa: E402
from neurodeploy.distributed import ClusterSpec  # noqa: E402
from neurodeploy.distributed.cluster import open_cluster  # noqa: E402
from neurodeploy.distributed.execute import run_shards  # noqa: E402
from neurodeploy.distributed.simulate import run_dataset as run_dataset_on  # noqa: E402
from neurodeploy.errors import NeurodeployError  # noqa: E402
from neurodeploy.ir import save_graph  # noqa: E402
from neurodeploy.quantize import quantize  # noqa: E402
from neurodeploy.sim import run_dataset  # noqa: E402


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    """The float graph and its Loihi 2 quantization, both saved; rate-encoded input."""
    d = tmp_path_factory.mktemp("dist")
    g = digits_mlp()
    qg, _ = quantize(g, load_dataset("digits", "train", limit=32), target="loihi2")
    save_graph(g, d / "m.ndg")
    save_graph(qg, d / "m.q.ndg")
    return {"float": g, "fixed": qg, "float_path": d / "m.ndg", "fixed_path": d / "m.q.ndg"}


@pytest.fixture(scope="module")
def cluster():
    """Two local worker processes; a task is given up after its worker died twice."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            open_cluster(ClusterSpec(workers=2)) as cl:
        yield cl


def _json(capsys, argv: list[str]) -> str:
    assert main(argv) == 0, capsys.readouterr().err
    return capsys.readouterr().out


@pytest.fixture()
def one_thread():
    """MKL's float32 sums depend on its thread count (in one process too); the workers run
    one thread, so a float reference must as well."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _worker_settings() -> tuple[bool, bool]:
    return (dask.config.get("distributed.worker.daemon"),
            dask.config.get("distributed.worker.profile.enabled"))


def test_local_workers_are_not_daemonic_and_not_profiled(cluster) -> None:
    """Lava starts processes (a daemonic worker may not); Dask's 10 ms stack sampler slows
    Lava's chain of waits between processes."""
    assert set(cluster.client.run(_worker_settings).values()) == {(False, False)}


@pytest.mark.parametrize("mode", ["fixed", "float"])
def test_sharded_run_dataset_equals_one_process(cluster, graphs, mode, one_thread) -> None:
    ds = load_dataset("digits", "test", limit=75)
    kw = {"mode": mode, "batch_size": 16, "seed": 5, "record": ["lif1", "out"]}
    ref = run_dataset(graphs[mode], ds, **kw)
    got = run_dataset_on(cluster, graphs[mode], ds, **kw)
    assert got.accuracy == ref.accuracy and got.T == ref.T and got.n_samples == 75
    np.testing.assert_array_equal(got.predictions, ref.predictions)
    np.testing.assert_array_equal(got.decoded, ref.decoded)
    assert got.firing_rates == ref.firing_rates and got.saturations == ref.saturations
    assert got.counts.keys() == ref.counts.keys()
    for k in ref.counts:  # bit-identical floats, not merely close
        assert got.counts[k].tobytes() == ref.counts[k].tobytes(), k
    for k, rec in ref.records.items():
        for var, val in rec.items():
            assert got.records[k][var].equal(val), (k, var)


def test_simulate_and_energy_with_workers_print_the_same_json(graphs, capsys) -> None:
    model = str(graphs["fixed_path"])
    sim = ["simulate", model, "--data", "digits", "--mode", "fixed", "--samples", "100",
           "--batch-size", "16", "--json"]
    assert _json(capsys, [*sim, "--workers", "2"]) == _json(capsys, sim)
    energy = ["energy", model, "--data", "digits", "--samples", "300", "--json"]
    # two batches of at most 256 samples: one shard per worker
    assert _json(capsys, [*energy, "--workers", "2"]) == _json(capsys, energy)


@pytest.mark.parametrize("mode", ["fixed", "float"])
def test_sharded_simulate_equals_one_simulate(cluster, graphs, mode, one_thread) -> None:
    """Samples split over the workers (7 and 6), merged: the SimResult of one simulate call,
    every field bit for bit."""
    from neurodeploy.data import encode
    from neurodeploy.distributed.quantize import simulate_sharded
    from neurodeploy.sim import simulate

    ds = load_dataset("digits", "train", limit=13)
    x = encode(ds.x, "rate", 6, seed=2)
    ref = simulate(graphs[mode], x, mode=mode, record=["lif1", "out"])
    got = simulate_sharded(cluster, graphs[mode], x, mode=mode, record=["lif1", "out"])
    assert got.T == ref.T and got.mode == ref.mode and got.decoded.equal(ref.decoded)
    np.testing.assert_array_equal(got.predictions, ref.predictions)
    assert got.firing_rates == ref.firing_rates and got.saturations == ref.saturations
    assert got.counts.keys() == ref.counts.keys()
    for k in ref.counts:
        assert got.counts[k].tobytes() == ref.counts[k].tobytes(), k
    assert got.outputs.keys() == ref.outputs.keys()
    assert all(got.outputs[k].equal(v) for k, v in ref.outputs.items())
    for k, rec in ref.records.items():
        for var, val in rec.items():
            assert got.records[k][var].equal(val), (k, var)


def test_quantize_calibrated_on_workers_writes_the_same_file(cluster, graphs, tmp_path) -> None:
    """The float recording of 40 calibration samples on 2 workers: the same quantized graph
    (file bytes) and report as in one process."""
    from neurodeploy.distributed.quantize import quantize as quantize_on
    from neurodeploy.ir import save_graph

    calib = load_dataset("digits", "train", limit=40)
    for bits in (8, 3):
        one, rep1 = quantize(graphs["float"], calib, target="loihi2", weight_bits=bits)
        two, rep2 = quantize_on(cluster, graphs["float"], calib, target="loihi2",
                                weight_bits=bits)
        save_graph(one, tmp_path / f"one{bits}.q.ndg")
        save_graph(two, tmp_path / f"two{bits}.q.ndg")
        assert (tmp_path / f"one{bits}.q.ndg").read_bytes() == \
            (tmp_path / f"two{bits}.q.ndg").read_bytes()
        assert repr(rep1) == repr(rep2)
    assert (tmp_path / "one8.q.ndg").read_bytes() != (tmp_path / "one3.q.ndg").read_bytes()


def test_quantize_cli_with_workers_writes_the_same_file(graphs, tmp_path, capsys) -> None:
    args = ["quantize", str(graphs["float_path"]), "--calib", "digits", "--calib-samples", "64",
            "--samples", "100", "--weight-bits", "4", "--json"]
    for d in ("one", "two"):
        (tmp_path / d).mkdir()
    ref = _json(capsys, [*args, "-o", str(tmp_path / "one" / "m.q.ndg")])
    got = _json(capsys, [*args, "-o", str(tmp_path / "two" / "m.q.ndg"), "--workers", "2"])
    assert got.replace("/two/", "/one/") == ref
    assert (tmp_path / "two" / "m.q.ndg").read_bytes() == \
        (tmp_path / "one" / "m.q.ndg").read_bytes()
    assert json.loads(ref)["weight_bits"] == 4


def test_a_shard_whose_worker_dies_is_run_again(cluster, tmp_path) -> None:
    marker = tmp_path / "died"

    def shard(i: int, marker: str) -> int:
        if i == 1 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies mid-run
        return 10 * i

    shards = [{"i": i, "marker": str(marker)} for i in range(3)]
    assert run_shards(cluster, shard, shards, ["a", "b", "c"], "testing") == [0, 10, 20]
    assert marker.exists()


def test_a_shard_whose_workers_keep_dying_fails_naming_it(cluster) -> None:
    def shard(i: int) -> int:
        if i == 2:
            os._exit(1)
        return i

    with pytest.raises(NeurodeployError) as info:
        run_shards(cluster, shard, [{"i": i} for i in range(3)],
                   ["samples 0-9", "samples 10-19", "samples 20-29"], "simulating (fixed)")
    # a shard queued on the dying worker may be named with it
    msg = str(info.value)
    assert msg in ("simulating (fixed): shard 3/3 (samples 20-29) failed: every worker that ran "
                   "it died (out of memory? killed?); no results reported",
                   "simulating (fixed): shards 2/3 (samples 10-19) and 3/3 (samples 20-29) "
                   "failed: every worker that ran them died (out of memory? killed?); no "
                   "results reported"), msg
    # the cluster recovers: the next run is complete
    assert run_shards(cluster, shard, [{"i": 0}, {"i": 1}], ["a", "b"], "testing") == [0, 1]


def test_an_error_in_a_shard_is_reported_once_with_its_shard(cluster) -> None:
    def shard(i: int) -> int:
        if i == 1:
            raise ZeroDivisionError("division by zero")
        return i

    with pytest.raises(NeurodeployError, match=r"^testing: shard 2/2 \(b\) failed: "
                                               r"ZeroDivisionError: division by zero; no "):
        run_shards(cluster, shard, [{"i": 0}, {"i": 1}], ["a", "b"], "testing")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_one_line(graphs, capsys, tmp_path) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    for argv in (["simulate", str(graphs["fixed_path"]), "--data", "digits", "--mode", "fixed"],
                 ["quantize", str(graphs["float_path"]), "--calib", "digits", "-o",
                  str(tmp_path / "q.ndg")]):
        t0 = time.monotonic()
        with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
            assert main([*argv, "--scheduler", address]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: cannot reach the Dask scheduler at {address}: ")
        assert err.count("\n") == 1 and time.monotonic() - t0 < 30
    assert not (tmp_path / "q.ndg").exists()


def test_quantize_bad_workers_and_bits_are_one_line(graphs, capsys, tmp_path) -> None:
    base = ["quantize", str(graphs["float_path"]), "--calib", "digits", "-o",
            str(tmp_path / "q.ndg")]
    for extra, msg in [(["--workers", "0"], "error: --workers must be >= 1, got 0\n"),
                       (["--weight-bits", "9"], "error: --weight-bits must be from 1 to 8 "
                                                "(Loihi's synapse widths), got 9\n"),
                       (["--weight-bits", "0"], "error: --weight-bits must be from 1 to 8 "
                                                "(Loihi's synapse widths), got 0\n")]:
        assert main([*base, *extra]) == 1
        assert capsys.readouterr().err == msg
    assert not (tmp_path / "q.ndg").exists()


def test_default_runs_do_not_import_dask(graphs, tmp_path) -> None:
    code = ("import sys; from neurodeploy.cli.main import main; "
            f"rc = main(['simulate', {str(graphs['fixed_path'])!r}, '--data', 'digits', "
            "'--mode', 'fixed', '--samples', '5', '--json']); "
            f"rc = rc or main(['quantize', {str(graphs['float_path'])!r}, '--calib', 'digits', "
            f"'--calib-samples', '16', '--samples', '5', '-o', {str(tmp_path / 'q.ndg')!r}, "
            "'--json']); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('dask', 'distributed', 'dask_jobqueue')); "
            "print(rc, bad, file=sys.stderr); sys.exit(rc or len(bad))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stderr.strip().endswith("0 []"), proc.stderr


# ---- simulator vs Lava on workers (Lava runs cost about a second each: few samples)

@contextlib.contextmanager
def dask_pair(tmp_path):
    """`dask scheduler` on 127.0.0.1 (a random free port) and `dask worker` (2 processes,
    1 thread each, non-daemonic for Lava) as separate processes; both terminated on exit."""
    env = dict(os.environ, DASK_DISTRIBUTED__WORKER__DAEMON="False",
               DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED="False")
    info = tmp_path / "scheduler.json"
    log = open(tmp_path / "dask.log", "w")  # noqa: SIM115 - closed below
    procs = []
    try:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(info)], env=env, stdout=log,
            stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 120
        while not (info.exists() and info.read_text().strip()):
            assert time.monotonic() < deadline and procs[0].poll() is None, "no scheduler"
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "worker", address, "--nworkers", "2", "--nthreads",
             "1", "--no-dashboard"], env=env, stdout=log, stderr=subprocess.STDOUT))
        from distributed import Client

        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=180)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        log.close()


@pytest.fixture(scope="module")
def compare_reference(graphs):
    """`compare` in one process, the document every sharded run must reproduce."""
    from neurodeploy.distributed.worker import allow_lava_import

    allow_lava_import()  # this process may have started the module's cluster already
    pytest.importorskip("lava.magma")
    args = ["compare", str(graphs["fixed_path"]), "--data", "digits", "--samples", "5",
            "--json"]
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(args) == 0
    doc = json.loads(buf.getvalue())
    assert doc["identical"] is True and doc["samples"] == 5
    return args, buf.getvalue()


def test_compare_with_workers_equals_one_process(compare_reference, capsys) -> None:
    args, ref = compare_reference
    assert _json(capsys, [*args, "--workers", "2"]) == ref


def test_separate_scheduler_and_workers(tmp_path, compare_reference, graphs, capsys) -> None:
    args, ref = compare_reference
    sim = ["simulate", str(graphs["fixed_path"]), "--data", "digits", "--mode", "fixed",
           "--samples", "60", "--batch-size", "16", "--json"]
    sim_ref = _json(capsys, sim)
    quant = ["quantize", str(graphs["float_path"]), "--calib", "digits", "--calib-samples",
             "48", "--samples", "60", "--json"]
    (tmp_path / "one").mkdir()
    (tmp_path / "pair").mkdir()
    quant_ref = _json(capsys, [*quant, "-o", str(tmp_path / "one" / "m.q.ndg")])
    with dask_pair(tmp_path) as address:
        assert _json(capsys, [*args, "--scheduler", address]) == ref
        assert _json(capsys, [*sim, "--scheduler", address]) == sim_ref
        got = _json(capsys, [*quant, "-o", str(tmp_path / "pair" / "m.q.ndg"), "--scheduler",
                             address])
    assert got.replace("/pair/", "/one/") == quant_ref
    assert (tmp_path / "pair" / "m.q.ndg").read_bytes() == \
        (tmp_path / "one" / "m.q.ndg").read_bytes()


def test_compare_finds_the_same_divergence_on_workers(cluster, graphs) -> None:
    pytest.importorskip("lava.magma")
    from neurodeploy.distributed.compare import compare as compare_on
    from neurodeploy.lava import compare

    broken = copy.deepcopy(graphs["fixed"])
    w = broken.nodes["fc2"].quant.weight
    w[3, :] = np.where(w[3, :] >= 0, 254, -254)  # one output's weights at the rails
    ds = load_dataset("digits", "test", limit=4)
    ref = compare(graphs["fixed"], ds, samples=4, lava_graph=broken)
    assert ref["identical"] is False
    assert compare_on(cluster, graphs["fixed"], ds, samples=4, lava_graph=broken) == ref
    # float mode: the tolerance is judged against each layer's scale over all shards; the
    # simulator's float32 sums follow the thread count, and workers run one thread each (the
    # batch is the same: each shard simulates all samples)
    nudged = copy.deepcopy(graphs["fixed"])
    nudged.nodes["fc2"].weight[3, :] *= 1.001
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ref = compare(graphs["fixed"], ds, samples=4, lava_graph=nudged, mode="float")
    finally:
        torch.set_num_threads(threads)
    assert ref["identical"] is False and ref["first_divergence"]["layer"] != "lif1"
    assert compare_on(cluster, graphs["fixed"], ds, samples=4, lava_graph=nudged,
                      mode="float") == ref
