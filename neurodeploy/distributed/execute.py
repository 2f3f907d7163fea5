"""Run one function per shard on a cluster; every shard's result in order, or an error naming
the shard that failed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from neurodeploy.distributed.cluster import Cluster
from neurodeploy.errors import NeurodeployError
from neurodeploy.progress import track


def _why(exc: BaseException) -> str:
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):  # after distributed.scheduler.allowed-failures retries
        return "every worker that ran it died (out of memory? killed?)"
    msg = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def run_shards(cluster: Cluster, fn: Callable[..., Any], shards: Sequence[dict[str, Any]],
               labels: Sequence[str], what: str, progress: bool = False) -> list[Any]:
    """``[fn(**shards[i]) for i]``, each call a task on ``cluster``.

    A shard whose worker dies is run again on another worker (Dask's
    ``distributed.scheduler.allowed-failures`` times); if it still fails, or raises, the whole
    run fails with a NeurodeployError naming the shard (``labels[i]``), and the other shards
    are cancelled: results come back for every shard or not at all. A NeurodeployError raised
    in a shard (bad input) comes back unchanged.
    """
    from distributed import as_completed

    client = cluster.client
    token = uuid.uuid4().hex[:8]
    futures = [client.submit(fn, **kw, key=f"neurodeploy-{what}-{token}-{i}", pure=False)
               for i, kw in enumerate(shards)]
    try:
        done = as_completed(futures, loop=client.loop)
        for _ in track(done, f"{what} on {cluster.description}", total=len(futures),
                       enabled=progress):
            pass
        results = []
        for i, fut in enumerate(futures):
            try:
                results.append(fut.result())
            except NeurodeployError:
                raise
            except Exception as exc:
                raise NeurodeployError(f"{what}: shard {i + 1}/{len(futures)} ({labels[i]}) "
                                       f"failed: {_why(exc)}; no results reported") from None
        return results
    finally:
        client.cancel(futures)
