"""Window geometry shared by the ops, the layers and both kernel modules: output sizes (plain Python, no Numba, so that checking a shape never imports a compiler)."""
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
