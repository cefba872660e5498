"""A multilayer perceptron: Linear layers with an activation (and optional dropout) between.

    x ─ Linear(D_in, H_1) ─ act ─ [Dropout] ─ … ─ Linear(H_L, D_out) ─ logits

No activation follows the last layer: the model returns raw scores (logits), ready for
``F.cross_entropy`` or ``F.mse_loss``.

Notation
--------
N        batch size
D_in     input features (the product of the trailing input dimensions)
H_i      width of hidden layer i, i = 1 .. L
D_out    output features, e.g. the number of classes
"""
import numbers

from layers import (ELU, GELU, Dropout, LeakyReLU, Linear, Module, ReLU, Sequential, Sigmoid,
                    Tanh)

_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid,
                "gelu": GELU, "elu": ELU, "leaky_relu": LeakyReLU}


def _activation_factory(activation):
    """A zero-argument callable that builds a fresh activation Module for each hidden layer."""
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; expected one of "
                             f"{sorted(_ACTIVATIONS)} or a Module class")
        return _ACTIVATIONS[activation]
    if callable(activation):
        return activation
    raise TypeError(f"MLP: activation must be a name or a Module class, got "
                    f"{type(activation).__name__}")


class MLP(Module):
    """Fully connected network ``D_in -> H_1 -> … -> H_L -> D_out``.

    Parameters
    ----------
    in_features : int
        D_in, the number of input features.
    hidden_sizes : sequence of int
        H_1 .. H_L, the widths of the hidden layers; empty gives a single Linear layer
        (logistic or linear regression).
    out_features : int
        D_out.
    activation : str or callable, default 'relu'
        One of 'relu', 'tanh', 'sigmoid', 'gelu', 'elu', 'leaky_relu', or a Module class
        (any callable returning a Module, e.g. ``layers.Tanh``), applied after every hidden layer.
    dropout : float, default 0.0
        Dropout probability after each hidden activation; 0 adds no Dropout layer.

    Attributes
    ----------
    net : Sequential
        The layers in order; the Linear layers sit at ``net[0], net[2], …`` (or every third
        position with dropout).

    Notes
    -----
    The number of parameters is ``Σ_i (S_i * S_{i+1} + S_{i+1})`` over the consecutive sizes
    ``S = (D_in, H_1, …, H_L, D_out)``: a weight matrix and a bias per layer.

    Examples
    --------
    >>> import minigrad as mg
    >>> model = MLP(4, [8, 8], 3)
    >>> model(mg.randn(5, 4)).shape
    (5, 3)
    >>> sum(p.numel() for p in model.parameters())
    139
    """

    def __init__(self, in_features, hidden_sizes, out_features, activation="relu",
                 dropout=0.0):
        super().__init__()
        sizes = [in_features, *hidden_sizes, out_features]
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
                raise ValueError(f"MLP: layer sizes must be positive ints, got {sizes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must lie in [0, 1), got {dropout!r}")
        make_activation = _activation_factory(activation)
        modules = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            modules.append(Linear(fan_in, fan_out))
            if i < len(sizes) - 2:
                modules.append(make_activation())
                if dropout > 0:
                    modules.append(Dropout(dropout))
        self.in_features = in_features
        self.out_features = out_features
        self.net = Sequential(*modules)

    def forward(self, x):
        """Map inputs to logits.

        Parameters
        ----------
        x : Tensor, shape (N, D_in) or (N, *S) with prod(S) == D_in
            Inputs with more than two dimensions (images, say) are flattened after the batch axis.

        Returns
        -------
        Tensor, shape (N, D_out)
        """
        if x.ndim > 2:
            x = x.flatten(1)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"MLP: expected input of shape (N, {self.in_features}) or images "
                             f"with {self.in_features} values each, got {tuple(x.shape)}")
        return self.net(x)
