"""bench/bench_conv.py --phases: the README's figures for Winograd on the phases of stride-2
4x4 convolutions compare the two paths on the same workload."""
import numpy as np

from bench import bench_conv
import minigrad.kernels.cpu as cpu
from minigrad.kernels import im2col_gemm


def test_phase_comparison_times_both_paths_and_puts_the_switch_back(monkeypatch):
    """Each round times the phases' path (its kernels called) and then the rows path (not
    called), and the switch is on again afterwards."""
    calls = []
    real = cpu.phase_input

    def counted(*args, **kwargs):
        calls.append(im2col_gemm.WINOGRAD)
        return real(*args, **kwargs)
    monkeypatch.setattr(cpu, "phase_input", counted)
    small = [("conv2d 2x16x8x8 -> 16", "conv2d", (2, 16, 8, 8), (16, 16, 4, 4))]
    ((name, fast, plain, ratio),) = bench_conv.phase_comparison(2, 1, small)
    assert name == "conv2d 2x16x8x8 -> 16" and fast > 0 and plain > 0
    assert np.isclose(ratio, fast / plain)
    assert calls and all(calls)  # the forward on the phases, in the "on" rounds only
    assert im2col_gemm.WINOGRAD is True


def test_the_phase_workloads_take_the_phases_path():
    """Every listed layer is one the phases' path takes (4x4, stride 2, padding 1, >= 16
    channels each side)."""
    for _, op, x_shape, w_shape in bench_conv.PHASE_WORKLOADS:
        assert w_shape[2:] == (4, 4) and min(w_shape[:2]) >= im2col_gemm.WINOGRAD_MIN_CHANNELS
        assert x_shape[1] == w_shape[1 if op == "conv2d" else 0]
