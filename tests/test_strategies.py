"""The strategies of the strategies package keep their promises: bounds, margins, ties, legal geometry."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import references as R
import strategies as S


def _gaps(x):
    return np.diff(np.sort(np.ravel(x)))


@given(st.data(), st.integers(0, 3), st.integers(0, 2), st.integers(1, 3), st.integers(0, 3))
def test_shapes_respect_their_bounds(data, min_dims, more_dims, min_side, more_side):
    shape = data.draw(S.shapes(min_dims, min_dims + more_dims, min_side, min_side + more_side))
    assert min_dims <= len(shape) <= min_dims + more_dims
    assert all(min_side <= n <= min_side + more_side for n in shape)


@given(S.broadcastable_pair())
def test_broadcastable_pairs_broadcast(pair):
    a, b = pair
    out = np.broadcast_shapes(a, b)
    assert np.broadcast_to(np.zeros(a), out).shape == np.broadcast_to(np.zeros(b), out).shape


@given(st.data(), S.shapes(max_dims=3), st.floats(-5, 5), st.floats(0.5, 5),
       st.lists(st.floats(-5, 5), max_size=3))
def test_values_stay_in_range_and_off_the_avoided_points(data, shape, low, width, avoid):
    margin = 0.1
    x = data.draw(S.values(shape, low=low, high=low + width, avoid=avoid, margin=margin))
    assert x.shape == shape and x.dtype == np.float64
    assert (x >= low).all() and (x <= low + width).all()
    for point in avoid:
        # only a range wholly inside the avoided band can leave nowhere else to go
        if not (point - margin <= low and low + width <= point + margin):
            assert (np.abs(x - point) >= margin - 1e-12).all()


@given(st.data(), S.shapes(max_dims=3, max_side=4), st.sampled_from([0.01, 0.1, 0.2]),
       st.lists(st.sampled_from([-1.0, 0.0, 1.5]), max_size=2, unique=True))
def test_distinct_values_keep_their_margin(data, shape, margin, avoid):
    x = data.draw(S.values(shape, distinct=True, margin=margin, avoid=avoid))
    assert (_gaps(x) >= margin - 1e-12).all()
    assert (x >= -3).all() and (x <= 3).all()
    for point in avoid:
        assert (np.abs(x - point) >= margin - 1e-12).all()


@given(st.data())
def test_distinct_values_that_cannot_fit_raise_a_clear_error(data):
    with pytest.raises(ValueError, match=r"values: 100 distinct values 0.1 apart need a range "
                                         r"of 9.9.*leaves 6"):
        data.draw(S.values((10, 10), distinct=True))


@given(st.data(), S.shapes(min_dims=1, max_dims=3), st.integers(1, 4))
def test_tied_values_repeat_a_few_levels(data, shape, levels):
    x = data.draw(S.tied_values(shape, levels=levels))
    assert x.shape == shape and len(np.unique(x)) <= levels
    if x.size > levels:
        assert len(np.unique(x)) < x.size  # pigeonholes: some value repeats


@given(st.data(), S.shapes())
def test_axes_are_valid_for_numpy(data, shape):
    axis = data.draw(S.axes_for(len(shape)))
    np.sum(np.zeros(shape), axis=axis)  # raises on a bad or repeated axis
    if isinstance(axis, tuple):
        assert len(set(axis)) == len(axis)


@given(st.data(), S.shapes(min_dims=1, max_dims=3))
def test_index_keys_are_valid_for_numpy(data, shape):
    key = data.draw(S.index_keys(shape))
    np.arange(int(np.prod(shape))).reshape(shape)[key]  # raises on an invalid key


@given(S.matmul_shapes())
def test_matmul_shapes_multiply(pair):
    np.matmul(np.zeros(pair[0]), np.zeros(pair[1]))


@given(S.conv_geometry(), S.conv_geometry(transposed=True))
def test_conv_geometry_draws_legal_set_ups(plain, transposed):
    for g in (plain, transposed):
        assert g["OH"] >= 1 and g["OW"] >= 1 and g["C"] % g["G"] == 0 and g["K"] % g["G"] == 0
    assert plain["OPH"] == plain["OPW"] == 0
    assert plain["DH"] * (plain["KH"] - 1) + 1 <= plain["H"] + 2 * plain["PH"]
    assert transposed["OPH"] < max(transposed["SH"], transposed["DH"])
    assert transposed["OPW"] < max(transposed["SW"], transposed["DW"])


@given(st.data(), st.booleans())
def test_conv_problems_have_the_geometry_shapes(data, transposed):
    g, x, w, b = data.draw(S.conv_problems(transposed))
    assert x.shape == (g["N"], g["C"], g["H"], g["W"])
    reference = R.conv_transpose2d if transposed else R.conv2d
    assert reference(x, w, b, **S.conv_keywords(g, transposed)).shape == (
        g["N"], g["K"], g["OH"], g["OW"])


@given(S.pool_geometry(dilation=True, ceil_mode=True))
def test_pool_geometry_windows_all_touch_the_input(g):
    for L, K, St, P, D in ((g["H"], g["KH"], g["SH"], g["PH"], g["DH"]),
                           (g["W"], g["KW"], g["SW"], g["PW"], g["DW"])):
        count = R.pooled_length(L, K, St, P, D, g["ceil_mode"])
        assert count >= 1 and P <= K // 2
        assert all(any(0 <= o * St - P + k * D < L for k in range(K)) for o in range(count))


@given(S.binary_inputs(distinct=True), S.binary_inputs(tied=True))
def test_binary_inputs_are_distinct_or_tied_across_both_arrays(distinct, tied):
    (a, b), _ = distinct
    assert (_gaps(np.concatenate([a.ravel(), b.ravel()])) >= 0.01 - 1e-12).all()
    (a, b), _ = tied
    assert len(np.unique(np.concatenate([a.ravel(), b.ravel()]))) <= 3


@given(S.class_target_inputs(smoothing=True))
def test_class_targets_are_classes_or_the_ignore_index(inputs):
    (x,), params = inputs
    N, C = x.shape
    target, ignored = params["target"], params.get("ignore_index")
    assert target.shape == (N,) and target[0] != ignored and 0 <= target[0] < C
    assert all(0 <= t < C or t == ignored for t in target)
    assert 0 <= params.get("label_smoothing", 0) < 1
    assert params["reduction"] in ("none", "mean", "sum")


@given(S.bce_inputs(), S.bce_inputs(smallest=1e-6, differentiate_p=False))
def test_bce_probabilities_reach_near_the_ends_but_not_past(both, target_only):
    (p, t), _ = both
    assert (p >= 1e-4 * (1 - 1e-9)).all() and (p <= 1 - 1e-4 * (1 - 1e-9)).all()
    assert ((t >= 0) & (t <= 1)).all()
    p = target_only[1]["p"]
    assert (p >= 1e-6 * (1 - 1e-9)).all() and (1 - p >= 1e-6 * (1 - 1e-9)).all()


@given(st.data())
def test_bce_probabilities_put_mass_near_the_ends(data):
    p = data.draw(S.probabilities((2000,), 1e-6))
    # logits uniform in [-13.8, 13.8]: half of p lies within 1e-3 of 0 or 1 (|logit| > 6.9)
    assert 0.4 < np.mean(np.minimum(p, 1 - p) < 1e-3) < 0.6


@given(S.unpool_inputs())
def test_unpool_indices_fall_inside_the_output_plane(inputs):
    (x,), params = inputs
    H, W = params["output_size"]
    assert params["indices"].shape == x.shape
    assert ((params["indices"] >= 0) & (params["indices"] < H * W)).all()
