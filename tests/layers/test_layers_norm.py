"""Normalisation layers, Dropout and Embedding against hand computations."""
import numpy as np
import pytest

import minigrad as mg
from layers import (BatchNorm1d, BatchNorm2d, Dropout, Embedding, GroupNorm, InstanceNorm1d,
                    InstanceNorm2d,
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


def test_instance_norm_1d_normalises_each_sequence_over_its_steps():
    x = np.random.default_rng(16).standard_normal((3, 2, 7)) * 3 - 2
    plain = InstanceNorm1d(2).double()
    np.testing.assert_allclose(plain(mg.tensor(x)).numpy(), normalized(x, (2,)), rtol=1e-10)
    np.testing.assert_allclose(plain(mg.tensor(x[1])).numpy(), normalized(x[1], (1,)),
                               rtol=1e-10)  # unbatched (C, L)
    tracked = InstanceNorm1d(2, momentum=0.3, affine=True, track_running_stats=True).double()
    with mg.no_grad():
        tracked.weight.data[...] = [2.0, 0.5]
        tracked.bias.data[...] = [1.0, -1.0]
    y = tracked(mg.tensor(x)).numpy()
    np.testing.assert_allclose(y, normalized(x, (2,)) * np.array([2.0, 0.5])[:, None]
                               + np.array([1.0, -1.0])[:, None], rtol=1e-10)
    np.testing.assert_allclose(tracked.running_mean.numpy(), 0.3 * x.mean(2).mean(0),
                               rtol=1e-12)
    np.testing.assert_allclose(tracked.running_var.numpy(),
                               0.7 + 0.3 * x.var(2, ddof=1).mean(0), rtol=1e-12)
    tracked.eval()
    mean, var = tracked.running_mean.numpy(), tracked.running_var.numpy()
    expected = ((x - mean[:, None]) / np.sqrt(var[:, None] + 1e-5) * np.array([2.0, 0.5])[:, None]
                + np.array([1.0, -1.0])[:, None])
    np.testing.assert_allclose(tracked(mg.tensor(x)).numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("layer, bad, shown", [
    (InstanceNorm1d(2), (2, 2, 3, 3), r"\(N, C, L\) or \(C, L\), got \(2, 2, 3, 3\)"),
    (InstanceNorm1d(2), (2,), r"\(N, C, L\) or \(C, L\), got \(2,\)"),
    (InstanceNorm2d(2), (2, 3), r"\(N, C, H, W\) or \(C, H, W\), got \(2, 3\)")])
def test_instance_norm_names_its_layout_in_shape_errors(layer, bad, shown):
    with pytest.raises(ValueError, match=rf"^{type(layer).__name__}: expected an input of shape "
                                         + shown):
        layer(mg.zeros(*bad))


def test_instance_norm_1d_needs_more_than_one_step_in_training():
    with pytest.raises(ValueError, match=r"^InstanceNorm1d: expected more than 1 spatial "
                                         r"element per plane in training, got an input of "
                                         r"shape \(2, 3, 1\)"):
        InstanceNorm1d(3)(mg.zeros(2, 3, 1))
    assert InstanceNorm1d(3).eval()(mg.ones(2, 3, 1)).tolist() == [[[0.0]] * 3] * 2


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


@pytest.mark.parametrize("momentum", [0.3, 0.0, 1.0])
def test_batchnorm_momentum_value_sets_the_running_average(momentum):
    bn = BatchNorm2d(2, momentum=momentum).double()
    running_mean, running_var = np.zeros(2), np.ones(2)
    for x in batches(7, (3, 2, 2, 2)):
        bn(mg.tensor(x))
        running_mean = (1 - momentum) * running_mean + momentum * x.mean((0, 2, 3))
        running_var = (1 - momentum) * running_var + momentum * x.var((0, 2, 3), ddof=1)
    np.testing.assert_allclose(bn.running_mean.numpy(), running_mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(bn.running_var.numpy(), running_var, rtol=1e-12)


def test_batchnorm_momentum_none_counts_from_num_batches_tracked():
    bn = BatchNorm1d(2, momentum=None).double()
    xs = batches(8, (5, 2), count=4)
    bn(mg.tensor(xs[0]))
    bn.eval()
    bn(mg.tensor(xs[1]))                    # eval: neither the stats nor the count move
    assert bn.num_batches_tracked.item() == 1
    bn.train()
    for x in xs[2:]:
        bn(mg.tensor(x))
    seen = [xs[0], xs[2], xs[3]]
    assert bn.num_batches_tracked.item() == 3
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([x.mean(0) for x in seen], 0),
                               rtol=1e-12)
    bn.reset_running_stats()
    assert bn.num_batches_tracked.item() == 0
    bn(mg.tensor(xs[3]))                    # the first batch after a reset replaces the stats
    np.testing.assert_allclose(bn.running_mean.numpy(), xs[3].mean(0), rtol=1e-12)


@pytest.mark.parametrize("eps", [1e-5, 0.5])
def test_eps_enters_every_norm_under_the_square_root(eps):
    x = np.random.default_rng(9).standard_normal((3, 4, 2, 3)) * 0.5
    cases = [(BatchNorm2d(4, eps=eps), (0, 2, 3), x),
             (InstanceNorm2d(4, eps=eps), (2, 3), x),
             (LayerNorm((2, 3), eps=eps), (2, 3), x),
             (GroupNorm(4, 4, eps=eps), (2, 3), x)]
    for layer, axes, data in cases:
        y = layer.double()(mg.tensor(data)).numpy()
        np.testing.assert_allclose(y, normalized(data, axes, eps), rtol=1e-10, atol=1e-12,
                                   err_msg=type(layer).__name__)
    bn = BatchNorm1d(4, eps=eps).double().eval()    # eval: eps added to the running variance
    with mg.no_grad():
        bn.running_var.data[...] = [0.25, 1.0, 2.0, 4.0]
    flat = x[:, :, 0, 0]
    np.testing.assert_allclose(bn(mg.tensor(flat)).numpy(),
                               flat / np.sqrt(bn.running_var.numpy() + eps), rtol=1e-12)


def test_affine_false_has_no_parameters_and_does_not_scale():
    x = np.random.default_rng(10).standard_normal((4, 3, 2, 2)) * 3 + 2
    for layer, axes in [(BatchNorm2d(3, affine=False), (0, 2, 3)),
                        (GroupNorm(3, 3, affine=False), (2, 3)),
                        (LayerNorm((2, 2), elementwise_affine=False), (2, 3))]:
        layer = layer.double()
        assert layer.weight is None and layer.bias is None and list(layer.parameters()) == []
        np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), normalized(x, axes),
                                   rtol=1e-10, err_msg=type(layer).__name__)
    assert list(BatchNorm2d(3, affine=False).state_dict()) == ["running_mean", "running_var",
                                                               "num_batches_tracked"]
    assert list(InstanceNorm2d(3, affine=True).state_dict()) == ["weight", "bias"]


