"""Embedding: a learned lookup table from integer ids to vectors.

``Embedding(V, E)(ids)`` is ``weight[ids]``, the same as multiplying a one-hot encoding of the
ids by ``weight`` but without building the one-hot matrix. Its gradient adds each output row's
gradient into the row it was read from.

Notation
--------
V      num_embeddings, the vocabulary size
E      embedding_dim
*      the shape of the index tensor
"""
import numpy as np

import minigrad as mg
import minigrad.functional as F
from . import init
from .linear import new_parameter
from minigrad.checks import check_int
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """A table of V learned vectors of size E, looked up by integer index.

    Parameters
    ----------
    num_embeddings : int
        V.
    embedding_dim : int
        E.
    padding_idx : int, optional
        A row (negative counts from the end) that is initialised to zeros and receives no
        gradient from lookups, e.g. for the padding token of a batch of sentences.
    device, dtype : optional

    Attributes
    ----------
    weight : Parameter, shape (V, E)
        Initialised N(0, 1), as in PyTorch.

    Shape
    -----
    indices : Tensor or array of int, shape (*), values in [0, V)
    returns : Tensor, shape (*, E)

    Examples
    --------
    >>> import minigrad as mg
    >>> emb = Embedding(10, 3, padding_idx=0)
    >>> emb(mg.tensor([[0, 2], [4, 0]])).shape
    (2, 2, 3)
    >>> emb.weight[0].tolist()
    [0.0, 0.0, 0.0]
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, *, device=None,
                 dtype=None):
        super().__init__()
        self.num_embeddings = check_int("Embedding", "num_embeddings", num_embeddings, 1)
        self.embedding_dim = check_int("Embedding", "embedding_dim", embedding_dim, 1)
        self.padding_idx = self._normalized_padding(padding_idx, self.num_embeddings)
        self.weight = new_parameter((self.num_embeddings, self.embedding_dim), device, dtype)
        self.reset_parameters()

    @staticmethod
    def _normalized_padding(padding_idx, V):
        if padding_idx is None:
            return None
        if not isinstance(padding_idx, (int, np.integer)) or not -V <= padding_idx < V:
            raise ValueError(f"Embedding: padding_idx must be an int in [-{V}, {V}), got "
                             f"{padding_idx!r}")
        return int(padding_idx) % V

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with mg.no_grad():
                self.weight[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        """An Embedding whose table is ``embeddings`` (shared, not copied).

        Parameters
        ----------
        embeddings : Tensor or array, shape (V, E)
        freeze : bool
            Keep the table fixed (``weight.requires_grad = False``).
        padding_idx : int, optional
            As in the constructor; the given row is left as it is.
        """
        shape = tuple(getattr(embeddings, "shape", ()))
        if len(shape) != 2:
            raise ValueError(f"Embedding.from_pretrained: expected embeddings of shape (V, E), "
                             f"got shape {shape}")
        layer = cls(shape[0], shape[1], padding_idx)
        layer.weight = Parameter(embeddings, requires_grad=not freeze)
        return layer

    def forward(self, indices):
        # The padding rows of the output take the table's value but pass no gradient back.
        return F.embedding(indices, self.weight, padding_idx=self.padding_idx)

    def extra_repr(self):
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text
