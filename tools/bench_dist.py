"""`neurodeploy compare` (simulator vs Lava) in one process vs on a local Dask cluster.

Times, in one run and interleaved (so both see the same machine load):

- **end to end**: the command a user types, ``neurodeploy compare MODEL --data DATA --samples N
  --json`` with and without ``--workers W`` (interpreter start, imports, cluster start and
  close included), as subprocesses;
- **warm**: ``compare`` alone in this process vs on an already started cluster of W workers.

Each sharded result is checked equal to the single-process one. The last row is Amdahl's bound
on the end-to-end speed-up: the best any number of free, perfectly balanced workers could do
when only the compare itself (the warm single-process time) is split. Prints one table with both
wall times, their ratio, the CPU seconds each used (all processes: workers, Lava's processes),
and the load average before and after: on a shared machine the wall times depend on what else
runs, the CPU seconds much less (with W idle cores a run takes at least CPU / W seconds).

    python tools/bench_dist.py MODEL.q.ndg [--data digits] [--samples 64] [--workers 2]
        [--repeat 1]

``neurodeploy demo -o DIR`` writes a quantized digits model, ``DIR/digits.q.ndg``.

``--quantize FLOAT.ndg`` (the model argument may then be left out) times ``neurodeploy
quantize FLOAT.ndg --calib DATA --calib-samples N`` the same way, in one process vs on
``--workers W`` (only the calibration's float recording runs on the workers, the search over
scales in the client; the test split's accuracy runs on the workers too), plus the recording
alone (one ``simulate`` of the calibration samples vs split over the workers); each checked
identical (the written graph's bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def _tree_cpu() -> float:
    """CPU seconds of this process and of every descendant that has been waited for."""
    return _cpu() + _cpu(resource.RUSAGE_CHILDREN)


def _cli(args: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of ``neurodeploy ARGS`` (all its processes) and its stdout."""
    c0, t0 = _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "neurodeploy.cli.main", *args],
                          capture_output=True, text=True)
    dt, dc = time.perf_counter() - t0, _cpu(resource.RUSAGE_CHILDREN) - c0
    if proc.returncode != 0:
        sys.exit(f"bench_dist: neurodeploy {' '.join(args)} failed: {proc.stderr.strip()}")
    return dt, dc, proc.stdout


