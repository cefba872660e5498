"""Transforms, warping, mixing, the toy datasets and the fable corpus, value by value: each
random transform against a per-image reference that draws from the same seeded generator in the
documented order, the warps against hand-worked maps, every error message word for word, the
dtypes kept, and ``make_tales`` against the shipped ``tales.txt``."""
import math
import re
import os
import random

import numpy as np
import pytest

import minigrad as mg
from minigrad.data import make_moons, make_spirals
from minigrad.data import make_tales
from minigrad.data import transforms as T
from minigrad.data import warp


def rand(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).random(shape).astype(dtype)


# ---------------------------------------------------------------- RandomErasing

def erasing_boxes_reference(seed, p, scale, ratio, N, H, W):
    """torchvision's search for a box, one image at a time: the first of 10 (area, ratio) draws
    whose rounded sides fit strictly inside the image, kept with probability p."""
    rng = np.random.default_rng(seed)
    area = rng.uniform(scale[0], scale[1], size=(N, 10)) * H * W
    log_ratio = rng.uniform(math.log(ratio[0]), math.log(ratio[1]), size=(N, 10))
    coin, u, v = rng.random(N), None, None
    boxes = []
    hs, ws = [], []
    for n in range(N):
        h = w = 0
        for j in range(10):
            r = math.exp(log_ratio[n, j])
            hj, wj = round(math.sqrt(area[n, j] * r)), round(math.sqrt(area[n, j] / r))
            if 0 < hj < H and 0 < wj < W:
                h, w = hj, wj
                break
        if not coin[n] < p:
            h = w = 0
        hs.append(h)
        ws.append(w)
    u = rng.random(N)
    v = rng.random(N)
    for n in range(N):
        boxes.append((math.floor(u[n] * (H - hs[n] + 1)), math.floor(v[n] * (W - ws[n] + 1)),
                      hs[n], ws[n]))
    return boxes


@pytest.mark.parametrize("p, scale, ratio, H, W", [
    (1.0, (0.02, 0.33), (0.3, 3.3), 10, 12),
    (0.5, (0.01, 0.2), (0.5, 2.0), 5, 5),       # many 1-pixel sides, some images skipped
    (1.0, (0.5, 1.0), (0.3, 3.3), 4, 4),        # many draws as tall or wide as the image
    (1.0, (0.6, 0.9), (0.9, 1.1), 3, 3),        # no draw fits: no box
    (1.0, (0.01, 0.05), (3.0, 10.0), 10, 10),   # thin draws, some of width 0
])
def test_erasing_boxes_match_the_reference_draw_by_draw(p, scale, ratio, H, W):
    N, seed = 60, 11
    erase = T.RandomErasing(p=p, scale=scale, ratio=ratio)
    top, left, h, w = erase.get_boxes(np.random.default_rng(seed), N, H, W)
    for a in (top, left, h, w):
        assert a.shape == (N,) and a.dtype == np.int64
    got = list(zip(top.tolist(), left.tolist(), h.tolist(), w.tolist()))
    assert got == erasing_boxes_reference(seed, p, scale, ratio, N, H, W)


def test_erasing_writes_exactly_the_reference_boxes_and_keeps_the_dtype():
    x = rand((7, 2, 9, 11), seed=1)
    out = T.RandomErasing(p=1.0, value=3, seed=4)(x)        # an int value, a float32 image
    assert out.dtype == np.float32
    expected = x.copy()
    for n, (t, l, h, w) in enumerate(erasing_boxes_reference(4, 1.0, (0.02, 0.33), (0.3, 3.3),
                                                             7, 9, 11)):
        expected[n, :, t:t + h, l:l + w] = 3.0
    np.testing.assert_array_equal(out, expected)


def test_erasing_a_single_image_in_place():
    x = rand((3, 8, 8), seed=2)
    expected = T.RandomErasing(p=1.0, value=-2.0, seed=6)(x)
    assert expected.shape == (3, 8, 8) and (expected == -2.0).any()
    out = T.RandomErasing(p=1.0, value=-2.0, seed=6, inplace=True)(x)
    assert out is x
    np.testing.assert_array_equal(x, expected)


def test_erasing_errors_name_the_transform():
    with pytest.raises(ValueError, match=r"^RandomErasing: expected an image \(C, H, W\) or a "
                                         r"batch \(N, C, H, W\), got shape \(4,\)$"):
        T.RandomErasing()(np.zeros(4))
    with pytest.raises(ValueError, match=r"^RandomErasing: inplace=True needs a writeable "
                                         r"floating NumPy array or CPU Tensor of shape \(C, H, "
                                         r"W\) or \(N, C, H, W\), got ndarray of dtype int64$"):
        T.RandomErasing(inplace=True)(np.zeros((1, 2, 2), np.int64))
    with pytest.raises(ValueError, match=r"^RandomErasing: inplace=True needs .* got list of "
                                         r"dtype None$"):
        T.RandomErasing(inplace=True)([[[0.0]]])


def test_erasing_defaults_and_argument_errors():
    e = T.RandomErasing()
    assert (e.p, e.scale, e.ratio, e.value, e.inplace) == (0.5, (0.02, 0.33), (0.3, 3.3), 0, False)
    assert T.RandomErasing(p=0).p == 0 and T.RandomErasing(p=1).p == 1
    assert T.RandomErasing(scale=(0, 0.5)).scale == (0.0, 0.5)
    for kwargs, message in [
            (dict(p=1.5), "RandomErasing: p must be in [0, 1], got 1.5"),
            (dict(p=-0.1), "RandomErasing: p must be in [0, 1], got -0.1"),
            (dict(scale=(-0.1, 0.2)),
             "RandomErasing: scale range (-0.1, 0.2) must have min <= max and min >= 0"),
            (dict(scale=(0.3, 0.2)),
             "RandomErasing: scale range (0.3, 0.2) must have min <= max and min >= 0"),
            (dict(ratio=(0, 2)),
             "RandomErasing: ratio range (0.0, 2.0) must have min <= max and min >= 1e-12"),
            (dict(ratio=(3, 2)),
             "RandomErasing: ratio range (3.0, 2.0) must have min <= max and min >= 1e-12")]:
        with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
            T.RandomErasing(**kwargs)
    with pytest.raises(ValueError, match=r"^RandomErasing: give generator= or seed=, not both$"):
        T.RandomErasing(generator=np.random.default_rng(0), seed=1)


# ---------------------------------------------------------------- _in_place, Normalize

