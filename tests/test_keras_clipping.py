"""Gradient norms and clipping (Keras 3), against norms computed by hand and against
Keras's own optimizer options. `make test` runs this file twice: KERAS_BACKEND=tensorflow
and =torch. The PyTorch twin is tests/test_torch_clipping.py (same numbers)."""

import math

import numpy as np
import pytest

pytestmark = pytest.mark.keras
keras = pytest.importorskip("keras")

from keras import ops

from aigc_course.keras import MODELS, set_seed
from aigc_course.keras.clipping import GradientClipper, clip_gradients, grad_norm


def grads_by_hand():
    """Gradients (3, -4) and [[12]]: L2 norm 13, inf norm 12, L1 norm 19."""
    return [
        ops.convert_to_tensor(np.array([3.0, -4.0], "float32")),
        ops.convert_to_tensor(np.array([[12.0]], "float32")),
    ]


def np_(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize(
    "norm_type, expected", [(2.0, 13.0), (math.inf, 12.0), (1.0, 19.0)]
)
def test_grad_norm_by_hand(norm_type, expected):
    assert float(np_(grad_norm(grads_by_hand(), norm_type))) == pytest.approx(
        expected, rel=1e-6
    )


def test_grad_norm_matches_numpy_on_random_gradients():
    rng = np.random.default_rng(0)
    arrays = [
        rng.standard_normal(s).astype("float32") for s in [(5, 3), (7,), (2, 2, 2)]
    ]
    flat = np.concatenate([a.ravel() for a in arrays])
    grads = [ops.convert_to_tensor(a) for a in arrays]
    assert float(np_(grad_norm(grads))) == pytest.approx(
        np.sqrt(np.sum(flat**2)), rel=1e-5
    )
    assert float(np_(grad_norm(grads, math.inf))) == pytest.approx(
        np.abs(flat).max(), rel=1e-6
    )


def test_none_gradients_are_skipped():
    assert float(np_(grad_norm(grads_by_hand() + [None]))) == pytest.approx(13.0)
    assert float(np_(grad_norm([None]))) == 0.0
    clipped, _ = clip_gradients(grads_by_hand() + [None], 1.0)
    assert clipped[-1] is None


def test_clip_by_l2_norm_rescales_everything_by_one_factor():
    clipped, before = clip_gradients(grads_by_hand(), max_norm=6.5, norm_type=2.0)
    assert float(np_(before)) == pytest.approx(13.0)  # the pre-clip norm
    scale = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(np_(clipped[0]), [3 * scale, -4 * scale], rtol=1e-6)
    np.testing.assert_allclose(np_(clipped[1]), [[12 * scale]], rtol=1e-6)
    assert float(np_(grad_norm(clipped))) == pytest.approx(6.5, rel=1e-5)


def test_clip_by_inf_norm_keeps_the_direction():
    clipped, before = clip_gradients(grads_by_hand(), max_norm=3.0, norm_type=math.inf)
    assert float(np_(before)) == pytest.approx(12.0)
    np.testing.assert_allclose(np_(clipped[0]), [0.75, -1.0], rtol=1e-5)
    np.testing.assert_allclose(np_(clipped[1]), [[3.0]], rtol=1e-5)


def test_no_clipping_below_the_threshold():
    clipped, before = clip_gradients(grads_by_hand(), max_norm=100.0)
    assert float(np_(before)) == pytest.approx(13.0)
    np.testing.assert_allclose(np_(clipped[0]), [3.0, -4.0])


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(max_norm=0.0),
        dict(max_norm=-1.0),
        dict(max_norm=None),
        dict(max_norm=1.0, norm_type=0.5),
    ],
)
def test_clip_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        clip_gradients(grads_by_hand(), **kwargs)


def test_bad_arguments():
    with pytest.raises(ValueError, match="grads"):
        grad_norm(ops.ones((3,)))  # a tensor, not a list of tensors
    with pytest.raises(ValueError, match="optimizer"):
        GradientClipper("adam")
    with pytest.raises(ValueError, match="max_norm"):
        GradientClipper(keras.optimizers.SGD(1.0), max_norm=0)
    with pytest.raises(ValueError, match="norm_type"):
        GradientClipper(keras.optimizers.SGD(1.0), norm_type=0)


def sgd_update(optimizer, clipper_kwargs=None):
    """One SGD(lr=1) step on two zero variables with the hand gradients: returns the update."""
    variables = [
        keras.Variable(np.zeros(2, "float32")),
        keras.Variable(np.zeros((1, 1), "float32")),
    ]
    optimizer.build(variables)
    clipper = (
        GradientClipper(optimizer, **clipper_kwargs)
        if clipper_kwargs is not None
        else None
    )
    optimizer.apply(grads_by_hand(), variables)
    if clipper is not None:
        clipper.on_train_batch_end(0)
    return np.concatenate([np_(v).ravel() for v in variables]), clipper


@pytest.mark.parametrize(
    "norm_type, max_norm, expected_update",
    [
        (2.0, 6.5, [-1.5, 2.0, -6.0]),
        (math.inf, 3.0, [-0.75, 1.0, -3.0]),
        (2.0, None, [-3.0, 4.0, -12.0]),
    ],
)
def test_clipper_clips_before_the_optimizer_steps(norm_type, max_norm, expected_update):
    update, clipper = sgd_update(
        keras.optimizers.SGD(1.0), dict(max_norm=max_norm, norm_type=norm_type)
    )
    np.testing.assert_allclose(update, expected_update, rtol=1e-5)
    assert clipper.before == [pytest.approx(13.0 if norm_type == 2.0 else 12.0)]
    assert clipper.after == [pytest.approx(max_norm or 13.0, rel=1e-5)]
    assert clipper.lr == [1.0]
    clipper.remove()
    assert clipper.optimizer.apply == clipper._original_apply


def test_l2_clipper_equals_keras_global_clipnorm():
    ours, _ = sgd_update(keras.optimizers.SGD(1.0), dict(max_norm=6.5))
    keras_own, _ = sgd_update(keras.optimizers.SGD(1.0, global_clipnorm=6.5))
    np.testing.assert_allclose(ours, keras_own, rtol=1e-5)
    # clipvalue clamps each entry instead: another direction than the inf-norm rescaling
    clamped, _ = sgd_update(keras.optimizers.SGD(1.0, clipvalue=3.0))
    np.testing.assert_allclose(clamped, [-3.0, 3.0, -3.0])


def test_cosine_schedule_and_clipper_inside_fit(digits):
    set_seed(0)
    model = MODELS["dcgan"](channels=4)
    steps = len(digits) // 16  # 4 steps in one epoch
    schedule = keras.optimizers.schedules.CosineDecay(2e-4, decay_steps=steps)
    model.compile(d_optimizer=keras.optimizers.Adam(schedule, beta_1=0.5))
    clipper = GradientClipper(model.d_optimizer, max_norm=1e-3)
    model.fit(digits, epochs=1, batch_size=16, verbose=0, callbacks=[clipper])
    expected_lr = [
        2e-4 * 0.5 * (1 + math.cos(math.pi * t / steps)) for t in range(steps)
    ]
    np.testing.assert_allclose(clipper.lr, expected_lr, rtol=1e-5)
    np.testing.assert_allclose(clipper.after, 1e-3, rtol=1e-4)  # every step was clipped
    assert min(clipper.before) > 1e-3
