import numpy as np
import pytest

from aigc_course._checks import as_image_batch, as_labels, check_count, latent_noise, to_unit_images


def test_uint8_images_scaled_to_tanh_range():
    x = np.array([[[0] * 28] * 28, [[255] * 28] * 28], np.uint8)
    out = as_image_batch(x)
    assert out.dtype == np.float32 and out.shape == (2, 28, 28)
    assert out[0].max() == -1.0 and out[1].min() == 1.0


def test_channel_axis_accepted_both_layouts():
    x = np.zeros((3, 28, 28), np.uint8)
    assert as_image_batch(x[..., None]).shape == (3, 28, 28)
    assert as_image_batch(x[:, None]).shape == (3, 28, 28)


@pytest.mark.parametrize("bad, msg", [
    (np.zeros((2, 32, 32), np.uint8), r"\(N, 28, 28\)"),
    (np.zeros((28, 28), np.uint8), r"\(N, 28, 28\)"),
    (np.zeros((0, 28, 28), np.uint8), "empty"),
    (np.full((2, 28, 28), 3.0, np.float32), r"\[0, 1\]"),
    (np.zeros((2, 28, 28), np.int32), "dtype"),
])
def test_bad_images_rejected_with_a_clear_message(bad, msg):
    with pytest.raises(ValueError, match=msg):
        as_image_batch(bad)


def test_labels_and_counts():
    assert as_labels(np.array([0, 9]), 2, 10).dtype == np.int64
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        as_labels(np.array([0, 10]), 2, 10)
    with pytest.raises(ValueError, match="integer"):
        as_labels(np.array([0.5, 1.0]), 2, 10)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="positive int"):
            check_count(bad)


def test_latent_noise_is_seeded_and_unit_images_clip():
    a, b = latent_noise(4, 8, seed=1), latent_noise(4, 8, seed=1)
    assert np.array_equal(a, b) and not np.array_equal(a, latent_noise(4, 8, seed=2))
    u = to_unit_images(np.array([-2.0, -1.0, 0.0, 1.0] * 196).reshape(1, 1, 28, 28))
    assert u.shape == (1, 28, 28) and u.min() == 0.0 and u.max() == 1.0
