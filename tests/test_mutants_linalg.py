"""What ``minigrad/ops/linalg.py`` promises, checked where the rest of the suite did not look:
each test here fails for a small, realistic change (a vector times a batch of matrices whose
gradient loses its shape, einsum's implicit output, spaces and multi-axis ellipses, ``diag``'s
off-diagonals, ``norm``'s ``dim``/``keepdim`` for every p, a default or an error message
changed), against NumPy.
"""
import numpy as np
import pytest

import minigrad as mg

rng = np.random.default_rng(0)


def leaf(*shape):
    return mg.tensor(rng.standard_normal(shape), requires_grad=True)


def test_vector_times_a_batch_of_matrices_and_back():
    v, m = leaf(3), leaf(2, 3, 4)
    (mg.matmul(v, m) * mg.tensor(np.arange(8.0).reshape(2, 4))).sum().backward()
    g = np.arange(8.0).reshape(2, 4)
    np.testing.assert_allclose(v.grad.numpy(), np.einsum("bm,bkm->k", g, m.numpy()))
    np.testing.assert_allclose(m.grad.numpy(), np.einsum("k,bm->bkm", v.numpy(), g))
    w = leaf(4)
    (mg.matmul(m, w) * mg.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
    g = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(w.grad.numpy(), np.einsum("bn,bnk->k", g, m.numpy()))


def test_matmul_and_bmm_errors():
    with pytest.raises(ValueError, match=r"^matmul: inner dimensions differ: \(2, 3\) @ \(4,\) "
                                         r"\(3 != 4\)"):
        mg.matmul(leaf(2, 3), leaf(4))
    with pytest.raises(ValueError, match=r"^bmm: expected \(B, N, K\) and \(B, K, M\) tensors, "
                                         r"got shapes \(2, 3, 4\) and \(4, 5\)"):
        mg.bmm(leaf(2, 3, 4), leaf(4, 5))
    with pytest.raises(ValueError, match=r"^bmm: .* got shapes \(4, 3, 4\) and \(4, 5\)"):
        mg.bmm(leaf(4, 3, 4), leaf(4, 5))  # would broadcast as matmul


@pytest.mark.parametrize("subscripts, shapes, reference", [
    ("ij,jk", [(2, 3), (3, 4)], "ij,jk->ik"),
    (" ij , jk -> ki ", [(2, 3), (3, 4)], "ij,jk->ki"),
    ("jX,jk", [(3, 2), (3, 4)], "jX,jk->Xk"),
    ("...jX,jk", [(5, 3, 2), (3, 4)], "...jX,jk->...Xk"),
    ("...ij,...jk->...ik", [(2, 5, 2, 3), (2, 5, 3, 4)], None),
    ("...ij,...jk->...ik", [(2, 5, 2, 3), (3, 4)], None),
])
def test_einsum_spellings_match_numpy(subscripts, shapes, reference):
    xs = [leaf(*s) for s in shapes]
    out = mg.einsum(subscripts, *xs)
    expected = np.einsum(reference or subscripts.replace(" ", ""), *[x.numpy() for x in xs])
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected)


def test_einsum_gradient_of_a_later_operand_only():
    a = mg.tensor(rng.standard_normal((2, 3)))  # no grad
    b = leaf(3, 4)
    mg.einsum("ij,jk->ik", a, b).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), np.repeat(a.numpy().sum(0)[:, None], 4, 1))


def test_tril_triu_default_diagonal_and_error_names():
    x = mg.tensor(np.arange(1.0, 10.0).reshape(3, 3))
    np.testing.assert_array_equal(mg.tril(x).numpy(), np.tril(x.numpy()))
    np.testing.assert_array_equal(mg.triu(x).numpy(), np.triu(x.numpy()))
    for op in ("tril", "triu"):
        with pytest.raises(ValueError, match=rf"^{op}: expected a tensor of at least 2 dims"):
            getattr(mg, op)(mg.tensor([1.0, 2.0]))


@pytest.mark.parametrize("k", [-2, -1, 0, 1, 2])
def test_diag_of_a_vector_and_of_a_matrix(k):
    v = mg.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(mg.diag(v, k).numpy(), np.diag(v.numpy(), k))
    for shape in ((3, 5), (5, 3), (4, 4)):
        m = mg.tensor(np.arange(np.prod(shape), dtype=np.float64).reshape(shape))
        np.testing.assert_array_equal(mg.diag(m, k).numpy(), np.diag(m.numpy(), k))
    np.testing.assert_array_equal(mg.diag(v).numpy(), np.diag(v.numpy()))


@pytest.mark.parametrize("p", [2, 1, 3, float("inf"), float("-inf"), "fro"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_norm_along_a_dim_for_every_p(p, keepdim):
    x = mg.tensor(np.array([[3.0, -4.0, 1.0], [0.5, 2.0, -6.0]]))
    order = 2 if p == "fro" else p
    expected = np.linalg.norm(x.numpy(), ord=order, axis=1, keepdims=keepdim)
    out = mg.norm(x, p, dim=1, keepdim=keepdim)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected)
    assert mg.norm(x).item() == pytest.approx(np.sqrt((x.numpy() ** 2).sum()))
