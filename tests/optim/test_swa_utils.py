"""optim.swa_utils against NumPy running averages and against torch.optim.swa_utils; and the
fine-tuning habits: requires_grad_(False) on a sub-module, per-group learning rates."""
import numpy as np
import pytest

import layers
import minigrad as mg
import minigrad.functional as F
import optim
from minigrad.data import DataLoader, TensorDataset
from optim.swa_utils import (SWALR, AveragedModel, get_ema_avg_fn, get_ema_multi_avg_fn,
                             get_swa_avg_fn, get_swa_multi_avg_fn, update_bn)


def make_net(seed=0):
    mg.manual_seed(seed)
    return layers.Sequential(layers.Linear(3, 5), layers.BatchNorm1d(5), layers.ReLU(),
                             layers.Linear(5, 2))


def data(seed=1, N=32):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, 3)).astype(np.float32), rng.normal(size=(N, 2)).astype(np.float32)


def train_snapshots(net, steps=6, lr=0.1):
    """Train ``net`` with SGD; yield after each step (the snapshot to average)."""
    x, y = data()
    opt = optim.SGD(net.parameters(), lr=lr)
    for k in range(steps):
        xb, yb = mg.tensor(x[4 * k:4 * k + 8]), mg.tensor(y[4 * k:4 * k + 8])
        opt.zero_grad()
        F.mse_loss(net(xb), yb).backward()
        opt.step()
        yield k


def params(module):
    return [p.numpy().copy() for p in module.parameters()]


@pytest.mark.parametrize("how", ["default", "avg_fn", "multi"])
def test_swa_is_the_mean_of_the_snapshots(how):
    net = make_net()
    fn = {"default": {}, "avg_fn": {"avg_fn": get_swa_avg_fn()},
          "multi": {"multi_avg_fn": get_swa_multi_avg_fn()}}[how]
    swa = AveragedModel(net, device="cpu", **fn)
    snapshots = []
    for _ in train_snapshots(net):
        swa.update_parameters(net)
        snapshots.append(params(net))
    for k, p in enumerate(params(swa.module)):
        np.testing.assert_allclose(p, np.mean([s[k] for s in snapshots], axis=0), rtol=1e-5,
                                   atol=1e-6)
    assert int(swa.n_averaged.item()) == len(snapshots)
    # The buffers follow the model (use_buffers=False).
    np.testing.assert_array_equal(swa.module[1].running_mean.numpy(), net[1].running_mean.numpy())


@pytest.mark.parametrize("use_multi", [True, False])
def test_ema_matches_a_numpy_recursion(use_multi):
    decay = 0.8
    net = make_net()
    fn = ({"multi_avg_fn": get_ema_multi_avg_fn(decay)} if use_multi
          else {"avg_fn": get_ema_avg_fn(decay)})
    ema = AveragedModel(net, use_buffers=True, **fn)
    reference, ref_mean = None, None
    for _ in train_snapshots(net):
        ema.update_parameters(net)
        now, mean = params(net), net[1].running_mean.numpy()
        if reference is None:
            reference, ref_mean = now, mean.copy()
        else:
            reference = [decay * r + (1 - decay) * w for r, w in zip(reference, now)]
            ref_mean = decay * ref_mean + (1 - decay) * mean
    for got, want in zip(params(ema.module), reference):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ema.module[1].running_mean.numpy(), ref_mean, rtol=1e-5, atol=1e-6)
    # The integer counter is copied, not averaged.
    assert ema.module[1].num_batches_tracked.item() == net[1].num_batches_tracked.item()


