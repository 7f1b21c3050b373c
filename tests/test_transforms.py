"""Per-batch augmentation (scratchgrad.data.transforms): shapes, seeds, identities, and exact references."""
import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad.data import transforms as T


@pytest.fixture
def batch():
    return np.random.default_rng(0).random((6, 2, 9, 11), dtype=np.float32)


ALL = [T.RandomRotation(20), T.RandomAffine(10, translate=(0.1, 0.1), scale=(0.8, 1.2)), T.RandomScale(),
       T.RandomHorizontalFlip(), T.RandomVerticalFlip(), T.RandomCrop((9, 11), padding=2),
       T.ColorJitter(0.3, 0.3), T.GaussianNoise(0.1), T.Normalize([0.5, 0.2], [0.3, 0.1]),
       T.Compose([T.RandomCrop((9, 11), padding=1), T.RandomRotation(10)])]


@pytest.mark.parametrize("t", ALL, ids=lambda t: type(t).__name__)
def test_shape_dtype_and_input_untouched(t, batch):
    before = batch.copy()
    y = t(batch)
    assert y.shape == batch.shape and y.dtype == np.float32
    np.testing.assert_array_equal(batch, before)
    yt = t(sg.Tensor(batch))                              # Tensors in, Tensors out
    assert isinstance(yt, sg.Tensor) and yt.shape == batch.shape and not yt.requires_grad


@pytest.mark.parametrize("t", [t for t in ALL if not isinstance(t, T.Normalize)], ids=lambda t: type(t).__name__)
def test_seeded_by_the_global_generator(t, batch):
    sg.manual_seed(3)
    a = t(batch)
    sg.manual_seed(3)
    b = t(batch)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, t(batch))               # the stream moves on


def test_own_generator_and_per_sample_parameters(batch):
    a = T.RandomRotation(30, generator=1)(batch)
    b = T.RandomRotation(30, generator=np.random.default_rng(1))(batch)
    np.testing.assert_array_equal(a, b)
    x = np.repeat(batch[:1], 6, axis=0)                   # six copies of one image
    y = T.RandomRotation(30, generator=0)(x)
    assert len({y[i].tobytes() for i in range(6)}) == 6   # each sample got its own angle


def test_identities(batch):
    np.testing.assert_array_equal(T.RandomRotation((0, 0))(batch), batch)
    np.testing.assert_array_equal(T.RandomRotation((0, 0), mode="nearest")(batch), batch)
    np.testing.assert_array_equal(T.RandomScale((1, 1))(batch), batch)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0)(batch), batch)
    np.testing.assert_array_equal(T.RandomCrop((9, 11))(batch), batch)       # no padding: nothing to move
    np.testing.assert_array_equal(T.ColorJitter(0, 0)(batch), batch)
    np.testing.assert_array_equal(T.CenterCrop((9, 11))(batch), batch)
    np.testing.assert_array_equal(T.Resize((9, 11))(batch), batch)
    np.testing.assert_array_equal(T.GaussianNoise(0.0)(batch), batch)


