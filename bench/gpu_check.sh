#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, in one run: the CUDA cases of the test suite (every test
# whose id names cuda, gpu or cupy), the GPU benchmark and one epoch of the main demo on the GPU.
# Logs go to $OUT (default /tmp/gpu_check). Run from the repository root on a machine with CuPy,
# Numba's CUDA target, pytest, pytest-xdist, pytest-timeout and hypothesis:
#     bash bench/gpu_check.sh [extra pytest arguments]
set -u
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
# few hypothesis examples per test (tests/conftest.py's "smoke" profile): minutes count there
export MINIGRAD_HYPOTHESIS_PROFILE=${MINIGRAD_HYPOTHESIS_PROFILE:-smoke}
{ nvidia-smi -L; python3 -c "import cupy, numba, numpy; print('cupy', cupy.__version__,
'numba', numba.__version__, 'numpy', numpy.__version__, 'cuda', cupy.cuda.runtime.runtimeGetVersion())"
} 2>&1 | tee "$OUT/env.txt"
# SIGINT at the time limit, so that pytest still prints the failures it has seen
timeout -s INT -k 30 "${TEST_SECONDS:-400}" python3 -m pytest -v -n "${WORKERS:-8}" \
    -k "cuda or gpu or cupy or GPU" --timeout 120 --tb=short -rfEs --durations 15 \
    --junitxml "$OUT/gpu_tests.xml" "$@" 2>&1 \
    | tee "$OUT/gpu_tests.log" | grep -v PASSED | tail -n 150
[ "${BENCH:-1}" = 1 ] && timeout "${BENCH_SECONDS:-100}" python3 -m bench.bench_gpu \
    --json "$OUT/bench_gpu.json" 2>&1 | tee "$OUT/bench_gpu.log"
[ "${DEMO:-1}" = 1 ] && timeout 90 python3 demos/classify_digits.py --device cuda --epochs 2 \
    --quiet --out /tmp/gpu_check_demo 2>&1 | tail -n 25 | tee "$OUT/demo.log"
exit 0
