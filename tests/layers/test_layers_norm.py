"""Normalisation layers, Dropout and Embedding against hand computations."""
import numpy as np
import pytest

import minigrad as mg
from layers import (BatchNorm1d, BatchNorm2d, Dropout, Embedding, GroupNorm, InstanceNorm2d,
                    LayerNorm)


def normalized(x, axes, eps=1e-5):
    mean = x.mean(axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axes, keepdims=True) + eps)


def batches(seed, shape, count=3):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) * (i + 1) + i for i in range(count)]


def test_batchnorm2d_train_uses_batch_stats_and_updates_running_stats():
    bn = BatchNorm2d(3).double()
    with mg.no_grad():
        bn.weight.data[:] = [1.0, 2.0, 0.5]
        bn.bias.data[:] = [0.0, -1.0, 3.0]
    running_mean, running_var = np.zeros(3), np.ones(3)
    for x in batches(0, (4, 3, 2, 5)):
        y = bn(mg.tensor(x)).numpy()
        expected = normalized(x, (0, 2, 3)) * bn.weight.numpy()[:, None, None] \
            + bn.bias.numpy()[:, None, None]
        np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
        running_mean = 0.9 * running_mean + 0.1 * x.mean((0, 2, 3))
        running_var = 0.9 * running_var + 0.1 * x.var((0, 2, 3), ddof=1)  # unbiased
    np.testing.assert_allclose(bn.running_mean.numpy(), running_mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), running_var, rtol=1e-12)
    assert bn.num_batches_tracked.item() == 3


def test_batchnorm_eval_uses_running_stats_and_leaves_them():
    bn = BatchNorm2d(2).double()
    for x in batches(1, (5, 2, 3, 3)):
        bn(mg.tensor(x))
    bn.eval()
    mean, var = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    x = np.random.default_rng(2).standard_normal((1, 2, 3, 3))
    expected = (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
    np.testing.assert_allclose(bn(mg.tensor(x)).numpy(), expected, rtol=1e-10)
    np.testing.assert_array_equal(bn.running_mean.numpy(), mean)
    assert bn.num_batches_tracked.item() == 3


def test_batchnorm_momentum_none_is_a_cumulative_average():
    bn = BatchNorm1d(4, momentum=None).double()
    xs = batches(3, (6, 4))
    for x in xs:
        bn(mg.tensor(x))
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([x.mean(0) for x in xs], 0),
                               rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(),
                               np.mean([x.var(0, ddof=1) for x in xs], 0), rtol=1e-12)


def test_batchnorm1d_on_sequences_and_without_tracking():
    bn = BatchNorm1d(3, affine=False, track_running_stats=False).double()
    assert list(bn.state_dict()) == [] and bn.running_mean is None
    x = np.random.default_rng(4).standard_normal((4, 3, 7))
    np.testing.assert_allclose(bn(mg.tensor(x)).numpy(), normalized(x, (0, 2)), rtol=1e-10)
    bn.eval()  # nothing tracked: eval also uses the batch's statistics
    np.testing.assert_allclose(bn(mg.tensor(x)).numpy(), normalized(x, (0, 2)), rtol=1e-10)


def test_batchnorm_input_checks():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected an input of shape \(N, C, H, "
                                         r"W\), got \(2, 3\)"):
        BatchNorm2d(3)(mg.zeros(2, 3))
    with pytest.raises(ValueError, match=r"BatchNorm1d: .*\(N, C\) or \(N, C, L\)"):
        BatchNorm1d(3)(mg.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"expected 3 channels .* \(2, 4, 5\)"):
        BatchNorm1d(3)(mg.zeros(2, 4, 5))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm1d(3)(mg.zeros(1, 3))
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm2d(3, momentum=1.5)
    assert repr(BatchNorm2d(3)) == ("BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, "
                                    "bias=True, track_running_stats=True)")
    no_shift = BatchNorm2d(3, bias=False)
    assert no_shift.bias is None and list(no_shift.state_dict())[0:2] == ["weight",
                                                                          "running_mean"]


