"""bench/profile_step.py: exclusive times per op that add up to the step, and GEMM FLOPs."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from bench import profile_step

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class FakeClock:
    """Stands in for the ``time`` module: time moves only when a test op says so."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now

    def process_time(self):
        return self.now


CLOCK = FakeClock()


class Inner(mg.Function):
    """An op that takes 3 ms."""

    @staticmethod
    def forward(ctx, x):
        CLOCK.now += 0.003
        return x.copy()

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output


class Outer(mg.Function):
    """An op that takes 1 ms forward, and 2 ms backward of its own plus an Inner (3 ms)."""

    @staticmethod
    def forward(ctx, x):
        CLOCK.now += 0.001
        return 2 * x

    @staticmethod
    def backward(ctx, grad_output):
        CLOCK.now += 0.002
        return Inner.apply(grad_output) * 2


def _rows(report):
    return {(r["op"], r["phase"]): r for r in report["rows"]}


def test_exclusive_times_calls_and_shares_with_a_fake_clock(monkeypatch):
    monkeypatch.setattr(profile_step, "time", CLOCK)
    x = mg.tensor(np.ones(3), requires_grad=True)

    def step():
        CLOCK.now += 0.004  # glue between the ops: "other"
        (Outer.apply(x) + Outer.apply(x) + Outer.apply(x)).sum().backward()

    report = profile_step.profile(step, steps=2, warmup=1)
    rows = _rows(report)
    assert rows[("Outer.forward", "forward")]["calls"] == 3
    assert rows[("Outer.forward", "forward")]["wall_ms"] == pytest.approx(3.0)
    # Outer.backward ran 3 times a step for 2 ms each; its Inner (3 ms) is not counted in it
    assert rows[("Outer.backward", "backward")]["calls"] == 3
    assert rows[("Outer.backward", "backward")]["wall_ms"] == pytest.approx(6.0)
    assert rows[("Inner.forward", "backward")]["calls"] == 3
    assert rows[("Inner.forward", "backward")]["cpu_ms"] == pytest.approx(9.0)
    assert rows[("other", "")]["wall_ms"] == pytest.approx(4.0, abs=1e-9)
    assert report["step_ms"] == pytest.approx(22.0)
    assert sum(r["share"] for r in report["rows"]) == pytest.approx(100.0)
    assert rows[("Outer.forward", "forward")]["share"] == pytest.approx(100 * 3 / 22)


def test_the_engine_is_left_as_it_was():
    before = (Outer.__dict__["forward"], Outer.__dict__["backward"], np.matmul, np.dot,
              mg.Tensor.__dict__["backward"])
    profile_step.profile(lambda: Outer.apply(mg.tensor([1.0], requires_grad=True)).backward(),
                         steps=1, warmup=0)
    after = (Outer.__dict__["forward"], Outer.__dict__["backward"], np.matmul, np.dot,
             mg.Tensor.__dict__["backward"])
    assert all(a is b for a, b in zip(before, after))


