"""Dask workers as SLURM jobs, through dask-jobqueue's ``SLURMCluster``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from neurodeploy.distributed.spec import SlurmSpec
from neurodeploy.errors import NeurodeployError

#: :data:`neurodeploy.distributed.cluster.WORKER_CONFIG` as the job's environment: not
#: daemonic (Lava starts processes of its own), no stack-sampling profiler
WORKER_ENV = ["export DASK_DISTRIBUTED__WORKER__DAEMON=False",
              "export DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False"]


def slurm_kwargs(spec: SlurmSpec) -> dict[str, Any]:
    """``SLURMCluster`` arguments for ``spec``: one single-threaded worker process per core."""
    kw: dict[str, Any] = {
        "cores": spec.cores,
        "processes": spec.cores,
        "memory": spec.memory,
        "walltime": spec.walltime,
        "job_script_prologue": [*WORKER_ENV, *spec.job_script_prologue],
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


def check_submission(cluster: Any) -> None:
    """Ask SLURM whether it would take the worker job (``sbatch --test-only``, nothing is
    submitted), so that a missing ``sbatch``, a wrong partition or account is one error here:
    dask-jobqueue submits jobs in the background, where a refusal is only a log line while the
    command waits for workers that never come."""
    submit = cluster.job_cls.submit_command
    if shutil.which(submit) is None:
        raise NeurodeployError(f"--slurm: '{submit}' is not on PATH (run on a SLURM login "
                               "node, or use --workers / --scheduler)")
    fd, path = tempfile.mkstemp(prefix="neurodeploy-job-", suffix=".sh")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(cluster.job_script())
        proc = subprocess.run([submit, "--test-only", path], capture_output=True, text=True,
                              timeout=120)
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        why = lines[-1] if lines else f"exit status {proc.returncode}"
        raise NeurodeployError(f"--slurm: SLURM refuses the worker job: {why}")
