"""The options every verb that can run on a Dask cluster takes (``--workers``,
``--scheduler``, ``--slurm``); see :mod:`neurodeploy.distributed`."""

from __future__ import annotations

from typing import Annotated

import typer

Workers = Annotated[int | None, typer.Option(
    "--workers", help="Run on a local Dask cluster of N single-threaded worker processes "
    "(default: this process). With --slurm: N workers in all.")]
Scheduler = Annotated[str | None, typer.Option(
    "--scheduler", help="Run on an existing Dask cluster: its scheduler's address "
    "(tcp://host:8786). For Lava runs start its workers with "
    "DASK_DISTRIBUTED__WORKER__DAEMON=False (and, faster, "
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False).")]
Slurm = Annotated[str | None, typer.Option(
    "--slurm", help="Start the Dask workers as SLURM jobs (dask-jobqueue): a .toml file or "
    "key=value,... with partition, account, walltime, cores, memory, jobs (and in TOML "
    "job_extra_directives, job_script_prologue, python, interface).")]
