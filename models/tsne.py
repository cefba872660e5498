"""t-SNE (van der Maaten & Hinton, 2008): a 2-D map in which near neighbours stay near.

Two probability distributions over the N² pairs of points:

- In the data, ``p_ij``: point i picks j as a neighbour with a Gaussian weight
  ``p_j|i = exp(-beta_i |x_i - x_j|²) / sum_k exp(-beta_i |x_i - x_k|²)``. Each precision
  ``beta_i`` is found by binary search so that the row's perplexity ``2^H(P_i)`` equals the
  one asked for: dense regions get narrow Gaussians, sparse ones wide, and every point has
  about ``perplexity`` effective neighbours. Symmetrised: ``p_ij = (p_j|i + p_i|j) / (2N)``.
- In the map, ``q_ij = (1 + |y_i - y_j|²)^-1 / Z``, a Student-t with one degree of freedom;
  its heavy tail lets moderately distant points sit far apart (no "crowding").

The map minimises ``KL(P || Q) = sum p_ij log(p_ij / q_ij)``. Expanding ``log q_ij``,

    KL = sum p_ij log p_ij  +  sum p_ij log(1 + d_ij)  +  log Z,    Z = sum_(i != j) (1 + d_ij)^-1

(using ``sum p_ij = 1``), so the objective is three reductions over an (N, N) matrix of squared
distances ``d_ij``, and the engine's autograd gives its gradient, which tests compare with the
closed form ``dKL/dy_i = 4 sum_j (p_ij - q_ij) (y_i - y_j) / (1 + d_ij)``.

The optimiser is the paper's: gradient descent with momentum (0.5, then 0.8) and per-coordinate
adaptive gains (+0.2 when the gradient changes sign against the step, x0.8 otherwise), and
*early exaggeration*: for the first iterations every p_ij is multiplied by a factor (12 here, as
in scikit-learn; 4 in the paper), which pulls clusters tight while the map is still fluid.
During exaggeration the objective keeps ``log Z`` unscaled, so its gradient is the paper's
``4 sum (alpha p_ij - q_ij) ...``.

Notation
--------
N       number of points
F       input features per point
P       (N, N) joint affinities in the data, zero diagonal, summing to 1
Y       (N, 2) map coordinates (n_components columns in general)
d_ij    squared distance |y_i - y_j|² in the map
"""
import numpy as np

import minigrad as mg
from minigrad.backend import xp_of
from minigrad.checks import check_int, check_number


def squared_distances(X):
    """(N, N) squared Euclidean distances of the rows of an array ``X`` of shape (N, F)."""
    norms = (X * X).sum(axis=1)
    return np.maximum(norms[:, None] + norms[None, :] - 2 * X @ X.T, 0)