def test_inplace_bumps_a_tensors_version_by_one():
    t = mg.tensor(np.ones((1, 2, 2), np.float32))
    t._version = 5
    T.Normalize([1.0], [2.0], inplace=True)(t)
    assert t._version == 6
    np.testing.assert_array_equal(t.numpy(), np.zeros((1, 2, 2), np.float32))


def test_normalize_keeps_float32_and_names_itself_in_errors():
    x = rand((2, 2, 3, 3), seed=7)
    out = T.Normalize([0.5, 0.25], [2.0, 0.5])(x)
    assert out.dtype == np.float32
    mean, std = np.array([0.5, 0.25])[:, None, None], np.array([2.0, 0.5])[:, None, None]
    np.testing.assert_allclose(out, (x - mean) / std, rtol=1e-6)
    ints = T.Normalize([1.0], [2.0])(np.array([[[0, 3]]], np.uint8))
    assert ints.dtype == np.float32
    np.testing.assert_array_equal(ints, [[[-0.5, 1.0]]])
    with pytest.raises(ValueError, match=r"^Normalize: expected an image \(C, H, W\) or a batch "
                                         r"\(N, C, H, W\), got shape \(2, 2\)$"):
        T.Normalize([0.0], [1.0])(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"^Normalize: inplace=True needs a writeable floating "
                                         r"NumPy array or CPU Tensor of shape \(C, H, W\) or "
                                         r"\(N, C, H, W\), got ndarray of dtype uint8$"):
        T.Normalize([0.0], [1.0], inplace=True)(np.zeros((1, 2, 2), np.uint8))


# ---------------------------------------------------------------- ColorJitter

def jitter_reference(x, seed, brightness, contrast):
    rng = np.random.default_rng(seed)
    N = x.shape[0]
    b = rng.uniform(*brightness, size=N)
    c = rng.uniform(*contrast, size=N)
    first = rng.random(N) < 0.5
    out = np.empty_like(x, dtype=np.float64)
    for n in range(N):
        im = x[n].astype(np.float64)

        def bright(a):
            return np.clip(a * b[n], 0, 1)

        def contr(a):
            return np.clip((a - a.mean()) * c[n] + a.mean(), 0, 1)
        out[n] = contr(bright(im)) if first[n] else bright(contr(im))
    return out


def test_color_jitter_against_the_per_image_reference():
    x = rand((12, 1, 5, 5), seed=3) * 1.6 - 0.3                 # some below 0, some above 1
    out = T.ColorJitter(brightness=0.6, contrast=(0.2, 2.5), seed=8)(x)
    assert out.dtype == np.float32 and out.min() == 0.0 and out.max() == 1.0
    np.testing.assert_allclose(out, jitter_reference(x, 8, (0.4, 1.6), (0.2, 2.5)), rtol=1e-6,
                               atol=1e-6)
    g = T.ColorJitter(brightness=0.6, contrast=(0.2, 2.5), generator=np.random.default_rng(8))
    np.testing.assert_array_equal(g(x), out)


def test_color_jitter_clips_below_zero_in_each_step():
    x = np.array([[[[-0.5, 0.5]]]], np.float32)
    np.testing.assert_array_equal(T.ColorJitter(brightness=(2.0, 2.0))(x), [[[[0.0, 1.0]]]])
    x = np.array([[[[0.1, 0.5, 0.9]]]], np.float32)               # mean 0.5, contrast 3
    np.testing.assert_allclose(T.ColorJitter(contrast=(3.0, 3.0))(x), [[[[0.0, 0.5, 1.0]]]])


def test_color_jitter_ranges_and_their_errors():
    j = T.ColorJitter(brightness=0.5, contrast=2)
    assert j.brightness == (0.5, 1.5) and j.contrast == (0.0, 3.0)
    j = T.ColorJitter(brightness=3, contrast=(0.25, 4))
    assert j.brightness == (0.0, 4.0) and j.contrast == (0.25, 4.0)
    with pytest.raises(ValueError, match=r"^ColorJitter: brightness must be non-negative, got -1$"):
        T.ColorJitter(brightness=-1)
    with pytest.raises(ValueError, match=r"^ColorJitter: contrast must be non-negative, got -2$"):
        T.ColorJitter(contrast=-2)
    with pytest.raises(ValueError, match=r"^ColorJitter: expected an image"):
        T.ColorJitter(0.1)(np.zeros((2, 2)))


# ---------------------------------------------------------------- GaussianBlur

