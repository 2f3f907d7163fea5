"""Start or connect to the Dask cluster a :class:`~neurodeploy.distributed.spec.ClusterSpec`
asks for, and close what was started."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from neurodeploy.distributed.spec import ClusterSpec
from neurodeploy.errors import NeurodeployError


@dataclass
class Cluster:
    """A connected client and the number of single-threaded workers to cut the work for."""

    client: Any  # distributed.Client
    workers: int
    description: str


def require_dask(what: str = "--workers, --scheduler and --slurm") -> None:
    """Raise NeurodeployError (saying how to install them) unless dask and distributed import."""
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise NeurodeployError(f"{what} need Dask ({exc}); install it with "
                               "pip install 'neurodeploy[dist]' (tools/env.sh has it)") from None


def _connect(address: str, timeout: float | None) -> Any:
    from distributed import Client

    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise NeurodeployError(f"cannot reach the Dask scheduler at {address}: {reason}") from None
    except ValueError as exc:
        raise NeurodeployError(f"--scheduler: '{address}' is not a Dask address "
                               f"(tcp://host:port): {exc}") from None


def _worker_threads(client: Any, address: str, timeout: float | None) -> int:
    """Threads over all workers of an existing cluster, waiting up to ``timeout`` for one."""
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise NeurodeployError(f"the Dask scheduler at {address} has no workers (start them with "
                               f"`dask worker {address} --nthreads 1`)") from None
    return max(1, sum(client.nthreads().values()))


@contextlib.contextmanager
def _quiet_logs(level: int) -> Iterator[None]:
    """Dask's own log lines (worker restarts, closing comms) off the CLI's stderr."""
    loggers = [logging.getLogger(n) for n in ("distributed", "dask_jobqueue", "tornado")]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    try:
        yield
    finally:
        for lg, lvl in zip(loggers, saved, strict=True):
            lg.setLevel(lvl)


@contextlib.contextmanager
def _keep_start_method() -> Iterator[None]:
    """Starting a ``spawn`` process (the local workers) makes Python fix this process's default
    multiprocessing start method (``spawn.get_preparation_data`` calls ``get_start_method()``);
    Lava's first import then fails setting its own (see
    :func:`neurodeploy.distributed.worker.allow_lava_import`). Leave it unset as found."""
    import multiprocessing

    before = multiprocessing.get_start_method(allow_none=True)
    try:
        yield
    finally:
        if before is None:
            multiprocessing.set_start_method(None, force=True)


#: Dask settings of the workers this module starts (a local cluster's worker processes inherit
#: them; SLURM jobs get them as environment variables, :mod:`neurodeploy.distributed.slurm`).
#: Not daemonic, since Lava runs start processes of their own. No profiler: it samples every
#: thread's stack each 10 ms, and Lava's runtime is a chain of waits between processes, so the
#: samples cost a Lava shard about 20 % more CPU and delay each hop (tools/bench_dist.py).
WORKER_CONFIG = {"distributed.worker.daemon": False, "distributed.worker.profile.enabled": False}


@contextlib.contextmanager
def open_cluster(spec: ClusterSpec, timeout: float | None = None,
                 log_level: int = logging.CRITICAL) -> Iterator[Cluster]:
    """Start (``workers``, ``slurm``) or connect to (``scheduler``) the cluster of ``spec``;
    close the client and anything started on exit.

    ``timeout`` (seconds): how long to try to reach a scheduler and wait for its first worker
    (default: Dask's ``distributed.comm.timeouts.connect``, 30 s). Workers it starts run with
    :data:`WORKER_CONFIG`.
    """
    require_dask()
    import dask

    if timeout is None:
        from dask.utils import parse_timedelta

        timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s")
    with _quiet_logs(log_level), _keep_start_method(), \
            dask.config.set(WORKER_CONFIG):
        cluster: Any = None
        client: Any = None
        try:
            if spec.scheduler is not None:
                client = _connect(spec.scheduler, timeout)
                n = _worker_threads(client, spec.scheduler, timeout)
            else:
                from distributed import Client

                if spec.slurm is not None:
                    from neurodeploy.distributed.slurm import check_submission, slurm_cluster

                    cluster = slurm_cluster(spec.slurm)
                    check_submission(cluster)
                    if spec.workers is not None:
                        cluster.scale(n=spec.workers)
                    else:
                        cluster.scale(jobs=spec.slurm.jobs)
                else:
                    from distributed import LocalCluster

                    # no dashboard; its HTTP server on a free loopback port, not 8787
                    cluster = LocalCluster(n_workers=spec.workers, threads_per_worker=1,
                                           processes=True, host="127.0.0.1",
                                           dashboard_address=None, silence_logs=log_level,
                                           scheduler_kwargs={"dashboard_address":
                                                             "127.0.0.1:0"})
                client = Client(cluster, set_as_default=False)
                n = int(spec.expected_workers() or 1)
                if spec.slurm is not None:
                    # as long as the queue takes: data is sent to workers once they exist
                    client.wait_for_workers(1)
        except BaseException as exc:  # Ctrl-C too: no SLURM job or worker left behind
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
            if isinstance(exc, NeurodeployError) or not isinstance(exc, Exception):
                raise
            raise NeurodeployError(f"cannot start {spec.describe()}: {type(exc).__name__}: "
                                   f"{' '.join(str(exc).split())}") from None
        try:
            yield Cluster(client, n, spec.describe())
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
