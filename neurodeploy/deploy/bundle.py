"""Build a deploy bundle: a directory that runs a quantized graph in Lava / on Loihi 2.

Bundle contents (every file listed with its SHA-256 in ``manifest.json``):

=================  ==========================================================================
``model.q.ndg``    the quantized graph (the source of truth; ``neurodeploy inspect`` reads it)
``model.net``      lava-dl netx network, when netx expresses the graph exactly (else absent,
                   and ``bundle.json`` says why: ``run.py`` then builds neurodeploy's lava-nc
                   process network from ``model.q.ndg``, CPU simulation only)
``bundle.json``    target, T, network form, input encoding (scale, bits), the output layer
                   (``output``: a readout and its decoding, a spiking layer decoded by spike
                   counts, or a sigma-delta layer's graded output and its decoding), ``timing``
``inputs.npz``     ``x`` (data), ``x_int`` ``[N, T, *shape]`` int64 (messages into the first
                   synapse), ``y`` labels
``expected.json``  the fixed-point simulator's predictions and scores on those inputs; for a
                   spiking output layer also its spike counts and its voltage ``v`` every step,
                   for a sigma-delta output its graded output ``s`` every step
``run.py``         runs the bundle (Loihi2HwCfg when lava-loihi is installed, else
                   Loihi2SimCfg fixed_pt) and checks its predictions against expected.json
``run_inrc.sbatch``  SLURM job for Intel's INRC Loihi 2 systems
``mapping.json``   cores per layer on the target; ``energy.json`` + ``report.html``: energy and
                   latency estimates from the simulated activity
=================  ==========================================================================

``timing`` (``bundle.json``): ``ir`` — every sample starts from rest and runs the IR's
delay-free steps (netx CUBA networks through ``reset_interval``, the process network through
resets between samples); ``netx-pipeline`` — a sigma-delta network in netx, which ignores
``reset_interval`` for SDNN layers: the samples run back to back as one stream of ``N·T`` steps,
every synapse one step late and biases on from the first step
(:func:`neurodeploy.converters.netx.netx_timing`), as lava-dl runs PilotNet SDNN; the expected
outputs are the fixed-point simulation of that stream.

The bundle is written in a temporary directory beside the output and renamed into place at
the end, so an error never leaves a half-written bundle under the user's name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy import kinds
from neurodeploy.atomic import check_writable_dir, umask
from neurodeploy.deploy.install import check_replaceable, clean_leftovers, install, temp_dir
from neurodeploy.errors import NeurodeployError
from neurodeploy.ir import Conv2d, Dense, Graph, SigmaDelta, save_graph, validate
from neurodeploy.ir.nodes import Node
from neurodeploy.jsonsafe import to_jsonable

RUN_SCRIPT = Path(__file__).with_name("run_bundle.py")


@dataclass
class Bundle:
    """A written bundle: its directory, ``bundle.json`` content, mapping and manifest."""

    path: Path
    info: dict[str, Any]
    mapping: Any
    manifest: dict[str, Any] = field(default_factory=dict)
    energy: dict[str, Any] = field(default_factory=dict)


#: output layer kinds ``run.py`` reads: a readout's voltage, a spiking layer's spikes and
#: voltage, a sigma-delta layer's graded output
OUTPUT_KINDS = ("readout", "cuba_lif", "sigma_delta")


def check_quantized(graph: Graph) -> None:
    """Raise NeurodeployError unless Lava's fixed-point models can run ``graph`` (naming the
    first node that is not quantized) and ``run.py`` can read its first output: a Readout (its
    voltage, decoded), a CubaLIF (its spike counts, and its voltage) or a SigmaDelta (its
    graded output, decoded)."""
    from neurodeploy.capability import check_fixed

    validate(graph)
    check_fixed(graph)
    out = graph.nodes[graph.outputs[0]] if graph.outputs else None
    if out is None or out.kind not in OUTPUT_KINDS:
        raise NeurodeployError("deploy needs the graph's first output to be a Readout (the run "
                               "script decodes its voltage), a CubaLIF (its spike counts) or a "
                               "SigmaDelta (its graded output); it is "
                               f"{out.kind if out else 'none'}")


def check_fit(graph: Graph, target: str, max_chips: int) -> Any:
    """Map ``graph`` onto ``target``; raise NeurodeployError unless it fits ``max_chips`` chips."""
    from neurodeploy.energy import load_profile
    from neurodeploy.mapping import map_graph

    profile = load_profile(target)
    mapping = map_graph(graph, profile)  # raises naming the layer and resource
    if mapping.n_chips > max_chips:
        biggest = max(mapping.layers, key=lambda m: m.cores)
        raise NeurodeployError(
            f"the model does not fit: it needs {mapping.n_cores} cores = {mapping.n_chips} "
            f"{profile.name} chips, the target has {max_chips} (--chips); largest layer "
            f"'{biggest.name}' takes {biggest.cores} cores")
    return mapping


def is_spiking(node: Node) -> bool:
    """Whether output ``node`` is a spiking layer (decoded by its spike counts over T)."""
    return node.kind == "cuba_lif"


def is_graded(node: Node) -> bool:
    """Whether output ``node`` sends graded values ``run.py`` reads as ``s`` (a sigma-delta
    layer's graded spikes, or a Sigma's sigma)."""
    return isinstance(node, SigmaDelta)


def _output_info(node: Node) -> dict[str, Any]:
    """``bundle.json``'s ``output``: the layer ``run.py`` reads and how it decodes it
    (``scale``: the float value of one unit of the layer's integer ``v``; a sigma-delta layer:
    of its graded output ``s``)."""
    info = {"node": node.name, "kind": node.kind, "scale": float(node.quant.scale)}
    if is_spiking(node):
        return {**info, "decoding": "spike_count"}
    if is_graded(node):
        return {**info, "mode": node.mode, "decoding": kinds.neuron_kind(node).decoding(node),
                "weights": None}
    return {**info, "decoding": node.decoding,
            "weights": None if node.weights is None else np.asarray(node.weights).tolist()}


def _expected(sim: Any, node: Node, y: np.ndarray, stream: bool = False) -> dict[str, Any]:
    """``expected.json``: the simulator's predictions and decoded scores (``[N, n]``); for a
    spiking output also its spike counts ``[N, n]`` and voltage ``v`` ``[N, T, n]``, for a
    sigma-delta output its graded output ``s`` ``[N, T, n]`` (Lava's integers, neurons
    flattened in the IR's (C, H, W) order), which ``run.py`` compares exactly.

    ``stream``: ``sim`` ran the N samples back to back as one sample of ``N·T`` steps (timing
    ``netx-pipeline``); its output is cut into the samples' windows and decoded per window."""
    from neurodeploy.sim import decode

    N = len(y)
    rec = {k: v.cpu().numpy().astype(np.int64) for k, v in sim.records[node.name].items()}
    if stream:  # [N·T, 1, *shape] → [T, N, *shape]
        rec = {k: np.swapaxes(v.reshape((N, -1) + v.shape[2:]), 0, 1) for k, v in rec.items()}
        outs = np.swapaxes(sim.outputs[node.name].cpu().numpy().reshape(
            (N, -1) + tuple(sim.outputs[node.name].shape[2:])), 0, 1)
        import torch

        decoded = decode(torch.as_tensor(np.ascontiguousarray(outs)), node).numpy()
    else:
        decoded = sim.decoded.cpu().numpy()
    predictions = decoded.argmax(1)
    out = {"predictions": predictions.tolist(),
           "scores": decoded.astype(np.float64).tolist(),
           "accuracy": float(np.mean(predictions == y)),
           "source": "neurodeploy.sim fixed-point simulator" + (
               " (the samples as one stream, netx's pipeline timing)" if stream else "")}
    T = next(iter(rec.values())).shape[0]
    if is_spiking(node):
        out["spike_counts"] = (rec["s"] != 0).sum(0).reshape(N, -1).tolist()
        out["v"] = np.swapaxes(rec["v"].reshape(T, N, -1), 0, 1).tolist()
    elif is_graded(node):
        out["s"] = np.swapaxes(rec["s"].reshape(T, N, -1), 0, 1).tolist()
    return out


def _write_netx(graph: Graph, path: Path) -> tuple[dict[str, Any], str | None]:
    """Export netx if it can express the graph: ``(facts, None)`` or ``({}, why not)``.

    Layers whose integers a stock netx loader would round (weight exponents, bias exponents
    other than 6) are written with their exact integers in extra ``neurodeploy`` groups that
    ``run.py`` applies before running (``netx_patched`` lists them).
    """
    from neurodeploy.lava.netx import export_netx

    delayed = [n for n in graph if isinstance(n, (Dense, Conv2d)) and n.max_delay > 0]
    if delayed:  # run.py runs netx samples back to back (see lava.netx.run_network's gates)
        return {}, (f"node '{delayed[0].name}' ({delayed[0].kind}): delayed synapses keep what "
                    "they hold across netx's neuron reset between samples run back to back")
    try:
        ex = export_netx(graph, path, exact=True, patch=True)
    except NeurodeployError as exc:
        with contextlib.suppress(OSError):
            path.unlink()
        return {}, str(exc)
    return {"netx_depth": len(ex.layers), "input_message_bits": int(ex.input_message_bits),
            "netx_patched": list(ex.patched)}, None


def _output_text(out: dict[str, Any]) -> str:
    """The README's text on what the output layer is and how ``run.py`` checks it."""
    if out["kind"] == "readout":
        return f"outputs: the readout's voltage decoded by\n'{out['decoding']}' (see `bundle.json`).\n"
    if out["kind"] == "sigma_delta":
        return "outputs: the sigma-delta layer's graded output (below).\n\n" + textwrap.fill(
            f"Output layer `{out['node']}` is a sigma-delta layer (mode '{out['mode']}') with "
            "graded outputs. `run.py` records what it sends every step (netx: the network's "
            "`out` port into a ring-buffer sink; a Sigma read-out sends its sigma), which must "
            "equal the simulator's `s` `[N, T, n]` in `expected.json` exactly (Lava's integers; "
            f"one unit is {out['scale']:.6g} in float); scores are those values decoded by "
            f"'{out['decoding']}' over the T steps. A regression network (PilotNet SDNN: the "
            "steering angle) reads its answer from `s`/`scores`; ignore `accuracy` for such a "
            "model.", width=92) + "\n"
    return "outputs: the spiking layer's spikes and voltage (below).\n\n" + textwrap.fill(
        f"Output layer `{out['node']}` is a spiking CUBA LIF layer. `run.py` records its spikes "
        "(netx: the network's `out` port into a ring-buffer sink) and its voltage `v` every "
        "step; predictions are the argmax of its spike counts over the T steps. The spike "
        "counts and every step's `v` (Lava's fixed-point integers; one unit is "
        f"{out['scale']:.6g} in float) must equal the simulator's in `expected.json` "
        "(`spike_counts` `[N, n]`, `v` `[N, T, n]`, neurons in (C, H, W) order) exactly. A "
        "regression network reads its answer from `v`, not from spike counts: PilotNet LIF's "
        "steering angle is its output neuron's voltage (lava-dl's PilotNet LIF tutorial reads "
        "that neuron's `v`), so read `v` in `results.json`, and ignore `accuracy`, for such a "
        "model.", width=92) + "\n"


def _readme(info: dict[str, Any]) -> str:
    patched = info.get("netx_patched") or []
    net = ("`model.net` (lava-dl netx): runs on Loihi 2 and in Lava's CPU simulation"
           + (f"; layers {', '.join(patched)} carry exact integers that netx's stock loader "
              "would round (weight/bias exponents): `run.py` applies them, so load the network "
              "with `run.py` or `neurodeploy.lava.load_netx`, not `netx.hdf5.Network` alone"
              if patched else "")
           if info["network"] == "netx" else
           "`model.q.ndg` built into neurodeploy's lava-nc process network (CPU simulation "
           f"only): netx cannot express this model exactly — {info['netx_refusal']}")
    return f"""# neurodeploy bundle: {info['model']}

Target {info['target']}, T = {info['T']} steps per inference, {info['samples']} test inputs.
Network: {net}.

    python run.py                      # auto: Loihi 2 if lava-loihi is installed, else CPU sim
    python run.py --backend sim        # Lava Loihi2SimCfg(select_tag="fixed_pt")
    sbatch run_inrc.sbatch             # on an INRC VM: a Loihi 2 system through SLURM

`run.py` prints the backend it ran on and writes `results.json`; it exits 0 when its
outputs equal the simulator's (`expected.json`), 3 when they differ.
`neurodeploy deploy --verify DIR` checks every file against `manifest.json` (SHA-256).
{_timing_text(info)}Inputs: `inputs.npz` `x_int` are the integer messages into the first synapse
(input scale {info['input']['scale']:.6g}, {info['input']['bits']} bits, encoding
'{info['input']['encoding']}'); {_output_text(info['output'])}"""


def _timing_text(info: dict[str, Any]) -> str:
    """The README's paragraph on timing (empty for the IR's own timing)."""
    if info.get("timing") != "netx-pipeline":
        return ""
    return textwrap.fill(
        "Timing: netx runs sigma-delta layers without resets, so the samples run back to back "
        "as one stream (a video, for PilotNet), every synapse one step late and biases on from "
        "the first step; `expected.json` is the simulator's run of that same stream "
        "(`neurodeploy.converters.netx.netx_timing`), cut into the samples' T steps.",
        width=92) + "\n"


def build_bundle(graph: Graph, ds: Any, output: str | os.PathLike[str], target: str = "loihi2",
                 samples: int = 20, max_chips: int = 1, partition: str | None = None,
                 loihi_gen: str | None = None, model_name: str = "model",
                 force: bool = False, profiles: tuple[str, ...] = ("cmos45nm", "loihi2"),
                 seed: int = 0, T: int | None = None) -> Bundle:
    """Write the bundle of quantized ``graph`` for ``target`` into directory ``output``.

    ``ds``: a ``neurodeploy.data.Dataset``; its first ``samples`` items become the bundle's
    inputs, their fixed-point simulation its expected predictions and its activity the energy
    estimate. ``max_chips``: refuse a mapping onto more chips. ``T``: steps per inference
    (default the graph's ``metadata["T"]``, else the spike data's). An existing non-empty
    ``output`` is refused unless ``force``; it is replaced only once the new bundle is complete.
    """
    from neurodeploy.atomic import write_text
    from neurodeploy.data import encode
    from neurodeploy.deploy.manifest import write_manifest
    from neurodeploy.deploy.slurm import DEFAULT_LOIHI_GEN, DEFAULT_PARTITION, slurm_script
    from neurodeploy.energy import estimate_energy, load_profile
    from neurodeploy.lava.compiler import input_integers
    from neurodeploy.perf import activity_from_records, activity_nodes, chip_estimates
    from neurodeploy.report import energy_html, report_dict
    from neurodeploy.sim import simulate
    from neurodeploy.sim.dataset import input_encoding, steps_for

    mapping = check_fit(graph, target, max_chips)  # first: a misfit is the bigger news
    check_quantized(graph)
    out = Path(output)
    parent = out.parent if str(out.parent) else Path(".")
    check_writable_dir(parent)
    clean_leftovers(out)  # an interrupted earlier run's temporary directories
    check_replaceable(out, force)
    if samples < 1:
        raise NeurodeployError(f"--samples must be >= 1, got {samples}")

    ds = ds.subset(slice(0, samples))
    enc = input_encoding(graph, ds.encoding)
    T = steps_for(graph, ds.encoding, ds.T, T)
    x = encode(ds.x, enc, T, seed=seed)                       # [T, N, *shape] float32
    in_node = graph.nodes[graph.inputs[0]]
    x_int = np.ascontiguousarray(np.swapaxes(input_integers(in_node, x), 0, 1))
    out_node = graph.nodes[graph.outputs[0]]
    sim = simulate(graph, x, mode="fixed",
                   record=sorted(set(activity_nodes(graph)) | {out_node.name}))
    sdnn = any(isinstance(n, SigmaDelta) for n in graph)

    tmp = temp_dir(out)
    try:
        save_graph(graph, tmp / "model.q.ndg")
        netx, refusal = _write_netx(graph, tmp / "model.net")
        stream = refusal is None and sdnn
        expected_sim = sim
        if stream:  # netx runs SDNN layers without resets: one stream, pipeline timing
            from neurodeploy.converters.netx import netx_timing

            stream_x = np.swapaxes(x, 0, 1).reshape((-1, 1) + x.shape[2:])  # [N·T, 1, ...]
            expected_sim = simulate(netx_timing(graph), stream_x, mode="fixed",
                                    record=[out_node.name])
        info: dict[str, Any] = {
            "model": model_name, "target": target, "T": int(T), "samples": len(ds),
            "network": "netx" if refusal is None else "lava-processes", "netx_refusal": refusal,
            "timing": "netx-pipeline" if stream else "ir",
            **netx,
            "input": {"node": in_node.name, "encoding": enc, "scale": float(in_node.quant.scale),
                      "bits": int(in_node.quant.bits), "signed": bool(in_node.quant.signed),
                      "seed": seed},
            "output": _output_info(out_node),
            "cores": mapping.n_cores, "chips": mapping.n_chips,
        }
        write_text(tmp / "bundle.json", json.dumps(info, indent=2) + "\n")
        np.savez_compressed(tmp / "inputs.npz", x=ds.x, x_int=x_int, y=ds.y)
        write_text(tmp / "expected.json",
                   json.dumps(_expected(expected_sim, out_node, ds.y, stream)) + "\n")
        shutil.copyfile(RUN_SCRIPT, tmp / "run.py")
        os.chmod(tmp / "run.py", 0o755)
        write_text(tmp / "run_inrc.sbatch",
                   slurm_script(partition or DEFAULT_PARTITION, loihi_gen or DEFAULT_LOIHI_GEN,
                                job_name=f"nd-{model_name}"[:32]))
        write_text(tmp / "mapping.json", json.dumps(mapping.to_dict(), indent=2) + "\n")
        profs = [load_profile(p) for p in profiles]
        report = estimate_energy(graph, sim.counts, sim.T, profs,
                                 metadata={"model": model_name, "samples": len(ds),
                                           "mode": "fixed"},
                                 spike_data=ds.encoding == "spikes")
        chips = chip_estimates(graph, activity_from_records(graph, sim.records), profs,
                               {mapping.profile: mapping})
        energy = report_dict(report, chips)
        write_text(tmp / "energy.json", json.dumps(to_jsonable(energy), indent=2) + "\n")
        write_text(tmp / "report.html",
                   energy_html(report, chips, title=f"neurodeploy bundle: {model_name}"))
        write_text(tmp / "README.md", _readme(info))
        manifest = write_manifest(tmp, {"model": model_name, "target": target,
                                        "network": info["network"]})
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes 0700
        check_replaceable(out, force)  # still: nothing of the user's appeared meanwhile
        install(tmp, out)
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Bundle(out, info, mapping, manifest, energy)




def run_bundle(bundle: str | os.PathLike[str], backend: str = "auto",
               samples: int | None = None, python: str | None = None) -> dict[str, Any]:
    """Execute the bundle's ``run.py`` in a subprocess (as a user would) and return its
    ``results.json``. Raises NeurodeployError with the script's last message when it fails."""
    from neurodeploy.lava import require_lava

    require_lava("deploy --run")
    path = Path(bundle).resolve()  # run.py runs with the bundle as its working directory
    cmd = [python or sys.executable, str(path / "run.py"), "--backend", backend,
           "--output", str(path / "results.json")]
    if samples is not None:
        cmd += ["--samples", str(samples)]
    proc = subprocess.run(cmd, cwd=path, capture_output=True, text=True)
    if proc.returncode not in (0, 3):
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        raise NeurodeployError(f"{path / 'run.py'} failed (exit {proc.returncode}): "
                               f"{lines[-1] if lines else 'no output'}")
    result = json.loads((path / "results.json").read_text())
    result["stdout"] = proc.stdout
    return result
