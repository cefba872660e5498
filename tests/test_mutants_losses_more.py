"""Tests written from the survivors of a mutation run over minigrad/losses_more.py: soft margin,
multi-label soft margin, Poisson negative log-likelihood and multi-label margin losses.

Each asserts exact values or whole error messages: defaults that the option tests always
passed explicitly, one-class inputs, weights that broadcast only one way, and every message
matched from its first character to its last.
"""
import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F


def t64(array, requires_grad=True):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


# ---------------------------------------------------------------- poisson_nll_loss

def test_poisson_nll_loss_default_eps_is_1e_minus_8():
    """At a rate of 0 the loss is −y·log(eps): the default eps shows through."""
    out = F.poisson_nll_loss(t64([0.0, 1.0]), [2.0, 3.0], log_input=False, reduction="none")
    np.testing.assert_allclose(out.numpy(), [-2.0 * math.log(1e-8), 1.0 - 3.0 * math.log(1.0
                                                                                    + 1e-8)],
                               rtol=1e-14)


def test_poisson_nll_loss_default_is_log_input_without_the_full_term_and_mean():
    x, y = np.array([0.5, -0.25, 1.5, 0.0]), np.array([3.0, 0.0, 7.0, 1.0])
    out = F.poisson_nll_loss(t64(x), y)
    assert out.shape == ()
    np.testing.assert_allclose(out.item(), np.mean(np.exp(x) - y * x), rtol=1e-14)


# ---------------------------------------------------------------- multilabel_margin_loss

def test_multilabel_margin_loss_one_class():
    """C = 1: a label has no other class to beat (loss 0), and a row of padding reads no
    label at all; neither indexes past the single class."""
    for target in ([[0]], [[-1]]):
        out = F.multilabel_margin_loss(t64([[0.5]]), target, "none")
        np.testing.assert_array_equal(out.numpy(), [0.0])
    out = F.multilabel_margin_loss(t64([[0.5], [2.0]]), np.array([[-1], [0]]), "sum")
    assert out.item() == 0.0


def test_multilabel_margin_loss_padding_positions_read_no_score():
    """Entries after the first −1 take no part: the gradient of the scores they would name
    comes only from their being non-labels."""
    x = t64([[0.0, 0.3, -0.2]])
    F.multilabel_margin_loss(x, [[1, -1, 0]], "sum").backward()
    # label 1 against classes 0 and 2: 1 − 0.3 + 0 and 1 − 0.3 − 0.2, both > 0
    np.testing.assert_allclose(x.grad.numpy(), [[1 / 3, -2 / 3, 1 / 3]], rtol=1e-14)


# ---------------------------------------------------------------- multilabel_soft_margin_loss

def test_multilabel_soft_margin_weight_must_not_add_axes():
    """A weight of shape (1, C) broadcasts with an input (C,) only by enlarging it: refused."""
    with pytest.raises(ValueError) as info:
        F.multilabel_soft_margin_loss(mg.zeros(4), mg.ones(4), np.ones((1, 4)))
    assert str(info.value) == ("multilabel_soft_margin_loss: weight of shape (1, 4) does not "
                               "broadcast to input of shape (4,)")


def test_multilabel_soft_margin_one_weight_per_row_broadcasts():
    x, y = np.array([[0.5, -1.0, 2.0], [0.0, 1.0, -3.0]]), np.array([[1.0, 0.0, 1.0],
                                                                    [0.0, 0.0, 1.0]])
    w = np.array([[2.0], [0.5]])
    out = F.multilabel_soft_margin_loss(t64(x), y, w, "none")
    per_class = y * np.logaddexp(0, -x) + (1 - y) * np.logaddexp(0, x)
    np.testing.assert_allclose(out.numpy(), (per_class * w).sum(1) / 3, rtol=1e-14)


def test_multilabel_soft_margin_loss_default_reduction_is_mean():
    x, y = np.array([[0.5, -1.0], [2.0, 0.0], [-0.5, 3.0]]), np.array([[1.0, 0.0], [0.0, 1.0],
                                                                      [1.0, 1.0]])
    out = F.multilabel_soft_margin_loss(t64(x), y)
    per_class = y * np.logaddexp(0, -x) + (1 - y) * np.logaddexp(0, x)
    assert out.shape == ()
    np.testing.assert_allclose(out.item(), per_class.mean(), rtol=1e-14)
    weighted = F.multilabel_soft_margin_loss(t64(x), y, [1.0, 3.0])
    np.testing.assert_allclose(weighted.item(), (per_class * [1.0, 3.0]).mean(), rtol=1e-14)


def test_multilabel_margin_loss_names_the_first_of_several_bad_labels():
    with pytest.raises(IndexError) as info:
        F.multilabel_margin_loss(mg.zeros((2, 3)), [[0, 5, -1], [7, -4, 1]])
    assert str(info.value) == ("multilabel_margin_loss: target values must be class indices "
                               "in [0, 3) or -1 (the padding after the last label), got 5")
