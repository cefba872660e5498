"""Output-size arithmetic shared by the ops and both kernel modules (plain Python, no Numba,
so that computing a shape never imports a compiler)."""


def pooled_size(H, K, S, P, D, ceil_mode):
    """Output length of a pooling along one axis, PyTorch's formula.

    ``OH = floor((H + 2*P - D*(K - 1) - 1) / S) + 1`` (ceil instead of floor with ``ceil_mode``).
    In ceil mode the last window must still start inside the input or its left padding.
    """
    span = H + 2 * P - D * (K - 1) - 1
    OH = (span + (S - 1 if ceil_mode else 0)) // S + 1
    if ceil_mode and (OH - 1) * S >= H + P:
        OH -= 1
    return OH