def test_instance_norm_with_and_without_running_stats():
    x = np.random.default_rng(5).standard_normal((3, 2, 4, 5)) * 2 + 1
    plain = InstanceNorm2d(2).double()
    assert list(plain.state_dict()) == []
    np.testing.assert_allclose(plain(mg.tensor(x)).numpy(), normalized(x, (2, 3)), rtol=1e-10)
    np.testing.assert_allclose(plain(mg.tensor(x[0])).numpy(), normalized(x[0], (1, 2)),
                               rtol=1e-10)  # unbatched (C, H, W)
    tracked = InstanceNorm2d(2, affine=True, track_running_stats=True).double()
    tracked(mg.tensor(x))
    np.testing.assert_allclose(tracked.running_mean.numpy(), 0.1 * x.mean((2, 3)).mean(0),
                               rtol=1e-12)
    np.testing.assert_allclose(tracked.running_var.numpy(),
                               0.9 + 0.1 * x.var((2, 3), ddof=1).mean(0), rtol=1e-12)
    tracked.eval()
    mean, var = tracked.running_mean.numpy(), tracked.running_var.numpy()
    expected = (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
    np.testing.assert_allclose(tracked(mg.tensor(x)).numpy(), expected, rtol=1e-10)
    with pytest.raises(ValueError, match="expected 2 channels"):
        tracked(mg.zeros(1, 3, 4, 4, dtype=np.float64))


def test_layer_norm_and_group_norm_match_reference():
    x = np.random.default_rng(6).standard_normal((2, 4, 3, 5))
    ln = LayerNorm((3, 5)).double()
    with mg.no_grad():
        ln.weight.data[...] = np.linspace(0.5, 2, 15).reshape(3, 5)
        ln.bias.data[...] = 0.25
    expected = normalized(x, (2, 3)) * ln.weight.numpy() + 0.25
    np.testing.assert_allclose(ln(mg.tensor(x)).numpy(), expected, rtol=1e-10)
    with pytest.raises(ValueError, match=r"normalized_shape \(3, 5\)"):
        ln(mg.zeros(2, 5, 3, dtype=np.float64))
    gn = GroupNorm(2, 4).double()
    with mg.no_grad():
        gn.weight.data[...] = [1.0, 2.0, 3.0, 4.0]
    grouped = normalized(x.reshape(2, 2, -1), (2,)).reshape(x.shape)
    np.testing.assert_allclose(gn(mg.tensor(x)).numpy(),
                               grouped * gn.weight.numpy()[:, None, None], rtol=1e-10)
    with pytest.raises(ValueError, match="divisible by num_groups"):
        GroupNorm(3, 4)
    with pytest.raises(ValueError, match=r"\(N, 4, \*\)"):
        gn(mg.zeros(2, 3, 5, dtype=np.float64))
    assert repr(GroupNorm(2, 4)) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"
    assert repr(LayerNorm(8, bias=False)) == ("LayerNorm((8,), eps=1e-05, "
                                              "elementwise_affine=True, bias=False)")


def test_dropout_statistics_and_eval_identity():
    mg.manual_seed(0)
    drop = Dropout(0.3)
    x = mg.ones(400, 500)
    y = drop(x).numpy()
    kept = y != 0
    assert kept.mean() == pytest.approx(0.7, abs=0.005)     # 200k Bernoulli draws
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert y.mean() == pytest.approx(1.0, abs=0.01)
    drop.eval()
    assert drop(x) is x
    assert Dropout(0.0)(x) is x
    assert not Dropout(1.0)(x).numpy().any()
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\], got 1.5"):
        Dropout(1.5)


def test_dropout_gradient_follows_the_mask():
    x = mg.ones(50, 40, requires_grad=True)
    y = Dropout(0.5)(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())


def test_embedding_lookup_and_padding_gradient():
    emb = Embedding(6, 3, padding_idx=1).double()
    idx = np.array([[1, 2, 2], [5, 1, 0]])
    out = emb(mg.tensor(idx))
    np.testing.assert_array_equal(out.numpy(), emb.weight.numpy()[idx])
    assert not out.numpy()[0, 0].any()
    (out * mg.tensor(np.arange(18.0).reshape(2, 3, 3))).sum().backward()
    grad = emb.weight.grad.numpy()
    assert not grad[1].any()                                       # padding row: no gradient
    np.testing.assert_array_equal(grad[2], np.arange(3, 6) + np.arange(6, 9))  # repeated id
    np.testing.assert_array_equal(grad[5], np.arange(9, 12))
    assert not grad[3].any() and not grad[4].any()
    with pytest.raises(IndexError, match=r"\[0, 6\)"):
        emb(mg.tensor([6]))
    with pytest.raises(TypeError, match="integers"):
        emb(mg.tensor([0.5]))
    with pytest.raises(ValueError, match="padding_idx"):
        Embedding(4, 2, padding_idx=4)


def test_embedding_from_pretrained():
    table = mg.tensor(np.arange(8.0).reshape(4, 2))
    emb = Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad and np.shares_memory(emb.weight.data, table.data)
    assert emb(np.array([3, 0])).tolist() == [[6.0, 7.0], [0.0, 1.0]]
    assert Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    assert repr(emb) == "Embedding(4, 2)"
