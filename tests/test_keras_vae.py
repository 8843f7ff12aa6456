"""Keras VAE tests. `make test` runs this file twice: KERAS_BACKEND=tensorflow and =torch."""

import math
import os

import numpy as np
import pytest

pytestmark = pytest.mark.keras
keras = pytest.importorskip("keras")

from aigc_course.keras import set_seed
from aigc_course.keras.autoregressive import pixel_nll
from aigc_course.keras.vae import (
    VAE,
    ConvVAE,
    bernoulli_nll,
    gaussian_kl,
    reparameterize,
)
from aigc_course.likelihood import (
    bernoulli_nll_np,
    gaussian_kl_np,
    nats_to_bits_per_dim,
)

ops = keras.ops
TINY = dict(latent_dim=4, hidden=(64, 32))


def dense(n_in, n_out):
    return n_in * n_out + n_out


def conv(c_in, c_out, k=4):
    return c_in * c_out * k * k + c_out


def vae_params(latent=16, h1=512, h2=256):
    """Encoder 784 -> h1 -> h2 -> 2*latent (mu and logvar); decoder latent -> h2 -> h1 -> 784."""
    return (
        dense(784, h1)
        + dense(h1, h2)
        + dense(h2, 2 * latent)
        + dense(latent, h2)
        + dense(h2, h1)
        + dense(h1, 784)
    )


def conv_vae_params(latent=16, c1=32, c2=64):
    """Conv 1->c1, c1->c2 (k4), Dense 7*7*c2 -> 2*latent; Dense latent -> 7*7*c2, ConvT c2->c1, c1->1."""
    return (
        conv(1, c1)
        + conv(c1, c2)
        + dense(7 * 7 * c2, 2 * latent)
        + dense(latent, 7 * 7 * c2)
        + conv(c2, c1)
        + conv(c1, 1)
    )


def t(a):
    return ops.convert_to_tensor(np.asarray(a, np.float32))


def n(a):
    return ops.convert_to_numpy(a)


def test_backend_is_the_one_requested():
    wanted = os.environ.get("KERAS_BACKEND")
    if wanted:
        assert keras.backend.backend() == wanted


# ----- architecture ---------------------------------------------------------------
def test_parameter_counts_match_hand_counts_and_pytorch():
    assert VAE().count_params() == vae_params() == 1_079_600
    assert ConvVAE().count_params() == conv_vae_params() == 220_385
    assert VAE(latent_dim=4, hidden=(64, 32)).count_params() == vae_params(4, 64, 32)
    assert ConvVAE(latent_dim=3, channels=(8, 16)).count_params() == conv_vae_params(
        3, 8, 16
    )


@pytest.mark.parametrize("cls", [VAE, ConvVAE])
def test_encode_decode_shapes_and_ranges(cls, digits):
    set_seed(0)
    model = cls()
    mu, logvar = model.encode(digits[:5])
    assert isinstance(mu, np.ndarray) and mu.dtype == np.float32
    assert mu.shape == logvar.shape == (5, 16)
    probs = model.decode(mu)
    assert probs.shape == (5, 28, 28) and probs.dtype == np.float32
    assert probs.min() >= 0.0 and probs.max() <= 1.0
    assert model.reconstruct(digits[:2]).shape == (2, 28, 28)
    assert tuple(model(model.prepare(digits[:3])[0]).shape) == (3, 28, 28, 1)


# ----- losses against closed forms and NumPy references -----------------------------
def test_gaussian_kl_hand_cases():
    zeros, ones = np.zeros((2, 5)), np.ones((2, 5))
    np.testing.assert_array_equal(n(gaussian_kl(t(zeros), t(zeros))), [0.0, 0.0])
    np.testing.assert_allclose(n(gaussian_kl(t(ones), t(zeros))), [2.5, 2.5], rtol=1e-6)
    kl = n(gaussian_kl(t([[0.0]]), t([[math.log(4.0)]])))
    np.testing.assert_allclose(kl, [0.5 * (4 - 1 - math.log(4.0))], rtol=1e-5)


def test_gaussian_kl_against_numpy_and_monte_carlo():
    rng = np.random.default_rng(0)
    mu, logvar = rng.normal(size=(3, 4)), rng.normal(scale=0.5, size=(3, 4))
    kl = n(gaussian_kl(t(mu), t(logvar)))
    np.testing.assert_allclose(kl, gaussian_kl_np(mu, logvar), rtol=1e-5)
    sigma = np.exp(0.5 * logvar)
    z = mu + sigma * rng.standard_normal((200_000, 3, 4))
    log_q = -0.5 * (((z - mu) / sigma) ** 2 + logvar + np.log(2 * np.pi))
    log_p = -0.5 * (z**2 + np.log(2 * np.pi))
    np.testing.assert_allclose(kl, (log_q - log_p).sum(-1).mean(0), atol=0.03)


