"""Spectral normalisation: divide a layer's weight by its largest singular value.

A layer ``y = W x`` stretches no input by more than sigma(W), the spectral norm of W (its
largest singular value). Using ``W / sigma(W)`` instead makes each such layer 1-Lipschitz,
which keeps a GAN's discriminator from growing arbitrarily steep (Miyato et al., 2018).

sigma(W) is estimated cheaply by power iteration. Two unit vectors are kept between steps,
``u`` of length H and ``v`` of length W_cols; one step is

    v <- normalize(Wᵀ u),    u <- normalize(W v),    sigma = uᵀ W v,

and because W changes only a little per optimiser step, one iteration per forward pass is
enough to track the top singular pair. ``u`` and ``v`` are treated as constants when
differentiating (they are buffers), so the gradient flows through ``W`` in both the numerator
and ``sigma``.

Mechanics, as in PyTorch: the learnt tensor moves to the parameter ``<name>_orig``; ``u`` and
``v`` are the buffers ``<name>_u`` and ``<name>_v``; a forward pre-hook recomputes the plain
attribute ``<name> = <name>_orig / sigma`` before every forward, doing the power iteration only
in training mode.

Notation
--------
W       the weight reshaped to a matrix of shape (H, W_cols): the axis ``dim`` first, the
        others flattened
u, v    unit vectors of lengths H and W_cols, the current estimate of the top singular pair
sigma   the spectral-norm estimate uᵀ W v
"""
import minigrad as mg
from minigrad.checks import check_int, check_number


def _normalize(x, eps):
    """``x / max(||x||, eps)`` for a 1-D Tensor (``torch.nn.functional.normalize``)."""
    norm = float((x * x).sum().sqrt().item())
    return x / max(norm, eps)


class SpectralNorm:
    """The forward pre-hook that :func:`spectral_norm` installs; it holds the settings."""

    def __init__(self, name, n_power_iterations, dim, eps):
        self.name = name
        self.n_power_iterations = n_power_iterations
        self.dim = dim
        self.eps = eps

    def reshape_weight_to_matrix(self, weight):
        """The weight as a matrix of shape (H, W_cols), the axis ``dim`` first."""
        if self.dim != 0:
            others = [d for d in range(weight.ndim) if d != self.dim]
            weight = weight.permute(self.dim, *others)
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module, do_power_iteration):
        """``<name>_orig / sigma``; with ``do_power_iteration``, first update ``u`` and ``v``."""
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        weight_mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            with mg.no_grad():
                for _ in range(self.n_power_iterations):
                    v = _normalize(weight_mat.T @ u, self.eps)
                    u = _normalize(weight_mat @ v, self.eps)
            setattr(module, self.name + "_u", u.detach())
            setattr(module, self.name + "_v", v.detach())
        # u and v are constants here, so d(sigma)/dW = u vᵀ: the gradient that pushes the top
        # singular value down by as much as the plain weight's gradient pushes it up.
        sigma = (u * (weight_mat @ v)).sum()
        return weight / sigma

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, module.training))


def _find_hook(module, name):
    """The (key, SpectralNorm) installed on ``module`` for ``name``, or (None, None)."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, SpectralNorm) and hook.name == name:
            return (key, hook)
    return (None, None)


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Reparameterise ``module.<name>`` as ``<name>_orig / sigma(<name>_orig)``.

    Parameters
    ----------
    module : Module
        The layer to wrap, e.g. a ``Linear`` or ``Conv2d``; it is changed in place.
    name : str, default 'weight'
        The parameter to normalise.
    n_power_iterations : int, default 1
        Power-iteration steps per training forward pass (0 keeps ``u`` and ``v`` fixed).
    eps : float, default 1e-12
        Floor of the norms divided by in the power iteration.
    dim : int or None, default None
        The axis that becomes the matrix's rows; None means 0, or 1 for ``ConvTranspose2d``
        (whose weight is laid out (C_in, C_out, KH, KW)).

    Returns
    -------
    Module
        ``module`` itself, with the parameter ``<name>_orig``, the buffers ``<name>_u`` of
        shape (H,) and ``<name>_v`` of shape (W_cols,), and the pre-hook.

    Examples
    --------
    >>> import minigrad as mg
    >>> from layers import Linear
    >>> layer = spectral_norm(Linear(20, 40))
    >>> sorted(name for name, _ in layer.named_parameters())
    ['bias', 'weight_orig']
    >>> layer.weight_u.shape, layer.weight_v.shape
    ((40,), (20,))
    """
    from layers import ConvTranspose2d, Module
    if not isinstance(module, Module):
        raise TypeError(f"spectral_norm: module must be a Module, got {type(module).__name__}")
    n_power_iterations = check_int("spectral_norm", "n_power_iterations", n_power_iterations, 0)
    eps = check_number("spectral_norm", "eps", eps, low=0, low_open=True)
    if _find_hook(module, name)[1] is not None:
        raise RuntimeError(f"spectral_norm: {type(module).__name__}.{name} is already "
                           "spectrally normalised")
    weight = module._parameters.get(name)
    if weight is None:
        present = sorted(k for k, p in module._parameters.items() if p is not None)
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter {name!r} "
                         f"(its parameters: {present})")
    if dim is None:
        dim = 1 if isinstance(module, ConvTranspose2d) else 0
    dim = check_int("spectral_norm", "dim", dim)
    if not -weight.ndim <= dim < weight.ndim:
        raise ValueError(f"spectral_norm: dim must be in [{-weight.ndim}, {weight.ndim}) for "
                         f"{name} of shape {tuple(weight.shape)}, got {dim}")
    fn = SpectralNorm(name, n_power_iterations, dim % weight.ndim, eps)
    with mg.no_grad():
        H, W_cols = fn.reshape_weight_to_matrix(weight).shape
        u = _normalize(mg.randn(H, dtype=weight.dtype, device=weight.device), eps)
        v = _normalize(mg.randn(W_cols, dtype=weight.dtype, device=weight.device), eps)
    delattr(module, name)
    module.register_parameter(name + "_orig", weight)
    object.__setattr__(module, name, weight.detach())
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo :func:`spectral_norm`: ``<name>`` becomes a plain parameter again, holding the
    normalised weight computed with the current ``u`` and ``v``; returns ``module``."""
    from layers import Parameter
    key, fn = _find_hook(module, name)
    if fn is None:
        raise ValueError(f"remove_spectral_norm: spectral_norm of {name!r} not found in "
                         f"{type(module).__name__}")
    with mg.no_grad():
        weight = fn.compute_weight(module, do_power_iteration=False)
    del module._forward_pre_hooks[key]
    for suffix in ("", "_u", "_v", "_orig"):
        delattr(module, name + suffix)
    module.register_parameter(name, Parameter(weight.detach()))
    return module
