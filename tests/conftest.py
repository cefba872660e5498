"""Shared test set-up: hypothesis profiles, the device fixture, the CUDA simulator switch.

Profiles (environment variable ``MINIGRAD_HYPOTHESIS_PROFILE``):
    ci        the default: few examples, derandomised, so CI is quick and repeatable
    dev       more examples, random each run
    thorough  many examples, for a long local run before a release
    smoke     4 examples, for bench/gpu_check.sh where GPU time is short
"""
import os
import sys


def _real_gpu():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


HAS_GPU = _real_gpu()
if not HAS_GPU:
    # Numba reads this when it is first imported: the GPU kernels then run on the CPU, in
    # Python, so CI checks their index math without a GPU (small shapes only: it is slow).
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# the device fixture is a plain string, so reusing it across examples is safe
_quiet = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
          HealthCheck.function_scoped_fixture]
settings.register_profile("ci", max_examples=12, deadline=None, derandomize=True,
                          suppress_health_check=_quiet, print_blob=True)
settings.register_profile("dev", max_examples=40, deadline=None,
                          suppress_health_check=_quiet, print_blob=True)
settings.register_profile("thorough", max_examples=400, deadline=None,
                          suppress_health_check=_quiet, print_blob=True)
settings.register_profile("smoke", max_examples=4, deadline=None, derandomize=True,
                          suppress_health_check=_quiet, print_blob=True)
settings.load_profile(os.environ.get("MINIGRAD_HYPOTHESIS_PROFILE", "ci"))

DEVICES = ["cpu", "cuda"]


@pytest.fixture(params=DEVICES)
def device(request):
    """Runs a test once per device; the cuda run skips, saying why, where there is no GPU."""
    if request.param == "cuda" and not HAS_GPU:
        pytest.skip("no CUDA GPU here (CuPy missing or no device): the cuda case needs one")
    return request.param