def test_bernoulli_nll_against_numpy_reference():
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=3.0, size=(4, 28, 28, 1)).astype(np.float32)
    x = (rng.random((4, 28, 28, 1)) > 0.5).astype(np.float32)
    nll = n(bernoulli_nll(t(logits), t(x)))
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    naive = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(4, -1).sum(1)
    assert nll.shape == (4,)
    np.testing.assert_allclose(nll, naive, rtol=1e-5)
    np.testing.assert_allclose(nll, bernoulli_nll_np(logits, x), rtol=1e-5)
    # large logits must not overflow
    assert np.isfinite(
        n(bernoulli_nll(t(np.full((1, 3), 200.0)), t(np.zeros((1, 3)))))
    ).all()


@pytest.mark.parametrize("target", [0.0, 1.0])
@pytest.mark.parametrize("loss", [bernoulli_nll, pixel_nll], ids=["vae", "pixelcnn"])
def test_bernoulli_nll_gradient_is_sigmoid_minus_x_also_at_zero(loss, target):
    """d/dl [softplus(l) - l x] = sigmoid(l) - x, also at l = 0, where a max(l, 0) and
    |l| form of the loss has a kink and gives 0: logits that all start at 0 never learn."""
    from aigc_course.keras.core import apply_gradients

    logits = keras.Variable(np.zeros((2, 3), np.float32))
    x = t(np.full((2, 3), target, np.float32))
    apply_gradients(
        keras.optimizers.SGD(1.0), lambda: ops.sum(loss(logits, x)), [logits]
    )
    # one SGD step of size 1: l = 0 - (sigmoid(0) - x)
    np.testing.assert_allclose(n(logits), target - 0.5, atol=1e-6)


def test_reparameterization_is_mu_plus_sigma_eps_exactly():
    rng = np.random.default_rng(2)
    mu, logvar, eps = (rng.normal(size=(5, 3)).astype(np.float32) for _ in range(3))
    z = n(reparameterize(t(mu), t(logvar), t(eps)))
    np.testing.assert_allclose(z, mu + np.exp(logvar / 2) * eps, rtol=1e-6)
    np.testing.assert_array_equal(z, n(t(mu) + ops.exp(0.5 * t(logvar)) * t(eps)))


def test_train_step_reports_its_parts(digits):
    set_seed(0)
    model = VAE(beta=0.5, **TINY)
    model.compile()
    w0 = [w.copy() for w in model.get_weights()]
    logs = model.train_step(t(model.prepare(digits[:8])[0]))
    assert set(logs) == {"loss", "recon", "kl"}
    loss, recon, kl = (float(n(logs[k])) for k in ("loss", "recon", "kl"))
    assert loss == pytest.approx(recon + 0.5 * kl, rel=1e-5)
    assert recon > 0 and kl >= 0
    assert all(not np.array_equal(a, b) for a, b in zip(w0, model.get_weights()))


def test_train_step_binarizes_dynamically():
    """Grey images (p = 0.5) must reach the encoder as fresh {0, 1} images."""
    set_seed(0)
    model = VAE(**TINY)
    model.compile()
    seen, posterior = [], model.posterior

    def spy(x, training=False):
        seen.append(n(x))
        return posterior(x, training=training)

    model.posterior = spy
    x = t(np.full((4, 28, 28, 1), 0.5))
    model.train_step(x)
    model.train_step(x)
    a, b = seen
    assert set(np.unique(a).tolist()) == {0.0, 1.0}
    assert 0.4 < a.mean() < 0.6 and not np.array_equal(a, b)


# ----- bounds -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_tiny():
    rng = np.random.default_rng(0)
    x = np.zeros((64, 28, 28), np.uint8)
    for i in range(64):
        r, c = rng.integers(4, 16, size=2)
        x[i, r : r + 8, c : c + 8] = 255
    set_seed(0)
    model = VAE(**TINY)
    model.fit(x, epochs=2, batch_size=16, verbose=0)
    return model, x


def test_elbo_is_finite_negative_and_seeded(trained_tiny):
    model, x = trained_tiny
    e = model.elbo(x[:6], seed=0)
    assert e.shape == (6,) and np.all(np.isfinite(e))
    assert np.all(e < 0)  # -ELBO is positive nats
    np.testing.assert_array_equal(e, model.elbo(x[:6], seed=0))
    assert not np.array_equal(e, model.elbo(x[:6], seed=1))
    bpd = nats_to_bits_per_dim(-e)
    assert np.all((bpd > 0) & (bpd < 5))


def test_iwae_increases_with_k_and_bounds_the_elbo(trained_tiny):
    model, x = trained_tiny
    imgs = x[:8]
    elbo = model.elbo(imgs, seed=0).mean()
    b1, b10, b100 = (model.iwae_bound(imgs, k=k, seed=0).mean() for k in (1, 10, 100))
    assert b1 < b10 < b100
    assert elbo <= b100


