#!/usr/bin/env bash
# The MSL benchmark's Python half on a CUDA machine, where Node and onnxruntime-node may be absent:
# the trainer's tests (the CUDA ones run there), then "ours" (quality and wall time on CUDA), "timing"
# (our loop and the reference's, alternated epoch by epoch, both on CUDA), "random", "baselines" (nearest normal
# window, telemetry-only variants) and the summary.
# Usage: bench/msl_cuda.sh MSL_DIR REFERENCE_PY OUT_DIR   (python3 must be a CUDA build of torch)
set -uo pipefail
data=$1 ref=$2 out=$3
here=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
work=$(mktemp -d)
export PYTHONPATH=$here/workers/training/usad FAULTLINE_USAD_REFERENCE=$ref PYTHONUNBUFFERED=1
nvidia-smi -L
$py -c 'import torch, numpy; print("torch", torch.__version__, "numpy", numpy.__version__, "cuda", torch.cuda.is_available())'
(cd "$here/workers/training/usad" && $py -m pytest -q -p no:cacheprovider -m 'not msl' -rs) 2>&1 | tee "$out/pytest.txt"
run() { $py "$here/bench/msl_bench.py" --data "$data" --work "$work" --threads "${THREADS:-4}" --device cuda "$@"; }
t0=$(date +%s)
run --phase ours --ours-threads 1 2>&1 | tee "$out/ours.log" | grep -E '^\[ours' || true
echo "ours wall $(($(date +%s) - t0)) s"
run --phase timing --onnx-timing 0 --paired-reps "${PAIRED_REPS:-4}" 2>&1 | grep -E '^\[(timing|paired)' || true
run --phase random >/dev/null 2>&1
run --phase baselines 2>&1 | tail -1
run --phase summary --out "$out/msl-cuda.json" 2>&1 | tail -1
cp "$work"/ours.json "$work"/timing.json "$work"/baselines.json "$out"/ 2>/dev/null