def blur_reference(x, sigmas, kh, kw):
    """A direct 2-d weighted sum over a reflected border, one image at a time."""
    out = np.empty(x.shape)
    for n in range(x.shape[0]):
        ky = np.exp(-0.5 * ((np.arange(kh) - kh // 2) / sigmas[n]) ** 2)
        kx = np.exp(-0.5 * ((np.arange(kw) - kw // 2) / sigmas[n]) ** 2)
        k2 = np.outer(ky, kx) / np.outer(ky, kx).sum()
        padded = np.pad(x[n], ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)), mode="reflect")
        H, W = x.shape[2:]
        out[n] = sum(k2[i, j] * padded[:, i:i + H, j:j + W] for i in range(kh)
                     for j in range(kw))
    return out


def test_gaussian_blur_per_image_sigma_against_a_direct_sum():
    x = rand((4, 1, 7, 9), seed=5)
    out = T.GaussianBlur((3, 5), sigma=(0.3, 3.0), seed=2)(x)
    assert out.dtype == np.float32
    sigmas = np.random.default_rng(2).uniform(0.3, 3.0, size=4)
    np.testing.assert_allclose(out, blur_reference(x, sigmas, 3, 5), rtol=1e-5, atol=1e-6)
    one = T.GaussianBlur(5, sigma=0.7)(x[0])
    assert one.shape == (1, 7, 9)
    np.testing.assert_allclose(one, blur_reference(x[:1], [0.7], 5, 5)[0], rtol=1e-5, atol=1e-6)


def test_gaussian_kernel_weights():
    k = T.gaussian_kernel1d(5, np.array([0.5, 2.0]))
    for row, s in zip(k, (0.5, 2.0)):
        e = np.exp(-np.arange(-2, 3) ** 2 / (2 * s * s))
        np.testing.assert_allclose(row, e / e.sum(), rtol=1e-12)


def test_gaussian_blur_errors():
    for sigma in (0, 0.0, (0, 1.0), (-1.0, 2.0), (2.0, 1.0)):
        with pytest.raises(ValueError, match=r"^GaussianBlur: sigma must be positive, min <= "
                                             r"max, got "):
            T.GaussianBlur(3, sigma=sigma)
    with pytest.raises(ValueError, match=r"^GaussianBlur: kernel size 5 needs images wider than "
                                         r"2 pixels, got 2$"):
        T.GaussianBlur(5, sigma=1.0)(np.zeros((1, 1, 9, 2)))
    with pytest.raises(ValueError, match=r"^GaussianBlur: kernel size 5 needs images wider than "
                                         r"2 pixels, got 1$"):
        T.GaussianBlur((5, 1), sigma=1.0)(np.zeros((1, 1, 1, 9)))
    with pytest.raises(ValueError, match=r"^GaussianBlur: expected an image"):
        T.GaussianBlur(3)(np.zeros(3))


# ---------------------------------------------------------------- ToTensor

def test_to_tensor_of_a_grey_image_and_its_error():
    pic = np.array([[0, 255], [51, 102]], np.uint8)
    out = T.ToTensor()(pic)
    assert out.shape == (1, 2, 2) and out.dtype == mg.float32
    np.testing.assert_allclose(out.numpy(), [[[0.0, 1.0], [0.2, 0.4]]], rtol=1e-6)
    with pytest.raises(ValueError, match=r"^ToTensor: expected an image \(H, W\) or \(H, W, C\), "
                                         r"got shape \(1, 2, 2, 3\)$"):
        T.ToTensor()(np.zeros((1, 2, 2, 3)))


# ---------------------------------------------------------------- mixing

def test_mixup_defaults_dtype_and_errors():
    x = rand((6, 2, 3), seed=4)
    y = np.arange(6)
    mixed, ya, yb, lam = T.mixup(x, y, seed=3)
    rng = np.random.default_rng(3)
    assert lam == rng.beta(1.0, 1.0)                              # alpha = 1 by default
    perm = rng.permutation(6)
    np.testing.assert_array_equal(yb, y[perm])
    assert mixed.dtype == np.float32
    np.testing.assert_allclose(mixed, lam * x + (1 - lam) * x[perm], rtol=1e-6)
    with pytest.raises(ValueError, match=r"^mixup: alpha must be positive, got -1$"):
        T.mixup(x, y, alpha=-1)
    with pytest.raises(ValueError, match=r"^mixup: give generator= or seed=, not both$"):
        T.mixup(x, y, generator=np.random.default_rng(0), seed=0)


def test_mix_targets_shapes_dtype_and_errors():
    soft = T.mix_targets(np.array([0, 2]), np.array([1, 2]), 0.25, 3)
    assert soft.dtype == np.float32
    np.testing.assert_array_equal(soft, np.array([[0.25, 0.75, 0], [0, 0, 1]], np.float32))
    with pytest.raises(ValueError, match=r"^mix_targets: expected two class-index arrays of "
                                         r"shape \(N,\), got \(2, 1\) and \(2, 1\)$"):
        T.mix_targets(np.zeros((2, 1), int), np.zeros((2, 1), int), 0.5, 2)
    with pytest.raises(ValueError, match=r"^mix_targets: expected two class-index arrays of "
                                         r"shape \(N,\), got \(2,\) and \(3,\)$"):
        T.mix_targets(np.zeros(2, int), np.zeros(3, int), 0.5, 2)


# ---------------------------------------------------------------- synthetic

def test_spirals_defaults_and_noise_error():
    a, la = make_spirals(20, seed=4)
    b, lb = make_spirals(20, n_classes=2, noise=0.1, seed=4, turns=1.0)
    assert a.tobytes() == b.tobytes() and la.tolist() == lb.tolist() == [0] * 20 + [1] * 20
    with pytest.raises(ValueError, match=r"^make_spirals: noise must be a real number >= 0, "
                                         r"got -0.5$"):
        make_spirals(3, noise=-0.5)


# ---------------------------------------------------------------- make_tales

def test_make_rebuilds_the_shipped_tales():
    path = os.path.join(os.path.dirname(make_tales.__file__), "tales.txt")
    with open(path, encoding="utf-8") as f:
        shipped = f.read()
    same = make_tales.make() == shipped       # a bool: pytest would diff 120 KB strings
    assert same


def test_make_stops_at_the_first_fable_that_reaches_the_size():
    first = make_tales.fable(random.Random(3))
    assert make_tales.make(size=0, seed=3) == ""
    assert make_tales.make(size=len(first), seed=3) == first
    two = make_tales.make(size=len(first) + 1, seed=3)
    rng = random.Random(3)
    assert two == make_tales.fable(rng) + make_tales.fable(rng)


def test_plural_and_article():
    assert [make_tales.plural(a) for a in ("fox", "mouse", "cat", "owl")] == \
        ["foxes", "mice", "cats", "owls"]
    assert [make_tales.article(w) for w in ("old", "apple", "young", "umber", "busy", "Xmas",
                                            "X")] == ["an", "an", "a", "an", "a", "a", "a"]


def test_moons_geometry_defaults_and_errors():
    points, labels = make_moons(7, noise=0.0)
    t3, t4 = np.linspace(0, np.pi, 3), np.linspace(0, np.pi, 4)
    expected = [(math.cos(t), math.sin(t)) for t in t3] + \
        [(1 - math.cos(t), 0.5 - math.sin(t)) for t in t4]
    np.testing.assert_allclose(points, np.array(expected, np.float32), rtol=0, atol=1e-7)
    assert points.dtype == np.float32 and labels.dtype == np.int64
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    a, la = make_moons(seed=2)
    b, lb = make_moons(200, noise=0.1, seed=2)
    assert a.shape == (200, 2) and a.tobytes() == b.tobytes() and la.tolist() == lb.tolist()
    clean, _ = make_moons(200, noise=0.0)
    noise = np.random.default_rng(2).standard_normal((200, 2))
    np.testing.assert_allclose(a, (clean + 0.1 * noise).astype(np.float32), atol=1e-6)
    for n in (1, True, 2.0, "3"):
        with pytest.raises(ValueError, match=rf"^make_moons: n must be an int >= 2, got "
                                             rf"{re.escape(repr(n))}$"):
            make_moons(n)
    for noise in (-0.1, "x", None):
        with pytest.raises(ValueError, match=rf"^make_moons: noise must be a real number >= 0, "
                                             rf"got {re.escape(repr(noise))}$"):
            make_moons(10, noise=noise)
    assert make_moons(2, noise=0)[0].tolist() == [[1.0, 0.0], [0.0, 0.5]]


def test_spirals_geometry_and_count_errors():
    points, labels = make_spirals(4, n_classes=3, noise=0.0, turns=0.5)
    expected = []
    for k in range(3):
        for i in range(4):
            r = (i + 1) / 4
            t = 2 * math.pi * k / 3 + 2 * math.pi * 0.5 * r
            expected.append((r * math.cos(t), r * math.sin(t)))
    np.testing.assert_allclose(points, np.array(expected), atol=1e-7)
    assert labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    one, _ = make_spirals(1, n_classes=1, noise=0.0)
    np.testing.assert_allclose(one, [[1.0, 0.0]], atol=1e-7)
    for args, message in [((0,), "n_per_class must be an int >= 1, got 0"),
                          ((False,), "n_per_class must be an int >= 1, got False"),
                          ((2.5,), "n_per_class must be an int >= 1, got 2.5"),
                          ((3, 0), "n_classes must be an int >= 1, got 0")]:
        with pytest.raises(ValueError, match=rf"^make_spirals: {re.escape(message)}$"):
            make_spirals(*args)


def test_spiral_noise_is_added_from_the_seeded_generator():
    clean, _ = make_spirals(6, n_classes=2, noise=0.0)
    noisy, _ = make_spirals(6, n_classes=2, noise=0.3, seed=5)
    expected = clean.astype(np.float64) + 0.3 * np.random.default_rng(5).standard_normal((12, 2))
    np.testing.assert_allclose(noisy, expected.astype(np.float32), atol=1e-6)


def test_without_a_seed_one_draw_of_the_global_generator_seeds_the_noise():
    np.random.seed(12)
    seed = np.random.randint(0, 2**63 - 1, dtype=np.int64)
    after = np.random.random()
    np.random.seed(12)
    a, _ = make_moons(30)
    assert np.random.random() == after                # exactly one draw was taken
    b, _ = make_moons(30, seed=int(seed))
    assert a.tobytes() == b.tobytes()
    np.random.seed(12)
    c, _ = make_spirals(5)
    d, _ = make_spirals(5, seed=int(seed))
    assert c.tobytes() == d.tobytes()


# ---------------------------------------------------------------- warp

def affine_reference(angle, tx, ty, scale, sx, sy):
    th, a, b = math.radians(angle), math.tan(math.radians(sx)), math.tan(math.radians(sy))
    R = np.array([[math.cos(th), math.sin(th)], [-math.sin(th), math.cos(th)]])
    return scale * R @ np.array([[1, a], [0, 1]]) @ np.array([[1, 0], [b, 1]]), \
        np.array([tx, ty], float)


PARAMS = [(30.0, 1.5, -2.0, 1.2, 10.0, -5.0), (-75.0, 0.0, 0.5, 0.8, 0.0, 20.0),
          (200.0, -1.0, 1.0, 1.0, -15.0, 0.0)]


def test_affine_matrix_against_the_formula():
    cols = list(zip(*PARAMS))
    A, t = warp.affine_matrix(list(cols[0]), (list(cols[1]), list(cols[2])), list(cols[3]),
                              (list(cols[4]), list(cols[5])))
    assert A.shape == (3, 2, 2) and t.shape == (3, 2)
    assert A.dtype == np.float64 and t.dtype == np.float64
    for n, p in enumerate(PARAMS):
        A_ref, t_ref = affine_reference(*p)
        np.testing.assert_allclose(A[n], A_ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(t[n], t_ref)
    A, t = warp.affine_matrix([90], ([1], [2]), [2], ([0], [0]))          # ints work too
    np.testing.assert_allclose(A[0], [[0, 2], [-2, 0]], atol=1e-15)
    np.testing.assert_array_equal(t, [[1.0, 2.0]])


def test_affine_matrix_reads_float32_parameters_as_float64():
    p = [np.array(c, np.float32) for c in zip(*PARAMS)]
    A32, t32 = warp.affine_matrix(p[0], (p[1], p[2]), p[3], (p[4], p[5]))
    q = [c.astype(np.float64) for c in p]
    A64, t64 = warp.affine_matrix(q[0], (q[1], q[2]), q[3], (q[4], q[5]))
    assert A32.dtype == t32.dtype == np.float64
    np.testing.assert_array_equal(A32, A64)
    np.testing.assert_array_equal(t32, t64)


def test_warp_far_outside_the_image_reads_only_fill():
    x = rand((2, 1, 3, 4), seed=1, dtype=np.float64)
    for tx, ty in [(0.0, 10.0), (0.0, -10.0), (12.0, 0.0), (-12.0, 0.0)]:
        A, t = warp.affine_matrix([0.0, 0.0], ([tx, tx], [ty, ty]), [1.0, 1.0],
                                  ([0.0, 0.0], [0.0, 0.0]))
        for interpolation in ("nearest", "bilinear"):
            np.testing.assert_array_equal(warp.warp_affine(x, A, t, interpolation, fill=2.5), 2.5)


def warp_reference(img, A, t, interpolation, fill):
    """Inverse mapping pixel by pixel: p_in = c + A^-1 (p_out - c - t)."""
    C, H, W = img.shape
    cx, cy = (W - 1) / 2, (H - 1) / 2
    Ainv = np.linalg.inv(A)
    out = np.empty(img.shape)

    def at(x, y):
        return img[:, y, x] if 0 <= x < W and 0 <= y < H else np.full(C, float(fill))
    for y in range(H):
        for x in range(W):
            sx, sy = Ainv @ np.array([x - cx - t[0], y - cy - t[1]])
            sx, sy = sx + cx, sy + cy
            sx, sy = (round(v) if abs(v - round(v)) < 1e-6 else v for v in (sx, sy))
            if interpolation == "nearest":
                out[:, y, x] = at(math.floor(sx + 0.5), math.floor(sy + 0.5))
            else:
                x0, y0 = math.floor(sx), math.floor(sy)
                wx, wy = sx - x0, sy - y0
                out[:, y, x] = ((1 - wy) * ((1 - wx) * at(x0, y0) + wx * at(x0 + 1, y0))
                                + wy * ((1 - wx) * at(x0, y0 + 1) + wx * at(x0 + 1, y0 + 1)))
    return out


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_warp_affine_against_a_pixel_by_pixel_reference(interpolation):
    x = rand((3, 2, 5, 6), seed=9, dtype=np.float64)
    cols = list(zip(*PARAMS))
    A, t = warp.affine_matrix(cols[0], (cols[1], cols[2]), cols[3], (cols[4], cols[5]))
    out = warp.warp_affine(x, A, t, interpolation, fill=-3.0)
    assert out.dtype == np.float64 and out.shape == x.shape
    for n in range(3):
        np.testing.assert_allclose(out[n], warp_reference(x[n], A[n], t[n], interpolation, -3.0),
                                   rtol=1e-12, atol=1e-12)
    out32 = warp.warp_affine(x.astype(np.float32), A, t, interpolation, fill=-3.0)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out, rtol=1e-5, atol=1e-5)


def test_warp_defaults_half_pixels_and_edges():
    x = np.arange(12, dtype=np.float64).reshape(1, 1, 3, 4)
    A, t = warp.affine_matrix([0.0], ([-0.5], [0.5]), [1.0], ([0.0], [0.0]))
    # The source is (x + 0.5, y - 0.5): nearest rounds halves up, so it reads (x + 1, y);
    # the default interpolation is nearest and the default fill 0.
    out = warp.warp_affine(x, A, t)
    expected = np.zeros_like(x)
    expected[..., :, :3] = x[..., :, 1:]
    np.testing.assert_array_equal(out, expected)
    bil = warp.warp_affine(x, A, t, "bilinear")
    # Bilinear blends (x, y - 1), (x + 1, y - 1), (x, y), (x + 1, y) equally, fill 0 outside.
    padded = np.zeros((5, 6))
    padded[1:4, 1:5] = x[0, 0]
    ref = 0.25 * (padded[0:3, 1:5] + padded[0:3, 2:6] + padded[1:4, 1:5] + padded[1:4, 2:6])
    np.testing.assert_allclose(bil[0, 0], ref, rtol=1e-12)


def test_source_points_snap_only_near_integers():
    A = np.eye(2)[None]
    xs, ys = warp.source_points(A, np.array([[5e-7, -5e-7]]), 2, 3)
    np.testing.assert_array_equal(xs[0], [[0, 1, 2], [0, 1, 2]])          # snapped
    np.testing.assert_array_equal(ys[0], [[0, 0, 0], [1, 1, 1]])
    xs, ys = warp.source_points(A, np.array([[2e-6, 0.25]]), 2, 3)
    np.testing.assert_allclose(xs[0], np.array([[0, 1, 2], [0, 1, 2]]) - 2e-6, rtol=0, atol=1e-15)
    np.testing.assert_allclose(ys[0], np.array([[0, 0, 0], [1, 1, 1]]) - 0.25, rtol=0, atol=1e-15)
    xs, ys = warp.source_points(A, np.array([[1e-6, -1e-6]]), 1, 1)      # exactly 1e-6 off
    assert xs[0, 0, 0] == -1e-6 and ys[0, 0, 0] == 1e-6
    R, _ = warp.affine_matrix([90.0, 180.0], ([0.0, 0.0], [0.0, 0.0]), [1.0, 1.0],
                              ([0.0, 0.0], [0.0, 0.0]))
    xs, ys = warp.source_points(R, np.zeros((2, 2)), 3, 5)
    assert xs.shape == ys.shape == (2, 3, 5)
    for n in range(2):
        for y in range(3):
            for x in range(5):
                sx, sy = np.linalg.inv(R[n]) @ np.array([x - 2.0, y - 1.0]) + [2.0, 1.0]
                assert xs[n, y, x] == round(sx) and ys[n, y, x] == round(sy)


def test_read_inside_and_outside_each_edge():
    batch = np.arange(2 * 2 * 3 * 4, dtype=np.float64).reshape(2, 2, 3, 4)
    xi = np.array([[[-1, 0, 3, 4]], [[0, 1, 2, 3]]])
    yi = np.array([[[0, 0, 2, 2]], [[-1, 0, 2, 3]]])
    out = warp._read(batch, xi, yi, 9.5)
    assert out.shape == (2, 2, 1, 4)
    for n in range(2):
        for j in range(4):
            x, y = xi[n, 0, j], yi[n, 0, j]
            want = batch[n, :, y, x] if 0 <= x < 4 and 0 <= y < 3 else [9.5, 9.5]
            np.testing.assert_array_equal(out[n, :, 0, j], want)


def test_warp_affine_errors():
    x = np.zeros((2, 1, 3, 3))
    with pytest.raises(ValueError, match=r"^warp_affine: expected A \(N, 2, 2\) and t \(N, 2\) "
                                         r"for N = 2, got \(1, 2, 2\) and \(2, 2\)$"):
        warp.warp_affine(x, np.zeros((1, 2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"^warp_affine: expected A \(N, 2, 2\) and t \(N, 2\) "
                                         r"for N = 2, got \(2, 2, 2\) and \(2, 3\)$"):
        warp.warp_affine(x, np.zeros((2, 2, 2)), np.zeros((2, 3)))
    A = np.repeat(np.eye(2)[None], 2, 0)
    with pytest.raises(ValueError, match=r"^warp_affine: interpolation must be 'nearest' or "
                                         r"'bilinear', got 'cubic'$"):
        warp.warp_affine(x, A, np.zeros((2, 2)), "cubic")


# ---------------------------------------------------------------- RandomAffine

def test_random_affine_draws_in_the_documented_order():
    aff = T.RandomAffine((-20, 40), translate=(0.25, 0.5), scale=(0.5, 1.5),
                         shear=(-5, 10, 2, 8), interpolation="bilinear", fill=0.5)
    N, H, W = 6, 7, 9
    angle, (tx, ty), scale, (sx, sy) = aff.get_params(np.random.default_rng(3), N, H, W)
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(angle, rng.uniform(-20, 40, N))
    np.testing.assert_array_equal(tx, np.round(rng.uniform(-0.25 * W, 0.25 * W, N)))
    np.testing.assert_array_equal(ty, np.round(rng.uniform(-0.5 * H, 0.5 * H, N)))
    np.testing.assert_array_equal(scale, rng.uniform(0.5, 1.5, N))
    np.testing.assert_array_equal(sx, rng.uniform(-5, 10, N))
    np.testing.assert_array_equal(sy, rng.uniform(2, 8, N))
    x = rand((N, 1, H, W), seed=1)
    out = T.RandomAffine((-20, 40), translate=(0.25, 0.5), scale=(0.5, 1.5),
                         shear=(-5, 10, 2, 8), interpolation="bilinear", fill=0.5, seed=3)(x)
    assert out.dtype == np.float32
    for n in range(N):
        A, t = affine_reference(angle[n], tx[n], ty[n], scale[n], sx[n], sy[n])
        np.testing.assert_allclose(out[n], warp_reference(x[n], A, t, "bilinear", 0.5),
                                   rtol=1e-5, atol=1e-5)


def test_random_affine_generator_equals_seed():
    x = rand((5, 1, 6, 6), seed=3)
    a = T.RandomAffine(40, translate=(0.2, 0.2), generator=np.random.default_rng(6))(x)
    np.testing.assert_array_equal(a, T.RandomAffine(40, translate=(0.2, 0.2), seed=6)(x))
    assert not np.array_equal(a, T.RandomAffine(40, translate=(0.2, 0.2), seed=7)(x))


def test_random_affine_without_options_draws_only_the_angle():
    aff = T.RandomAffine(30)
    assert aff.degrees == (-30.0, 30.0) and aff.translate is None and aff.scale is None
    assert aff.shear is None and aff.interpolation == "nearest" and aff.fill == 0
    angle, (tx, ty), scale, (sx, sy) = aff.get_params(np.random.default_rng(1), 4, 5, 5)
    np.testing.assert_array_equal(angle, np.random.default_rng(1).uniform(-30, 30, 4))
    for a in (tx, ty, sx, sy):
        np.testing.assert_array_equal(a, np.zeros(4))
    np.testing.assert_array_equal(scale, np.ones(4))
    x = rand((4, 2, 5, 5), seed=2)
    out = T.RandomAffine(30, seed=1)(x)
    for n in range(4):
        A, t = affine_reference(angle[n], 0, 0, 1, 0, 0)
        np.testing.assert_allclose(out[n], warp_reference(x[n], A, t, "nearest", 0),
                                   rtol=1e-6)
    ints = T.RandomAffine((90, 90))(np.arange(4, dtype=np.uint8).reshape(1, 2, 2))
    assert ints.dtype == np.float32
    np.testing.assert_array_equal(ints, np.rot90(np.arange(4.0).reshape(1, 2, 2), 1, (1, 2)))


def test_random_affine_shear_forms_and_errors():
    assert T.RandomAffine(0, shear=10).shear == (-10.0, 10.0, 0.0, 0.0)
    assert T.RandomAffine(0, shear=(1, 3)).shear == (1.0, 3.0, 0.0, 0.0)
    assert T.RandomAffine(0, shear=[1, 2, 3, 4]).shear == (1.0, 2.0, 3.0, 4.0)
    assert T.RandomAffine(0, translate=(0, 1)).translate == (0, 1)
    assert T.RandomAffine(0, scale=(0.5, 2)).scale == (0.5, 2.0)
    cases = [
        (dict(degrees=-1), "RandomAffine: degrees must be non-negative, got -1"),
        (dict(degrees=(5, 1)), "RandomAffine: degrees range (5.0, 1.0) must have min <= max"),
        (dict(degrees=0, translate=(-0.1, 0)),
         "RandomAffine: translate must be two fractions in [0, 1], got (-0.1, 0)"),
        (dict(degrees=0, translate=(0.5, 1.5)),
         "RandomAffine: translate must be two fractions in [0, 1], got (0.5, 1.5)"),
        (dict(degrees=0, scale=(0, 1)),
         "RandomAffine: scale range (0.0, 1.0) must have min <= max and min >= 1e-12"),
        (dict(degrees=0, scale=(2, 1)),
         "RandomAffine: scale range (2.0, 1.0) must have min <= max and min >= 1e-12"),
        (dict(degrees=0, shear=-2), "RandomAffine: shear must be non-negative, got -2"),
        (dict(degrees=0, shear=(1, 2, 3)),
         "RandomAffine: shear must be a number or 2 or 4 values, got (1, 2, 3)"),
        (dict(degrees=0, interpolation="area"),
         "RandomAffine: interpolation must be 'nearest' or 'bilinear', got 'area'"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
            T.RandomAffine(**kwargs)
    with pytest.raises(ValueError, match=r"^RandomAffine: expected an image"):
        T.RandomAffine(0)(np.zeros((3, 3)))


def test_range_forms_and_messages():
    assert T._range(0, "v", "W") == (0.0, 0.0)
    assert T._range(2, "v", "W", center=1.0) == (-1.0, 3.0)
    assert T._range((1, 1), "v", "W", low=1) == (1.0, 1.0)
    pair = T._range([1, 4], "v", "W")
    assert pair == (1.0, 4.0) and all(type(p) is float for p in pair)
    for value, message in [(-0.5, "W: v must be non-negative, got -0.5"),
                           ((1, 2, 3), "W: v must be a number or a (min, max) pair, got (1, 2, 3)"),
                           ((1,), "W: v must be a number or a (min, max) pair, got (1,)"),
                           ((3, 2), "W: v range (3.0, 2.0) must have min <= max")]:
        with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
            T._range(value, "v", "W")
    with pytest.raises(ValueError, match="^" + re.escape("W: v range (0.5, 2.0) must have min "
                                                         "<= max and min >= 1") + "$"):
        T._range((0.5, 2), "v", "W", low=1)


# ---------------------------------------------------------------- _as_batch, _float, Normalize

def test_tensors_come_back_as_tensors_of_their_dtype():
    x = mg.tensor(rand((2, 3, 3), seed=3, dtype=np.float64))
    out = T.RandomHorizontalFlip(p=1.0)(x)
    assert isinstance(out, mg.Tensor) and out.dtype == mg.float64 and out.shape == (2, 3, 3)
    assert out.device == x.device
    np.testing.assert_array_equal(out.numpy(), x.numpy()[..., ::-1])
    assert out.numpy().flags.c_contiguous
    for shape in ((3, 3), (1, 1, 1, 3, 3)):
        with pytest.raises(ValueError, match=r"^RandomHorizontalFlip: expected an image \(C, H, "
                                             rf"W\) or a batch \(N, C, H, W\), got shape "
                                             rf"{re.escape(str(shape))}$"):
            T.RandomHorizontalFlip()(np.zeros(shape))
    with pytest.raises(ValueError, match=r"^RandomVerticalFlip: expected an image"):
        T.RandomVerticalFlip()(np.zeros(3))


def test_float_keeps_floats_and_makes_ints_float32():
    for dtype in (np.float16, np.float32, np.float64):
        a = np.zeros(2, dtype)
        assert T._float(a) is a
    assert T._float(np.zeros(2, np.int64)).dtype == np.float32
    assert T._float(np.zeros(2, np.uint8)).dtype == np.float32


def test_normalize_init_and_single_mean():
    n = T.Normalize((1, 2), [3, 4])
    assert n.mean.shape == n.std.shape == (2, 1, 1) and n.mean.dtype == np.float64
    assert n.inplace is False
    np.testing.assert_array_equal(n.std.ravel(), [3.0, 4.0])
    x = rand((3, 2, 2), seed=1)
    np.testing.assert_allclose(T.Normalize([0.5], [2.0])(x), (x - 0.5) / 2.0, rtol=1e-6)
    with pytest.raises(ValueError, match=r"^Normalize: std must be non-zero, got \[1\.0, 0\.0\]$"):
        T.Normalize([0, 0], [1, 0])
    with pytest.raises(ValueError, match=r"^Normalize: 2 means for 3 channels$"):
        T.Normalize([0, 0], [1, 1])(np.zeros((1, 3, 2, 2)))


def test_compose_applies_in_order_and_repr():
    c = T.Compose((T.Normalize([1.0], [2.0]), T.RandomHorizontalFlip(p=1.0)))
    assert isinstance(c.transforms, list) and len(c.transforms) == 2
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    np.testing.assert_array_equal(c(x), ((x - 1) / 2)[..., ::-1])

    class Named:
        def __init__(self, name):
            self.name = name

        def __repr__(self):
            return self.name

        def __call__(self, img):
            return img + [self.name]
    assert repr(T.Compose([Named("a"), Named("b")])) == "Compose(a, b)"
    assert T.Compose([Named("a"), Named("b")])([]) == ["a", "b"]
    assert repr(T.Compose([])) == "Compose()"


# ---------------------------------------------------------------- pad, RandomCrop, flips

def test_pad_forms_modes_and_errors():
    x = rand((1, 2, 3, 4), seed=6)
    for padding, (l, t, r, b) in [(2, (2, 2, 2, 2)), ((1, 3), (1, 3, 1, 3)),
                                  ([0, 1, 2, 3], (0, 1, 2, 3))]:
        for mode in ("edge", "reflect", "symmetric"):
            np.testing.assert_array_equal(
                T.pad(x, padding, padding_mode=mode),
                np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), mode=mode))
        np.testing.assert_array_equal(
            T.pad(x, padding, fill=4.5),
            np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=4.5))
    np.testing.assert_array_equal(T.pad(x, 1), np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))))
    for padding in (-1, (1, -1), (1, 2, 3)):
        with pytest.raises(ValueError, match=r"^pad: padding must be a non-negative int or a 2- "
                                             r"or 4-sequence, got " + re.escape(repr(
                                                 (padding,) * 4 if padding == -1 else padding
                                                 if len(padding) != 2 else
                                                 (padding[0], padding[1]) * 2)) + "$"):
            T.pad(x, padding)
    with pytest.raises(ValueError, match=r"^pad: padding_mode must be 'constant', 'edge', "
                                         r"'reflect' or 'symmetric', got 'wrap'$"):
        T.pad(x, 1, padding_mode="wrap")


def crop_reference(padded, seed, h, w):
    rng = np.random.default_rng(seed)
    N, _, H, W = padded.shape
    top, left = rng.integers(0, H - h + 1, size=N), rng.integers(0, W - w + 1, size=N)
    return np.stack([padded[n, :, top[n]:top[n] + h, left[n]:left[n] + w] for n in range(N)])


def test_random_crop_against_the_reference_windows():
    x = rand((8, 2, 6, 7), seed=4)
    out = T.RandomCrop((3, 5), padding=(1, 2, 3, 0), fill=-1.0, seed=5)(x)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 0), (1, 3)), constant_values=-1.0)
    np.testing.assert_array_equal(out, crop_reference(padded, 5, 3, 5))
    out = T.RandomCrop(4, padding=2, padding_mode="edge", seed=6)(x)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)), mode="edge")
    np.testing.assert_array_equal(out, crop_reference(padded, 6, 4, 4))
    out = T.RandomCrop((6, 7), seed=1)(x)                      # the whole image: one window
    np.testing.assert_array_equal(out, x)
    single = T.RandomCrop((2, 3), seed=2)(x[0])
    np.testing.assert_array_equal(single, crop_reference(x[:1], 2, 2, 3)[0])


