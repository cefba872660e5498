"""The resample kernels and the kernels' own input checks, on the CPU and in the CUDA simulator.

``kernels/{cpu,gpu}/resample.py`` against slow NumPy loops are tested in ``test_pool.py`` (with
the bilinear tables they share); here are the checks every public kernel function runs on
what reaches it (the backstop behind the ops' checks), and one run of every GPU kernel function
in Numba's CUDA simulator, in a subprocess with NUMBA_ENABLE_CUDASIM=1, against its CPU twin.

Notation
--------
h0, h1, lh, w0, w1, lw   bilinear tables: source rows, columns and the weights of h1, w1
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minigrad.kernels.cpu import pool as cpu_pool, resample as cpu_resample


def tables(OH, OW, H, W):
    rows, cols = np.arange(OH) % H, np.arange(OW) % W
    return (rows, rows, np.full(OH, 0.5), cols, cols, np.full(OW, 0.5))


@pytest.mark.parametrize("call, error, words", [
    (lambda: cpu_pool.max_pool2d(np.zeros((8, 8, 0, 4)), 2, 2, 2, 2, 1, 1), ValueError,
     r"max_pool2d: x of shape \(8, 8, 0, 4\) has an empty"),
    (lambda: cpu_pool.adaptive_avg_pool2d(np.zeros((1, 1, 0, 4)), 2, 2), ValueError,
     "adaptive_avg_pool2d: x of shape"),
    (lambda: cpu_pool.adaptive_avg_pool2d_adjoint(np.zeros((1, 1, 2, 2)), 3, 0), ValueError,
     r"adaptive_avg_pool2d_adjoint: x of shape \(1, 1, 3, 0\)"),
    (lambda: cpu_pool.avg_pool2d_adjoint(np.zeros((1, 1, 5, 2)), 4, 4, 2, 2, 2, 2, 0, 0),
     ValueError, r"avg_pool2d_adjoint: g of shape \(1, 1, 5, 2\) is not the average pooling"),
    (lambda: cpu_pool.scatter_to_indices(np.zeros((1, 1, 2)), np.zeros((1, 1, 2), np.int64),
                                         2, 2), ValueError, "scatter_to_indices: indices"),
    (lambda: cpu_pool.scatter_to_indices(np.zeros((1, 1, 1, 2)),
                                         np.zeros((1, 1, 1, 2), np.int32), 2, 2),
     TypeError, "scatter_to_indices: indices must be int64, got dtype int32"),
    (lambda: cpu_pool.scatter_to_indices(np.ones((1, 1, 1, 2)), np.zeros((1, 1, 1, 2), np.int64),
                                         0, 2), ValueError, r"into an empty plane \(0, 2\)"),
    (lambda: cpu_pool.gather_at_indices(np.zeros((2, 1, 2, 2)), np.zeros((1, 1, 1, 2), np.int64)),
     ValueError, r"gather_at_indices: indices of shape \(1, 1, 1, 2\) must be \(N, C, h, w\)"),
    (lambda: cpu_resample.upsample_bilinear2d(np.zeros((1, 1, 0, 2)), *tables(2, 2, 1, 1)),
     ValueError, "upsample_bilinear2d: x of shape"),
    (lambda: cpu_resample.upsample_bilinear2d(np.zeros((1, 1, 2, 2)),
                                              *tables(2, 2, 2, 2)[:5], np.zeros(3)),
     ValueError, "the column tables must be three non-empty 1-D arrays of one length"),
    (lambda: cpu_resample.upsample_bilinear2d_adjoint(np.zeros((1, 1, 3, 2)),
                                                      *tables(2, 2, 2, 2), 2, 2),
     ValueError, r"g of shape \(1, 1, 3, 2\) does not match the tables"),
])
def test_kernels_check_what_reaches_them(call, error, words):
    with pytest.raises(error, match=words):
        call()


@pytest.mark.parametrize("kernel", ["scatter", "gather"])
def test_index_kernels_skip_and_report_indices_off_the_plane(kernel):
    # The ops never pass such indices; the kernels still never follow one.
    indices = np.array([[[[0, 4, -1, 2]]]])
    g = np.ones((1, 1, 1, 4))
    with pytest.raises(IndexError, match=rf"{kernel}_\w+: 2 indices lie outside \[0, 4\)"):
        if kernel == "scatter":
            cpu_pool.scatter_to_indices(g, indices, 2, 2)
        else:
            cpu_pool.gather_at_indices(np.ones((1, 1, 2, 2)), indices)


SIMULATED = """
import numpy as np
from numba import config
assert config.ENABLE_CUDASIM
from minigrad.kernels import cpu, gpu
from minigrad.kernels.gpu import launch

rng = np.random.default_rng(0)
x = rng.permutation(9).reshape(1, 1, 3, 3).astype(np.float64)
window = (2, 2, 1, 1, 1, 1)
y, idx = gpu.max_pool2d(x, *window)
y_cpu, idx_cpu = cpu.max_pool2d(x, *window)
results = {
    "max_pool2d": (y, y_cpu), "indices": (idx, idx_cpu),
    "scatter": (gpu.scatter_to_indices(y, idx, 3, 3), cpu.scatter_to_indices(y, idx, 3, 3)),
    "gather": (gpu.gather_at_indices(x, idx), cpu.gather_at_indices(x, idx)),
    "avg_pool2d": (gpu.avg_pool2d(x, *window, True, False), cpu.avg_pool2d(x, *window, True, False)),
    "avg_pool2d_adjoint": (gpu.avg_pool2d_adjoint(y, 3, 3, *window, False),
                           cpu.avg_pool2d_adjoint(y, 3, 3, *window, False)),
    "adaptive": (gpu.adaptive_avg_pool2d(x, 2, 2), cpu.adaptive_avg_pool2d(x, 2, 2)),
    "adaptive_adjoint": (gpu.adaptive_avg_pool2d_adjoint(y, 3, 3),
                         cpu.adaptive_avg_pool2d_adjoint(y, 3, 3)),
    "im2col": (gpu.im2col(x, 2, 2, 1, 1, 1, 1, 1, 1, 4, 4), cpu.im2col(x, 2, 2, 1, 1, 1, 1, 1, 1, 4, 4)),
    "erf": (gpu.erf(x / 9), cpu.erf(x / 9)),
}
cols = rng.standard_normal((4, 16))
results["col2im"] = (gpu.col2im(cols, 1, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 4, 4),
                     cpu.col2im(cols, 1, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 4, 4))
rows = np.array([0, 1, 2, 2]); weights = np.array([0.0, 0.25, 0.5, 1.0])
tables = (rows, np.minimum(rows + 1, 2), weights, rows, np.minimum(rows + 1, 2), weights)
up = gpu.upsample_bilinear2d(x, *tables)
results["bilinear"] = (up, cpu.upsample_bilinear2d(x, *tables))
results["bilinear_adjoint"] = (gpu.upsample_bilinear2d_adjoint(up, *tables, 3, 3),
                               cpu.upsample_bilinear2d_adjoint(up, *tables, 3, 3))
for name, (a, b) in results.items():
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=name)
try:
    gpu.scatter_to_indices(y, idx + 9, 3, 3)
except IndexError as error:
    assert "lie outside [0, 9)" in str(error), error
else:
    raise AssertionError("the GPU scatter followed indices off the plane")
launch.launch(None, 0)  # no threads: no launch at all
print("ok", len(results))
"""


def test_every_gpu_kernel_matches_its_cpu_twin_in_the_cuda_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(SIMULATED)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["ok", "13"]
