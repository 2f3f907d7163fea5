"""Validation and sweeps on Dask: the same work as one process, split by samples (or by design
point), run on a cluster's workers and merged exactly.

The default everywhere is in-process; nothing here imports Dask until a cluster is asked for.

- :mod:`~neurodeploy.distributed.spec`: what cluster to use (``ClusterSpec``: ``--workers N``,
  ``--scheduler ADDRESS``, ``--slurm SPEC``), parsed and checked without importing Dask.
- :mod:`~neurodeploy.distributed.cluster`: :func:`open_cluster` starts or connects to it
  (a ``LocalCluster`` of N single-threaded worker processes, an existing scheduler, or
  dask-jobqueue's ``SLURMCluster`` from :mod:`~neurodeploy.distributed.slurm`).
- :mod:`~neurodeploy.distributed.shards`: contiguous shards of samples or batches.
- :mod:`~neurodeploy.distributed.execute`: :func:`run_shards` runs one function per shard and
  returns every shard's result in order, or fails naming the shard (a worker that dies is
  retried by Dask up to ``distributed.scheduler.allowed-failures`` times; partial results are
  never returned).
- :mod:`~neurodeploy.distributed.simulate`: ``run_dataset`` and the Lava dataset run sharded
  by batches (merged by :func:`neurodeploy.sim.dataset.merge_batches`, the single-process code).
- :mod:`~neurodeploy.distributed.compare`: simulator-vs-Lava comparison sharded by samples,
  fixed and float mode; each shard returns summaries that the client judges together
  (:func:`neurodeploy.lava.verdict.judge`), the single-process code.
- :mod:`~neurodeploy.distributed.quantize`: ``quantize``'s calibration recording (the float
  model's activity on the calibration samples) sharded by samples and merged exactly into one
  simulation result; the search over scales then runs in the client, the single-process code.

Results are byte-identical to the single-process run: each shard runs the single-process code
on its slice (same batches, same encoding seeds) and the merge replays the single-process
accumulation in sample order. (Fixed point always; float mode equals a run with one thread per
process, as the workers have: MKL's float32 sums depend on the thread count, in one process
too.) ``quantize``'s search over scales is not distributed: each of its trials replays one
layer on the previous layer's recorded spikes, in the client.
"""

from __future__ import annotations

from neurodeploy.distributed.spec import ClusterSpec, SlurmSpec, cluster_spec, parse_slurm

__all__ = ["ClusterSpec", "SlurmSpec", "cluster_spec", "parse_slurm"]
