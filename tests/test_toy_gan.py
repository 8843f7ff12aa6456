"""The NumPy toy GAN: hand-written gradients against finite differences, training, checks."""

import numpy as np
import pytest
from _helpers import numeric_grads

from aigc_course.toy_gan import ToyGAN

CENTERS = 2.0 * np.stack(
    [np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1
)


def ring(n, seed=0, std=0.05):
    rng = np.random.default_rng(seed)
    return CENTERS[rng.integers(0, 8, n)] + std * rng.standard_normal((n, 2))


def assert_grads_close(analytic, numeric):
    for a, n in zip(analytic, numeric, strict=True):
        assert a.shape == n.shape
        scale = max(np.abs(n).max(), 1e-3)
        assert np.abs(a - n).max() / scale < 1e-5, (a, n)
    assert any(np.abs(n).max() > 1e-4 for n in numeric), "gradients are trivially zero"


@pytest.fixture
def small_gan():
    gan = ToyGAN(latent_dim=3, hidden=(5, 4), seed=0)
    rng = np.random.default_rng(1)
    return gan, ring(16, seed=2), rng.standard_normal((16, 3))


def test_discriminator_gradients_match_finite_differences(small_gan):
    gan, real, z = small_gan
    _, analytic = gan.d_loss_and_grads(real, z)
    numeric = numeric_grads(lambda: gan.d_loss_and_grads(real, z)[0], gan.D.params)
    assert_grads_close(analytic, numeric)


@pytest.mark.parametrize("kind", ["non-saturating", "saturating"])
def test_generator_gradients_match_finite_differences(small_gan, kind):
    gan, _, z = small_gan
    gan.g_loss_kind = kind
    _, analytic = gan.g_loss_and_grads(z)
    numeric = numeric_grads(lambda: gan.g_loss_and_grads(z)[0], gan.G.params)
    assert_grads_close(analytic, numeric)


def test_generator_losses_differ_and_have_the_documented_values(small_gan):
    gan, _, z = small_gan
    logit = gan.D.forward(gan.G.forward(z)[0])[0]
    gan.g_loss_kind = "non-saturating"
    ns, _ = gan.g_loss_and_grads(z)
    gan.g_loss_kind = "saturating"
    sat, _ = gan.g_loss_and_grads(z)
    d = 1 / (1 + np.exp(-logit))
    assert ns == pytest.approx(np.mean(-np.log(d)), rel=1e-10)
    assert sat == pytest.approx(np.mean(np.log(1 - d)), rel=1e-10)


def test_discriminator_training_lowers_its_loss():
    gan = ToyGAN(seed=0)
    gan.opt_g.lr = 0.0  # freeze G: train D alone
    g_before = [p.copy() for p in gan.G.params]
    data = ring(1024)
    real, z = data[:256], gan.noise(256, np.random.default_rng(0))
    before = gan.d_loss_and_grads(real, z)[0]
    gan.fit(data, steps=50)
    after = gan.d_loss_and_grads(real, z)[0]
    assert before > 1.0 and after < 0.8 * before, (before, after)
    for a, b in zip(g_before, gan.G.params):
        np.testing.assert_array_equal(a, b)


def test_short_training_moves_samples_towards_the_ring():
    gan = ToyGAN(seed=0)
    distance = lambda x: np.abs(np.linalg.norm(x, axis=1) - 2.0).mean()
    before = distance(gan.sample(1000, seed=1))
    history = gan.fit(ring(2048), steps=500, log_every=100)
    after = distance(gan.sample(1000, seed=1))
    assert history["step"] == [100, 200, 300, 400, 500] and gan.steps_done == 500
    assert all(np.isfinite(history["d_loss"])) and all(np.isfinite(history["g_loss"]))
    assert after < 0.9 * before, (before, after)


def test_training_is_deterministic_given_the_seed():
    data = ring(512)
    a, b, c = ToyGAN(seed=3), ToyGAN(seed=3), ToyGAN(seed=4)
    for gan in (a, b, c):
        gan.fit(data, steps=30, log_every=10)
    for pa, pb in zip(a.G.params + a.D.params, b.G.params + b.D.params):
        np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(a.sample(50, seed=0), b.sample(50, seed=0))
    assert a.history == b.history
    assert not np.allclose(a.sample(50, seed=0), c.sample(50, seed=0))


def test_sample_with_a_seed_does_not_disturb_training():
    data = ring(512)
    a, b = ToyGAN(seed=0), ToyGAN(seed=0)
    a.sample(10, seed=5)
    a.fit(data, steps=10)
    b.fit(data, steps=10)
    np.testing.assert_array_equal(a.sample(20, seed=0), b.sample(20, seed=0))


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 3)),
        np.zeros(10),
        np.zeros((0, 2)),
        np.array([[0.0, np.nan]]),
        np.zeros((2, 2, 2)),
    ],
)
def test_fit_rejects_data_that_is_not_finite_2d_points(bad):
    with pytest.raises(ValueError, match="data"):
        ToyGAN(seed=0).fit(bad, steps=1)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(g_loss="wasserstein"),
        dict(hidden=(0,)),
        dict(latent_dim=0),
        dict(d_steps=0),
        dict(lr_d=0.0),
        dict(batch_size=2.5),
    ],
)
def test_constructor_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        ToyGAN(**kwargs)


def test_fit_and_sample_reject_bad_counts():
    gan = ToyGAN(seed=0)
    with pytest.raises(ValueError, match="steps"):
        gan.fit(ring(10), steps=0)
    with pytest.raises(ValueError, match="n"):
        gan.sample(0)
    with pytest.raises(ValueError, match="x"):
        gan.discriminate(np.zeros((4, 3)))


def test_gradient_check_detects_a_wrong_gradient():
    """The finite-difference check catches a backward pass that disagrees with forward."""
    gan = ToyGAN(latent_dim=2, hidden=(6,), seed=0)
    real, z = ring(16), np.random.default_rng(0).standard_normal((16, 2))
    _, analytic = gan.d_loss_and_grads(real, z)
    gan.D.slope = 0.5  # now forward uses 0.5 ...
    numeric = numeric_grads(lambda: gan.d_loss_and_grads(real, z)[0], gan.D.params)
    with pytest.raises(AssertionError):  # ... and the old gradients no longer match
        assert_grads_close(analytic, numeric)
