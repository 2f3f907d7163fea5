"""Run the points of a sweep: quantize, simulate (fixed point, test data), price, map."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from neurodeploy.errors import NeurodeployError
from neurodeploy.formats import WEIGHT_BITS
from neurodeploy.ir import Graph
from neurodeploy.progress import track
from neurodeploy.sweep.pareto import pareto_front


def _round(x: float) -> float:
    return round(float(x), 6) + 0.0


def run_point(graph: Graph, calib: Any, test: Any, target: str, T: int,
              profiles: Sequence[str], calib_samples: int = 256,
              batch_size: int = 256, weight_bits: int = WEIGHT_BITS) -> list[dict[str, Any]]:
    """One design point: ``graph`` quantized for ``target`` with ``weight_bits``-bit weights
    (``num_weight_bits``) on ``calib`` at ``T`` steps, simulated in fixed point on ``test`` and
    priced on each of ``profiles`` (names or .toml paths); chip profiles are mapped too (cores,
    synapse memory words, latency: fewer weight bits take fewer words). One row per profile;
    ``synops`` is the synaptic operations (accumulates + multiply-accumulates) per inference.

    A target that cannot express the graph, or a chip the quantized graph does not fit, gives
    rows whose ``status`` says why instead of failing the sweep.
    """
    from neurodeploy.energy import estimate_energy, load_profile
    from neurodeploy.perf import chip_estimates, record_activity
    from neurodeploy.quantize import quantize
    from neurodeploy.sim import run_dataset

    profs = [load_profile(p) for p in profiles]
    rows = [{"target": target, "weight_bits": int(weight_bits), "T": int(T), "profile": p.name,
             "status": "ok"} for p in profs]
    try:
        qgraph, _ = quantize(graph, calib, target=target, T=T, max_calib=calib_samples,
                             weight_bits=weight_bits)
    except NeurodeployError as exc:
        for row in rows:
            row["status"] = f"refused by the quantizer: {exc}"
        return rows
    float_acc = run_dataset(graph, test, mode="float", T=T, batch_size=batch_size).accuracy
    res = run_dataset(qgraph, test, mode="fixed", T=T, batch_size=batch_size)
    report = estimate_energy(qgraph, res.counts, res.T, profs,
                             spike_data=test.encoding == "spikes")
    tot = report.totals()
    totals = tot["energy_pj"]
    for row, p in zip(rows, profs, strict=True):
        row.update(accuracy=_round(res.accuracy), float_accuracy=_round(float_acc),
                   synops=_round(tot["snn_acs"] + tot["snn_macs"]),
                   energy_pj=_round(totals[p.name]["snn"]),
                   ann_energy_pj=_round(totals[p.name]["ann"]))
        if not p.is_chip:
            continue
        try:
            mapping, timing = chip_estimates(qgraph, record_activity(qgraph, test, T=T), [p])[
                p.name]
        except NeurodeployError as exc:
            row["status"] = f"does not fit {p.name}: {exc}"
            continue
        row.update(latency_us=_round(timing.latency_us), cores=int(mapping.n_cores),
                   synmem_words=int(sum(c.synmem_words for c in mapping.cores)),
                   chips=int(mapping.n_chips),
                   chip_energy_pj=_round(timing.dynamic_energy_pj + timing.static_energy_pj))
    return rows


def parse_bits(values: Sequence[str]) -> list[int]:
    """Weight widths from ``--weight-bits`` values, each one width or a comma-separated list
    (``8,6,4``), in order; a one-line NeurodeployError for anything but whole numbers from 1
    to 8."""
    out = []
    for v in values:
        for part in str(v).split(","):
            try:
                bits = int(part.strip())
            except ValueError:
                raise NeurodeployError(f"--weight-bits: '{part.strip()}' is not a whole number "
                                       f"of bits (1 to {WEIGHT_BITS})") from None
            out.append(bits)
    _check_bits(out)
    return out


def _check_bits(bits: Sequence[int]) -> None:
    for b in bits:
        if isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= WEIGHT_BITS:
            raise NeurodeployError(f"--weight-bits must be from 1 to {WEIGHT_BITS} (Loihi's "
                                   f"synapse widths), got {b!r}")


def _check(targets: Sequence[str], steps: Sequence[int], profiles: Sequence[str],
           bits: Sequence[int] = (WEIGHT_BITS,)) -> None:
    from neurodeploy.energy import load_profile
    from neurodeploy.quantize import TARGETS

    if not targets or not steps or not bits:
        raise NeurodeployError("a sweep needs at least one --target, --weight-bits and --T")
    for t in targets:
        if t not in TARGETS:
            raise NeurodeployError(f"unknown target '{t}' (choose from {', '.join(TARGETS)})")
    _check_bits(bits)
    for T in steps:
        if T < 1:
            raise NeurodeployError(f"--T must be >= 1, got {T}")
    for what, vals in (("target", targets), ("weight-bits", bits), ("T", steps),
                       ("profile", profiles)):
        dup = next((v for v in vals if list(vals).count(v) > 1), None)
        if dup is not None:
            raise NeurodeployError(f"--{what} {dup} given twice")
    for p in profiles:
        load_profile(p)


def sweep(graph: Graph, calib: Any, test: Any, targets: Sequence[str], steps: Sequence[int],
          profiles: Sequence[str] | None = None, cluster: Any = None, calib_samples: int = 256,
          batch_size: int = 256, progress: bool = False,
          weight_bits: Sequence[int] = (WEIGHT_BITS,)) -> list[dict[str, Any]]:
    """Every (target, weight bits, T) point through :func:`run_point`, priced on ``profiles``
    (default: each target's own profile, ``loihi1`` or ``loihi2``), here or on ``cluster`` (a
    :class:`neurodeploy.distributed.cluster.Cluster`, one task per point). Rows in the order
    target, weight bits, T, profile, each with ``pareto``: on the front of accuracy, energy and
    latency among the rows whose status is ``ok``
    (:func:`~neurodeploy.sweep.pareto.pareto_front`).
    """
    _check(targets, steps, profiles or [], weight_bits)
    points = [{"target": t, "weight_bits": int(b), "T": int(T),
               "profiles": list(profiles or [t])}
              for t in targets for b in weight_bits for T in steps]
    fn = partial(run_point, graph, calib, test, calib_samples=calib_samples,
                 batch_size=batch_size)
    if cluster is None:
        results = [fn(**p) for p in track(points, "sweeping", total=len(points),
                                           enabled=progress)]
    else:
        from neurodeploy.distributed.execute import run_shards

        results = run_shards(cluster, fn, points,
                             [f"target {p['target']}, {p['weight_bits']}-bit, T={p['T']}"
                              for p in points], "sweeping",
                             progress)
    rows = [row for point_rows in results for row in point_rows]
    ok = [r for r in rows if r["status"] == "ok"]
    for row, on_front in zip(ok, pareto_front(ok), strict=True):
        row["pareto"] = on_front
    for row in rows:
        row.setdefault("pareto", False)
    return rows
