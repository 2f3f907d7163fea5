"""Loihi 2 bundles for INRC: netx model, run script, SLURM job, manifest."""