def test_random_crop_pad_if_needed_pads_only_what_is_missing():
    x = rand((3, 1, 2, 5), seed=8)
    out = T.RandomCrop((4, 3), pad_if_needed=True, fill=7.0, seed=3)(x)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (0, 0)), constant_values=7.0)
    np.testing.assert_array_equal(out, crop_reference(padded, 3, 4, 3))
    out = T.RandomCrop((2, 8), pad_if_needed=True, padding_mode="reflect", seed=4)(x)
    padded = np.pad(x, ((0, 0), (0, 0), (0, 0), (3, 3)), mode="reflect")
    np.testing.assert_array_equal(out, crop_reference(padded, 4, 2, 8))
    out = T.RandomCrop((2, 5), pad_if_needed=True, seed=4)(x)   # fits: no padding
    np.testing.assert_array_equal(out, x)
    with pytest.raises(ValueError, match=r"^RandomCrop: crop size \(3, 5\) is larger than the "
                                         r"\(padded\) image \(2, 5\)$"):
        T.RandomCrop((3, 5))(x)
    with pytest.raises(ValueError, match=r"^RandomCrop: crop size \(2, 6\) is larger than the "
                                         r"\(padded\) image \(2, 5\)$"):
        T.RandomCrop((2, 6))(x)
    with pytest.raises(ValueError, match=r"^RandomCrop: expected an image \(C, H, W\) or a batch "
                                         r"\(N, C, H, W\), got shape \(2, 5\)$"):
        T.RandomCrop(2)(x[0, 0])
    crop = T.RandomCrop([2, 3])
    assert crop.size == (2, 3) and crop.padding is None and crop.pad_if_needed is False
    assert crop.fill == 0 and crop.padding_mode == "constant"
    with pytest.raises(ValueError, match=r"^RandomCrop: give generator= or seed=, not both$"):
        T.RandomCrop(2, generator=np.random.default_rng(0), seed=0)


