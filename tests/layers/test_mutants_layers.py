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


# --- module, hooks, parameter containers, embedding, loss, dropout -------------------------

def test_module_errors_name_the_class():
    class Bare(L.Module):
        pass

    with pytest.raises(NotImplementedError, match=r"^Bare has no forward\(\): a subclass of "
                                                  r"Module must define forward\(self, \*inputs\)$"):
        Bare()(mg.ones(1))
    with pytest.raises(AttributeError, match=r"^ReLU has no sub-module 'x' \(looking up '0.x'\)"):
        L.Sequential(L.ReLU()).get_submodule("0.x")


def test_hooks_see_the_module_may_replace_a_single_input_and_keep_keyword_arguments():
    class Scale(L.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    layer, seen = Scale(), []
    layer.register_forward_pre_hook(lambda m, args: seen.append(m) or args[0] + 1.0)
    out = layer(mg.tensor([1.0, 2.0]), factor=3.0)        # (x + 1) * 3: a non-tuple replaces x
    assert seen == [layer] and out.tolist() == [6.0, 9.0]


def test_a_handle_used_as_a_context_removes_its_hook_and_lets_errors_through():
    layer, calls = L.ReLU(), []
    with pytest.raises(ZeroDivisionError):
        with layer.register_forward_hook(lambda m, a, o: calls.append(1)):
            layer(mg.ones(1))
            1 / 0
    layer(mg.ones(1))
    assert calls == [1]


def test_parameter_containers_name_themselves_and_slices_are_lists():
    plist = L.ParameterList([L.Parameter(mg.ones(1)), L.Parameter(mg.zeros(2))])
    part = plist[1:]
    assert isinstance(part, L.ParameterList) and len(part) == 1 and part[0].shape == (2,)
    with pytest.raises(IndexError, match="^ParameterList index 2 is out of range for length 2$"):
        plist[2] = L.Parameter(mg.ones(1))
    with pytest.raises(TypeError, match="^ParameterList: entries must be Parameters or Tensors, "
                                        "got int$"):
        plist[0] = 3
    with pytest.raises(TypeError, match=r"^ParameterList.extend: expected an iterable of "
                                        r"Parameters, got a single Tensor \(use append\)$"):
        plist.extend(mg.ones(2))
    pdict = L.ParameterDict({"a": L.Parameter(mg.ones(1)), "b": L.Parameter(mg.ones(1))})
    with pytest.raises(TypeError, match="^ParameterDict: entries must be Parameters or Tensors, "
                                        "got str$"):
        pdict["c"] = "no"
    replacement = L.Parameter(mg.zeros(3))
    pdict["a"] = replacement                      # keeps its position, as a dict does
    assert list(pdict.keys()) == ["a", "b"] and pdict["a"] is replacement
    pdict["c"] = mg.ones(2)
    assert list(pdict.keys()) == ["a", "b", "c"] and isinstance(pdict["c"], L.Parameter)


def test_embedding_from_pretrained_wants_a_matrix():
    for bad, shape in ((mg.ones(3), r"\(3,\)"), (np.float32(1.0), r"\(\)")):
        with pytest.raises(ValueError, match=f"^Embedding.from_pretrained: expected embeddings "
                                             f"of shape \\(V, E\\), got shape {shape}$"):
            L.Embedding.from_pretrained(bad)


def test_pairwise_distance_defaults_to_the_euclidean_norm_without_keepdim():
    out = L.PairwiseDistance()(mg.tensor(np.array([[0.0, 0.0], [1.0, 1.0]])),
                               mg.tensor(np.array([[3.0, 4.0], [1.0, 1.0]])))
    assert out.shape == (2,)
    np.testing.assert_allclose(out.numpy(), [np.hypot(3 - 1e-6, 4 - 1e-6), np.sqrt(2) * 1e-6],
                               rtol=1e-9)


def test_dropout2d_names_what_it_got_and_keeps_the_dtype():
    for bad, got in ((mg.ones(2), r"\(2,\)"), (3, "int")):
        with pytest.raises(ValueError, match=r"^Dropout2d: expected a Tensor of shape \(N, C, H, "
                                             f"W\\) or \\(N, C, L\\), got {got}$"):
            L.Dropout2d()(bad)
    out = L.Dropout2d(0.5)(mg.ones(2, 3, 4, 4))
    assert out.dtype == np.float32
    assert set(np.unique(out.numpy())) <= {0.0, 2.0}


def test_unflatten_infers_one_size_and_checks_dim_and_input():
    x = mg.ones(3, 6)
    assert L.Unflatten(1, (2, -1))(x).shape == (3, 2, 3)
    assert L.Unflatten(-2, (3, 1))(x).shape == (3, 1, 6)         # -ndim is the first axis
    assert L.Unflatten(1, (1, 6))(x).shape == (3, 1, 6)           # a size of 1 is not inferred
    with pytest.raises(ValueError, match=r"^Unflatten: dim 2 is out of range for an input of "
                                         r"shape \(3, 6\)$"):
        L.Unflatten(2, (2, 3))(x)
    with pytest.raises(ValueError, match=r"^Unflatten: dim -3 is out of range"):
        L.Unflatten(-3, (2, 3))(x)
    with pytest.raises(ValueError, match=r"^Unflatten: axis 1 of size 6 \(input shape \(3, 6\)\) "
                                         r"cannot be split into \(4, -1\)$"):
        L.Unflatten(1, (4, -1))(x)
    with pytest.raises(TypeError, match="^Unflatten: expected a Tensor, got int$"):
        L.Unflatten(1, (2, 3))(5)


def test_unflatten_refuses_negative_sizes_other_than_minus_one():
    with pytest.raises(ValueError, match=r"cannot be split into \(-2, -3\)$"):
        L.Unflatten(1, (-2, -3))(mg.ones(3, 6))


def test_a_pre_hook_returning_a_tuple_replaces_all_the_inputs():
    class Add(L.Module):
        def forward(self, a, b):
            return a + b

    layer = Add()
    layer.register_forward_pre_hook(lambda m, args: (args[1], args[1]))
    assert layer(mg.tensor([1.0]), mg.tensor([5.0])).tolist() == [10.0]


def test_embedding_from_pretrained_refuses_a_plain_number():
    with pytest.raises(ValueError, match=r"^Embedding.from_pretrained: expected embeddings of "
                                         r"shape \(V, E\), got shape \(\)$"):
        L.Embedding.from_pretrained(1.0)


def test_unflatten_sizes_of_one_a_lone_minus_one_and_impossible_splits():
    x = mg.ones(3, 6)
    assert L.Unflatten(1, (1, 1, 6))(x).shape == (3, 1, 1, 6)
    assert L.Unflatten(1, (-1,))(x).shape == (3, 6)
    for size in ((-1, -1), (0, -1), (-1, 0)):
        with pytest.raises(ValueError, match=r"^Unflatten: axis 1 of size 6 .* cannot be split"):
            L.Unflatten(1, size)(x)


@pytest.mark.parametrize("name, make", [("PixelShuffle", L.PixelShuffle),
                                        ("PixelUnshuffle", L.PixelUnshuffle)])
def test_pixel_shuffles_name_themselves_in_every_error(name, make):
    with pytest.raises(ValueError, match=f"^{name}: the factor must be a positive int, got 0$"):
        make(0)
    with pytest.raises(ValueError, match=f"^{name}: the factor must be a positive int, got 1.5$"):
        make(1.5)
    for bad, got in ((mg.ones(4, 4), r"\(4, 4\)"), (3, "int")):
        with pytest.raises(ValueError, match=f"^{name}: expected a Tensor of shape "
                                             f"\\(\\*, C, H, W\\), got {got}$"):
            make(2)(bad)
    with pytest.raises(ValueError, match=f"^{name}: input of shape \\(1, 3, 3, 4\\) needs"):
        make(2)(mg.ones(1, 3, 3, 4))


def test_pixel_shuffle_and_unshuffle_are_exact_inverses_with_integer_shapes():
    x = mg.arange(2 * 8 * 3 * 3.0).reshape(2, 8, 3, 3)
    up = L.PixelShuffle(2)(x)
    assert up.shape == (2, 2, 6, 6) and all(type(n) is int for n in up.shape)
    # out[c, h·r + i, w·r + j] = x[c·r² + i·r + j, h, w]
    assert up.numpy()[1, 1, 3, 4] == x.numpy()[1, 1 * 4 + 1 * 2 + 0, 1, 2]
    down = L.PixelUnshuffle(2)(up)
    assert down.shape == (2, 8, 3, 3) and all(type(n) is int for n in down.shape)
    np.testing.assert_array_equal(down.numpy(), x.numpy())


def test_embedding_sizes_dtype_and_padding_index_bounds():
    assert L.Embedding(1, 1).weight.shape == (1, 1)
    assert L.Embedding(3, 2, dtype=np.float64).weight.dtype == np.float64
    assert L.Embedding(3, 2, padding_idx=-3).padding_idx == 0
    for args, words in (((0, 3), "num_embeddings must be >= 1, got 0"),
                        ((3, 0), "embedding_dim must be >= 1, got 0")):
        with pytest.raises(ValueError, match=f"^Embedding: {words}$"):
            L.Embedding(*args)
    for idx in (3, -4):
        with pytest.raises(ValueError, match=f"^Embedding: padding_idx must be an int in "
                                             f"\\[-3, 3\\), got {idx}$"):
            L.Embedding(3, 2, padding_idx=idx)


def test_an_empty_parameter_is_float32_and_dropout_names_itself():
    assert L.Parameter().dtype == np.float32 and L.Parameter().shape == (0,)
    with pytest.raises(ValueError, match=r"^Dropout: p must be a probability in \[0, 1\], "
                                         r"got 1.5"):
        L.Dropout(1.5)
    with pytest.raises(TypeError, match="^Dropout: expected a Tensor input, got int$"):
        L.Dropout()(3)


def test_parameter_container_reprs_and_dict_get():
    plist = L.ParameterList([L.Parameter(mg.ones(2)), L.Parameter(mg.zeros(1, 3))])
    assert repr(plist) == ("ParameterList(\n  (0): Parameter of shape (2,) (float32)\n"
                           "  (1): Parameter of shape (1, 3) (float32)\n)")
    pdict = L.ParameterDict({"w": L.Parameter(mg.ones(2, dtype=np.float64)),
                             "b": L.Parameter(mg.ones(1))})
    assert repr(pdict) == ("ParameterDict(\n  (w): Parameter of shape (2,) (float64)\n"
                           "  (b): Parameter of shape (1,) (float32)\n)")
    assert pdict.get("w") is pdict["w"] and pdict.get("z") is None and pdict.get("z", 5) == 5


def test_loss_weight_buffers_keep_a_tensor_and_refuse_what_is_not_numbers():
    weight = mg.tensor([1.0, 2.0])
    assert L.CrossEntropyLoss(weight=weight).weight is weight
    with pytest.raises(TypeError, match="^CrossEntropyLoss: weight must be a Tensor, an array of "
                                        "numbers or None, got list$"):
        L.CrossEntropyLoss(weight=[[1.0], [1.0, 2.0]])      # ragged: no array at all
    with pytest.raises(TypeError, match="^NLLLoss: weight must be a Tensor, an array of numbers "
                                        "or None, got list of dtype bool$"):
        L.NLLLoss(weight=[True, False])


def test_constant_pad_names_itself_in_its_padding_error():
    with pytest.raises(ValueError, match=r"^ConstantPad2d: padding must be an int or \(left, "
                                         r"right, top, bottom\), got \(1, 2, 3\)$"):
        L.ConstantPad2d((1, 2, 3), 0.0)
