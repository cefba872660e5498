"""A checkpoint written by a 2-rank DDP run loads into the single-process model, and a
single-process checkpoint loads on every rank."""
import json

import numpy as np

import minigrad as mg
from layers import Linear, ReLU, Sequential


def single_model():
    mg.manual_seed(10)
    return Sequential(Linear(3, 5), ReLU(), Linear(5, 2))


def test_distributed_checkpoint_loads_in_one_process(run_ranks, tmp_path):
    path = tmp_path / "ddp.npz"
    result = run_ranks("checkpoint.py", "save", str(path), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("saved") == 1                    # printed by rank 0 only
    state = mg.load(str(path))
    assert sorted(state) == ["0.bias", "0.weight", "2.bias", "2.weight"]  # no "module." prefix
    net = single_model()
    start = net[0].weight.numpy().copy()
    net.load_state_dict(state)
    # trained from rank 0's initialisation (seed 10), which DDP gave to both ranks
    assert 1e-4 < np.abs(net[0].weight.numpy() - start).max() < 1.0


def test_single_process_checkpoint_loads_on_every_rank(run_ranks, tmp_path):
    net = single_model()
    for p in net.parameters():
        p.data[...] = np.random.default_rng(3).normal(size=p.shape)
    path, out = tmp_path / "single.npz", tmp_path / "seen.json"
    mg.save(net.state_dict(), str(path))
    result = run_ranks("checkpoint.py", "load", str(path), str(out), timeout=120)
    assert result.returncode == 0, result.stderr
    expected = np.concatenate([p.numpy().ravel() for p in net.parameters()])
    for seen in json.loads(out.read_text()):
        np.testing.assert_array_equal(np.array(seen, dtype=np.float32), expected)