@pytest.mark.parametrize("cls, flipped", [(T.RandomHorizontalFlip, lambda a: a[..., ::-1]),
                                          (T.RandomVerticalFlip, lambda a: a[..., ::-1, :])])
def test_flips_follow_the_seeded_coin(cls, flipped):
    x = rand((40, 2, 3, 4), seed=5)
    for p in (0.3, 0.5):
        out = cls(p=p, seed=9)(x) if p != 0.5 else cls(seed=9)(x)
        coin = np.random.default_rng(9).random(40) < p
        expected = np.where(coin[:, None, None, None], flipped(x), x)
        np.testing.assert_array_equal(out, expected)
    g = cls(generator=np.random.default_rng(9))
    np.testing.assert_array_equal(g(x), cls(seed=9)(x))
    assert cls(p=0.25).p == 0.25
    np.testing.assert_array_equal(cls(p=1.0)(x[0]), flipped(x[0]))


def test_unseeded_transforms_draw_a_seed_from_the_global_generator():
    x = rand((5, 1, 4, 4), seed=1)
    np.random.seed(21)
    seed = np.random.randint(0, 2**63 - 1, dtype=np.int64)
    np.random.seed(21)
    out = T.RandomHorizontalFlip()(x)
    np.testing.assert_array_equal(out, T.RandomHorizontalFlip(seed=int(seed))(x))
    with pytest.raises(ValueError, match=r"^GaussianBlur: seed must be a non-negative int or "
                                         r"None, got -1$"):
        T.GaussianBlur(3, seed=-1)


