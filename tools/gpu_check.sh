#!/usr/bin/env bash
# The simulator on CUDA: its exactness tests, then its bench with the exactness check.
#
#   bash tools/gpu_check.sh            (from anywhere; PY=python3 unless set; no network needed)
#
# 1. tests/test_sim_fast.py: the fast engine on cuda against the reference engine (fixed mode:
#    the CPU's, bit for bit; float mode: the same device's). Needs pytest and hypothesis; when
#    they are missing this step is skipped with a note and step 2's --check still runs.
# 2. tools/bench_sim.py --device cuda --check --reference --json: samples·steps/s of the fast and
#    reference engines, torch and (when installed) snnTorch on the GPU, and whether the fast
#    engine's results equal the reference engine's on the bench networks. Lava is not needed.
# Exit status: 0 when every step passed.
set -u
cd "$(dirname "$0")/.." || exit 1
PY=${PY:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! $PY -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "error: torch sees no CUDA device" >&2
  exit 1
fi
status=0
if $PY -c "import pytest, hypothesis" 2>/dev/null; then
  $PY -m pytest -q -p no:cacheprovider tests/test_sim_fast.py || status=1
else
  echo "note: pytest or hypothesis missing: tests/test_sim_fast.py skipped"
fi
$PY tools/bench_sim.py --device cuda --check --reference --json --lava-samples 0 || status=1
exit $status
