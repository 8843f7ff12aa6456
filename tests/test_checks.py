import numpy as np
import pytest

from aigc_course._checks import (
    as_image_batch,
    as_labels,
    check_count,
    check_int,
    check_number,
    check_vectors,
    drop_channel_axis,
    latent_noise,
    to_unit_images,
)


def test_uint8_images_scaled_to_tanh_range():
    x = np.array([[[0] * 28] * 28, [[255] * 28] * 28], np.uint8)
    out = as_image_batch(x)
    assert out.dtype == np.float32 and out.shape == (2, 28, 28)
    assert out[0].max() == -1.0 and out[1].min() == 1.0


def test_channel_axis_accepted_both_layouts():
    x = np.zeros((3, 28, 28), np.uint8)
    assert as_image_batch(x[..., None]).shape == (3, 28, 28)
    assert as_image_batch(x[:, None]).shape == (3, 28, 28)


@pytest.mark.parametrize(
    "bad, msg",
    [
        (np.zeros((2, 32, 32), np.uint8), r"\(N, 28, 28\)"),
        (np.zeros((28, 28), np.uint8), r"\(N, 28, 28\)"),
        (np.zeros((0, 28, 28), np.uint8), "empty"),
        (np.full((2, 28, 28), 3.0, np.float32), r"\[0, 1\]"),
        (np.zeros((2, 28, 28), np.int32), "dtype"),
    ],
)
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


def test_check_int_bounds_and_messages():
    assert check_int(3, "n") == 3 and type(check_int(np.int64(3), "n")) is int
    assert check_int(-7, "seed", minimum=None) == -7 and check_int(4, "k", 1, 4) == 4
    for value, kwargs, msg in [
        (0, {}, "n: expected a positive int, got 0"),
        (-1, {"minimum": 0}, "n: expected an int >= 0, got -1"),
        (5, {"minimum": 1, "maximum": 4}, r"n: expected an int in \[1, 4\], got 5"),
        (1.5, {"minimum": None}, "n: expected an int, got 1.5"),
        (True, {}, "n: expected a positive int, got True"),
        (
            0,
            {"expected": "a positive int (number of steps)"},
            r"n: expected a positive int \(number of steps\)",
        ),
    ]:
        with pytest.raises(ValueError, match=msg):
            check_int(value, "n", **kwargs)


def test_check_number_expected_replaces_the_description():
    assert check_number(0.5, "eps", 0, 1) == 0.5
    with pytest.raises(ValueError, match=r"eps: expected a number in \[0, 1\], got 2"):
        check_number(2, "eps", 0, 1)
    with pytest.raises(
        ValueError, match=r"eps: expected a size in \[0, 1\] \(pixels\), got nan"
    ):
        check_number(float("nan"), "eps", 0, 1, expected="a size in [0, 1] (pixels)")


def test_check_vectors_shapes_dtype_and_rows():
    out = check_vectors([[1, 2], [3, 4]], 2)
    assert out.dtype == np.float32 and out.shape == (2, 2)
    # any d
    assert check_vectors(np.zeros((3, 5)), dtype=np.float64).dtype == np.float64
    for bad, kwargs, msg in [
        (
            np.zeros((4, 3)),
            {"dim": 2},
            r"x: expected points shaped \(N, 2\), got shape \(4, 3\)",
        ),
        (np.zeros(4), {}, r"expected points shaped \(N, d\)"),
        (np.zeros((4, 0)), {}, r"expected points shaped \(N, d\)"),
        (
            np.zeros((1, 2)),
            {"min_rows": 2, "what": "samples"},
            "expected at least 2 samples",
        ),
        (np.zeros((0, 2)), {}, "expected at least 1 points"),
        (np.array([[True, False]]), {}, "real numbers"),
        (np.array([[0.0, np.inf]]), {}, "finite"),
    ]:
        with pytest.raises(ValueError, match=msg):
            check_vectors(bad, **kwargs)


def test_drop_channel_axis():
    x = np.zeros((2, 5, 6))
    assert drop_channel_axis(x[..., None]).shape == (2, 5, 6)
    assert drop_channel_axis(x[:, None]).shape == (2, 5, 6)
    assert drop_channel_axis(x) is x and drop_channel_axis(
        np.zeros((2, 5, 6, 3))
    ).shape == (2, 5, 6, 3)
