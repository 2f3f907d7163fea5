"""Hardware profiles: data, not code. One TOML file per target, each constant with its source.

Installed as ``neurodeploy.hardware_profiles`` package data. :func:`load_profile` reads one by
name (``cmos45nm``, ``loihi1``, ``loihi2``), by name with a variant (``cmos45nm:fp32``), or by
path to a ``.toml`` file of the same layout; :func:`list_profiles` names the bundled ones.

Layout of a profile (units in the key names: ``_pj`` picojoules, ``_ns`` nanoseconds):

- ``[profile]``: ``name``, ``kind`` (``cmos``: operation energies only; ``chip``: cores,
  memories and timings too), ``description``.
- ``[energy]``: ``mac_pj`` (a multiply-accumulate, or a graded synaptic op on a chip),
  ``ac_pj`` (an accumulate, or a binary synaptic op), ``neuron_update_pj`` (per neuron per
  step), ``spike_pj`` (per spike sent); chips also ``hop_pj`` and ``static_power_mw``.
- ``[variants.<v>]``: overrides of ``[energy]`` selected with ``name:<v>``.
- ``[memory]`` (optional): SRAM energy per access by buffer size (the memory-aware estimate).
- chips: ``[resources]`` (the board: cores per chip and per routing tile, the tile mesh, the
  largest system; per core: neurons, synapse-memory words and their encoding, input and output
  axons; maximum fan-in, weight bits; see :mod:`neurodeploy.mapping.tiling`) and ``[time]``
  (per-event times of the performance model, :mod:`neurodeploy.perf`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from neurodeploy.errors import NeurodeployError

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

#: the largest integer resource and the largest number a profile may give
MAX_INT = 2**31 - 1
MAX_NUMBER = 1e15
ENERGY_KEYS = ("mac_pj", "ac_pj", "neuron_update_pj", "spike_pj")
CHIP_ENERGY_KEYS = ENERGY_KEYS + ("hop_pj", "chip_hop_pj", "static_power_mw")
RESOURCE_KEYS = ("cores_per_chip", "cores_per_tile", "mesh_tiles_x", "mesh_tiles_y", "max_chips",
                 "neurons_per_core", "synmem_words_per_core", "synmem_word_bits",
                 "axons_in_per_core", "axons_out_per_core", "max_fan_in", "weight_bits")
#: integer resources that may be 0 (per-axon header words)
RESOURCE_KEYS_ZERO_OK = ("dense_axon_words", "conv_axon_words")
#: integer resources a profile may leave out (the mapper reads them when present)
RESOURCE_KEYS_OPTIONAL = ("max_delay", "delay_slot_words_per_neuron")
TIME_KEYS = ("synop_ns", "neuron_update_ns", "spike_ns", "hop_ns", "chip_hop_ns", "barrier_ns",
             "barrier_ns_per_tile")


@dataclass(frozen=True)
class Profile:
    """One hardware target. ``energy`` in pJ per event, ``time`` in ns per event,
    ``resources`` integer limits per core/chip (empty for ``cmos`` profiles), ``memory`` the
    optional SRAM table. ``name`` includes the variant (``cmos45nm:fp32``)."""

    name: str
    kind: str
    description: str
    path: str
    energy: dict[str, float]
    time: dict[str, float] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)

    @property
    def is_chip(self) -> bool:
        return self.kind == "chip"

    def resource(self, key: str, default: Any = None) -> Any:
        """A ``[resources]`` value; NeurodeployError naming the file and key when absent."""
        if key in self.resources:
            return self.resources[key]
        if default is not None:
            return default
        raise NeurodeployError(f"hardware profile {self.path}: missing key 'resources.{key}'")


def _bundled_dir() -> Path:
    return Path(str(resources.files(__name__)))


def list_profiles() -> list[str]:
    """Names of the bundled profiles, sorted."""
    return sorted(p.stem for p in _bundled_dir().glob("*.toml"))


def _number(path: str, section: str, key: str, value: Any, integer: bool = False) -> Any:
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    top = MAX_INT if integer else MAX_NUMBER
    if isinstance(value, bool) or not ok or not math.isfinite(value) or not 0 <= value <= top:
        want = f"a non-negative integer ≤ {top}" if integer else f"a non-negative number ≤ {top:g}"
        raise NeurodeployError(f"hardware profile {path}: key '{section}.{key}' must be {want}, "
                               f"got {value!r}")
    return int(value) if integer else float(value)


def _section(path: str, data: dict[str, Any], name: str, keys: tuple[str, ...],
             integer: bool = False) -> dict[str, Any]:
    sec = data.get(name)
    if not isinstance(sec, dict):
        raise NeurodeployError(f"hardware profile {path}: missing section '[{name}]'")
    out: dict[str, Any] = {}
    for key in keys:
        if key not in sec:
            raise NeurodeployError(f"hardware profile {path}: missing key '{name}.{key}'")
        out[key] = _number(path, name, key, sec[key], integer)
    for key, value in sec.items():
        if key not in out:
            out[key] = value if isinstance(value, (bool, str)) else _number(
                path, name, key, value, integer and isinstance(value, int))
    return out


def load_profile(spec: str | Path) -> Profile:
    """Load a profile by bundled name, ``name:variant``, or path to a ``.toml`` file.

    Raises NeurodeployError (one line, naming the file and the key at fault) for an unknown
    name, an unreadable or malformed file, a missing or non-numeric key, or an unknown variant.
    """
    text = str(spec)
    variant = None
    if not text.endswith(".toml") and ":" in text:
        text, variant = text.split(":", 1)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(text)
    else:
        path = _bundled_dir() / f"{text}.toml"
        if not path.is_file():
            raise NeurodeployError(f"unknown hardware profile '{text}' (bundled: "
                                   f"{', '.join(list_profiles())}; or give a path to a .toml)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NeurodeployError(f"hardware profile {path}: no such file") from None
    except OSError as exc:
        raise NeurodeployError(f"hardware profile {path}: cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise NeurodeployError(f"hardware profile {path}: not valid TOML ({exc})") from None
    spath = str(path)
    for key in ("energy", "time", "resources", "variants"):
        if key in data and not isinstance(data[key], dict):
            raise NeurodeployError(f"hardware profile {spath}: '{key}' must be a table "
                                   f"([{key}]), got {data[key]!r:.40}")
    head = data.get("profile")
    if not isinstance(head, dict) or not isinstance(head.get("name"), str):
        raise NeurodeployError(f"hardware profile {spath}: missing key 'profile.name'")
    kind = head.get("kind")
    if kind not in ("cmos", "chip"):
        raise NeurodeployError(f"hardware profile {spath}: key 'profile.kind' must be 'cmos' or "
                               f"'chip', got {kind!r}")
    chip = kind == "chip"
    energy = _section(spath, data, "energy", CHIP_ENERGY_KEYS if chip else ENERGY_KEYS)
    name = head["name"]
    if variant is not None:
        variants = data.get("variants", {})
        if not isinstance(variants, dict):
            raise NeurodeployError(f"hardware profile {spath}: 'variants' must be a table of "
                                   f"[variants.<name>] sections, got {variants!r:.40}")
        if variant not in variants:
            raise NeurodeployError(f"hardware profile {spath}: no variant '{variant}' (has: "
                                   f"{', '.join(sorted(variants)) or 'none'})")
        energy.update(_section(spath, variants, variant, (), False))
        name = f"{name}:{variant}"
    time = _section(spath, data, "time", TIME_KEYS) if chip else {}
    res = _section(spath, data, "resources", RESOURCE_KEYS + RESOURCE_KEYS_ZERO_OK,
                   integer=True) if chip else {}
    if chip and min(res[k] for k in RESOURCE_KEYS) < 1:
        bad = next(k for k in RESOURCE_KEYS if res[k] < 1)
        raise NeurodeployError(f"hardware profile {spath}: key 'resources.{bad}' must be >= 1")
    for key in RESOURCE_KEYS_OPTIONAL if chip else ():
        if key in res and (type(res[key]) is not int or res[key] < 0):
            raise NeurodeployError(f"hardware profile {spath}: key 'resources.{key}' must be an "
                                   f"integer >= 0, got {res[key]!r:.40}")
    if chip and not isinstance(res.get("shared_conv_kernels"), bool):
        raise NeurodeployError(f"hardware profile {spath}: key 'resources.shared_conv_kernels' "
                               "must be true or false")
    memory = data.get("memory", {})
    if not isinstance(memory, dict):
        raise NeurodeployError(f"hardware profile {spath}: '[memory]' must be a table, got "
                               f"{memory!r:.40}")
    if memory:
        sizes, pjs = memory.get("sram_bytes"), memory.get("sram_pj")
        if (not isinstance(sizes, list) or not isinstance(pjs, list) or len(sizes) != len(pjs)
                or not sizes or "access_bits" not in memory or "dram_pj" not in memory):
            raise NeurodeployError(f"hardware profile {spath}: section '[memory]' needs "
                                   "access_bits, sram_bytes and sram_pj of one length, dram_pj")
        for i, v in enumerate(sizes):
            _number(spath, "memory", f"sram_bytes[{i}]", v)
        for i, v in enumerate(pjs):
            _number(spath, "memory", f"sram_pj[{i}]", v)
        for key in ("access_bits", "dram_pj"):
            _number(spath, "memory", key, memory[key])
    return Profile(name=name, kind=kind, description=str(head.get("description", "")),
                   path=spath, energy=energy, time=time, resources=res, memory=memory)


__all__ = ["Profile", "list_profiles", "load_profile"]
