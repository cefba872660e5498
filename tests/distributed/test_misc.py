"""Smaller DDP behaviours on 2 ranks (unused parameters, evaluation forward, buffers), the
rank-0 helpers, a single-process group, and the NCCL backend (GPU only)."""
import json
import os
import subprocess
import sys

import pytest

import minigrad as mg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def seen(run_ranks, tmp_path_factory):
    out = tmp_path_factory.mktemp("misc") / "seen.json"
    result = run_ranks("misc.py", str(out), timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text())


def test_a_parameter_without_gradient_is_named(seen):
    assert "no gradient for the parameters ['b.weight', 'b.bias']" in seen["unused"]
    assert "find_unused_parameters=True" in seen["unused"]


def test_evaluation_forward_then_training_keeps_ranks_in_step(seen):
    assert seen["grads_equal_on_both_ranks"]


def test_buffers_follow_rank_0(seen):
    assert seen["buffers_differ_after_forward"]          # each rank updates its own stats ...
    assert seen["buffers_equal_after_same_input"]        # ... from rank 0's at each forward
    assert seen["repr"] == "DistributedDataParallel("


def test_rank_zero_helpers(seen):
    assert seen["prints"] == 1.0                         # one rank of two printed
    assert seen["bar_only_on_rank0"] == [1.0, 1.0]       # rank 1 disabled, rank 0 drawn
    assert seen["is_main"] is True


def test_a_single_process_is_a_group_of_one(tmp_path):
    pytest.importorskip("mpi4py", reason="the MPI backend needs mpi4py")
    code = ("import minigrad as mg, minigrad.distributed as dist\n"
            "from layers import Linear\nfrom layers.parallel import DistributedDataParallel\n"
            "dist.init_process_group('mpi')\n"
            "t = mg.tensor([2.0, 3.0]); dist.all_reduce(t, op=dist.ReduceOp.AVG)\n"
            "net = Linear(2, 1); ddp = DistributedDataParallel(net)\n"
            "ddp(mg.ones(1, 2)).sum().backward()\n"
            "print(dist.get_world_size(), dist.get_rank(), t.tolist(), net.weight.grad.tolist())\n"
            "for bad in (dict(device_ids=[0, 1]), dict(output_device=[0, 1]),\n"
            "            dict(process_group='world'), dict(bucket_cap_mb=-1)):\n"
            "    try:\n        DistributedDataParallel(Linear(2, 1), **bad)\n"
            "    except ValueError as e:\n        print(e)\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "1 0 [2.0, 3.0] [[1.0, 1.0]]"
    assert "device_ids must name at most one device" in lines[1]
    assert "output_device must name at most one device" in lines[2]
    assert "only the default process group exists" in lines[3]
    assert "invalid bucket_cap_mb -1, expected a value in [0, inf]" in lines[4]


def test_environment_must_agree_with_mpiexec():
    pytest.importorskip("mpi4py", reason="the MPI backend needs mpi4py")
    code = ("import minigrad.distributed as dist\n"
            "dist.init_process_group('mpi')\n")
    env = dict(os.environ, PYTHONPATH=ROOT, WORLD_SIZE="4")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=ROOT, env=env)
    assert result.returncode != 0
    assert "world_size=4 (argument or environment) but mpiexec started this process with " \
           "world_size 1" in result.stderr


def test_bad_backend_and_timeout():
    import datetime
    import minigrad.distributed as dist
    with pytest.raises(ValueError, match="backend must be 'mpi' or 'nccl', got 'gloo'"):
        dist.init_process_group("gloo")
    with pytest.raises(ValueError, match="timeout must be a positive datetime.timedelta"):
        dist.init_process_group("mpi", timeout=5)
    with pytest.raises(ValueError, match="timeout must be a positive"):
        dist.init_process_group("mpi", timeout=datetime.timedelta(0))
    assert not dist.is_initialized()


def test_without_a_group_collectives_say_so():
    import minigrad.distributed as dist
    assert (dist.get_rank(), dist.get_world_size(), dist.is_initialized()) == (0, 1, False)
    for call in (lambda: dist.all_reduce(mg.ones(1)), lambda: dist.barrier(),
                 lambda: dist.get_backend()):
        with pytest.raises(RuntimeError, match="process group is not initialised"):
            call()


def test_nccl_without_cupy_is_a_clear_error():
    if mg.cuda.is_available():
        pytest.skip("CuPy and a GPU are present: the NCCL test below runs instead")
    import minigrad.distributed as dist
    with pytest.raises(ImportError, match="'nccl' backend needs CuPy and a CUDA GPU"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()


def test_nccl_single_gpu_group(tmp_path):
    if not mg.cuda.is_available():
        pytest.skip("the NCCL backend needs CuPy and a CUDA GPU; none here")
    code = (
        "import numpy as np, minigrad as mg, minigrad.distributed as dist\n"
        "import minigrad.functional as F\n"
        "from layers import Linear\nfrom layers.parallel import DistributedDataParallel\n"
        "dist.init_process_group('nccl')\n"
        "t = mg.tensor([2.0, 3.0], device='cuda'); dist.all_reduce(t)\n"
        "b = mg.tensor([5.0], device='cuda'); dist.broadcast(b, 0)\n"
        "out = [mg.zeros(2, device='cuda')]; dist.all_gather(out, t); dist.barrier()\n"
        "mg.manual_seed(0); net = Linear(3, 2).cuda(); ref = Linear(3, 2).cuda()\n"
        "ref.load_state_dict(net.state_dict())\n"
        "ddp = DistributedDataParallel(net)\n"
        "x = mg.randn(4, 3, device='cuda')\n"
        "ddp(x).sum().backward(); ref(x).sum().backward()\n"
        "assert np.allclose(net.weight.grad.numpy(), ref.weight.grad.numpy())\n"
        "try:\n    dist.all_reduce(mg.ones(2))\nexcept TypeError as e:\n    print('cpu:', e)\n"
        "print(dist.get_backend(), t.tolist(), b.tolist(), out[0].tolist())\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    assert "nccl [2.0, 3.0] [5.0] [2.0, 3.0]" in result.stdout
    assert "needs a CUDA tensor" in result.stdout
