"""Training-debug recipes (minigrad.utils.debug) and Module.summary(input_size)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from layers import Linear, ReLU, Sequential, Sigmoid, Tanh
from minigrad.utils import debug
from models import MLP
from optim import SGD, Adam


def _batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = rng.integers(0, 3, n)
    return mg.tensor(x), mg.tensor(y)


def test_overfit_one_batch_reaches_near_zero():
    mg.manual_seed(0)
    model = MLP(4, [32], 3)
    result = debug.overfit_one_batch(model, _batch(), F.cross_entropy,
                                     Adam(model.parameters(), lr=0.02), steps=150)
    assert result.reached and result.final_loss < 0.05
    assert len(result.losses) == 151 and result.losses[0] > 0.5
    assert "reached near zero" in result.message


def test_overfit_one_batch_reports_a_model_that_cannot_learn():
    mg.manual_seed(0)
    model = MLP(4, [32], 3)
    for p in model.parameters():
        p.requires_grad_(False)  # the bug: nothing is trained
    frozen = SGD([mg.zeros(1, requires_grad=True)], lr=0.1)
    x, y = _batch()
    result = debug.overfit_one_batch(model, (x, y), lambda out, t: F.cross_entropy(
        out, t) + 0 * frozen.param_groups[0]["params"][0].sum(), frozen, steps=5)
    assert not result.reached
    assert result.losses[0] == pytest.approx(result.final_loss)
    assert "did NOT reach near zero" in result.message


def test_overfit_one_batch_checks_its_arguments():
    model = MLP(4, [8], 3)
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="steps"):
        debug.overfit_one_batch(model, _batch(), F.cross_entropy, opt, steps=0)
    with pytest.raises(ValueError, match="tol"):
        debug.overfit_one_batch(model, _batch(), F.cross_entropy, opt, tol=-1.0)
    with pytest.raises(TypeError, match="pair \\(inputs, targets\\)"):
        debug.overfit_one_batch(model, _batch()[0], F.cross_entropy, opt, steps=1)


def test_lr_find_sweeps_exponentially_finds_a_rate_and_restores_the_model(tmp_path):
    mg.manual_seed(0)
    model = MLP(4, [16], 3)
    opt = SGD(model.parameters(), lr=0.123, momentum=0.9)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    batches = [_batch(32, seed) for seed in range(4)]
    result = debug.lr_find(model, batches, F.cross_entropy, opt, start_lr=1e-4, end_lr=10.0,
                           num_iter=40, diverge=1e9)
    assert len(result.lrs) == 40  # batches cycled; no early stop with diverge=1e9
    ratios = np.array(result.lrs[1:]) / np.array(result.lrs[:-1])
    np.testing.assert_allclose(ratios, (1e5) ** (1 / 39), rtol=1e-9)
    assert result.lrs[0] == pytest.approx(1e-4) and result.lrs[-1] == pytest.approx(10.0)
    assert 1e-3 < result.suggestion < 10.0
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    assert opt.param_groups[0]["lr"] == 0.123
    fig = result.plot(str(tmp_path / "lr.png"))
    assert fig.axes[0].get_xscale() == "log"
    assert (tmp_path / "lr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lr_find_stops_when_the_loss_explodes():
    mg.manual_seed(0)
    model = MLP(4, [16], 3)
    result = debug.lr_find(model, [_batch(32)], F.cross_entropy, SGD(model.parameters(), lr=1),
                           start_lr=1e-3, end_lr=1e4, num_iter=60, diverge=2.0)
    assert len(result.lrs) < 60
    assert result.smoothed[-1] > 2.0 * min(result.smoothed) or not np.isfinite(
        result.losses[-1])


def test_lr_find_checks_its_arguments():
    model = MLP(4, [8], 3)
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="end_lr"):
        debug.lr_find(model, [_batch()], F.cross_entropy, opt, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="num_iter"):
        debug.lr_find(model, [_batch()], F.cross_entropy, opt, num_iter=1)
    with pytest.raises(ValueError, match="smooth"):
        debug.lr_find(model, [_batch()], F.cross_entropy, opt, smooth=0)
    with pytest.raises(ValueError, match="batches is empty"):
        debug.lr_find(model, [], F.cross_entropy, opt, num_iter=3)


def test_gradient_flow_gives_mean_and_max_per_parameter(tmp_path):
    mg.manual_seed(0)
    model = Sequential(Linear(4, 5), Tanh(), Linear(5, 3))
    x, y = _batch()
    F.cross_entropy(model(x), y).backward()
    rows = debug.gradient_flow(model)
    assert [r[0] for r in rows] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    g = np.abs(model[2].weight.grad.numpy())
    assert rows[2][1] == pytest.approx(g.mean()) and rows[2][2] == pytest.approx(g.max())
    fig = debug.plot_gradient_flow(rows, str(tmp_path / "flow.png"))
    assert len(fig.axes[0].patches) == 8
    model.zero_grad()
    with pytest.raises(ValueError, match="call loss.backward"):
        debug.gradient_flow(model)


def test_activation_stats_find_dead_relus_and_saturated_units(tmp_path):
    model = Sequential(Linear(4, 6), ReLU(), Linear(6, 6), Tanh(), Linear(6, 2), Sigmoid())
    with mg.no_grad():
        model[0].weight.data[...] = 0.0
        model[0].bias.data[...] = np.array([-1, -1, -1, 1, 1, 1], np.float32)  # 3 of 6 dead
        model[2].weight.data[...] = 0.0
        model[2].bias.data[...] = np.array([10, -10, 0, 0, 0, 0], np.float32)  # 2 of 6 flat
        model[4].weight.data[...] = 0.0
        model[4].bias.data[...] = np.array([20, 0], np.float32)               # 1 of 2 flat
    x, _ = _batch()
    rows = debug.activation_stats(model, x)
    assert [(r["name"], r["type"]) for r in rows] == [
        ("0", "Linear"), ("1", "ReLU"), ("2", "Linear"), ("3", "Tanh"), ("4", "Linear"),
        ("5", "Sigmoid")]
    assert rows[1]["dead"] == pytest.approx(0.5)
    assert rows[3]["saturated"] == pytest.approx(2 / 6)
    assert rows[5]["saturated"] == pytest.approx(0.5)
    assert rows[0]["dead"] is None and rows[0]["saturated"] is None
    assert rows[1]["mean"] == pytest.approx(0.5)
    assert not model[1]._forward_hooks  # the hooks are removed again
    fig = debug.plot_activation_stats(rows, str(tmp_path / "act.png"))
    assert len(fig.axes[1].patches) == 3


def test_summary_with_input_size_shows_output_shapes():
    model = Sequential(Linear(4, 3), ReLU(), Sequential(Linear(3, 2), Tanh()))
    text = model.summary((5, 4))
    lines = text.splitlines()
    assert lines[0].split() == ["layer", "(type)", "output", "shape", "parameters"]
    assert lines[2].split() == ["Sequential", "(5,", "2)", "0"]
    assert lines[3].split() == ["0", "(Linear)", "(5,", "3)", "15"]
    assert lines[5].split() == ["2", "(Sequential)", "(5,", "2)", "0"]
    assert lines[6].startswith("    0 (Linear)")  # indented by depth
    assert lines[-1] == "total: 23 parameters (23 trainable); input (5, 4) -> output (5, 2)"
    assert model.summary().splitlines()[0].split() == ["module", "type", "parameters"]


def test_summary_leaves_batchnorm_statistics_and_mode_alone():
    from models import resnet_small
    model = resnet_small(layers=(1, 1))
    before = model.bn1.running_mean.numpy().copy()
    text = model.summary((2, 1, 8, 8))
    assert "layer2 (Sequential)" in text and "(2, 32, 4, 4)" in text
    assert text.splitlines()[-1].endswith("-> output (2, 10)")
    assert model.training
    np.testing.assert_array_equal(model.bn1.running_mean.numpy(), before)
    assert int(model.bn1.num_batches_tracked.item()) == 0


def test_summary_several_inputs_and_bad_sizes():
    from layers import Module

    class Pair(Module):
        def __init__(self):
            super().__init__()
            self.fc = Linear(3, 2)

        def forward(self, a, b):
            return self.fc(a + b)

    assert Pair().summary([(4, 3), (1, 3)]).splitlines()[-1].endswith(
        "input (4, 3), (1, 3) -> output (4, 2)")
    for bad in ((), (0, 3), "3", [(2, 3), ()]):
        with pytest.raises(ValueError, match="summary: input_size must be a shape"):
            Pair().summary(bad)


def test_lr_find_smooth_is_the_average_weight():
    mg.manual_seed(0)
    model = MLP(4, [8], 3)
    opt = SGD(model.parameters(), lr=0.1)
    raw = debug.lr_find(model, [_batch(16, s) for s in range(3)], F.cross_entropy, opt,
                        num_iter=10, smooth=1.0, diverge=1e9)
    assert raw.smoothed == pytest.approx(raw.losses)  # weight 1: no averaging
    smoothed = debug.lr_find(model, [_batch(16, s) for s in range(3)], F.cross_entropy, opt,
                             num_iter=10, smooth=0.3, diverge=1e9)
    assert smoothed.smoothed[0] == pytest.approx(smoothed.losses[0])  # bias-corrected start
    expected = 0.3 * smoothed.losses[1] + 0.7 * 0.3 * smoothed.losses[0]
    assert smoothed.smoothed[1] == pytest.approx(expected / (1 - 0.7 ** 2))


def test_summary_dtype_and_device():
    from layers import Embedding
    model = Sequential(Embedding(10, 3), Linear(3, 2))
    text = model.summary((2, 5), dtype=mg.int64, device="cpu")
    assert text.splitlines()[3].split() == ["0", "(Embedding)", "(2,", "5,", "3)", "30"]
    assert text.endswith("input (2, 5) -> output (2, 5, 2)")