# ---------------------------------------------------------------- cutmix, _arrays

def cutmix_reference(x, y, alpha, seed):
    rng = np.random.default_rng(seed)
    lam = rng.beta(alpha, alpha)
    perm = rng.permutation(len(x))
    N, C, H, W = x.shape
    cut_h, cut_w = int(H * math.sqrt(1 - lam)), int(W * math.sqrt(1 - lam))
    cy, cx = int(rng.integers(H)), int(rng.integers(W))
    top, bottom = min(max(cy - cut_h // 2, 0), H), min(max(cy + cut_h // 2, 0), H)
    left, right = min(max(cx - cut_w // 2, 0), W), min(max(cx + cut_w // 2, 0), W)
    mixed = x.copy()
    for n in range(N):
        mixed[n, :, top:bottom, left:right] = x[perm[n], :, top:bottom, left:right]
    return mixed, y[perm], 1 - (bottom - top) * (right - left) / (H * W)


@pytest.mark.parametrize("alpha, seed", [(1.0, 0), (0.3, 1), (2.0, 2), (1.0, 3), (0.5, 7)])
def test_cutmix_against_the_reference(alpha, seed):
    x = rand((5, 2, 9, 12), seed=seed)
    y = np.arange(5) * 10
    mixed, ya, yb, lam = T.cutmix(x, y, alpha=alpha, seed=seed)
    ref, yb_ref, lam_ref = cutmix_reference(x, y, alpha, seed)
    assert mixed.dtype == np.float32 and type(lam) is float
    np.testing.assert_array_equal(mixed, ref)
    np.testing.assert_array_equal(ya, y)
    np.testing.assert_array_equal(yb, yb_ref)
    assert lam == pytest.approx(lam_ref, abs=1e-15)
    assert not np.shares_memory(mixed, x)


def test_cutmix_boxes_clipped_at_every_border():
    x = rand((3, 1, 7, 5), seed=0)
    y = np.arange(3)
    clipped = set()
    for seed in range(40):
        mixed, _, _, lam = T.cutmix(x, y, alpha=0.3, seed=seed)
        ref, _, lam_ref = cutmix_reference(x, y, 0.3, seed)
        np.testing.assert_array_equal(mixed, ref)
        assert lam == pytest.approx(lam_ref, abs=1e-15)
        rng = np.random.default_rng(seed)
        lam0 = rng.beta(0.3, 0.3)
        rng.permutation(3)
        cut_h, cut_w = int(7 * math.sqrt(1 - lam0)), int(5 * math.sqrt(1 - lam0))
        cy, cx = int(rng.integers(7)), int(rng.integers(5))
        clipped |= {side for side, out in [("top", cy - cut_h // 2 < 0),
                                           ("bottom", cy + cut_h // 2 > 7),
                                           ("left", cx - cut_w // 2 < 0),
                                           ("right", cx + cut_w // 2 > 5)] if out}
    assert clipped == {"top", "bottom", "left", "right"}


def test_cutmix_default_alpha_tensors_and_errors():
    x = rand((4, 1, 6, 6), seed=2)
    y = np.arange(4)
    a = T.cutmix(x, y, seed=11)
    ref, _, lam = cutmix_reference(x, y, 1.0, 11)
    np.testing.assert_array_equal(a[0], ref)
    assert a[3] == pytest.approx(lam, abs=1e-15)
    b = T.cutmix(x, y, generator=np.random.default_rng(11))
    np.testing.assert_array_equal(b[0], ref)
    assert b[3] == a[3] and b[2].tolist() == a[2].tolist()
    mixed, ya, yb, lam = T.cutmix(mg.tensor(x), mg.tensor(y), seed=11)
    assert all(isinstance(v, mg.Tensor) for v in (mixed, ya, yb))
    np.testing.assert_array_equal(mixed.numpy(), ref)
    assert ya.numpy().tolist() == [0, 1, 2, 3] and ya.dtype == mg.int64
    with pytest.raises(ValueError, match=r"^cutmix: inputs must be images \(N, C, H, W\), got "
                                         r"shape \(4, 6, 6\)$"):
        T.cutmix(x[:, 0], y)
    with pytest.raises(ValueError, match=r"^cutmix: inputs and targets must share their first "
                                         r"dimension N, got shapes \(4, 1, 6, 6\) and \(3,\)$"):
        T.cutmix(x, y[:3])
    with pytest.raises(ValueError, match=r"^cutmix: alpha must be positive, got 0$"):
        T.cutmix(x, y, alpha=0)
    with pytest.raises(ValueError, match=r"^cutmix: seed must be a non-negative int"):
        T.cutmix(x, y, seed=-3)
    with pytest.raises(ValueError, match=r"^mixup: inputs and targets must share their first "
                                         r"dimension N, got shapes \(\) and \(1,\)$"):
        T.mixup(np.float32(1), np.zeros(1))
    with pytest.raises(ValueError, match=r"^mixup: inputs and targets must share their first "
                                         r"dimension N, got shapes \(1,\) and \(\)$"):
        T.mixup(np.zeros(1), np.int64(0))


def test_mixup_of_vectors_and_float64_tensors():
    x = np.arange(4, dtype=np.float64)
    mixed, ya, yb, lam = T.mixup(x, np.arange(4), seed=2)
    perm = yb
    np.testing.assert_allclose(mixed, lam * x + (1 - lam) * x[perm], rtol=1e-12)
    mixed, ya, yb, lam = T.mixup(mg.tensor(x, dtype=mg.float64), mg.tensor(np.arange(4)), seed=2)
    assert mixed.dtype == mg.float64 and ya.dtype == mg.int64
    np.testing.assert_allclose(mixed.numpy(), lam * x + (1 - lam) * x[yb.numpy()], rtol=1e-12)


def test_mixup_with_tensors_keeps_tensors_and_lam_of_alpha():
    x = rand((5, 3), seed=1)
    y = np.arange(5)
    mixed, ya, yb, lam = T.mixup(mg.tensor(x), mg.tensor(y), alpha=0.5, seed=4)
    rng = np.random.default_rng(4)
    assert lam == rng.beta(0.5, 0.5)
    perm = rng.permutation(5)
    assert isinstance(mixed, mg.Tensor) and isinstance(yb, mg.Tensor)
    np.testing.assert_allclose(mixed.numpy(), lam * x + (1 - lam) * x[perm], rtol=1e-6)
    assert yb.numpy().tolist() == perm.tolist() and ya.numpy().tolist() == y.tolist()
