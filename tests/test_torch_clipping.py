"""Gradient norms, clipping and per-step schedules (PyTorch), against norms computed by hand.
The Keras twin is tests/test_keras_clipping.py (same numbers)."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from aigc_course.torch import MODELS, set_seed
from aigc_course.torch.clipping import (
    GradientClipper,
    clip_gradients,
    grad_norm,
    step_per_batch,
)


def params_with_grads():
    """Two parameters with gradients (3, -4) and [[12]]: L2 norm 13, inf norm 12, L1 norm 19."""
    a = torch.zeros(2, requires_grad=True)
    b = torch.zeros(1, 1, requires_grad=True)
    a.grad = torch.tensor([3.0, -4.0])
    b.grad = torch.tensor([[12.0]])
    return [a, b]


@pytest.mark.parametrize(
    "norm_type, expected", [(2.0, 13.0), (math.inf, 12.0), (1.0, 19.0)]
)
def test_grad_norm_by_hand(norm_type, expected):
    assert float(grad_norm(params_with_grads(), norm_type)) == pytest.approx(
        expected, rel=1e-6
    )


def test_grad_norm_matches_numpy_on_random_gradients():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in [(5, 3), (7,), (2, 2, 2)]]
    params = []
    for arr in arrays:
        p = torch.zeros(arr.shape, requires_grad=True)
        p.grad = torch.tensor(arr, dtype=torch.float32)
        params.append(p)
    flat = np.concatenate([a.ravel() for a in arrays])
    assert float(grad_norm(params)) == pytest.approx(np.sqrt(np.sum(flat**2)), rel=1e-5)
    assert float(grad_norm(params, math.inf)) == pytest.approx(
        np.abs(flat).max(), rel=1e-6
    )


def test_parameters_without_gradient_are_skipped():
    params = params_with_grads() + [torch.ones(3, requires_grad=True)]  # no .grad
    assert float(grad_norm(params)) == pytest.approx(13.0)
    assert float(grad_norm([torch.ones(3, requires_grad=True)])) == 0.0


def test_clip_by_l2_norm_rescales_everything_by_one_factor():
    params = params_with_grads()
    before = clip_gradients(params, max_norm=6.5, norm_type=2.0)
    assert float(before) == pytest.approx(13.0)  # the pre-clip norm
    scale = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(
        params[0].grad.numpy(), [3 * scale, -4 * scale], rtol=1e-6
    )
    np.testing.assert_allclose(params[1].grad.numpy(), [[12 * scale]], rtol=1e-6)
    assert float(grad_norm(params)) == pytest.approx(6.5, rel=1e-5)


def test_clip_by_inf_norm_keeps_the_direction():
    params = params_with_grads()
    before = clip_gradients(params, max_norm=3.0, norm_type=math.inf)
    assert float(before) == pytest.approx(12.0)
    # rescaled by 3/12: max |g| becomes 3, and (3, -4, 12) keeps its direction
    np.testing.assert_allclose(params[0].grad.numpy(), [0.75, -1.0], rtol=1e-5)
    np.testing.assert_allclose(params[1].grad.numpy(), [[3.0]], rtol=1e-5)
    # clamping each entry (clip_grad_value_) would give (3, -3, 3): another direction
    clamped = params_with_grads()
    torch.nn.utils.clip_grad_value_(clamped, 3.0)
    assert clamped[0].grad.tolist() == [3.0, -3.0] and clamped[1].grad.item() == 3.0


def test_no_clipping_below_the_threshold():
    params = params_with_grads()
    assert float(clip_gradients(params, max_norm=100.0)) == pytest.approx(13.0)
    assert params[0].grad.tolist() == [3.0, -4.0]


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
        clip_gradients(params_with_grads(), **kwargs)


def test_clipper_bad_arguments():
    opt = torch.optim.SGD(params_with_grads(), lr=1.0)
    with pytest.raises(ValueError, match="optimizer"):
        GradientClipper("adam")
    with pytest.raises(ValueError, match="max_norm"):
        GradientClipper(opt, max_norm=0)
    with pytest.raises(ValueError, match="norm_type"):
        GradientClipper(opt, norm_type=0)
    with pytest.raises(ValueError, match="scheduler"):
        step_per_batch(opt)


@pytest.mark.parametrize(
    "norm_type, max_norm, expected_update",
    [
        (2.0, 6.5, [-1.5, 2.0, -6.0]),
        (math.inf, 3.0, [-0.75, 1.0, -3.0]),
        (2.0, None, [-3.0, 4.0, -12.0]),
    ],
)
def test_clipper_clips_before_the_optimizer_steps(norm_type, max_norm, expected_update):
    params = params_with_grads()
    opt = torch.optim.SGD(params, lr=1.0)  # update = -gradient
    clipper = GradientClipper(opt, max_norm=max_norm, norm_type=norm_type)
    opt.step()
    update = np.concatenate([p.detach().numpy().ravel() for p in params])
    np.testing.assert_allclose(update, expected_update, rtol=1e-5)
    assert clipper.before == [pytest.approx(13.0 if norm_type == 2.0 else 12.0)]
    assert clipper.after == [pytest.approx(max_norm or 13.0, rel=1e-5)]
    assert clipper.lr == [1.0]
    clipper.remove()
    for p, g in zip(params, params_with_grads()):
        p.grad = g.grad
    opt.step()  # no hook any more: nothing recorded
    assert len(clipper.before) == 1


def test_cosine_schedule_per_step_and_clipper_inside_fit(digits):
    set_seed(0)
    model = MODELS["dcgan"](channels=4)
    model.optimizers = model.configure_optimizers()
    steps = len(digits) // 16  # 4 steps in one epoch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        model.optimizers["d"], T_max=steps
    )
    step_per_batch(sched)
    clipper = GradientClipper(model.optimizers["d"], max_norm=1e-3)
    model.fit(digits, epochs=1, batch_size=16, verbose=0, callbacks=[clipper])
    expected_lr = [
        2e-4 * 0.5 * (1 + math.cos(math.pi * t / steps)) for t in range(steps)
    ]
    np.testing.assert_allclose(clipper.lr, expected_lr, rtol=1e-6)
    np.testing.assert_allclose(clipper.after, 1e-3, rtol=1e-4)  # every step was clipped
    assert min(clipper.before) > 1e-3
    # G kept its constant rate
    assert model.optimizers["g"].param_groups[0]["lr"] == 2e-4
