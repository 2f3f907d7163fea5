"""Which cluster to run on, from the CLI's ``--workers``, ``--scheduler`` and ``--slurm``
(checked here, before anything starts; no Dask import)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

from neurodeploy.errors import NeurodeployError

_WALLTIME = re.compile(r"^(\d+-)?\d{1,3}:\d{2}(:\d{2})?$")
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(B|[kKMGT]i?B)$")


@dataclass(frozen=True)
class SlurmSpec:
    """Dask workers started as SLURM jobs (dask-jobqueue ``SLURMCluster``).

    Each job runs ``cores`` single-threaded worker processes on ``cores`` CPU cores with
    ``memory`` for the whole job (e.g. ``16GB``), for at most ``walltime`` (``HH:MM:SS`` or
    ``D-HH:MM:SS``); ``jobs`` jobs are submitted unless ``--workers`` gives the total number of
    worker processes. ``job_extra_directives`` are extra ``#SBATCH`` options (``--qos=...``),
    ``job_script_prologue`` shell lines run before the workers start (``module load ...``,
    ``source venv/bin/activate``); ``python`` is the workers' interpreter (default: this one),
    ``interface`` the network interface the workers listen on (``ib0``).
    """

    partition: str | None = None
    account: str | None = None
    walltime: str = "01:00:00"
    cores: int = 1
    memory: str = "4GB"
    jobs: int = 1
    job_extra_directives: tuple[str, ...] = ()
    job_script_prologue: tuple[str, ...] = ()
    python: str | None = None
    interface: str | None = None
    local_directory: str | None = None
    log_directory: str | None = None


@dataclass(frozen=True)
class ClusterSpec:
    """A local cluster (``workers``), an existing scheduler (``scheduler``) or SLURM jobs
    (``slurm``, with ``workers`` as the total number of worker processes when given)."""

    workers: int | None = None
    scheduler: str | None = None
    slurm: SlurmSpec | None = None

    def describe(self) -> str:
        if self.scheduler is not None:
            return f"the Dask scheduler at {self.scheduler}"
        if self.slurm is not None:
            return f"{self.expected_workers()} Dask worker(s) in SLURM jobs"
        return f"{self.workers} local Dask worker process(es)"

    def expected_workers(self) -> int | None:
        """Worker processes the cluster will have (None: whatever the scheduler has)."""
        if self.slurm is not None:
            return self.workers or self.slurm.jobs * self.slurm.cores
        return self.workers


def _as_int(key: str, value: object, source: str) -> int:
    try:
        n = int(str(value))
    except ValueError:
        raise NeurodeployError(f"{source}: '{key}' must be an integer, got '{value}'") from None
    if n < 1:
        raise NeurodeployError(f"{source}: '{key}' must be >= 1, got {n}")
    return n


def _as_lines(key: str, value: object, source: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise NeurodeployError(f"{source}: '{key}' must be a string or a list of strings")


def _slurm_from_dict(raw: dict, source: str) -> SlurmSpec:
    known = {f.name for f in fields(SlurmSpec)}
    values: dict = {}
    for key, value in raw.items():
        k = key.replace("-", "_")
        if k == "queue":  # dask-jobqueue's name for the partition
            k = "partition"
        if k not in known:
            raise NeurodeployError(f"{source}: unknown SLURM setting '{key}' (known: "
                                   f"{', '.join(sorted(known))})")
        if k in ("cores", "jobs"):
            values[k] = _as_int(key, value, source)
        elif k in ("job_extra_directives", "job_script_prologue"):
            values[k] = _as_lines(key, value, source)
        else:
            values[k] = str(value)
    spec = SlurmSpec(**values)
    if not _WALLTIME.match(spec.walltime):
        raise NeurodeployError(f"{source}: walltime '{spec.walltime}' is not HH:MM:SS or "
                               "D-HH:MM:SS")
    if not _MEMORY.match(spec.memory):
        raise NeurodeployError(f"{source}: memory '{spec.memory}' is not a size such as 16GB")
    return spec


def parse_slurm(text: str) -> SlurmSpec:
    """``--slurm``: a TOML file (its ``[slurm]`` table, or its top level) or
    ``key=value,key=value`` (``partition=cpu,account=abc,walltime=02:00:00,cores=8,
    memory=32GB,jobs=4``)."""
    path = Path(text)
    if text.endswith(".toml") or path.is_file():
        import sys

        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            import tomli as tomllib
        if not path.is_file():
            raise NeurodeployError(f"{text}: no such SLURM settings file")
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise NeurodeployError(f"{text}: not a TOML file ({exc})") from None
        table = doc.get("slurm", doc)
        if not isinstance(table, dict):
            raise NeurodeployError(f"{text}: 'slurm' must be a table")
        return _slurm_from_dict(table, text)
    raw = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise NeurodeployError(f"--slurm: '{item}' is not key=value (e.g. partition=cpu,"
                                   "cores=4,memory=16GB,walltime=01:00:00)")
        raw[key.strip()] = value.strip()
    return _slurm_from_dict(raw, "--slurm")


def cluster_spec(workers: int | None = None, scheduler: str | None = None,
                 slurm: str | None = None) -> ClusterSpec | None:
    """The cluster the CLI options ask for, or None for the default (this process)."""
    if workers is not None and workers < 1:
        raise NeurodeployError(f"--workers must be >= 1, got {workers}")
    if scheduler is not None and (workers is not None or slurm is not None):
        raise NeurodeployError("--scheduler runs on an existing cluster; it does not take "
                               "--workers or --slurm (start workers with `dask worker ADDRESS`)")
    if scheduler is not None:
        if not scheduler.strip():
            raise NeurodeployError("--scheduler: empty address (e.g. tcp://10.0.0.5:8786)")
        return ClusterSpec(scheduler=scheduler.strip())
    if slurm is not None:
        return ClusterSpec(workers=workers, slurm=parse_slurm(slurm))
    if workers is not None:
        return ClusterSpec(workers=workers)
    return None