def test_iwae_with_one_sample_is_the_elbo_in_expectation(trained_tiny):
    model, x = trained_tiny
    iwae1 = model.iwae_bound(np.repeat(x[:1], 2000, axis=0), k=1, seed=0)
    assert iwae1.std() > 0
    assert iwae1.mean() == pytest.approx(
        model.elbo(x[:1], seed=1, samples=2000)[0],
        abs=4 * iwae1.std() / math.sqrt(2000) + 0.05,
    )


def test_large_k_is_chunked(trained_tiny):
    model, x = trained_tiny
    big = model.iwae_bound(x[:2], k=5000, seed=0)
    assert big.shape == (2,) and np.all(np.isfinite(big))


@pytest.mark.parametrize("k", [0, -3, 2.0, True])
def test_bad_k_rejected(trained_tiny, k):
    model, x = trained_tiny
    with pytest.raises(ValueError, match="positive int"):
        model.iwae_bound(x[:2], k=k)
    with pytest.raises(ValueError, match="positive int"):
        model.elbo(x[:2], samples=k)


# ----- training, sampling, persistence, errors --------------------------------------
@pytest.mark.parametrize(
    "cls, kw",
    [
        (VAE, dict(lr=3e-3, **TINY)),
        (ConvVAE, dict(lr=5e-3, latent_dim=4, channels=(16, 32))),
    ],
)
def test_tiny_batch_overfit_drives_the_loss_down(cls, kw, digits):
    set_seed(0)
    model = cls(**kw)
    data = np.tile(digits[:16], (3, 1, 1))  # 16 images, 3 steps per epoch: 30 steps
    hist = model.fit(data, epochs=10, batch_size=16, verbose=0)
    loss = hist.history["loss"]
    assert set(hist.history) == {"loss", "recon", "kl"} and len(loss) == 10
    assert loss[-1] < 0.7 * loss[0]


def test_sample_shape_range_and_seed_determinism():
    set_seed(0)
    model = VAE()
    a = model.sample(5, seed=3)
    assert a.shape == (5, 28, 28) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert np.array_equal(a, model.sample(5, seed=3))
    assert not np.array_equal(a, model.sample(5, seed=4))


@pytest.mark.parametrize("n_bad", [0, -1, 2.5])
def test_sample_rejects_bad_n(n_bad):
    with pytest.raises(ValueError, match="positive int"):
        VAE(**TINY).sample(n_bad)


@pytest.mark.parametrize(
    "cls, kw", [(VAE, dict(hidden=(32, 16))), (ConvVAE, dict(channels=(8, 16)))]
)
def test_save_load_round_trip_keras_and_weights_h5(cls, kw, tmp_path, digits):
    set_seed(0)
    model = cls(latent_dim=4, beta=0.5, **kw)
    model.fit(digits, epochs=1, batch_size=32, verbose=0)
    for name in ("v.keras", "v.weights.h5"):
        path = tmp_path / name
        model.save(path) if name.endswith(".keras") else model.save_weights(path)
        other = cls(latent_dim=4, beta=0.5, **kw).load(path)
        for a, b in zip(model.get_weights(), other.get_weights()):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(model.sample(4, seed=1), other.sample(4, seed=1))
    # the whole model, config included, and it can keep training
    other = keras.models.load_model(tmp_path / "v.keras")
    assert type(other) is cls and other.beta == 0.5 and other.latent_dim == 4
    np.testing.assert_array_equal(
        model.iwae_bound(digits[:2], k=5, seed=0),
        other.iwae_bound(digits[:2], k=5, seed=0),
    )
    hist = other.fit(digits, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(hist.history["loss"][0])


@pytest.mark.parametrize(
    "bad, msg",
    [
        (np.zeros((2, 32, 32), np.uint8), r"\(N, 28, 28\)"),
        (np.zeros((28, 28), np.uint8), r"\(N, 28, 28\)"),
        (np.zeros((2, 28, 28), np.int32), "dtype"),
        (np.full((2, 28, 28), 2.0, np.float32), r"\[0, 1\]"),
    ],
)
def test_bad_images_rejected(bad, msg):
    model = VAE(**TINY)
    for call in (
        model.encode,
        model.elbo,
        lambda x: model.iwae_bound(x, k=2),
        lambda x: model.fit(x, epochs=1, verbose=0),
    ):
        with pytest.raises(ValueError, match=msg):
            call(bad)


def test_bad_latents_and_constructor_arguments_rejected():
    model = VAE(**TINY)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        model.decode(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        model.decode(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="float"):
        model.decode(np.array([["a"] * 4]))
    with pytest.raises(ValueError, match="latent_dim"):
        VAE(latent_dim=0)
    with pytest.raises(ValueError, match="beta"):
        VAE(beta=-1.0)
