"""The transforms' geometry and statistics, against NumPy: flips, crops of padding, affine maps
(identity exact, quarter turns equal np.rot90, translations equal shifts), Normalize's inverse,
erasing boxes, blur and jitter, mixup/cutmix label weights, seeding, and the dataset hook."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.data import DataLoader, TensorDataset
from minigrad.data import transforms as T
from minigrad.data.warp import affine_matrix, warp_affine

images = st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(2, 7), st.integers(2, 7)).map(
    lambda s: np.random.default_rng(sum(s)).random(s).astype(np.float32))


@given(x=images, seed=st.integers(0, 100))
@settings(max_examples=25, deadline=None)
def test_flip_twice_is_identity_and_once_mirrors_chosen_images(x, seed):
    flip = T.RandomHorizontalFlip(p=1.0)
    np.testing.assert_array_equal(flip(flip(x)), x)
    np.testing.assert_array_equal(flip(x), x[..., ::-1])
    vflip = T.RandomVerticalFlip(p=1.0)
    np.testing.assert_array_equal(vflip(x), x[..., ::-1, :])
    half = T.RandomHorizontalFlip(p=0.5, seed=seed)(x)
    for n in range(x.shape[0]):
        assert np.array_equal(half[n], x[n]) or np.array_equal(half[n], x[n, :, :, ::-1])


def test_flip_probability_zero_and_tensor_in_tensor_out():
    x = mg.tensor(np.arange(12, dtype=np.float32).reshape(1, 3, 4))
    out = T.RandomHorizontalFlip(p=0.0)(x)
    assert isinstance(out, mg.Tensor) and np.array_equal(out.numpy(), x.numpy())


def test_crop_of_padding_only_is_fill():
    x = np.ones((1, 1, 3, 3), np.float32)
    padded = T.pad(x, 4, fill=7.0)
    assert padded.shape == (1, 1, 11, 11)
    np.testing.assert_array_equal(padded[..., :4, :], 7.0)
    crop = T.RandomCrop(3, padding=4, fill=7.0, seed=0)
    seen_fill_only = False
    for _ in range(200):
        out = crop(x)
        assert out.shape == (1, 1, 3, 3)
        assert set(np.unique(out)) <= {1.0, 7.0}
        # The image's 9 ones appear in a crop only as a contiguous block, never split.
        seen_fill_only |= bool(np.all(out == 7.0))
    assert seen_fill_only


@given(x=images, seed=st.integers(0, 100))
@settings(max_examples=25, deadline=None)
def test_random_crop_is_a_window_of_the_padded_image(x, seed):
    N, C, H, W = x.shape
    out = T.RandomCrop((H, W), padding=(1, 2), padding_mode="reflect", seed=seed)(x)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (1, 1)), mode="reflect")
    for n in range(N):
        windows = [padded[n, :, i:i + H, j:j + W] for i in range(5) for j in range(3)]
        assert any(np.array_equal(out[n], w) for w in windows)


def test_random_crop_pad_if_needed_and_errors():
    x = np.ones((1, 2, 2), np.float32)
    assert T.RandomCrop(4, pad_if_needed=True, seed=0)(x).shape == (1, 4, 4)
    with pytest.raises(ValueError, match="RandomCrop: crop size"):
        T.RandomCrop(4)(x)
    with pytest.raises(ValueError, match="padding_mode"):
        T.RandomCrop(2, padding=1, padding_mode="wrap")(x)
    with pytest.raises(ValueError, match="expected an image"):
        T.RandomCrop(2)(np.ones((2, 2)))


@given(x=images, interpolation=st.sampled_from(["nearest", "bilinear"]))
@settings(max_examples=25, deadline=None)
def test_affine_identity_is_exact(x, interpolation):
    out = T.RandomAffine(0, translate=(0, 0), scale=(1, 1), shear=0,
                         interpolation=interpolation, seed=0)(x)
    np.testing.assert_array_equal(out, x)


@given(x=images, k=st.integers(1, 3), interpolation=st.sampled_from(["nearest", "bilinear"]))
@settings(max_examples=25, deadline=None)
def test_rotation_by_quarter_turns_equals_rot90(x, k, interpolation):
    x = x[..., :min(x.shape[-2:]), :min(x.shape[-2:])]        # square, so nothing leaves
    out = T.RandomAffine((90 * k, 90 * k), interpolation=interpolation)(x)
    np.testing.assert_array_equal(out, np.rot90(x, k, axes=(2, 3)))


def test_translation_shifts_and_fills():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    A, t = affine_matrix([0.0], ([1.0], [2.0]), [1.0], ([0.0], [0.0]))
    out = warp_affine(x, A, t, "nearest", fill=-1.0)
    expected = np.full_like(x, -1.0)
    expected[..., 2:, 1:] = x[..., :2, :3]                    # right by 1, down by 2
    np.testing.assert_array_equal(out, expected)


def test_bilinear_halfway_is_the_mean_and_shear_moves_rows():
    x = np.array([[[[0.0, 2.0, 4.0]]]])
    A, t = affine_matrix([0.0], ([0.5], [0.0]), [1.0], ([0.0], [0.0]))
    out = warp_affine(x, A, t, "bilinear", fill=0.0)
    np.testing.assert_allclose(out[0, 0, 0, 1:], [1.0, 3.0])
    # Shear along x by 45 degrees: row y moves by (y - cy) pixels.
    img = np.zeros((1, 1, 3, 3))
    img[0, 0, :, 1] = 1.0
    A, t = affine_matrix([0.0], ([0.0], [0.0]), [1.0], ([45.0], [0.0]))
    out = warp_affine(img, A, t, "nearest", fill=0.0)
    np.testing.assert_array_equal(out[0, 0], np.eye(3))


def test_affine_scale_two_takes_the_centre_and_errors():
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 1.0
    out = T.RandomAffine(0, scale=(2, 2), seed=0)(x)
    assert out[0, 0, 2, 2] == 1.0 and out.sum() == 4.0        # the centre pixel grows to 2x2
    with pytest.raises(ValueError, match="RandomAffine: interpolation"):
        T.RandomAffine(0, interpolation="cubic")
    with pytest.raises(ValueError, match="RandomAffine: translate"):
        T.RandomAffine(0, translate=(2, 0))


@given(x=images)
@settings(max_examples=20, deadline=None)
def test_normalize_has_an_inverse(x):
    C = x.shape[1]
    mean, std = np.linspace(0.1, 0.9, C), np.linspace(0.5, 2.0, C)
    y = T.Normalize(mean, std)(x)
    np.testing.assert_allclose(y * std[:, None, None] + mean[:, None, None], x, atol=1e-6)
    back = T.Normalize(-mean / std, 1 / std)(y)
    np.testing.assert_allclose(back, x, atol=1e-5)


def test_normalize_errors():
    with pytest.raises(ValueError, match="Normalize: std"):
        T.Normalize([0.0], [0.0])
    with pytest.raises(ValueError, match="Normalize: 2 means for 3 channels"):
        T.Normalize([0, 0], [1, 1])(np.zeros((3, 2, 2)))


def test_random_erasing_box_is_the_value_and_the_rest_kept():
    x = np.ones((20, 1, 10, 10), np.float32)
    out = T.RandomErasing(p=1.0, scale=(0.1, 0.2), value=0.0, seed=3)(x)
    for n in range(20):
        zeros = np.argwhere(out[n, 0] == 0)
        assert len(zeros) > 0
        (r0, c0), (r1, c1) = zeros.min(0), zeros.max(0)
        assert (r1 - r0 + 1) * (c1 - c0 + 1) == len(zeros)      # one rectangle
        assert 0.05 <= len(zeros) / 100 <= 0.3
    np.testing.assert_array_equal(T.RandomErasing(p=0.0)(x), x)


def test_color_jitter_brightness_scales_and_contrast_keeps_mean():
    x = np.random.default_rng(0).uniform(0.2, 0.4, (5, 1, 6, 6)).astype(np.float32)
    out = T.ColorJitter(brightness=(1.5, 1.5))(x)
    np.testing.assert_allclose(out, x * 1.5, rtol=1e-6)
    out = T.ColorJitter(contrast=(0.5, 0.5))(x)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 0.5 * x.std(axis=(1, 2, 3)), rtol=1e-4)


def test_color_jitter_applies_brightness_and_contrast_in_a_random_order_per_image():
    # A pixel at 0.8 among 0.2s, brightness 1.5 and contrast 2: brightness first clips the bright
    # pixel at 1 before the contrast, contrast first clips it after; the two orders give different
    # images, each exactly its own composition, and both orders occur over a batch.
    x = np.full((64, 1, 2, 2), 0.2)
    x[:, 0, 0, 0] = 0.8

    def brighten(im):
        return np.clip(im * 1.5, 0, 1)

    def contrast(im):
        return np.clip((im - im.mean()) * 2.0 + im.mean(), 0, 1)
    orders = {"brightness first": contrast(brighten(x[0])),
              "contrast first": brighten(contrast(x[0]))}
    assert not np.allclose(*orders.values())
    out = T.ColorJitter(brightness=(1.5, 1.5), contrast=(2.0, 2.0), seed=3)(x)
    seen = set()
    for image in out:
        matches = [name for name, expected in orders.items() if np.allclose(image, expected)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert seen == set(orders)


def test_gaussian_blur_against_a_direct_sum():
    rng = np.random.default_rng(1)
    x = rng.random((2, 1, 6, 7))
    out = T.GaussianBlur(3, sigma=1.0)(x)
    k = np.exp(-0.5 * np.array([-1.0, 0.0, 1.0]) ** 2)
    k2 = np.outer(k, k) / np.outer(k, k).sum()
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")
    expected = sum(k2[i, j] * padded[..., i:i + 6, j:j + 7] for i in range(3) for j in range(3))
    np.testing.assert_allclose(out, expected, atol=1e-12)
    np.testing.assert_allclose(T.GaussianBlur(5, sigma=(0.5, 2))(np.ones((1, 5, 5))), 1.0)
    with pytest.raises(ValueError, match="GaussianBlur: kernel_size"):
        T.GaussianBlur(4)


def test_mixup_weights_are_lam_and_partners():
    x = np.random.default_rng(0).random((6, 1, 3, 3)).astype(np.float32)
    y = np.arange(6)
    mixed, ya, yb, lam = T.mixup(x, y, alpha=0.4, seed=5)
    assert 0 <= lam <= 1 and np.array_equal(ya, y)
    np.testing.assert_allclose(mixed, lam * x + (1 - lam) * x[yb], rtol=1e-6)
    soft = T.mix_targets(ya, yb, lam, 6)
    np.testing.assert_allclose(soft.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(soft[np.arange(6), ya], np.where(ya == yb, 1.0, lam), rtol=1e-6)


@given(seed=st.integers(0, 1000), alpha=st.floats(0.2, 2.0))
@settings(max_examples=30, deadline=None)
def test_cutmix_lam_is_the_share_of_original_pixels(seed, alpha):
    N, H, W = 4, 8, 10
    x = np.repeat(np.arange(N, dtype=np.float32), H * W).reshape(N, 1, H, W)
    mixed, ya, yb, lam = T.cutmix(x, np.arange(N), alpha=alpha, seed=seed)
    for n in range(N):
        if ya[n] != yb[n]:
            assert np.mean(mixed[n] == n) == pytest.approx(lam)
            assert np.all((mixed[n] == n) | (mixed[n] == yb[n]))


def test_mixing_errors():
    with pytest.raises(ValueError, match="mixup: inputs and targets"):
        T.mixup(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="cutmix: alpha"):
        T.cutmix(np.zeros((3, 1, 2, 2)), np.zeros(3), alpha=0)
    with pytest.raises(ValueError, match=r"mix_targets: class indices must lie in \[0, 2\)"):
        T.mix_targets(np.array([0, 2]), np.array([1, 1]), 0.5, 2)


def test_same_seed_same_results_and_global_seed():
    x = np.random.default_rng(0).random((4, 1, 8, 8)).astype(np.float32)

    def pipeline(**kw):
        return T.Compose([T.RandomCrop(8, padding=2, **kw),
                          T.RandomAffine(15, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5,
                                         interpolation="bilinear", **kw),
                          T.RandomErasing(p=0.5, **kw), T.ColorJitter(0.3, 0.3, **kw),
                          T.GaussianBlur(3, **kw), T.RandomHorizontalFlip(**kw)])
    a, b = pipeline(seed=7), pipeline(seed=7)
    np.testing.assert_array_equal(a(x), b(x))
    np.testing.assert_array_equal(a(x), b(x))        # the second calls agree too
    assert not np.array_equal(a(x), pipeline(seed=8)(x))
    g = pipeline()
    mg.manual_seed(3)
    first = g(x)
    mg.manual_seed(3)
    np.testing.assert_array_equal(g(x), first)


def test_dataset_transform_and_target_transform_through_the_loader():
    x = np.random.default_rng(0).random((6, 1, 4, 4)).astype(np.float32)
    ds = TensorDataset(x, np.arange(6), transform=T.Compose([T.RandomHorizontalFlip(p=1.0),
                                                             T.Normalize([0.5], [0.25])]),
                       target_transform=lambda y: y + 10)
    images, labels = next(iter(DataLoader(ds, batch_size=6)))
    np.testing.assert_allclose(images.numpy(), (x[..., ::-1] - 0.5) / 0.25, rtol=1e-6)
    np.testing.assert_array_equal(labels.numpy(), np.arange(6) + 10)
    with pytest.raises(ValueError, match="target_transform needs a second tensor"):
        TensorDataset(x, target_transform=abs)


def test_to_tensor_moves_channels_first_and_scales_uint8():
    pic = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    out = T.ToTensor()(pic)
    assert out.shape == (3, 2, 4) and out.dtype == mg.float32
    np.testing.assert_allclose(out.numpy(), pic.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    assert T.ToTensor()(out) is out


def test_random_affine_shear_and_translate_options():
    img = np.zeros((1, 1, 3, 3))
    img[0, 0, :, 1] = 1.0
    out = T.RandomAffine(0, shear=(45, 45), seed=0)(img)             # x-shear of 45 degrees
    np.testing.assert_array_equal(out[0, 0], np.eye(3))
    out = T.RandomAffine(0, shear=(0, 0, 45, 45), seed=0)(img.transpose(0, 1, 3, 2))
    np.testing.assert_array_equal(out[0, 0], np.eye(3))             # y-shear, transposed
    x = np.random.default_rng(0).random((8, 1, 6, 6))
    out = T.RandomAffine(0, translate=(0.2, 0.2), seed=1)(x)
    for n in range(8):                                               # shifts of at most 1 pixel
        shifted = [np.roll(x[n], (dy, dx), axis=(1, 2)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        assert any(np.array_equal(out[n, :, 1:-1, 1:-1], s[:, 1:-1, 1:-1]) for s in shifted)


def test_random_erasing_value_and_ratio_options():
    x = np.ones((10, 1, 20, 20), np.float32)
    out = T.RandomErasing(p=1.0, scale=(0.1, 0.1), ratio=(4.0, 4.0), value=5.0, inplace=True,
                          seed=0)(x)
    for n in range(10):
        rows, cols = np.nonzero(out[n, 0] == 5.0)
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert (h, w) == (round(np.sqrt(40 * 4)), round(np.sqrt(40 / 4)))   # h/w = 4, area 40
    assert out is x                                                  # inplace writes into x


def test_gaussian_blur_kernel_pair_and_generator_option():
    x = np.zeros((1, 1, 7, 7))
    x[0, 0, 3, 3] = 1.0
    out = T.GaussianBlur((1, 5), sigma=1.0)(x)                       # blurs along x only
    assert np.count_nonzero(out[0, 0, 3]) == 5 and np.count_nonzero(out) == 5
    a = T.GaussianBlur(3, generator=np.random.default_rng(4))(np.random.default_rng(0).random(
        (3, 1, 5, 5)))
    b = T.GaussianBlur(3, seed=4)(np.random.default_rng(0).random((3, 1, 5, 5)))
    np.testing.assert_array_equal(a, b)


def test_mixing_generator_equals_seed_and_alpha_shapes_lam():
    x, y = np.random.default_rng(0).random((8, 1, 4, 4)), np.arange(8)
    a = T.mixup(x, y, generator=np.random.default_rng(9))
    b = T.mixup(x, y, seed=9)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[3] == b[3]
    # Small alpha puts lam near 0 or 1; alpha = 1 spreads it uniformly.
    small = [T.mixup(x, y, alpha=0.05, seed=s)[3] for s in range(200)]
    uniform = [T.mixup(x, y, alpha=1.0, seed=s)[3] for s in range(200)]
    assert np.mean(np.minimum(small, 1 - np.array(small)) < 0.05) > 0.7
    assert 0.2 < np.mean(np.abs(np.array(uniform) - 0.5) < 0.25) < 0.8
    mixed, ya, yb, lam = T.cutmix(mg.tensor(x.astype(np.float32)), mg.tensor(y), seed=1)
    assert isinstance(mixed, mg.Tensor) and mixed.shape == (8, 1, 4, 4)
    soft = T.mix_targets(ya, yb, lam, 8)
    assert isinstance(soft, mg.Tensor) and soft.shape == (8, 8)


def test_normalize_inplace_writes_into_the_image_and_returns_it():
    x = np.arange(12, dtype=np.float64).reshape(3, 2, 2)
    expected = T.Normalize([1.0, 2.0, 3.0], [2.0, 4.0, 0.5])(x)
    assert not np.shares_memory(expected, x)
    out = T.Normalize([1.0, 2.0, 3.0], [2.0, 4.0, 0.5], inplace=True)(x)
    assert out is x
    np.testing.assert_allclose(x, expected)
    t = mg.tensor(np.ones((1, 1, 2, 2), np.float32))
    version = t._version
    assert T.Normalize([0.5], [0.25], inplace=True)(t) is t
    np.testing.assert_array_equal(t.numpy(), np.full((1, 1, 2, 2), 2.0, np.float32))
    assert t._version == version + 1


def test_random_erasing_inplace_matches_the_copying_path():
    x = np.random.default_rng(0).random((4, 2, 9, 9))
    expected = T.RandomErasing(p=1.0, value=-1.0, seed=5)(x)
    assert (expected == -1.0).any()
    out = T.RandomErasing(p=1.0, value=-1.0, seed=5, inplace=True)(x)
    assert out is x
    np.testing.assert_array_equal(x, expected)


@pytest.mark.parametrize("transform", [T.Normalize([0.0], [1.0], inplace=True),
                                       T.RandomErasing(p=1.0, inplace=True)])
def test_inplace_refuses_an_image_it_cannot_write(transform):
    with pytest.raises(ValueError, match="inplace=True needs a writeable floating"):
        transform(np.zeros((1, 4, 4), np.uint8))
    frozen = np.zeros((1, 4, 4))
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="inplace=True needs a writeable floating"):
        transform(frozen)