def test_flips_equal_np_flip(batch):
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1)(batch), np.flip(batch, -1))
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1)(batch), np.flip(batch, -2))
    sg.manual_seed(0)
    y = T.RandomHorizontalFlip(p=0.5)(batch)
    flipped = [np.array_equal(y[i], batch[i, :, :, ::-1]) for i in range(6)]
    kept = [np.array_equal(y[i], batch[i]) for i in range(6)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


def test_rotation_by_90_degrees_is_rot90():
    x = np.random.default_rng(1).random((3, 2, 7, 7), dtype=np.float32)
    for mode in ("nearest", "bilinear"):
        y = T.RandomRotation((90, 90), mode=mode)(x)   # counter-clockwise, as torchvision
        np.testing.assert_allclose(y, np.rot90(x, 1, axes=(2, 3)), atol=1e-5)
    np.testing.assert_allclose(T.RandomRotation((180, 180))(x), x[:, :, ::-1, ::-1], atol=1e-5)


def test_rotation_matches_a_plain_per_pixel_reference():
    """Bilinear rotation written pixel by pixel (the textbook way) on a small image."""
    x = np.random.default_rng(2).random((1, 1, 6, 5), dtype=np.float32)
    angle = 23.0
    y = T.RandomRotation((angle, angle))(x)[0, 0]
    a = np.deg2rad(angle)
    cy, cx = 2.5, 2.0
    ref = np.zeros((6, 5))
    for i in range(6):
        for j in range(5):
            sy = cy + np.cos(a) * (i - cy) + np.sin(a) * (j - cx)
            sx = cx - np.sin(a) * (i - cy) + np.cos(a) * (j - cx)
            y0, x0 = int(np.floor(sy)), int(np.floor(sx))
            for yy, xx in ((y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1)):
                if 0 <= yy < 6 and 0 <= xx < 5:
                    ref[i, j] += (1 - abs(sy - yy)) * (1 - abs(sx - xx)) * x[0, 0, yy, xx]
    np.testing.assert_allclose(y, ref, atol=1e-5)


def test_random_crop_is_a_window_of_the_padded_image(batch):
    sg.manual_seed(1)
    y = T.RandomCrop((5, 6), padding=2)(batch)
    padded = np.pad(batch, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for n in range(len(batch)):       # each sample's crop appears somewhere in its padded image
        hits = [(i, j) for i in range(13 - 5 + 1) for j in range(15 - 6 + 1)
                if np.array_equal(padded[n, :, i:i + 5, j:j + 6], y[n])]
        assert hits


def test_center_crop(batch):
    np.testing.assert_array_equal(T.CenterCrop(5)(batch), batch[:, :, 2:7, 3:8])
    with pytest.raises(ValueError):
        T.CenterCrop(12)(batch)


@pytest.mark.parametrize("size", [(18, 22), (5, 4), (9, 7)])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_resize_matches_torch_interpolate(torch, batch, size, mode):
    from conftest import assert_close, to_torch
    ref = torch.nn.functional.interpolate(to_torch(torch, batch), size=size, mode=mode,
                                          **({"align_corners": False} if mode == "bilinear" else {}))
    assert_close(T.Resize(size, mode)(batch), ref.numpy(), atol=1e-5)


def test_normalize_matches_the_formula(batch):
    y = T.Normalize([0.1307, 0.5], [0.3081, 0.25])(batch)
    ref = (batch - np.array([0.1307, 0.5])[:, None, None]) / np.array([0.3081, 0.25])[:, None, None]
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
    assert y.dtype == np.float32


def test_color_jitter_per_sample_factors():
    x = np.full((50, 1, 4, 4), 0.5, np.float32)
    x[:, :, :2] = 0.25
    y = T.ColorJitter(brightness=0.5, generator=0)(x)
    ratio = y[:, 0, 0, 0] / x[:, 0, 0, 0]
    assert 0.5 <= ratio.min() < 0.8 and 1.2 < ratio.max() <= 1.5
    np.testing.assert_allclose(y[:, 0, 3, 3] / y[:, 0, 0, 0], 2.0, rtol=1e-5)   # brightness keeps ratios
    c = T.ColorJitter(contrast=0.5, generator=0)(x)
    np.testing.assert_allclose(c.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)), rtol=1e-5)  # contrast keeps mean
    assert T.ColorJitter(3.0)(x).max() <= 1.0                                             # clipped to [0, 1]


def test_gaussian_noise_statistics():
    x = np.zeros((20, 1, 30, 30), np.float32)
    y = T.GaussianNoise(0.2, generator=0)(x)
    assert abs(y.std() - 0.2) < 0.01 and abs(y.mean()) < 0.01


def test_from_names_builds_the_cli_augmentations(batch):
    aug = T.from_names(["flip", "vflip", "crop", "rotate", "scale", "jitter", "noise"], 9)
    assert [type(t).__name__ for t in aug.transforms] == ["RandomHorizontalFlip", "RandomVerticalFlip",
                                                          "RandomCrop", "RandomRotation", "RandomScale",
                                                          "ColorJitter", "GaussianNoise"]
    x = batch[:, :, :, :9]
    assert aug(x).shape == x.shape
    with pytest.raises(ValueError, match="unknown augmentation"):
        T.from_names(["blur"], 28)


def test_no_python_loop_over_samples_is_needed_for_speed():
    """A batch of 100 MNIST images through a rotation + crop takes milliseconds, not a loop's worth."""
    import time
    x = np.random.default_rng(0).random((100, 1, 28, 28), dtype=np.float32)
    aug = T.Compose([T.RandomCrop(28, padding=4), T.RandomRotation(15)])
    aug(x)
    t0 = time.perf_counter()
    for _ in range(5):
        aug(x)
    assert (time.perf_counter() - t0) / 5 < 0.2
