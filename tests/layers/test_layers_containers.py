"""Sequential, ModuleList, ModuleDict, Identity, Flatten, Unflatten."""
import collections

import numpy as np
import pytest

import minigrad as mg
from layers import (Flatten, Identity, Linear, ModuleDict, ModuleList, ReLU, Sequential, Tanh,
                    Unflatten)


def test_sequential_chains_in_order():
    a, b = Linear(3, 4), Linear(4, 2)
    model = Sequential(a, ReLU(), b)
    x = mg.randn(5, 3)
    expected = b(a(x).relu()).numpy()
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-6)
    assert list(model) == [a, model[1], b]
    assert len(model) == 3 and model[-1] is b and model[0] is a


def test_sequential_from_ordered_dict_names_the_state():
    model = Sequential(collections.OrderedDict([("encoder", Linear(3, 4)), ("act", Tanh())]))
    assert list(model.state_dict()) == ["encoder.weight", "encoder.bias"]
    assert model.encoder is model[0]


def test_sequential_slicing_append_delete_and_errors():
    layers = [Linear(2, 2) for _ in range(4)]
    model = Sequential(*layers)
    head = model[:2]
    assert isinstance(head, Sequential) and list(head) == layers[:2]
    assert list(model[::2]) == [layers[0], layers[2]]
    model.append(ReLU())
    assert len(model) == 5 and list(model.state_dict())[-2:] == ["3.weight", "3.bias"]
    del model[0]
    assert model[0] is layers[1] and list(model._modules) == ["0", "1", "2", "3"]
    model[0] = Tanh()
    assert isinstance(model[0], Tanh)
    with pytest.raises(IndexError, match="index 9 is out of range for length 4"):
        model[9]
    with pytest.raises(TypeError, match="integers or slices"):
        model["0"]
    assert Sequential()(mg.ones(2)).tolist() == [1.0, 1.0]


def test_module_list_registers_and_indexes():
    blocks = ModuleList([Linear(2, 2) for _ in range(3)])
    assert len(list(blocks.parameters())) == 6
    assert [n for n, _ in blocks.named_parameters()][:2] == ["0.weight", "0.bias"]
    blocks.append(Linear(2, 1))
    blocks += [ReLU()]
    blocks.insert(0, Tanh())
    assert [type(m).__name__ for m in blocks] == ["Tanh", "Linear", "Linear", "Linear",
                                                  "Linear", "ReLU"]
    assert isinstance(blocks[1:3], ModuleList) and len(blocks[1:3]) == 2
    assert blocks[-1] is list(blocks)[-1]
    del blocks[0]
    assert list(blocks._modules) == [str(i) for i in range(5)]
    with pytest.raises(NotImplementedError, match="iterate"):
        blocks(mg.ones(2))
    with pytest.raises(TypeError, match="append"):
        blocks.extend(Linear(1, 1))


def test_module_dict():
    heads = ModuleDict({"cls": Linear(4, 3), "box": Linear(4, 2)})
    assert list(heads) == ["cls", "box"] and "cls" in heads and len(heads) == 2
    assert [n for n, _ in heads.named_parameters()] == ["cls.weight", "cls.bias", "box.weight",
                                                         "box.bias"]
    heads["act"] = ReLU()
    assert isinstance(heads.pop("act"), ReLU) and "act" not in heads
    with pytest.raises(KeyError, match="'missing'"):
        heads["missing"]
    assert [k for k, _ in heads.items()] == ["cls", "box"]


