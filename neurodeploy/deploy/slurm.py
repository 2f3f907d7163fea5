"""The SLURM batch script that runs a bundle on Intel's INRC Loihi 2 systems.

INRC members reach Loihi 2 through SLURM from the INRC virtual machines; Lava selects a board
through ``lava.utils.loihi.use_slurm_host(partition=..., loihi_gen=...)`` (lava/utils/loihi.py),
which needs Intel's closed ``lava-loihi`` extension, and reads the ``SLURM``, ``PARTITION`` /
``BOARD`` and ``LOIHI_GEN`` environment variables the Lava tutorials set. Most INRC Loihi 2
systems are ``N3B3`` chips (lava/utils/loihi.py, ``ChipGeneration``).
"""

from __future__ import annotations

DEFAULT_PARTITION = "oheogulch"
DEFAULT_LOIHI_GEN = "N3B3"


def slurm_script(partition: str = DEFAULT_PARTITION, loihi_gen: str = DEFAULT_LOIHI_GEN,
                 job_name: str = "neurodeploy", time_limit: str = "00:10:00") -> str:
    """Text of ``run_inrc.sbatch``: submit with ``sbatch run_inrc.sbatch`` from the bundle."""
    return f"""#!/bin/bash
# Run this neurodeploy bundle on a Loihi 2 system of Intel's INRC cloud.
# Submit from the bundle directory on an INRC VM:   sbatch run_inrc.sbatch
# Needs an INRC account and Intel's lava-loihi extension in the active Python environment;
# without it run.py falls back to Lava's bit-accurate CPU simulation and says so.
#SBATCH --job-name={job_name}
#SBATCH --partition={partition}
#SBATCH --time={time_limit}
#SBATCH --output={job_name}-%j.out
set -euo pipefail
cd "${{SLURM_SUBMIT_DIR:-$(dirname "$0")}}"
# the variables Lava's Loihi 2 tutorials set (lava.utils.loihi.use_slurm_host does the same)
export SLURM=1
export PARTITION="${{PARTITION:-{partition}}}"
export LOIHI_GEN="${{LOIHI_GEN:-{loihi_gen}}}"
python run.py --backend auto --partition "$PARTITION" --loihi-gen "$LOIHI_GEN" --output results.json
"""
