"""Run one function per shard on a cluster; every shard's result in order, or an error naming
the shard that failed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from neurodeploy.distributed.cluster import Cluster
from neurodeploy.errors import NeurodeployError
from neurodeploy.progress import track


def _killed(exc: BaseException) -> bool:
    from distributed.scheduler import KilledWorker

    return isinstance(exc, KilledWorker)


def _failure(what: str, failed: list[tuple[int, str, BaseException]], total: int) -> str:
    """One line naming the failed shards: the first that raised, else every shard whose
    workers died (a task queued on a dying worker counts as having run there)."""
    raised = [f for f in failed if not _killed(f[2])]
    if raised:
        i, label, exc = raised[0]
        msg = " ".join(str(exc).split())
        why = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
        return f"{what}: shard {i + 1}/{total} ({label}) failed: {why}; no results reported"
    names = [f"{i + 1}/{total} ({label})" for i, label, _ in failed]
    which = (f"shard {names[0]} failed: every worker that ran it died" if len(names) == 1 else
             f"shards {', '.join(names[:-1])} and {names[-1]} failed: every worker that ran "
             "them died")
    return f"{what}: {which} (out of memory? killed?); no results reported"


def run_shards(cluster: Cluster, fn: Callable[..., Any], shards: Sequence[dict[str, Any]],
               labels: Sequence[str], what: str, progress: bool = False) -> list[Any]:
    """``[fn(**shards[i]) for i]``, each call a task on ``cluster``.

    A shard whose worker dies is run again on another worker (Dask's
    ``distributed.scheduler.allowed-failures`` times); if it still fails, or raises, the whole
    run fails with a NeurodeployError naming the shard (``labels[i]``): results come back for
    every shard or not at all. A NeurodeployError raised in a shard (bad input) comes back
    unchanged.
    """
    from distributed import as_completed

    client = cluster.client
    token = uuid.uuid4().hex[:8]
    futures = [client.submit(fn, **kw, key=f"neurodeploy-{what}-{token}-{i}", pure=False)
               for i, kw in enumerate(shards)]
    try:
        done = as_completed(futures, loop=client.loop)
        for fut in track(done, f"{what} on {cluster.description}", total=len(futures),
                         enabled=progress):
            if fut.status == "error":
                break  # fail fast: the others are cancelled below
        failed = []
        for i, fut in enumerate(futures):
            if fut.status == "error":
                exc = fut.exception()
                if isinstance(exc, NeurodeployError):
                    raise exc
                failed.append((i, labels[i], exc))
        if failed:
            raise NeurodeployError(_failure(what, failed, len(futures)))
        return [fut.result() for fut in futures]
    finally:
        client.cancel(futures)
