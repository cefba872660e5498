"""PyTorch as an oracle, for the tests that compare with it (each skips without torch): the
same float64 arrays through a minigrad callable and its PyTorch twin, the outputs compared,
then one fixed upstream gradient sent back through both and every input's gradient compared,
and for modules every parameter's gradient too.

Notation
--------
ours, theirs   the minigrad and the PyTorch side of one comparison
"""
import numpy as np

import minigrad as mg


def upstream(shape):
    """A fixed gradient of ``shape`` with no repeated pattern: cos(0), cos(1), ..."""
    return np.cos(np.arange(int(np.prod(shape)))).reshape(shape)


def same_as_torch(torch, ours, theirs, arrays, rtol=1e-10, atol=1e-12):
    """``ours(*tensors)`` against ``theirs(*torch_tensors)`` on ``arrays`` (all differentiated):
    the outputs, then each input's gradient (no gradient on our side reads as zeros, as
    PyTorch gives them). Returns the two outputs' arrays."""
    ours_in = [mg.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, t = ours(*ours_in), theirs(*theirs_in)
    np.testing.assert_allclose(y.numpy(), t.detach().numpy(), rtol=rtol, atol=atol)
    g = upstream(t.shape)
    y.backward(mg.tensor(g))
    t.backward(torch.tensor(g))
    for i, (a, b) in enumerate(zip(ours_in, theirs_in)):
        mine = np.zeros(a.shape) if a.grad is None else a.grad.numpy()
        expected = np.zeros(a.shape) if b.grad is None else b.grad.numpy()
        np.testing.assert_allclose(mine, expected, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")
    return y.numpy(), t.detach().numpy()


def same_module_as_torch(torch, ours, theirs, arrays, rtol=1e-10, atol=1e-12):
    """A layer against PyTorch's: the same repr, PyTorch's state dict loaded into ours, then
    :func:`same_as_torch` on ``arrays`` and every parameter's gradient."""
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    for p in list(ours.parameters()) + list(theirs.parameters()):
        p.grad = None
    same_as_torch(torch, ours, theirs, arrays, rtol, atol)
    mine = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(mine[name].grad.numpy(), p.grad.numpy(), rtol=rtol,
                                   atol=atol, err_msg=name)
