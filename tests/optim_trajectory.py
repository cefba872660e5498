"""The fixture of the optimizer-rule tests: one parameter fed a fixed list of gradients.

An optimizer's rule is checked by feeding ``GRADS`` to it, one step each, and comparing the
trajectory of the parameter with a NumPy reference of the documented rule fed the same list.
"""
import numpy as np

import minigrad as mg

P0 = np.array([0.5, -1.25, 2.0])
GRADS = [np.array(g) for g in ([0.3, -0.2, 1.5], [-0.1, 0.4, 0.9], [0.25, 0.05, -0.7],
                               [0.6, -0.8, 0.2], [-0.3, 0.1, 0.05], [0.2, 0.2, -0.4],
                               [0.05, -0.6, 0.3], [-0.45, 0.35, 0.1])]


def run(make_optimizer, p0=P0, grads=GRADS, dtype=np.float64, device="cpu"):
    """Feed ``grads`` to an optimizer over one parameter starting at ``p0``; return each p."""
    w = mg.tensor(p0.astype(dtype), device=device, requires_grad=True)
    optimizer = make_optimizer([w])
    trajectory = []
    for g in grads:
        w.grad = mg.tensor(g.astype(dtype), device=device)
        optimizer.step()
        trajectory.append(w.numpy().copy())
    return trajectory


def assert_trajectories(actual, expected, rtol=1e-9):
    assert len(actual) == len(expected)
    for step, (a, e) in enumerate(zip(actual, expected), start=1):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=1e-12, err_msg=f"step {step}")
