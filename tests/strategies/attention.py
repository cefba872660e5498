"""Strategies for attention: scaled dot-product attention with every option, and the inputs of
multi-head attention (small shapes, so that gradgradcheck stays quick).

Notation
--------
B     leading batch axes (zero, one or two of them)
L S   query and key lengths; E query/key width, Ev value width
"""
import numpy as np
from hypothesis import strategies as st

from .values import values


@st.composite
def attention_mask(draw, L, S, fully_masked_row):
    """None, a boolean mask (True = attend) or an additive float mask with some -inf entries;
    with ``fully_masked_row`` the last query row loses every key."""
    kind = draw(st.sampled_from(["none", "bool", "float"] if not fully_masked_row
                                else ["bool", "float"]))
    if kind == "none":
        return None
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    keep = rng.random((L, S)) < 0.7
    keep[:, 0] = True
    if fully_masked_row:
        keep[-1] = False
    if kind == "bool":
        return keep
    return np.where(keep, rng.normal(size=(L, S)), -np.inf)


@st.composite
def sdpa_inputs(draw, fully_masked_row=None):
    """(query (B, L, E), key (B, S, E), value (B, S, Ev)) and the options attn_mask, is_causal,
    scale and dropout_p (dropout is made deterministic by the spec, which seeds it)."""
    batch = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    L, S, E, Ev = (draw(st.integers(1, 3)) for _ in range(4))
    if fully_masked_row is None:
        fully_masked_row = draw(st.booleans())
    mask = draw(attention_mask(L, S, fully_masked_row))
    params = {"attn_mask": mask,
              "is_causal": draw(st.booleans()) and L <= S,
              "scale": draw(st.sampled_from([None, 0.5, 2.0])),
              "dropout_p": draw(st.sampled_from([0.0, 0.0, 0.3]))}
    arrays = (draw(values(batch + (L, E))), draw(values(batch + (S, E), salt=1)),
              draw(values(batch + (S, Ev), salt=2)))
    return arrays, params


@st.composite
def mha_inputs(draw):
    """Unbatched or batched (T, N, E) query/key/value with E = 2 or 4 split over 1 or 2 heads,
    separate key/value widths, the projection weights and biases, and the mask options."""
    H = draw(st.integers(1, 2))
    E = H * draw(st.integers(1, 2))
    kdim, vdim = draw(st.sampled_from([(E, E), (E + 1, 2)]))
    N = draw(st.sampled_from([None, 1, 2]))
    L, S = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    lead = (lambda T: (T,)) if N is None else (lambda T: (T, N))
    arrays = [draw(values(lead(L) + (E,))), draw(values(lead(S) + (kdim,), salt=1)),
              draw(values(lead(S) + (vdim,), salt=2))]
    if (kdim, vdim) == (E, E):
        arrays.append(draw(values((3 * E, E), low=-1, high=1, salt=3)))
    else:
        arrays += [draw(values((E, E), low=-1, high=1, salt=4)),
                   draw(values((E, kdim), low=-1, high=1, salt=5)),
                   draw(values((E, vdim), low=-1, high=1, salt=6))]
    arrays += [draw(values((3 * E,), low=-1, high=1, salt=7)),
               draw(values((E, E), low=-1, high=1, salt=8)),
               draw(values((E,), low=-1, high=1, salt=9))]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    blocked = rng.random((L, S)) < 0.3
    blocked[:, 0] = False
    padding = None if N is None else rng.random((N, S)) < 0.3
    params = {"num_heads": H,
              "attn_mask": draw(st.sampled_from([None, blocked, np.where(blocked, -np.inf,
                                                                        rng.normal(size=(L, S)))])),
              "key_padding_mask": draw(st.sampled_from([None, padding])),
              "need_weights": draw(st.booleans()),
              "average_attn_weights": draw(st.booleans())}
    return tuple(arrays), params