def test_bias_false_scales_without_shifting():
    x = np.random.default_rng(11).standard_normal((4, 2, 3))
    scale = np.array([2.0, -0.5])
    for layer, data, axes in [(BatchNorm1d(2, bias=False), x, (0, 2)),
                              (GroupNorm(1, 2, bias=False), x, (1, 2)),
                              (InstanceNorm2d(2, affine=True, bias=False), x[..., None], (2, 3))]:
        layer = layer.double()
        assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
        with mg.no_grad():
            layer.weight.data[...] = scale
        channel = (2,) + (1,) * (data.ndim - 2)
        expected = normalized(data, axes) * scale.reshape(channel)
        np.testing.assert_allclose(layer(mg.tensor(data)).numpy(), expected, rtol=1e-10,
                                   err_msg=type(layer).__name__)
    ln = LayerNorm(3, bias=False).double()
    assert ln.bias is None and ln.weight.shape == (3,)


def test_batchnorm2d_without_tracking_uses_batch_stats_in_both_modes():
    bn = BatchNorm2d(2, track_running_stats=False).double()
    assert bn.running_mean is None and bn.num_batches_tracked is None
    x = np.random.default_rng(12).standard_normal((3, 2, 2, 2)) * 4 - 1
    np.testing.assert_allclose(bn(mg.tensor(x)).numpy(), normalized(x, (0, 2, 3)), rtol=1e-10)
    bn.eval()
    np.testing.assert_allclose(bn(mg.tensor(x)).numpy(), normalized(x, (0, 2, 3)), rtol=1e-10)
    assert bn.running_mean is None


