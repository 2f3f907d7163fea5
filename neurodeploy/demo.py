"""The whole job on the embedded default: digits → SNN → IR → Loihi 2 integers → Lava → bundle.

:func:`run_demo` is what ``neurodeploy demo`` runs; each step is the public function the
matching CLI verb calls, so the demo is also the Python API's worked example:

1. ``neurodeploy.nn.training.train`` — a 64-128-10 CUBA LIF SNN on scikit-learn's digits
   (8×8 images, direct input, T = 8), SuperSpike surrogate gradient; checkpoint ``digits.pt``.
2. ``neurodeploy.converters.export`` — the checkpoint into the IR, ``digits.ndg``.
3. ``neurodeploy.quantize.quantize`` — Loihi 2 integers calibrated on the training split,
   ``digits.q.ndg``; float and fixed-point accuracy on the whole test split (``run_dataset``).
4. ``neurodeploy.mapping.map_graph`` — cores on Loihi 2; ``neurodeploy.perf`` — latency.
5. ``neurodeploy.lava.compare`` — simulator vs Lava fixed_pt, every layer, every step.
6. ``neurodeploy.energy.estimate_energy`` — 45 nm MAC/AC and Loihi 2 per-op energy from the
   simulated activity; ``report.html`` and ``energy.json``.
7. ``neurodeploy.deploy.build_bundle`` / ``run_bundle`` — the Loihi 2 bundle, run here in
   Lava's CPU simulation (no hardware is reachable from here; the bundle says so).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurodeploy.errors import NeurodeployError

#: quantized accuracy must stay within this many percentage points of float (issue #8)
MAX_ACCURACY_DROP_PP = 1.0


@dataclass
class DemoResult:
    """What the demo measured (accuracies 0–1, energies in pJ per inference) and wrote."""

    summary: dict[str, Any]
    paths: dict[str, Path]
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def checks(self) -> dict[str, bool]:
        """The demo's pass conditions: quantization within 1 pp, Lava identical, bundle ran."""
        s = self.summary
        return {
            "quantized accuracy within 1 pp of float":
                abs(s["quantized_accuracy"] - s["float_accuracy"]) * 100
                <= MAX_ACCURACY_DROP_PP,
            "Lava fixed_pt identical to the simulator": bool(s["lava_identical"]),
            "bundle run.py reproduces the simulator": s["bundle_identical"] is not False,
        }


