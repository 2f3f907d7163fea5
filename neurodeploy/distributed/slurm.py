"""Dask workers as SLURM jobs, through dask-jobqueue's ``SLURMCluster``."""

from __future__ import annotations

import sys
from typing import Any

from neurodeploy.distributed.spec import SlurmSpec
from neurodeploy.errors import NeurodeployError

#: Lava starts processes of its own, which a daemonic worker process may not do
NON_DAEMON = "export DASK_DISTRIBUTED__WORKER__DAEMON=False"


def slurm_kwargs(spec: SlurmSpec) -> dict[str, Any]:
    """``SLURMCluster`` arguments for ``spec``: one single-threaded worker process per core."""
    kw: dict[str, Any] = {
        "cores": spec.cores,
        "processes": spec.cores,
        "memory": spec.memory,
        "walltime": spec.walltime,
        "job_script_prologue": [NON_DAEMON, *spec.job_script_prologue],
        "job_extra_directives": list(spec.job_extra_directives),
        "python": spec.python or sys.executable,
    }
    for key, name in (("queue", "partition"), ("account", "account"),
                      ("interface", "interface"), ("local_directory", "local_directory"),
                      ("log_directory", "log_directory")):
        if getattr(spec, name) is not None:
            kw[key] = getattr(spec, name)
    return kw


def slurm_cluster(spec: SlurmSpec) -> Any:
    """A ``dask_jobqueue.SLURMCluster`` (its scheduler runs here; no job is submitted until it
    is scaled). ``cluster.job_script()`` shows the script each job runs."""
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as exc:
        raise NeurodeployError(f"--slurm needs dask-jobqueue ({exc}); install it with "
                               "pip install 'neurodeploy[dist]'") from None
    return SLURMCluster(**slurm_kwargs(spec))