def test_the_command_profiles_a_tiny_mlp_step(tmp_path):
    """A fresh process (threads set as bench_speed sets them), batch 4: the shares add up to
    the step, and the GEMMs found carry exactly the MLP's FLOPs in each pass."""
    out = tmp_path / "profile.json"
    done = subprocess.run([sys.executable, "-m", "bench.profile_step", "--model", "mlp",
                           "--batch", "4", "--steps", "2", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr
    assert "| other |" in done.stdout and "GEMMs:" in done.stdout
    (report,) = json.loads(out.read_text())
    assert report["batch"] == 4 and report["blas_threads"] in (1, None)
    assert sum(r["share"] for r in report["rows"]) == pytest.approx(100.0, abs=1e-6)
    rows = _rows(report)
    assert rows[("optimizer.step", "optimizer")]["calls"] == 1
    assert rows[("autograd engine", "backward")]["calls"] == 1
    flops = {"forward": 0, "backward": 0}
    for gemm in report["gemms"]:
        flops[gemm["phase"]] += gemm["flops"] * gemm["calls"]
    B = 4
    # y = x @ Wᵀ per layer; backward: dW for every layer, dx for all but the first
    assert flops["forward"] == 2 * B * (784 * 256 + 256 * 256 + 256 * 10)
    assert flops["backward"] == 2 * B * (784 * 256 + 2 * 256 * 256 + 2 * 256 * 10)
    assert all(g["gflops_alone"] > 0 for g in report["gemms"])


def test_bad_options_are_refused():
    with pytest.raises(SystemExit):
        profile_step.main(["--steps", "0"])


def _command(tmp_path, *options, model="mlp"):
    out = tmp_path / "profile.json"
    done = subprocess.run([sys.executable, "-m", "bench.profile_step", "--model", model,
                           "--batch", "4", "--steps", "1", "--json", str(out), *options],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores for a pool of 2 threads")
def test_threads_set_both_pools_and_each_pool_can_be_set_apart(tmp_path):
    pytest.importorskip("threadpoolctl", reason="the BLAS pool's size is read through it")
    (policy,) = _command(tmp_path, "--threads", "2")
    assert (policy["blas_threads"], policy["numba_threads"], policy["gemm_threads"]) == (1, 2, 2)
    (both,) = _command(tmp_path, "--threads", "2", "--blas", "threads")
    assert (both["blas_threads"], both["numba_threads"], both["gemm_threads"]) == (2, 2, 1)
    (apart,) = _command(tmp_path, "--threads", "2", "--blas-threads", "1", "--numba-threads", "1")
    assert (apart["blas_threads"], apart["numba_threads"]) == (1, 1)


def test_the_lenet_step_finds_every_forward_product(tmp_path):
    (report,) = _command(tmp_path, model="lenet")
    B = 4
    conv = 2 * B * 16 * 1 * 25 * 28 * 28  # the first conv's im2col: K * C*KH*KW * OH*OW
    # the second (16 -> 32, 5x5) takes Winograd's F(2x2, 5x5): 36 products of (tiles, C) @ (C, K)
    conv += 2 * 36 * (B * 7 * 7) * 16 * 32
    linear = 2 * B * (1568 * 128 + 128 * 10)
    assert sum(g["flops"] * g["calls"] for g in report["gemms"]
               if g["phase"] == "forward") == conv + linear


def test_the_conv_transpose2d_workload_finds_its_three_products(tmp_path):
    """bench_speed's conv_transpose2d workload, forward + backward: one product for the output
    (its windows as rows: 2 * N*H*W * C_in * C_out*KH*KW FLOPs), and the input and weight
    gradients on the phases' Winograd path, 9 products each with 9/16 of those FLOPs."""
    out = tmp_path / "profile.json"
    done = subprocess.run([sys.executable, "-m", "bench.profile_step", "--model",
                           "conv_transpose2d", "--steps", "1", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr
    (report,) = json.loads(out.read_text())
    assert report["batch"] == 32
    each = 2 * 32 * 8 * 8 * 64 * 32 * 4 * 4
    flops = {}
    for gemm in report["gemms"]:
        flops[gemm["caller"]] = flops.get(gemm["caller"], 0) + gemm["flops"] * gemm["calls"]
    assert flops == {"ConvTranspose2d.forward": each, "Conv2d.forward": each * 9 // 16,
                     "Conv2dGradWeight.forward": each * 9 // 16}
    with pytest.raises(SystemExit):
        profile_step.main(["--model", "conv2d", "--batch", "8"])


def test_torch_profiles_the_same_step(tmp_path):
    pytest.importorskip("torch", reason="--torch profiles PyTorch's step")
    ours, theirs = _command(tmp_path, "--torch")
    assert (ours["library"], theirs["library"]) == ("minigrad", "torch")
    calls = {r["op"]: r["calls"] for r in theirs["rows"]}
    assert calls["aten::addmm"] == 3  # the MLP's three Linear layers, forward
    assert sum(r["share"] for r in theirs["rows"]) == pytest.approx(100.0, abs=1e-6)


def test_thread_spin_reports_every_setting():
    done = subprocess.run([sys.executable, "-m", "bench.thread_spin", "--sleep", "0.001",
                           "--repeats", "1"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "," in line
            and "after" not in line]
    assert len(rows) == 12  # 4 (BLAS, Numba) settings x (GEMM, Numba kernel, nothing)
    assert all(float(line.split("|")[3]) >= 0 for line in rows)
