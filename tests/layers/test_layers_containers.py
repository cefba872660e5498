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
    assert repr(Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