def test_batchnorm_eval_gradient_is_the_fixed_affine_map():
    # With running statistics the layer is y = (x − mean) / √(var + eps) · w + b, so
    # dL/dx = g · w / √(var + eps), with no term from the batch.
    bn = BatchNorm1d(2).double().eval()
    with mg.no_grad():
        bn.running_mean.data[...] = [1.0, -2.0]
        bn.running_var.data[...] = [4.0, 0.25]
        bn.weight.data[...] = [3.0, 0.5]
    x = mg.tensor(np.random.default_rng(13).standard_normal((5, 2)), requires_grad=True)
    bn(x).sum().backward()
    expected = np.broadcast_to(np.array([3.0, 0.5]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5),
                               (5, 2))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(bn.bias.grad.numpy(), [5.0, 5.0])


def test_instance_norm_momentum_and_eval_without_tracking():
    x = np.random.default_rng(14).standard_normal((2, 2, 3, 3)) + 1
    tracked = InstanceNorm2d(2, momentum=0.4, track_running_stats=True).double()
    tracked(mg.tensor(x))
    np.testing.assert_allclose(tracked.running_mean.numpy(), 0.4 * x.mean((2, 3)).mean(0),
                               rtol=1e-12)
    np.testing.assert_allclose(tracked.running_var.numpy(),
                               0.6 + 0.4 * x.var((2, 3), ddof=1).mean(0), rtol=1e-12)
    plain = InstanceNorm2d(2).double().eval()       # nothing tracked: eval uses each instance
    np.testing.assert_allclose(plain(mg.tensor(x)).numpy(), normalized(x, (2, 3)), rtol=1e-10)
    with pytest.raises(ValueError, match="momentum=None"):
        InstanceNorm2d(2, momentum=None, track_running_stats=True)


def test_group_norm_group_count_decides_the_axes():
    x = np.random.default_rng(15).standard_normal((2, 6, 2, 2))
    one = GroupNorm(1, 6, affine=False).double()(mg.tensor(x)).numpy()
    np.testing.assert_allclose(one, normalized(x, (1, 2, 3)), rtol=1e-10)
    each = GroupNorm(6, 6, affine=False).double()(mg.tensor(x)).numpy()
    np.testing.assert_allclose(each, normalized(x, (2, 3)), rtol=1e-10)
    three = GroupNorm(3, 6, affine=False).double()(mg.tensor(x)).numpy()
    np.testing.assert_allclose(three, normalized(x.reshape(2, 3, 8), (2,)).reshape(x.shape),
                               rtol=1e-10)


def test_dropout_inplace_flag_leaves_the_input_alone_and_train_reenables():
    mg.manual_seed(1)
    drop = Dropout(0.5, inplace=True)
    x = mg.ones(200, 50)
    y = drop(x).numpy()
    assert np.all(x.numpy() == 1)                   # documented: computed out of place
    assert set(np.unique(y)) == {0.0, 2.0}
    drop.eval()
    assert drop(x) is x
    drop.train()
    assert (drop(x).numpy() == 0).any()
    assert repr(drop) == "Dropout(p=0.5, inplace=True)"


def test_dropout_gradient_is_scaled_by_the_keep_probability():
    mg.manual_seed(2)
    x = mg.ones(100, 30, requires_grad=True)
    y = Dropout(0.25)(x)
    (y * 3).sum().backward()
    kept = y.numpy() != 0
    np.testing.assert_allclose(x.grad.numpy()[kept], 3 / 0.75, rtol=1e-6)
    assert not x.grad.numpy()[~kept].any()


def test_embedding_negative_padding_idx_is_the_last_row():
    emb = Embedding(5, 2, padding_idx=-1).double()
    assert emb.padding_idx == 4 and not emb.weight.numpy()[4].any()
    out = emb(mg.tensor([[4, 1], [1, 4]]))
    (out * 2).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy(),
                                  [[0, 0], [4, 4], [0, 0], [0, 0], [0, 0]])
    assert repr(emb) == "Embedding(5, 2, padding_idx=4)"
    with pytest.raises(ValueError, match=r"padding_idx must be an int in \[-5, 5\), got -6"):
        Embedding(5, 2, padding_idx=-6)


def test_embedding_from_pretrained_padding_row_keeps_its_value_but_gets_no_gradient():
    table = np.arange(6.0).reshape(3, 2)
    emb = Embedding.from_pretrained(mg.tensor(table), freeze=False, padding_idx=0)
    out = emb(mg.tensor([0, 2, 0]))
    np.testing.assert_array_equal(out.numpy(), table[[0, 2, 0]])
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy(), [[0, 0], [0, 0], [1, 1]])
