"""What ``layers/activation.py`` and ``layers/container.py`` promise, checked where the rest of
the suite did not look: each test fails for a small, realistic change (an error that no longer
names its layer, a default changed, a bound moved by one, a repr that drops an option).
"""
import math

import numpy as np
import pytest

import layers as L
import minigrad as mg


ACTIVATIONS = [("ReLU", L.ReLU), ("LeakyReLU", L.LeakyReLU), ("ELU", L.ELU), ("SELU", L.SELU),
               ("GELU", L.GELU), ("Sigmoid", L.Sigmoid), ("Tanh", L.Tanh), ("SiLU", L.SiLU),
               ("Softplus", L.Softplus), ("Softmax", lambda: L.Softmax(dim=-1)),
               ("LogSoftmax", lambda: L.LogSoftmax(dim=-1))]


@pytest.mark.parametrize("name, make", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_an_activation_given_a_non_tensor_names_itself(name, make):
    with pytest.raises(TypeError, match=f"^{name}: expected a Tensor input, got list$"):
        make()([1.0, 2.0])


@pytest.mark.parametrize("layer, text", [
    (L.LeakyReLU(0.2, inplace=True), "LeakyReLU(negative_slope=0.2, inplace=True)"),
    (L.LeakyReLU(), "LeakyReLU(negative_slope=0.01)"),
    (L.ELU(0.5, inplace=True), "ELU(alpha=0.5, inplace=True)"),
    (L.Softplus(), "Softplus(beta=1.0, threshold=20.0)"),
    (L.GELU("tanh"), "GELU(approximate='tanh')"),
])
def test_activation_reprs_list_their_options(layer, text):
    assert repr(layer) == text


def test_softplus_defaults_and_its_threshold_is_strict():
    x = np.array([-3.0, 0.0, 2.0, 20.0, 20.5])
    out = L.Softplus()(mg.tensor(x)).numpy()
    smooth = np.log1p(np.exp(x))
    # beta 1, threshold 20: the exact value up to 20 inclusive, x itself only above it
    np.testing.assert_allclose(out[:4], smooth[:4], rtol=1e-15, atol=0)
    assert out[3] != 20.0 and out[4] == 20.5
    out = L.Softplus(beta=2.0, threshold=4.0)(mg.tensor(x)).numpy()
    np.testing.assert_allclose(out[:3], np.log1p(np.exp(2 * x[:3])) / 2, rtol=1e-15)
    assert out[3] == 20.0
    for beta in (0.0, -1.0):
        with pytest.raises(ValueError, match=f"^Softplus: beta must be > 0, got {beta}$"):
            L.Softplus(beta=beta)
    assert math.isclose(L.Softplus(beta=0.5)(mg.tensor(np.array([1.0]))).item(),
                        2 * math.log1p(math.exp(0.5)), rel_tol=1e-12)


# --- containers: positions and the errors that name the container --------------------------

@pytest.mark.parametrize("name, make", [("Sequential", L.Sequential),
                                        ("ModuleList", lambda *m: L.ModuleList(list(m)))])
def test_container_index_errors_name_the_container(name, make):
    box = make(L.ReLU(), L.Tanh())
    for action in (lambda: box[5], lambda: box.__setitem__(-3, L.ReLU()),
                   lambda: box.__delitem__(2)):
        with pytest.raises(IndexError, match=f"^{name} index -?\\d is out of range for length 2$"):
            action()
    with pytest.raises(TypeError, match=f"^{name} indices must be integers or slices, got str$"):
        box["a"]
    with pytest.raises(TypeError, match=f"^{name}.insert index must be an integer, got str$"):
        box.insert("a", L.ReLU())
    with pytest.raises(IndexError, match=f"^{name}.insert index 3 is out of range for "
                                         r"insertion into length 2 \(expected -2 <= index <= 2\)"):
        box.insert(3, L.ReLU())


@pytest.mark.parametrize("make", [L.Sequential, lambda *m: L.ModuleList(list(m))])
def test_container_item_access_and_insert_positions(make):
    relu, tanh, sig, elu = L.ReLU(), L.Tanh(), L.Sigmoid(), L.ELU()
    box = make(relu, tanh)
    assert box[-1] is tanh and box[0] is relu
    box[-2] = sig
    assert list(box) == [sig, tanh]
    box.insert(-1, elu)                          # before the last member
    assert list(box) == [sig, elu, tanh]
    box.insert(1, relu)
    assert list(box) == [sig, relu, elu, tanh]
    box.insert(4, L.GELU())                      # the length appends
    assert len(box) == 5 and isinstance(box[4], L.GELU)
    del box[-2]
    assert list(box)[:3] == [sig, relu, elu] and isinstance(box[3], L.GELU)
    del box[1:3]
    assert box[0] is sig and len(box) == 2


def test_module_list_and_dict_have_no_forward_and_say_what_to_do():
    with pytest.raises(NotImplementedError, match=r"^ModuleList has no forward\(\): iterate over "
                                                  r"it and call the modules yourself \(or use "
                                                  r"Sequential to chain them\)$"):
        L.ModuleList([L.ReLU()])(mg.ones(1))
    with pytest.raises(NotImplementedError, match=r"^ModuleDict has no forward\(\): look up the "
                                                  r"modules by key and call them yourself$"):
        L.ModuleDict({"a": L.ReLU()})(mg.ones(1))
    with pytest.raises(TypeError, match="^ModuleList.extend expects an iterable of Modules, got "
                                        "a single ReLU; use append$"):
        L.ModuleList([]).extend(L.ReLU())