def run_demo(out: str | Path = "demo-output", epochs: int = 8, lava_samples: int = 20,
             bundle_samples: int = 20, test_limit: int | None = None, run_bundle: bool = True,
             progress: bool = False, log: Any = None) -> DemoResult:
    """Run every step into directory ``out`` (created; existing demo files are replaced).

    ``epochs``: training epochs; ``lava_samples``: test samples run in Lava by ``compare``;
    ``bundle_samples``: inputs shipped in (and run from) the bundle; ``test_limit``: evaluate
    accuracy on the first N test samples only (tests); ``log``: called with one line per step.
    """
    from neurodeploy.atomic import check_writable_dir, write_text
    from neurodeploy.converters import export
    from neurodeploy.data import load_dataset
    from neurodeploy.deploy.bundle import build_bundle
    from neurodeploy.deploy.bundle import run_bundle as run_bundle_script
    from neurodeploy.energy import estimate_energy, load_profile
    from neurodeploy.ir import save_graph
    from neurodeploy.lava import compare, require_lava
    from neurodeploy.mapping import map_graph
    from neurodeploy.nn.checkpoint import save_checkpoint
    from neurodeploy.nn.training import TrainConfig, train
    from neurodeploy.perf import chip_estimates, record_activity
    from neurodeploy.quantize import quantize
    from neurodeploy.report import energy_html, report_dict
    from neurodeploy.sim import run_dataset

    say = log or (lambda line: None)
    require_lava("neurodeploy demo")  # fail before minutes of work, not after
    out = Path(out)
    check_writable_dir(out)
    paths = {k: out / v for k, v in (("checkpoint", "digits.pt"), ("graph", "digits.ndg"),
                                      ("quantized", "digits.q.ndg"), ("report", "report.html"),
                                      ("energy", "energy.json"), ("summary", "summary.json"),
                                      ("bundle", "bundle"))}
    seconds: dict[str, float] = {}
    t = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal t
        now = time.perf_counter()
        seconds[step] = round(now - t, 2)
        t = now

    cfg = TrainConfig(task="digits", method="superspike", epochs=epochs, hidden=(128,),
                      test_limit=test_limit)
    say(f"1/7 train: digits, 64-{cfg.hidden[0]}-10 CUBA LIF, SuperSpike, T = 8, "
        f"{epochs} epochs")
    trained = train(cfg, progress=progress)
    save_checkpoint(paths["checkpoint"], trained.model, trained.metadata)
    lap("train")

    say("2/7 export: checkpoint → IR")
    graph = export(str(paths["checkpoint"]), path=paths["graph"])
    lap("export")

    say("3/7 quantize: Loihi 2 integers, calibrated on the training split")
    calib = load_dataset("digits", split="train", limit=256)
    test = load_dataset("digits", split="test", limit=test_limit)
    qgraph, _ = quantize(graph, calib, target="loihi2")
    save_graph(qgraph, paths["quantized"])
    acc_float = run_dataset(graph, test, mode="float", progress=progress).accuracy
    fixed = run_dataset(qgraph, test, mode="fixed", progress=progress)
    lap("quantize")

    say("4/7 map onto Loihi 2")
    loihi2 = load_profile("loihi2")
    mapping = map_graph(qgraph, loihi2)
    lap("map")

    say(f"5/7 Lava: {lava_samples} test inputs in Loihi2SimCfg(fixed_pt) vs the simulator")
    cmp = compare(qgraph, test, samples=lava_samples, progress=progress)
    lap("lava")

    say("6/7 energy: 45 nm MAC/AC and Loihi 2 per-operation profiles")
    profiles = [load_profile("cmos45nm"), loihi2]
    report = estimate_energy(qgraph, fixed.counts, fixed.T, profiles,
                             metadata={"model": "digits.q.ndg", "data": "digits",
                                       "samples": fixed.n_samples, "mode": "fixed",
                                       "accuracy": round(fixed.accuracy, 6)})
    chips = chip_estimates(qgraph, record_activity(qgraph, test), profiles, {"loihi2": mapping})
    timing = chips["loihi2"][1]
    energy_doc = report_dict(report, chips)
    from neurodeploy.jsonsafe import to_jsonable as _clean

    write_text(paths["energy"], json.dumps(_clean(energy_doc), indent=2) + "\n")
    write_text(paths["report"], energy_html(report, chips, title="neurodeploy demo: digits SNN "
                                                                 "on Loihi 2"))
    lap("energy")

    say("7/7 deploy: Loihi 2 bundle" + (", run here in Lava" if run_bundle else ""))
    bundle = build_bundle(qgraph, test, paths["bundle"], target="loihi2",
                          samples=bundle_samples, model_name="digits", force=True)
    ran = run_bundle_script(bundle.path, backend="sim") if run_bundle else None
    lap("deploy")

    totals = report.totals()["energy_pj"]
    summary = {
        "task": "digits", "method": "superspike", "epochs": epochs, "T": fixed.T,
        "test_samples": fixed.n_samples,
        "float_accuracy": acc_float, "quantized_accuracy": fixed.accuracy,
        "lava_samples": cmp["samples"], "lava_identical": bool(cmp["identical"]),
        "lava_first_divergence": cmp["first_divergence"],
        "energy_pj": {p: {"snn": e["snn"], "ann": e["ann"]} for p, e in totals.items()},
        "loihi2_cores": mapping.n_cores, "loihi2_chips": mapping.n_chips,
        "latency_us": timing.latency_us,
        "bundle_network": bundle.info["network"],
        "bundle_identical": None if ran is None else bool(ran["identical"]),
        "bundle_backend": None if ran is None else ran["run_config"],
    }
    result = DemoResult(summary, paths, seconds)
    summary["checks"] = result.checks
    summary["seconds"] = seconds
    write_text(paths["summary"], json.dumps(_clean(summary), indent=2) + "\n")
    return result


def check_demo(result: DemoResult) -> None:
    """Raise NeurodeployError naming the first failed check."""
    failed = [name for name, ok in result.checks.items() if not ok]
    if failed:
        s = result.summary
        raise NeurodeployError(
            f"demo check failed: {failed[0]} (float {s['float_accuracy']:.2%}, quantized "
            f"{s['quantized_accuracy']:.2%}, Lava identical {s['lava_identical']}, bundle "
            f"{s['bundle_identical']}); see {result.paths['summary']}")
