#!/usr/bin/env bash
# The accelerator measurements in the "On a GPU" tables of docs/performance.md, in one run (about 5 minutes on
# one H200). Run from the repository root with audiolstm importable (installed, or on PYTHONPATH):
#
#   launch/gpu_bench.sh [LOG]        # LOG: the full output (default gpu_bench.log)
#
# In order of importance, so that a run cut short still has the first rows: column and transpose
# dreaming one second of audio (11025 steps) at the dissertation's size with 1 and 4 streams,
# training iterations per second at the dissertation's size, the vocoder, then stream mode's
# real-time table at the default sizes. Each command has its own time limit (BENCH_LIMIT_S,
# default 150 s; twice that for the table); a failed or cut command is logged and the rest still
# run. The last lines are a summary: one line per command with its key numbers. DREAM_STEPS and
# TRAIN_ITERS shrink the work for a quick try on a CPU.
set -u
log=${1:-gpu_bench.log}
py=${PYTHON:-python3}
limit=${BENCH_LIMIT_S:-150}
steps=${DREAM_STEPS:-11025}    # smaller for a quick try on a CPU
iters=${TRAIN_ITERS:-200}
: >"$log"
summary=()

bench() {   # bench NAME LIMIT_S ARGS...
  local name=$1 lim=$2
  shift 2
  echo "## $name: audiolstm.tools.bench $*" | tee -a "$log"
  local t0=$SECONDS out rc
  out=$(timeout "$lim" "$py" -m audiolstm.tools.bench "$@" 2>&1)
  rc=$?
  printf '%s\n' "$out" >>"$log"
  printf '%s\n' "$out" | tail -n 4
  local key
  key=$(printf '%s\n' "$out" | grep -E '^(iters_per_s|seconds)=' | tail -n 1)
  summary+=("$name rc=$rc wall=$((SECONDS - t0))s ${key:-no result}")
}

{
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm \
    --format=csv 2>&1 || true
  "$py" -c 'import jax, flax, optax; print("jax", jax.__version__, "flax", flax.__version__,
"optax", optax.__version__, jax.devices())' 2>&1
} | tee -a "$log"

for approach in column transpose; do
  for streams in 1 4; do
    bench "dream $approach x$streams" "$limit" --approach "$approach" --dream-only \
      --streams "$streams" --iters "$steps"
  done
done
JAX_DEFAULT_MATMUL_PRECISION=highest bench "dream column x1 fp32-highest" "$limit" \
  --approach column --dream-only --iters "$steps"
for approach in vector column transpose fft; do
  bench "train $approach" "$limit" --approach "$approach" --iters "$iters" --warmup 10
done
bench "train column x8" "$limit" --approach column --streams 8 --iters "$iters" --warmup 10
bench "vocoder" "$limit" --vocoder
bench "realtime" "$((2 * limit))" --realtime --approaches vector,column,transpose,fft \
  --sizes 128,512,2048 --realtime-streams 1,4 --budget 1
grep -A 20 '^dream speed on' "$log" | grep '^|' || true

echo "## summary" | tee -a "$log"
printf '%s\n' "${summary[@]}" | tee -a "$log"
