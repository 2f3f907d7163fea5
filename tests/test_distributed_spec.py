"""Cluster options, shards, judging compare shards and the SLURM job script (no cluster started)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurodeploy.cli.main import main
from neurodeploy.distributed import ClusterSpec, cluster_spec, parse_slurm
from neurodeploy.distributed.shards import split
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import CubaLIF, Dense, Graph, Input, Readout, save_graph


def test_split_is_contiguous_balanced_and_complete() -> None:
    assert split(0, 3) == []
    assert split(5, 2) == [range(0, 3), range(3, 5)]
    assert split(2, 8) == [range(0, 1), range(1, 2)]
    for n in range(1, 40):
        for k in range(1, 7):
            parts = split(n, k)
            assert [i for r in parts for i in r] == list(range(n))
            sizes = [len(r) for r in parts]
            assert len(parts) == min(n, k) and max(sizes) - min(sizes) <= 1


def test_cluster_spec_default_is_in_process_and_options_are_checked() -> None:
    assert cluster_spec() is None
    assert cluster_spec(workers=2) == ClusterSpec(workers=2)
    assert cluster_spec(scheduler=" tcp://h:8786 ") == ClusterSpec(scheduler="tcp://h:8786")
    with pytest.raises(NeurodeployError, match=r"^--workers must be >= 1, got 0$"):
        cluster_spec(workers=0)
    with pytest.raises(NeurodeployError, match="--scheduler runs on an existing cluster"):
        cluster_spec(workers=2, scheduler="tcp://h:8786")
    spec = cluster_spec(workers=6, slurm="partition=cpu,cores=4,jobs=3")
    assert spec.slurm.partition == "cpu" and spec.expected_workers() == 6
    assert cluster_spec(slurm="cores=4,jobs=3").expected_workers() == 12


def test_parse_slurm_text_and_toml(tmp_path) -> None:
    s = parse_slurm("queue=gpu, account=inrc, walltime=1-00:00:00, cores=8, memory=32GB")
    assert (s.partition, s.account, s.walltime, s.cores, s.memory) == (
        "gpu", "inrc", "1-00:00:00", 8, "32GB")
    path = tmp_path / "cluster.toml"
    path.write_text('[slurm]\npartition = "cpu"\ncores = 2\njob_script_prologue = '
                    '["module load python/3.10"]\njob_extra_directives = ["--qos=short"]\n')
    s = parse_slurm(str(path))
    assert s.job_script_prologue == ("module load python/3.10",)
    assert s.job_extra_directives == ("--qos=short",)
    for text, msg in [("cores=0", r"'cores' must be >= 1"), ("cores=x", "must be an integer"),
                      ("walltime=90", "walltime '90' is not HH:MM:SS"),
                      ("memory=lots", "memory 'lots' is not a size"),
                      ("partition", "'partition' is not key=value"),
                      ("nodes=2", "unknown SLURM setting 'nodes'"),
                      (str(tmp_path / "missing.toml"), "no such SLURM settings file")]:
        with pytest.raises(NeurodeployError, match=msg):
            parse_slurm(text)


def test_slurm_job_script_has_the_resources(tmp_path) -> None:
    pytest.importorskip("dask_jobqueue")
    from neurodeploy.distributed.slurm import slurm_cluster

    path = tmp_path / "inrc.toml"
    path.write_text('[slurm]\npartition = "oheogulch"\naccount = "inrc-team"\n'
                    'walltime = "02:30:00"\ncores = 4\nmemory = "16GB"\njobs = 2\n'
                    'job_extra_directives = ["--qos=normal"]\n'
                    'job_script_prologue = ["source ~/venv/bin/activate"]\n')
    cluster = slurm_cluster(parse_slurm(str(path)))
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    lines = script.splitlines()
    for want in ("#SBATCH -p oheogulch", "#SBATCH -A inrc-team", "#SBATCH -t 02:30:00",
                 "#SBATCH --cpus-per-task=4", "#SBATCH --mem=15G", "#SBATCH --qos=normal",
                 "export DASK_DISTRIBUTED__WORKER__DAEMON=False",
                 "export DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False",
                 "source ~/venv/bin/activate"):
        assert want in lines, (want, script)
    worker = next(line for line in lines if "distributed.cli.dask_worker" in line)
    assert "--nthreads 1" in worker and "--nworkers 4" in worker  # single-threaded workers


def _records(rng: np.random.Generator, B: int) -> dict:
    """Records [T=4, B, 3] of a CUBA LIF (binary s) and a sigma-delta layer (graded s), values
    spread over five orders of magnitude."""
    rec = {}
    for name in ("lif", "sd"):
        d = {}
        for var in ("s", "u", "v"):
            if var == "s" and name == "lif":
                d[var] = (rng.random((4, B, 3)) < 0.3).astype(np.float32)
            else:
                d[var] = (rng.normal(0, 1, (4, B, 3)) * rng.choice([1e-3, 1, 50], (4, B, 3))
                          ).astype(np.float32)
        rec[name] = d
    return rec


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), B=st.integers(1, 9),
       cuts=st.lists(st.integers(1, 8), max_size=3), mode=st.sampled_from(["fixed", "float"]))
def test_judging_shards_equals_judging_all_samples_at_once(seed, B, cuts, mode) -> None:
    from neurodeploy.ir import SigmaDelta
    from neurodeploy.lava.comparison import summarize_records
    from neurodeploy.lava.verdict import result

    g = Graph()
    g.add(Input("in", shape=(3,)))
    g.add(Dense("fc", weight=np.eye(3, dtype=np.float32)), "in")
    g.add(CubaLIF("lif", shape=(3,)), "fc")
    g.add(Dense("fc2", weight=np.eye(3, dtype=np.float32)), "lif")
    g.add(SigmaDelta("sd", shape=(3,)), "fc2")
    g.inputs, g.outputs = ["in"], ["sd"]
    rng = np.random.default_rng(seed)
    sim = _records(rng, B)
    lava = {n: {v: a.copy() for v, a in d.items()} for n, d in sim.items()}
    for n in lava:  # perturb some elements: by rounding residue, by a little, by a lot
        for v in ("u", "v"):
            hit = rng.random((4, B, 3)) < 0.3
            lava[n][v] = lava[n][v] + hit * rng.choice([1e-9, 1e-6, 1.0], (4, B, 3)) \
                * np.abs(lava[n][v])
    lava["lif"]["s"][rng.random((4, B, 3)) < 0.05] = 1.0
    rtol = 1e-5
    tol = None if mode == "fixed" else rtol
    whole = result([(0, summarize_records(g, sim, lava, tol))], B, 4, mode, rtol)
    bounds = sorted({0, B, *[c for c in cuts if c < B]})

    def part(rec: dict, lo: int, hi: int) -> dict:
        return {n: {v: a[:, lo:hi] for v, a in d.items()} for n, d in rec.items()}

    parts = [(lo, summarize_records(g, part(sim, lo, hi), part(lava, lo, hi), tol))
             for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    assert result(parts, B, 4, mode, rtol) == whole


def test_a_shard_alone_would_misjudge_float_mode() -> None:
    """Float tolerance is relative to the layer's largest value over all samples: an element
    that differs by 1e-4 (relative to itself) passes next to a sample 100x larger only."""
    from neurodeploy.lava.verdict import VarSummary, judge

    def summ(sim: float, lava: float) -> dict:
        bad = abs(sim - lava) > 1e-5 * abs(lava)
        a = np.array([sim] if bad else [], np.float64)
        b = np.array([lava] if bad else [], np.float64)
        idx = np.zeros(a.shape, np.int64)
        return {("l", "u"): VarSummary(False, abs(lava), abs(sim - lava), idx, idx, idx, a, b)}

    small, large = summ(1.0001, 1.0), summ(100.0, 100.0)
    assert judge([(0, small)], 1e-5)[0][0]["mismatches"] == 1
    layers, first = judge([(0, small), (1, large)], 1e-5)
    assert layers[0]["identical"] and first is None


def test_bad_cluster_options_are_one_line_before_any_work(tmp_path, capsys) -> None:
    g = Graph(metadata={"T": 4})
    g.add(Input("in", shape=(64,)))
    g.add(Dense("fc", weight=np.ones((10, 64), np.float32)), "in")
    g.add(CubaLIF("lif", shape=(10,), du=1.0, dv=0.0, vth=1.0), "fc")
    g.add(Readout("out", shape=(10,)), "lif")
    g.inputs, g.outputs = ["in"], ["out"]
    path = tmp_path / "m.ndg"
    save_graph(g, path)
    for verb in (["simulate", str(path), "--data", "digits"],
                 ["energy", str(path), "--data", "digits"],
                 ["compare", str(path), "--data", "digits"],
                 ["sweep", str(path), "--data", "digits", "-o", str(tmp_path / "s")]):
        assert main([*verb, "--workers", "0"]) == 1
        err = capsys.readouterr().err
        assert err == "error: --workers must be >= 1, got 0\n", (verb, err)
    assert main(["simulate", str(path), "--data", "digits", "--slurm", "cores=two"]) == 1
    assert capsys.readouterr().err == "error: --slurm: 'cores' must be an integer, got 'two'\n"


def test_slurm_without_sbatch_is_one_line(tmp_path, capsys) -> None:
    pytest.importorskip("dask_jobqueue")
    import shutil

    if shutil.which("sbatch"):
        pytest.skip("this machine has SLURM")
    g = Graph(metadata={"T": 4})
    g.add(Input("in", shape=(64,)))
    g.add(Dense("fc", weight=np.ones((10, 64), np.float32)), "in")
    g.add(Readout("out", shape=(10,)), "fc")
    g.inputs, g.outputs = ["in"], ["out"]
    save_graph(g, tmp_path / "m.ndg")
    assert main(["simulate", str(tmp_path / "m.ndg"), "--data", "digits", "--slurm",
                 "partition=cpu,cores=2"]) == 1
    assert capsys.readouterr().err == ("error: --slurm: 'sbatch' is not on PATH (run on a SLURM "
                                       "login node, or use --workers / --scheduler)\n")
