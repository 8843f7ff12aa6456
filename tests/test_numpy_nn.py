"""aigc_course.numpy_nn: the MLP's hand-written backward pass against finite differences
(LeakyReLU and ReLU), the cross-entropy's gradient, both orders of Adam, the named form,
minibatches."""

import math

import numpy as np
import pytest
from _helpers import numeric_grads

from aigc_course.numpy_nn import (
    MLP,
    Adam,
    minibatches,
    sigmoid,
    softmax,
    softmax_cross_entropy,
    softplus,
)


@pytest.mark.parametrize("slope", [0.2, 0.0])
def test_mlp_gradients_match_finite_differences(slope):
    mlp = MLP([2, 6, 6, 3], np.random.default_rng(0), slope=slope)
    x = np.random.default_rng(1).standard_normal((7, 2))
    weights = np.random.default_rng(2).standard_normal((7, 3))
    out, cache = mlp.forward(x)
    grads, dx = mlp.backward(cache, weights)
    loss = lambda: float((mlp.forward(x)[0] * weights).sum())
    numeric = numeric_grads(loss, [x])[0]
    assert np.abs(dx - numeric).max() < 1e-6
    for a, n in zip(grads, numeric_grads(loss, mlp.params), strict=True):
        assert np.abs(a - n).max() < 1e-6
    # the flags skip work, not change it
    g_only, none = mlp.backward(cache, weights, need_input=False)
    assert none is None and all(np.array_equal(a, b) for a, b in zip(g_only, grads))
    nothing, dx_only = mlp.backward(cache, weights, need_params=False)
    assert nothing == [None] * len(mlp.params) and np.array_equal(dx_only, dx)


def test_slope_zero_is_the_relu_and_dtype_is_kept():
    relu = MLP([3, 5, 2], np.random.default_rng(0), slope=0.0, dtype=np.float32)
    leaky = MLP([3, 5, 2], np.random.default_rng(0))
    assert all(p.dtype == np.float32 for p in relu.params)
    np.testing.assert_allclose(relu.params[0], leaky.params[0], rtol=1e-6)  # same draws
    a = np.array([-2.0, 0.0, 3.0])
    assert relu.activation(a).tolist() == [0.0, 0.0, 3.0]
    assert leaky.activation(a).tolist() == [-0.4, 0.0, 3.0]
    out, _ = relu.forward(np.ones((4, 3), np.float32))
    assert out.dtype == np.float32


def test_softmax_cross_entropy_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    logits, labels = rng.normal(0, 3, (5, 4)), np.array([0, 3, 1, 1, 2])
    loss, g = softmax_cross_entropy(logits.copy(), labels)
    p = softmax(logits)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(5), labels])), rel=1e-9)
    numeric = numeric_grads(lambda: softmax_cross_entropy(logits, labels)[0], [logits])[
        0
    ]
    assert np.abs(g - numeric).max() < 1e-7


def test_softmax_softplus_sigmoid():
    x = np.array([[0.0, np.log(3.0)], [1000.0, -np.inf]])
    np.testing.assert_allclose(softmax(x), [[0.25, 0.75], [1.0, 0.0]])
    assert softmax(np.array([1.0, 2.0], np.float32)).dtype == np.float32
    assert softmax([1, 2]).dtype == np.float64
    assert softplus(np.array([-1000.0, 0.0, 1000.0])).tolist() == [
        0.0,
        math.log(2),
        1000.0,
    ]
    np.testing.assert_allclose(
        sigmoid(np.array([-1000.0, 0.0, 2.0])), [0.0, 0.5, 1 / (1 + math.exp(-2))]
    )


def test_adam_first_step_moves_each_weight_by_lr_against_the_gradient():
    # folded, eps meets sqrt(v) before the correction: eps / sqrt(1 - b2) ~ 32 eps at step 1,
    # visible against the gradient 1e-3
    for fold, atol in ((False, 1e-6), (True, 1e-4)):
        p = np.array([1.0, -2.0, 3.0])
        opt = Adam([p], lr=0.1, fold_bias_correction=fold)
        opt.step([np.array([0.5, -4.0, 1e-3])])
        np.testing.assert_allclose(p, [0.9, -1.9, 2.9], atol=atol)


def test_adam_two_orders_of_computation_follow_their_formulas():
    b1, b2, eps, lr = 0.9, 0.999, 1e-3, 0.01  # a large eps, so the two orders differ
    grads = [np.array([0.3, -1e-4]), np.array([0.1, 2e-4])]
    results = {}
    for fold in (False, True):
        p = np.zeros(2)
        opt = Adam([p], lr=lr, betas=(b1, b2), eps=eps, fold_bias_correction=fold)
        m = v = np.zeros(2)
        want = np.zeros(2)
        for t, g in enumerate(grads, start=1):
            opt.step([g])
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            if fold:
                want = want - lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (
                    np.sqrt(v) + eps
                )
            else:
                want = want - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        np.testing.assert_allclose(p, want, rtol=1e-12)
        results[fold] = p
    assert not np.allclose(results[False], results[True], rtol=1e-3)


def test_named_form_shares_the_arrays_and_checks_the_shapes():
    net = MLP([4, 3, 2], np.random.default_rng(0))
    named = net.as_dict()
    assert list(named) == ["w1", "b1", "w2", "b2"]
    again = MLP.from_dict(named, slope=0.0)
    assert all(a is b for a, b in zip(again.params, net.params)) and again.slope == 0.0
    with pytest.raises(ValueError, match="layer 2 takes 3 inputs but layer 1 gives 5"):
        MLP.from_dict(
            {
                "w1": np.zeros((4, 5)),
                "b1": np.zeros(5),
                "w2": np.zeros((3, 2)),
                "b2": np.zeros(2),
            }
        )
    with pytest.raises(
        ValueError, match=r"model: layer 1 .*expected \(n_in, n_out\) and \(n_out,\)"
    ):
        MLP.from_dict({"w1": np.zeros((4, 5)), "b1": np.zeros(4)}, name="model")
    with pytest.raises(ValueError, match="expected weights 'w1'"):
        MLP.from_dict({"W1": np.zeros((4, 5))})


def test_minibatches_cover_a_permutation_once():
    rng, again = np.random.default_rng(5), np.random.default_rng(5)
    batches = minibatches(10, 4, rng)
    assert [len(b) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(batches), again.permutation(10))
    assert rng.random() == again.random()  # one permutation draw, nothing more
