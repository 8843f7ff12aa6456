"""Input gradients against finite differences and the evaluator; FGSM, PGD and their constraints;
adversarial training raising robustness on a separable toy task; saliency and deletion; errors."""

import numpy as np
import pytest

from aigc_course import adversarial as A
from aigc_course import evaluator as E


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.05, 0.95, (n, 28, 28))


def _params64(layers=(784, 32, 16, 10), seed=0):
    return {k: v.astype(np.float64) for k, v in A.init_mlp(layers, seed=seed).items()}


def _ce(params, x, y):
    p = np.exp(A.logits(params, x))
    p /= p.sum(1, keepdims=True)
    return -np.log(p[np.arange(len(y)), y])


@pytest.mark.parametrize("of", ["loss", "logit"])
def test_input_gradient_matches_finite_differences(of):
    params = _params64()
    x, y = _images(3), np.array([1, 4, 7])
    g = A.input_gradient(params, x, y, of=of)
    assert g.shape == (3, 28, 28)
    f = (
        (lambda z: _ce(params, z, y))
        if of == "loss"
        else (lambda z: A.logits(params, z)[np.arange(3), y])
    )
    rng = np.random.default_rng(1)
    h = 1e-6
    for _ in range(5):
        i, j = rng.integers(0, 28, 2)
        d = np.zeros_like(x)
        d[:, i, j] = h
        numeric = (f(x + d) - f(x - d)) / (2 * h)
        assert np.allclose(g[:, i, j], numeric, rtol=1e-5, atol=1e-8)


def test_logits_agree_with_the_evaluator():
    params = E._init(np.random.default_rng(0))
    ev = E.Evaluator(params, "mnist", "test", 0.0, 1, 1)
    x = _images(5)
    assert np.allclose(A.logits(ev, x), ev._run(x.astype(np.float32))[1], atol=1e-4)
    assert np.array_equal(A.predict(ev, x), ev.predict(x.astype(np.float32)))


def test_fgsm_and_pgd_stay_in_the_ball_and_raise_the_loss():
    params = _params64()
    x, y = _images(20), np.arange(20) % 10
    for adv in (A.fgsm(params, x, y, 0.05), A.pgd(params, x, y, 0.05, steps=5)):
        assert (
            np.abs(adv - x).max() <= 0.05 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
        )
        assert np.all(_ce(params, adv, y) >= _ce(params, x, y) - 1e-9)
    # first-order prediction of FGSM: loss grows by about eps * |grad|_1 for small eps
    eps = 1e-4
    grad = A.input_gradient(params, x, y)
    predicted = eps * np.abs(grad).sum(axis=(1, 2))
    actual = _ce(params, A.fgsm(params, x, y, eps), y) - _ce(params, x, y)
    assert np.allclose(actual, predicted, rtol=0.05)
    # PGD without a random start and one step of size eps is FGSM
    assert np.allclose(
        A.pgd(params, x, y, 0.05, steps=1, step_size=0.05, random_start=False),
        A.fgsm(params, x, y, 0.05),
    )
    assert np.array_equal(A.fgsm(params, x, y, 0.0), x)


def _toy_digits(n, seed):
    """Two classes that differ by a bright bar in a noisy background: easy to learn, and
    attackable through the 784 noise pixels unless the model learns to ignore them."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.uniform(0.0, 0.2, (n, 28, 28))
    x[y == 1, 8:20, 10:18] += 0.6
    return np.clip(x, 0, 1).astype(np.float32), y


def test_adversarial_training_improves_robustness_on_a_toy_task():
    x, y = _toy_digits(600, 0)
    xt, yt = _toy_digits(300, 1)
    layers = (784, 32, 2)
    std, hist = A.train_mlp(x, y, epochs=8, layers=layers, seed=0)
    rob, _ = A.train_mlp(x, y, epochs=8, layers=layers, attack="fgsm", eps=0.05, seed=0)
    assert len(hist) == 8 and hist[-1] < hist[0]
    assert A.accuracy(std, xt, yt) > 0.95 and A.accuracy(rob, xt, yt) > 0.95
    attacked_std = A.accuracy(std, A.pgd(std, xt, yt, 0.05, steps=10), yt)
    attacked_rob = A.accuracy(rob, A.pgd(rob, xt, yt, 0.05, steps=10), yt)
    assert attacked_rob > attacked_std + 0.3
    # deterministic for a seed; PGD training and the Goodfellow mixture run too
    again, _ = A.train_mlp(x, y, epochs=8, layers=layers, seed=0)
    assert all(np.array_equal(std[k], again[k]) for k in std)
    for kw in (
        {"attack": "pgd", "pgd_steps": 2},
        {"attack": "fgsm", "adv_weight": 0.5},
    ):
        p, h = A.train_mlp(x[:200], y[:200], epochs=1, layers=layers, eps=0.1, **kw)
        assert np.isfinite(h[0])


def test_saliency_and_deletion_curve():
    x, y = _toy_digits(300, 2)
    params, _ = A.train_mlp(x, y, epochs=6, layers=(784, 32, 2), seed=0)
    sal = A.saliency(params, x[:50], y[:50])
    assert sal.shape == (50, 28, 28) and np.all(sal >= 0)
    assert np.allclose(
        sal, np.abs(A.input_gradient(params, x[:50], y[:50], of="logit"))
    )
    # the bar carries the evidence: deleting (setting to 0) the pixels with the largest
    # gradient x input of class-1 images lowers p(1) far more than deleting random pixels;
    # the plain |gradient| ranks them better than random, but only a little
    ones = y == 1
    xo, yo = x[ones], y[ones]
    fr = [0.0, 0.05, 0.1]
    gxi = A.input_gradient(params, xo, yo, of="logit") * xo
    by_gxi = A.deletion_curve(params, xo, yo, gxi, fr)
    by_sal = A.deletion_curve(params, xo, yo, A.saliency(params, xo, yo), fr)
    by_rand = A.deletion_curve(
        params, xo, yo, np.random.default_rng(0).random(xo.shape), fr
    )
    assert by_gxi[0] == pytest.approx(by_rand[0]) and by_gxi[0] > 0.9
    assert by_gxi[1] < 0.5 < by_rand[1] and by_sal[2] < by_rand[2]


def test_errors():
    params = _params64()
    x, y = _images(2), np.array([0, 1])
    with pytest.raises(ValueError, match="Evaluator or a dict"):
        A.input_gradient([1, 2], x, y)
    with pytest.raises(ValueError, match="28, 28"):
        A.fgsm(params, np.zeros((2, 10)), y, 0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        A.fgsm(params, x * 2, y, 0.1)
    with pytest.raises(ValueError, match="eps"):
        A.fgsm(params, x, y, 2.0)
    with pytest.raises(ValueError, match="of"):
        A.input_gradient(params, x, y, of="prob")
    with pytest.raises(ValueError, match="labels"):
        A.input_gradient(params, x, np.array([0, 10]))
    with pytest.raises(ValueError, match="attack"):
        A.train_mlp(x, y, 1, attack="cw")
    with pytest.raises(ValueError, match="layers"):
        A.init_mlp((100, 10))
    with pytest.raises(ValueError, match="scores"):
        A.deletion_curve(params, x, y, np.zeros((2, 5)), [0.1])