def test_update_bn_gives_the_statistics_of_the_whole_pass():
    net = make_net()
    x, _ = data(N=24)
    loader = DataLoader(TensorDataset(x), batch_size=8)
    net.eval()
    update_bn(loader, net, device="cpu")
    assert not net.training and net[1].momentum == 0.1
    h = x @ net[0].weight.numpy().T + net[0].bias.numpy()
    batches = h.reshape(3, 8, 5)
    np.testing.assert_allclose(net[1].running_mean.numpy(), batches.mean(1).mean(0), rtol=1e-5)
    np.testing.assert_allclose(net[1].running_var.numpy(), batches.var(1, ddof=1).mean(0),
                               rtol=1e-4)


def test_errors():
    with pytest.raises(TypeError, match="AveragedModel: expected a Module"):
        AveragedModel(lambda x: x)
    with pytest.raises(ValueError, match="avg_fn or multi_avg_fn, not both"):
        AveragedModel(make_net(), avg_fn=get_swa_avg_fn(), multi_avg_fn=get_ema_multi_avg_fn())
    with pytest.raises(ValueError, match="update_parameters: the model has"):
        AveragedModel(make_net()).update_parameters(layers.Linear(3, 5))
    opt = optim.SGD(make_net().parameters(), lr=0.1)
    with pytest.raises(ValueError, match="SWALR: anneal_strategy"):
        SWALR(opt, 0.05, anneal_strategy="step")
    with pytest.raises(ValueError, match="SWALR: 2 swa_lr values for 1"):
        SWALR(opt, [0.1, 0.2])


def test_requires_grad_false_on_a_submodule_freezes_only_it():
    net = make_net()
    net[0].requires_grad_(False)
    x, y = data(N=8)
    before = params(net)
    opt = optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.5)
    F.mse_loss(net(mg.tensor(x)), mg.tensor(y)).backward()
    assert net[0].weight.grad is None and net[0].bias.grad is None
    assert net[3].weight.grad is not None
    opt.step()
    after = params(net)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    assert not np.array_equal(after[-2], before[-2])


def test_per_group_learning_rates_scale_each_groups_step():
    net = make_net()
    opt = optim.SGD([{"params": net[0].parameters(), "lr": 0.01},
                     {"params": list(net[1].parameters()) + list(net[3].parameters())}], lr=0.1)
    x, y = data(N=8)
    before = params(net)
    F.mse_loss(net(mg.tensor(x)), mg.tensor(y)).backward()
    grads = [p.grad.numpy().copy() for p in net.parameters()]
    opt.step()
    lrs = [0.01, 0.01, 0.1, 0.1, 0.1, 0.1]
    for b, g, a, lr in zip(before, grads, params(net), lrs):
        np.testing.assert_allclose(a, b - lr * g, rtol=1e-6, atol=1e-7)


try:  # the comparisons below need PyTorch; the tests above and the NumPy-only ones do not
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None,
                                 reason="compares with torch.optim.swa_utils: PyTorch is absent")


def torch_twin(net):
    twin = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.BatchNorm1d(5), torch.nn.ReLU(),
                               torch.nn.Linear(5, 2))
    state = {k: torch.tensor(v.numpy()) for k, v in net.state_dict().items()}
    twin.load_state_dict(state)
    return twin


def torch_snapshots(net, steps=6, lr=0.1):
    x, y = data()
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    for k in range(steps):
        xb, yb = torch.tensor(x[4 * k:4 * k + 8]), torch.tensor(y[4 * k:4 * k + 8])
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(xb), yb).backward()
        opt.step()
        yield k


@needs_torch
@pytest.mark.parametrize("kind", ["swa", "ema"])
def test_averaged_model_and_update_bn_match_torch(kind):
    from torch.optim import swa_utils as tsu
    net = make_net()
    twin = torch_twin(net)
    if kind == "swa":
        ours, theirs = AveragedModel(net), tsu.AveragedModel(twin)
    else:
        ours = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.7))
        theirs = tsu.AveragedModel(twin, multi_avg_fn=tsu.get_ema_multi_avg_fn(0.7))
    for _ in zip(train_snapshots(net), torch_snapshots(twin)):
        ours.update_parameters(net)
        theirs.update_parameters(twin)
    for a, b in zip(ours.module.parameters(), theirs.module.parameters()):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-6)
    x, _ = data(seed=3, N=16)
    update_bn(DataLoader(TensorDataset(x), batch_size=4), ours)
    tsu.update_bn(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x)),
                                              batch_size=4), theirs)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(ours.module[1], name).numpy(),
                                   getattr(theirs.module[1], name).numpy(), rtol=1e-4, atol=1e-6)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