def _load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def _quantize_rows(a: argparse.Namespace) -> None:
    """In one process vs on ``a.workers`` workers: the quantize CLI end to end, quantize alone
    on a started cluster, and the calibration recording alone; prints a table and a JSON line."""
    import tempfile
    from pathlib import Path

    from neurodeploy import kinds
    from neurodeploy.data import encode, load_dataset
    from neurodeploy.distributed import ClusterSpec
    from neurodeploy.distributed.cluster import open_cluster
    from neurodeploy.distributed.quantize import quantize as quantize_on
    from neurodeploy.distributed.quantize import simulate_sharded
    from neurodeploy.ir import load_graph, save_graph
    from neurodeploy.quantize import quantize
    from neurodeploy.quantize.threads import threads_for
    from neurodeploy.sim import simulate
    from neurodeploy.sim.dataset import input_encoding, steps_for

    load_before = _load()
    tmp = Path(tempfile.mkdtemp(prefix="bench_dist_"))
    base = ["quantize", a.quantize, "--calib", a.data, "--calib-samples", str(a.calib_samples),
            "--json"]
    same = True
    runs: dict[str, dict[str, list[tuple[float, float]]]] = {
        k: {"single": [], "dist": []} for k in ("cli", "warm", "record")}
    for i in range(a.repeat):
        t1, c1, out1 = _cli([*base, "-o", str(tmp / f"one{i}.q.ndg")])
        t2, c2, out2 = _cli([*base, "-o", str(tmp / f"two{i}.q.ndg"), "--workers",
                             str(a.workers)])
        same &= (out1.replace(f"one{i}.q.ndg", "") == out2.replace(f"two{i}.q.ndg", "") and
                 (tmp / f"one{i}.q.ndg").read_bytes() == (tmp / f"two{i}.q.ndg").read_bytes())
        runs["cli"]["single"].append((t1, c1))
        runs["cli"]["dist"].append((t2, c2))
    graph = load_graph(a.quantize)
    calib = load_dataset(a.data, split="train", limit=a.calib_samples)
    x = encode(calib.x, input_encoding(graph, calib.encoding), steps_for(
        graph, calib.encoding, calib.T, None), seed=0)
    neurons = [n for n in graph.topological_order() if kinds.is_neuron(graph.nodes[n])]
    with open_cluster(ClusterSpec(workers=a.workers)) as cluster:
        quantize_on(cluster, graph, calib)  # warm the workers (imports)

        def workers_cpu() -> float:
            return sum(cluster.client.run(_tree_cpu).values())

        for _ in range(a.repeat):
            for key, one, dist in (
                    ("warm", lambda: quantize(graph, calib)[0],
                     lambda: quantize_on(cluster, graph, calib)[0]),
                    ("record", lambda: simulate(graph, x, "float", record=neurons),
                     lambda: simulate_sharded(cluster, graph, x, "float", record=neurons))):
                c0, t0 = _tree_cpu(), time.perf_counter()
                with threads_for(graph, x.shape[1]):
                    r1 = one()
                c1, t1 = _tree_cpu(), time.perf_counter()
                w0 = workers_cpu()
                c2, t2 = _tree_cpu(), time.perf_counter()
                r2 = dist()
                c3, t3 = _tree_cpu(), time.perf_counter()
                w1 = workers_cpu()
                if key == "warm":
                    save_graph(r1, tmp / "w1.q.ndg")
                    save_graph(r2, tmp / "w2.q.ndg")
                    same &= (tmp / "w1.q.ndg").read_bytes() == (tmp / "w2.q.ndg").read_bytes()
                else:
                    same &= all(r1.records[n][v].equal(r2.records[n][v])
                                for n in neurons for v in r1.records[n])
                runs[key]["single"].append((t1 - t0, c1 - c0))
                runs[key]["dist"].append((t3 - t2, c3 - c2 + w1 - w0))
    print(f"neurodeploy quantize {a.quantize} --calib {a.data} --calib-samples "
          f"{a.calib_samples}: one process vs --workers {a.workers} (best of {a.repeat}; "
          f"results identical: {'yes' if same else 'NO'})")
    print(f"{'':30} {'1 process (s)':>14} {f'{a.workers} workers (s)':>14} {'speed-up':>9} "
          f"{'CPU s, 1 process':>17} {f'CPU s, {a.workers} workers':>17}")
    names = {"cli": "end to end (CLI)", "warm": "warm (quantize only)",
             "record": "warm (float recording only)"}
    for key, name in names.items():
        (s, sc), (d, dc) = min(runs[key]["single"]), min(runs[key]["dist"])
        print(f"{name:30} {s:14.2f} {d:14.2f} {s / d:8.2f}x {sc:17.2f} {dc:17.2f}")
    print(f"cores: {os.cpu_count()}; load average (1/5/15 min) before {load_before}, "
          f"after {_load()}")
    print(json.dumps({"quantize": a.quantize, "calib_samples": a.calib_samples,
                      "workers": a.workers, "repeat": a.repeat, "identical": same,
                      "seconds": runs, "cores": os.cpu_count(), "load_before": load_before,
                      "load_after": _load()}))
    if not same:
        sys.exit("bench_dist: the quantization on workers differs from the one-process one")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?")
    ap.add_argument("--data", default="digits")
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each; the best is shown")
    ap.add_argument("--quantize", metavar="FLOAT.ndg", help="also time quantize (see above)")
    ap.add_argument("--calib-samples", type=int, default=256)
    a = ap.parse_args()
    if a.quantize:
        _quantize_rows(a)
    if a.model is None:
        if not a.quantize:
            ap.error("give MODEL.q.ndg (compare) and/or --quantize FLOAT.ndg")
        return

    from neurodeploy.data import load_dataset
    from neurodeploy.distributed import ClusterSpec
    from neurodeploy.distributed.cluster import open_cluster
    from neurodeploy.distributed.compare import compare as compare_on
    from neurodeploy.distributed.worker import allow_lava_import
    from neurodeploy.ir import load_graph
    from neurodeploy.lava import compare

    load_before = _load()
    base = ["compare", a.model, "--data", a.data, "--samples", str(a.samples), "--json"]
    e2e: dict[str, list[tuple[float, float]]] = {"single": [], "dist": []}
    for _ in range(a.repeat):
        t1, c1, out1 = _cli(base)
        t2, c2, out2 = _cli([*base, "--workers", str(a.workers)])
        if out1 != out2:
            sys.exit("bench_dist: the sharded compare differs from the single-process one")
        e2e["single"].append((t1, c1))
        e2e["dist"].append((t2, c2))

    graph = load_graph(a.model)
    ds = load_dataset(a.data, split="test", limit=a.samples)
    warm: dict[str, list[tuple[float, float]]] = {"single": [], "dist": []}
    with open_cluster(ClusterSpec(workers=a.workers)) as cluster:
        compare_on(cluster, graph, ds, samples=min(a.samples, a.workers))  # workers import Lava
        allow_lava_import()  # this process started the cluster's spawn processes
        compare(graph, ds, samples=1)  # and Lava here
        def workers_cpu() -> float:
            return sum(cluster.client.run(_tree_cpu).values())

        for _ in range(a.repeat):
            c0, t0 = _tree_cpu(), time.perf_counter()
            r1 = compare(graph, ds, samples=a.samples)
            c1, t1 = _tree_cpu(), time.perf_counter()
            w0 = workers_cpu()
            c2, t2 = _tree_cpu(), time.perf_counter()
            r2 = compare_on(cluster, graph, ds, samples=a.samples)
            c3, t3 = _tree_cpu(), time.perf_counter()
            w1 = workers_cpu()
            if r1 != r2:
                sys.exit("bench_dist: the sharded compare differs from the single-process one")
            warm["single"].append((t1 - t0, c1 - c0))
            warm["dist"].append((t3 - t2, c3 - c2 + w1 - w0))

    def best(runs: list[tuple[float, float]]) -> tuple[float, float]:
        return min(runs)

    rows = [("end to end (CLI)", best(e2e["single"]), best(e2e["dist"])),
            ("warm (compare only)", best(warm["single"]), best(warm["dist"]))]
    print(f"neurodeploy compare {a.model} --data {a.data} --samples {a.samples}: one process "
          f"vs --workers {a.workers} (best of {a.repeat}; results identical)")
    print(f"{'':22} {'1 process (s)':>14} {f'{a.workers} workers (s)':>14} {'speed-up':>9} "
          f"{'CPU s, 1 process':>17} {f'CPU s, {a.workers} workers':>17}")
    for name, (s, sc), (d, dc) in rows:
        print(f"{name:22} {s:14.2f} {d:14.2f} {s / d:8.2f}x {sc:17.2f} {dc:17.2f}")
    # Amdahl: only the compare itself can be split; the interpreter, imports and Lava's start
    # stay. Even with free workers and a perfect split, end to end cannot beat this.
    e2e_s, warm_s = best(e2e["single"])[0], best(warm["single"])[0]
    bound = e2e_s / max(e2e_s - warm_s * (1 - 1 / a.workers), 1e-9)
    print(f"{'bound (Amdahl)':22} {e2e_s:14.2f} {e2e_s / bound:14.2f} {bound:8.2f}x   "
          f"(end to end if the {warm_s:.2f} s of compare split perfectly over {a.workers} "
          "workers at no cost)")
    print(f"cores: {os.cpu_count()}; load average (1/5/15 min) before {load_before}, "
          f"after {_load()}")
    print(json.dumps({"samples": a.samples, "workers": a.workers, "repeat": a.repeat,
                      "end_to_end_s": e2e, "warm_s": warm, "amdahl_bound": bound,
                      "cores": os.cpu_count(),
                      "load_before": load_before, "load_after": _load()}))


if __name__ == "__main__":
    main()
