"""Cluster options, shards, the compare merge and the SLURM job script (no cluster started)."""

from __future__ import annotations

import numpy as np
import pytest

from neurodeploy.cli.main import main
from neurodeploy.distributed import ClusterSpec, cluster_spec, parse_slurm
from neurodeploy.distributed.compare import merge_comparisons
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
                 "source ~/venv/bin/activate"):
        assert want in lines, (want, script)
    worker = next(line for line in lines if "distributed.cli.dask_worker" in line)
    assert "--nthreads 1" in worker and "--nworkers 4" in worker  # single-threaded workers


def _result(layers: dict[str, tuple[int, int, int]], first: dict | None, n: int) -> dict:
    """A compare result: per layer the mismatches of u, v, s."""
    return {"identical": first is None, "samples": n, "T": 5,
            "layers": [{"layer": k, "identical": sum(m) == 0, "mismatches": sum(m),
                        "u": m[0] == 0, "v": m[1] == 0, "s": m[2] == 0}
                       for k, m in layers.items()],
            "first_divergence": first}


def test_merge_comparisons_adds_counts_and_takes_the_earliest_divergence() -> None:
    d = {"layer": "b", "step": 2, "neuron": 7, "variable": "v", "sim": 3, "lava": 4}
    a = _result({"a": (0, 0, 0), "b": (0, 0, 0)}, None, 3)
    b = _result({"a": (0, 0, 0), "b": (0, 5, 1)}, dict(d, sample=1), 3)
    c = _result({"a": (2, 0, 0), "b": (0, 1, 0)}, dict(d, layer="a", variable="u", sample=0), 2)
    merged = merge_comparisons([(0, a), (3, b), (6, c)])
    assert merged["samples"] == 8 and merged["identical"] is False
    assert merged["layers"] == [
        {"layer": "a", "identical": False, "mismatches": 2, "u": False, "v": True, "s": True},
        {"layer": "b", "identical": False, "mismatches": 7, "u": True, "v": False, "s": False}]
    # same step: layer 'a' ranks before 'b'; the sample is counted from the whole set
    assert merged["first_divergence"] == dict(d, layer="a", variable="u", sample=6)
    earlier = _result({"a": (0, 0, 0), "b": (0, 0, 1)}, dict(d, step=1, variable="s",
                                                                sample=2), 3)
    assert merge_comparisons([(0, earlier), (3, b), (6, c)])["first_divergence"] == dict(
        d, step=1, variable="s", sample=2)
    assert merge_comparisons([(0, a), (3, a)]) == _result({"a": (0, 0, 0), "b": (0, 0, 0)},
                                                          None, 6)


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
    assert main(["compare", str(path), "--data", "digits", "--mode", "float",
                 "--workers", "2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: compare --mode float runs in one process") and \
        err.count("\n") == 1


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