@needs_torch
@pytest.mark.parametrize("strategy,epochs", [("cos", 5), ("linear", 3), ("cos", 0)])
def test_swalr_matches_torch(strategy, epochs):
    def pair(lib, params):
        return lib.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 0.3}], lr=0.1)
    ours = pair(optim, [mg.tensor(np.zeros(1), requires_grad=True) for _ in range(2)])
    theirs = pair(torch.optim, [torch.zeros(1, requires_grad=True) for _ in range(2)])
    s1 = SWALR(ours, swa_lr=[0.02, 0.05], anneal_epochs=epochs, anneal_strategy=strategy)
    s2 = torch.optim.swa_utils.SWALR(theirs, swa_lr=[0.02, 0.05], anneal_epochs=epochs,
                                     anneal_strategy=strategy)
    for epoch in range(9):
        np.testing.assert_allclose(s1.get_last_lr(), s2.get_last_lr(), rtol=1e-12,
                                   err_msg=f"epoch {epoch}")
        ours.step()
        theirs.step()
        s1.step()
        s2.step()


@needs_torch
@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_swalr_resumed_with_last_epoch_matches_torch(strategy):
    # Resuming: the groups carry 'initial_lr' (as after loading an optimizer's state dict) and
    # the schedule picks up at last_epoch instead of starting over from the current rate.
    def resumed(lib, params):
        opt = lib.SGD([{"params": params, "lr": 0.2, "initial_lr": 0.4}], lr=0.1)
        return opt
    ours = resumed(optim, [mg.tensor(np.zeros(1), requires_grad=True)])
    theirs = resumed(torch.optim, [torch.zeros(1, requires_grad=True)])
    s1 = SWALR(ours, swa_lr=0.05, anneal_epochs=6, anneal_strategy=strategy, last_epoch=2)
    s2 = torch.optim.swa_utils.SWALR(theirs, swa_lr=0.05, anneal_epochs=6,
                                     anneal_strategy=strategy, last_epoch=2)
    assert s1.last_epoch == s2.last_epoch == 3
    for epoch in range(6):
        np.testing.assert_allclose(s1.get_last_lr(), s2.get_last_lr(), rtol=1e-12,
                                   err_msg=f"epoch {epoch}")
        s1.step()
        s2.step()


def test_swalr_resume_without_initial_lr_is_a_clear_error():
    opt = optim.SGD([mg.tensor(np.zeros(1), requires_grad=True)], lr=0.1)
    with pytest.raises(KeyError, match="SWALR: param_groups\\[0\\] has no 'initial_lr'"):
        SWALR(opt, 0.05, last_epoch=4)


def test_swalr_state_dict_resumes_mid_anneal():
    def fresh():
        return optim.SGD([mg.tensor(np.zeros(1), requires_grad=True)], lr=0.4)
    first_opt = fresh()
    first = SWALR(first_opt, swa_lr=0.05, anneal_epochs=6)
    for _ in range(3):
        first.step()
    second_opt = fresh()
    second_opt.load_state_dict(first_opt.state_dict())
    second = SWALR(second_opt, swa_lr=0.05, anneal_epochs=6)
    second.load_state_dict(first.state_dict())
    assert second.steps_taken == first.steps_taken == 4
    for _ in range(4):
        first.step()
        second.step()
        assert second.get_last_lr() == first.get_last_lr()
    assert first.get_last_lr() == [0.05]   # annealed fully by the 7th step