def test_identity_flatten_unflatten():
    x = mg.randn(2, 3, 4, 5)
    assert Identity(54, unused=True)(x) is x
    assert Flatten()(x).shape == (2, 60)
    assert Flatten(0, 1)(x).shape == (6, 4, 5)
    flat = Flatten()(x)
    back = Unflatten(1, (3, 4, 5))(flat)
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    assert Unflatten(-1, (2, -1))(flat).shape == (2, 2, 30)
    with pytest.raises(ValueError, match=r"size 60 .* cannot be split into \(7, 8\)"):
        Unflatten(1, (7, 8))(flat)
    # integer sizes only: a float size was cut down by int() (2.5 became 2) without a word
    assert Unflatten(1, (np.int64(6), 10))(flat).shape == (2, 6, 10)
    with pytest.raises(TypeError, match=r"^Unflatten: unflattened_size must hold integers, "
                                        r"got \(2\.5, 24\)$"):
        Unflatten(1, (2.5, 24))
    assert repr(Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


def names(container):
    return [type(m).__name__ for m in container]


@pytest.mark.parametrize("index", [0, 1, 3, -1, -3])
def test_insert_follows_list_semantics_in_range(index):
    members = [ReLU(), Tanh(), Identity()]
    expected = list(members)
    new = Flatten()
    expected.insert(index, new)
    for container in (Sequential(*members), ModuleList(members)):
        container.insert(index, new)
        assert list(container) == expected
        assert list(container._modules) == ["0", "1", "2", "3"]
        assert container[index if index >= 0 else index - 1] is new


def test_insert_out_of_range_raises_instead_of_clamping():
    for container in (Sequential(ReLU(), Tanh()), ModuleList([ReLU(), Tanh()])):
        op = type(container).__name__
        with pytest.raises(IndexError, match=rf"{op}.insert index 3 is out of range .* "
                                             r"-2 <= index <= 2"):
            container.insert(3, Identity())
        with pytest.raises(IndexError, match="index -3"):
            container.insert(-3, Identity())
        assert len(container) == 2


def test_pop_returns_the_member_and_renumbers():
    a, b, c = Linear(1, 1), Linear(1, 1), Linear(1, 1)
    for container in (Sequential(a, b, c), ModuleList([a, b, c])):
        assert container.pop(1) is b
        assert list(container) == [a, c]
        assert list(container.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
        assert container.pop() is c and list(container) == [a]
        with pytest.raises(IndexError, match="out of range for length 1"):
            container.pop(5)


def test_sequential_negative_index_set_and_delete_slices():
    model = Sequential(ReLU(), Tanh(), Identity(), Flatten())
    model[-1] = Linear(2, 2)
    assert isinstance(model[3], Linear) and list(model.state_dict()) == ["3.weight", "3.bias"]
    del model[1:3]
    assert names(model) == ["ReLU", "Linear"]
    assert list(model.state_dict()) == ["1.weight", "1.bias"]
    model.extend([Tanh(), Identity()])
    assert names(model) == ["ReLU", "Linear", "Tanh", "Identity"] and model[-4] is model[0]
    assert model.append(ReLU()) is model


def test_sequential_slice_shares_the_modules():
    layers_ = [Linear(2, 2) for _ in range(3)]
    model = Sequential(*layers_)
    tail = model[1:]
    assert list(tail._modules) == ["1", "2"]         # the original names, as in PyTorch
    assert tail[0] is layers_[1]
    x = mg.randn(4, 2)
    np.testing.assert_array_equal(tail(layers_[0](x)).numpy(), model(x).numpy())


def test_module_list_slices_set_and_delete():
    members = [Linear(1, 1), ReLU(), Tanh(), Identity()]
    blocks = ModuleList(members)
    assert list(blocks[::-1]) == members[::-1] and list(blocks[-2:]) == members[-2:]
    blocks[-1] = Flatten()
    assert isinstance(blocks[3], Flatten)
    del blocks[::2]
    assert names(blocks) == ["ReLU", "Flatten"] and list(blocks._modules) == ["0", "1"]
    assert (blocks.append(Tanh()) is blocks) and len(blocks) == 3
    grown = ModuleList()
    grown += ModuleList([ReLU(), Tanh()])
    grown.extend(Sequential(Identity()))
    assert names(grown) == ["ReLU", "Tanh", "Identity"]
    with pytest.raises(IndexError, match="out of range for length 3"):
        grown[-4]


def test_module_dict_replacing_a_key_keeps_its_position():
    heads = ModuleDict([("a", ReLU()), ("b", Tanh()), ("c", Identity())])
    heads["b"] = Linear(1, 1)
    assert list(heads.keys()) == ["a", "b", "c"]
    assert list(heads.state_dict()) == ["b.weight", "b.bias"]
    heads.update({"d": ReLU(), "a": Flatten()})
    assert list(heads) == ["a", "b", "c", "d"] and isinstance(heads["a"], Flatten)
    del heads["c"]
    assert list(heads) == ["a", "b", "d"] and [type(m).__name__ for m in heads.values()] == \
        ["Flatten", "Linear", "ReLU"]
    with pytest.raises(KeyError, match="keys are"):
        heads.pop("c")
    with pytest.raises(NotImplementedError, match="by key"):
        heads(mg.ones(1))