def conditional_probabilities(X, perplexity=30.0, tol=1e-5, max_iter=100):
    """Row-stochastic ``p_j|i`` (N, N), each row's Gaussian calibrated to ``perplexity``.

    The binary search runs on all N precisions at once (vectorised): each step halves every
    row's bracket ``[low, high]`` on beta, doubling beta while no upper bound is known.

    Parameters
    ----------
    X : array, shape (N, F)
    perplexity : float, default 30.0
        Effective number of neighbours; below N - 1.
    tol : float, default 1e-5
        Stop when every row's entropy is within ``tol`` nats of ``log(perplexity)``.
    max_iter : int, default 100

    Returns
    -------
    ndarray of float64, shape (N, N), zero diagonal, each row summing to 1 with entropy
    ``log(perplexity)`` nats.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"conditional_probabilities: X must be (N, F), got shape {X.shape}")
    N = len(X)
    check_number("conditional_probabilities", "perplexity", perplexity, low=1.0)
    if not perplexity < N - 1:
        raise ValueError(f"conditional_probabilities: perplexity must be below N - 1 = {N - 1} "
                         f"(N = {N} points), got {perplexity}")
    D = squared_distances(X)
    np.fill_diagonal(D, np.inf)             # exp(-inf) = 0: a point is not its own neighbour
    # Shifting each row by its smallest distance leaves p_j|i unchanged and keeps exp() from
    # underflowing to an all-zero row when beta is large.
    D = D - D.min(axis=1, keepdims=True)
    target = np.log(perplexity)
    beta = np.ones(N)
    low, high = np.zeros(N), np.full(N, np.inf)
    for _ in range(max_iter):
        weights = np.exp(-D * beta[:, None])
        total = weights.sum(axis=1)
        # H = log Z + beta <d>: the entropy (nats) of the row's normalised Gaussian
        # where(): the diagonal's inf * 0 would be nan
        mean_distance = (np.where(weights > 0, D, 0) * weights).sum(axis=1) / total
        entropy = np.log(total) + beta * mean_distance
        error = entropy - target
        if np.all(np.abs(error) < tol):
            break
        too_wide = error > 0                # too many neighbours: sharpen (raise beta)
        low = np.where(too_wide, beta, low)
        high = np.where(too_wide, high, beta)
        beta = np.where(np.isinf(high), beta * 2, (low + high) / 2)
    return weights / total[:, None]


def joint_probabilities(X, perplexity=30.0, tol=1e-5, max_iter=100):
    """Symmetric affinities ``p_ij = (p_j|i + p_i|j) / (2N)`` of :func:`conditional_probabilities`.

    Returns
    -------
    P : ndarray of float64, shape (N, N), symmetric, zero diagonal, sums to 1.

    Examples
    --------
    >>> P = joint_probabilities(np.random.default_rng(0).normal(size=(20, 3)), perplexity=5)
    >>> bool(np.allclose(P, P.T)), round(float(P.sum()), 6), float(P.diagonal().max())
    (True, 1.0, 0.0)
    """
    conditional = conditional_probabilities(X, perplexity, tol, max_iter)
    return (conditional + conditional.T) / (2 * len(conditional))


def kl_divergence(P, Y):
    """The t-SNE objective ``sum p log p + sum p log(1 + d) + log Z`` as an engine Tensor.

    Parameters
    ----------
    P : Tensor or array, shape (N, N)
        Affinities with a zero diagonal; summing to 1 this is exactly ``KL(P || Q)``, and with
        early exaggeration (``alpha P``) its gradient is the paper's exaggerated one.
    Y : Tensor, shape (N, n_components)

    Returns
    -------
    Tensor, a scalar, differentiable with respect to ``Y``.

    Examples
    --------
    >>> P = np.array([[0, .25, .25], [.25, 0, 0], [.25, 0, 0]])
    >>> Y = mg.tensor([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]], dtype=mg.float64)
    >>> round(kl_divergence(P, Y).item(), 6)  # q_01 = (1/2) / 2.4 for each p of 1/4: log 1.2
    0.182322
    """
    P = P if isinstance(P, mg.Tensor) else mg.tensor(np.asarray(P), dtype=Y.dtype,
                                                     device=Y.device)
    N = Y.shape[0]
    if Y.ndim != 2 or tuple(P.shape) != (N, N):
        raise ValueError(f"kl_divergence: P must be (N, N) for Y of shape (N, n_components), "
                         f"got P {tuple(P.shape)} and Y {tuple(Y.shape)}")
    p = P.data
    # sum p log p (minus P's entropy), a constant: 0 log 0 = 0, so log(1) stands in at p = 0
    negative_entropy = float((p * xp_of(p).log(p + (p == 0))).sum())
    return _kl_without_constant(P, Y) + negative_entropy


def _map_squared_distances(Y):
    """(N, N) Tensor of |y_i - y_j|², one broadcast difference per map axis.

    With 2 columns, ``Y @ Y.T`` is a matrix product of inner size 2, slower here than
    the elementwise form, which also cannot round to a small negative distance.
    """
    d = 0
    for axis in range(Y.shape[1]):
        column = Y[:, axis:axis + 1]
        difference = column - column.T
        d = d + difference * difference
    return d


def _kl_without_constant(P, Y):
    """``sum p log(1 + d) + log Z``: the part of KL(P || Q) that depends on Y."""
    one_plus_d = _map_squared_distances(Y) + 1
    Z = (1 / one_plus_d).sum() - Y.shape[0]    # the diagonal contributes N ones
    return (P * one_plus_d.log()).sum() + Z.log()


def kl_gradient(P, Y):
    """The closed-form gradient ``4 sum_j (p_ij - q_ij)(y_i - y_j) / (1 + d_ij)``, NumPy arrays.

    Kept for tests and teaching: the optimiser uses autograd on :func:`kl_divergence`.
    """
    P, Y = np.asarray(P), np.asarray(Y)
    inverse = 1 / (1 + squared_distances(Y))
    np.fill_diagonal(inverse, 0)
    Q = inverse / inverse.sum()
    weights = (P - Q) * inverse                                         # (N, N)
    return 4 * (weights.sum(axis=1)[:, None] * Y - weights @ Y)


class TSNE:
    """t-SNE on the engine, with scikit-learn's names and van der Maaten & Hinton's optimiser.

    Parameters
    ----------
    n_components : int, default 2
    perplexity : float, default 30.0
    early_exaggeration : float, default 12.0
    learning_rate : float or 'auto', default 'auto'
        'auto' is scikit-learn's ``max(N / early_exaggeration / 4, 50)``: a step that grows
        with the number of points, since each point's gradient shrinks like 1/N.
    max_iter : int, default 1000
    exaggeration_iter : int, default 250
        Iterations with exaggerated P and the initial momentum.
    momentum : (float, float), default (0.5, 0.8)
        Momentum during and after early exaggeration.
    min_gain : float, default 0.01
    random_state : int or None
    dtype : default mg.float32
        Precision of the map (float32 halves the memory traffic of the (N, N) work).
    device : str, default 'cpu'

    Attributes
    ----------
    embedding_ : ndarray, shape (N, n_components)
    kl_divergence_ : float, the final KL(P || Q)
    n_iter_ : int

    Examples
    --------
    >>> X = np.concatenate([np.zeros((10, 3)), np.ones((10, 3)) * 5])
    >>> X += np.random.default_rng(0).normal(size=X.shape) * 0.1
    >>> Y = TSNE(perplexity=5, max_iter=300, random_state=0).fit_transform(X)
    >>> Y.shape, bool(np.linalg.norm(Y[:10].mean(0) - Y[10:].mean(0)) > Y[:10].std())
    ((20, 2), True)
    """

    def __init__(self, n_components=2, perplexity=30.0, early_exaggeration=12.0,
                 learning_rate="auto", max_iter=1000, exaggeration_iter=250,
                 momentum=(0.5, 0.8), min_gain=0.01, random_state=None, dtype=mg.float32,
                 device="cpu"):
        self.n_components = check_int("TSNE", "n_components", n_components, low=1)
        self.perplexity = check_number("TSNE", "perplexity", perplexity, low=1.0)
        self.early_exaggeration = check_number("TSNE", "early_exaggeration",
                                               early_exaggeration, low=1.0)
        if learning_rate != "auto":
            check_number("TSNE", "learning_rate", learning_rate, low=0, low_open=True)
        self.learning_rate = learning_rate
        self.max_iter = check_int("TSNE", "max_iter", max_iter, low=1)
        self.exaggeration_iter = check_int("TSNE", "exaggeration_iter", exaggeration_iter, low=0)
        self.momentum = tuple(momentum)
        self.min_gain = check_number("TSNE", "min_gain", min_gain, low=0)
        self.random_state = random_state
        self.dtype = dtype
        self.device = device

    def fit_transform(self, X, callback=None):
        """Embed the rows of ``X`` (N, F); returns ``embedding_`` (N, n_components).

        ``callback(iteration, objective)`` is called after every iteration (e.g. to move a
        progress bar): the objective is KL(P || Q) after early exaggeration, and the
        exaggerated objective (without its constant) during it.
        """
        P = joint_probabilities(X, self.perplexity)
        N = len(P)
        learning_rate = (max(N / self.early_exaggeration / 4, 50)
                         if self.learning_rate == "auto" else self.learning_rate)
        rng = np.random.default_rng(self.random_state)
        Y = mg.tensor(rng.normal(scale=1e-4, size=(N, self.n_components)), dtype=self.dtype,
                      device=self.device, requires_grad=True)
        P_exaggerated = mg.tensor(P * self.early_exaggeration, dtype=self.dtype,
                                  device=self.device)
        P_plain = mg.tensor(P, dtype=self.dtype, device=self.device)
        step = np.zeros_like(Y.data)
        gains = np.ones_like(Y.data)
        negative_entropy = float((P[P > 0] * np.log(P[P > 0])).sum())
        for iteration in range(self.max_iter):
            early = iteration < self.exaggeration_iter
            Y.grad = None
            loss = _kl_without_constant(P_exaggerated if early else P_plain, Y)
            loss.backward()
            grad = Y.grad.data
            # Gains grow where the gradient points against the last step (keep going) and
            # shrink where they agree (we are oscillating); van der Maaten's rule.
            agree = (grad > 0) == (step > 0)
            gains = np.maximum(np.where(agree, gains * 0.8, gains + 0.2), self.min_gain)
            step = self.momentum[0 if early else 1] * step - learning_rate * gains * grad
            Y.data += step
            Y.data -= Y.data.mean(axis=0)
            if callback is not None:
                callback(iteration, loss.item() + (0.0 if early else negative_entropy))
        with mg.no_grad():
            self.kl_divergence_ = kl_divergence(P_plain, Y).item()
        self.embedding_ = Y.numpy()
        self.n_iter_ = self.max_iter
        return self.embedding_
