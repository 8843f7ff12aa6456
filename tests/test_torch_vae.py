"""PyTorch VAE tests, plus the framework-neutral maths of aigc_course.likelihood."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from aigc_course.likelihood import (
    bernoulli_nll_np,
    estimate_bounds,
    gaussian_kl_np,
    log_mean_exp,
    nats_to_bits_per_dim,
    threshold_binarize,
)
from aigc_course.torch import set_seed
from aigc_course.torch.vae import (
    VAE,
    ConvVAE,
    bernoulli_nll,
    gaussian_kl,
    reparameterize,
)

# small configurations for everything that trains or evaluates many times
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
    return torch.as_tensor(np.asarray(a, np.float64))


# ----- architecture ---------------------------------------------------------------
def test_parameter_counts_match_hand_counts():
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
    assert mu.shape == logvar.shape == (5, 16) and mu.dtype == np.float32
    assert isinstance(mu, np.ndarray)
    probs = model.decode(mu)
    assert probs.shape == (5, 28, 28) and probs.dtype == np.float32
    assert probs.min() >= 0.0 and probs.max() <= 1.0
    assert model.reconstruct(digits[:2]).shape == (2, 28, 28)
    logits = model(torch.as_tensor(model.prepare(digits[:3])[0]))
    assert logits.shape == (3, 1, 28, 28)


# ----- losses against closed forms and NumPy references -----------------------------
def test_gaussian_kl_hand_cases():
    zeros, ones = torch.zeros(2, 5), torch.ones(2, 5)
    assert torch.equal(gaussian_kl(zeros, zeros), torch.zeros(2))  # q == p
    # 0.5 per dim
    assert torch.allclose(gaussian_kl(ones, zeros), torch.full((2,), 0.5 * 5))
    # logvar = log 4 (sigma = 2), mu = 0: 0.5 * (4 - 1 - log 4) per dim
    kl = gaussian_kl(torch.zeros(1, 1), torch.full((1, 1), math.log(4.0)))
    assert float(kl) == pytest.approx(0.5 * (4 - 1 - math.log(4.0)), rel=1e-6)


def test_gaussian_kl_against_numpy_and_monte_carlo():
    rng = np.random.default_rng(0)
    mu, logvar = rng.normal(size=(3, 4)), rng.normal(scale=0.5, size=(3, 4))
    kl = gaussian_kl(t(mu), t(logvar)).numpy()
    np.testing.assert_allclose(kl, gaussian_kl_np(mu, logvar), rtol=1e-12)
    # Monte Carlo: KL = E_q[log q(z) - log p(z)], z ~ q
    sigma = np.exp(0.5 * logvar)
    z = mu + sigma * rng.standard_normal((200_000, 3, 4))
    log_q = -0.5 * (((z - mu) / sigma) ** 2 + logvar + np.log(2 * np.pi))
    log_p = -0.5 * (z**2 + np.log(2 * np.pi))
    mc = (log_q - log_p).sum(-1).mean(0)
    np.testing.assert_allclose(kl, mc, atol=0.03)


def test_bernoulli_nll_against_numpy_reference():
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=3.0, size=(4, 1, 28, 28))
    x = (rng.random((4, 1, 28, 28)) > 0.5).astype(np.float64)
    nll = bernoulli_nll(t(logits), t(x)).numpy()
    p = 1 / (1 + np.exp(-logits))
    naive = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(4, -1).sum(1)
    np.testing.assert_allclose(nll, naive, rtol=1e-10)
    np.testing.assert_allclose(nll, bernoulli_nll_np(logits, x), rtol=1e-12)
    assert nll.shape == (4,)


def test_reparameterization_is_mu_plus_sigma_eps_exactly():
    rng = np.random.default_rng(2)
    mu, logvar, eps = (
        torch.as_tensor(rng.normal(size=(5, 3)).astype(np.float32)) for _ in range(3)
    )
    z = reparameterize(mu, logvar, eps)
    assert torch.equal(z, mu + torch.exp(0.5 * logvar) * eps)
    np.testing.assert_allclose(
        z.numpy(), mu.numpy() + np.exp(logvar.numpy() / 2) * eps.numpy(), rtol=1e-6
    )
    # gradients reach mu and logvar through the sample
    mu.requires_grad_(True)
    reparameterize(mu, logvar, eps).sum().backward()
    assert torch.equal(mu.grad, torch.ones_like(mu))


def test_train_step_reports_its_parts(digits):
    set_seed(0)
    model = VAE(beta=0.5, **TINY)
    model.optimizers = model.configure_optimizers()
    logs = model.train_step(torch.as_tensor(model.prepare(digits[:8])[0]))
    assert set(logs) == {"loss", "recon", "kl"}
    assert float(logs["loss"]) == pytest.approx(
        float(logs["recon"]) + 0.5 * float(logs["kl"]), rel=1e-6
    )
    assert float(logs["recon"]) > 0 and float(logs["kl"]) >= 0


def test_train_step_binarizes_dynamically():
    """Grey images (p = 0.5) must reach the loss as {0, 1} images."""
    set_seed(0)
    model = VAE(**TINY)
    model.optimizers = model.configure_optimizers()
    seen = []
    model.encoder[0].register_forward_hook(
        lambda m, inp, out: seen.append(inp[0].clone())
    )
    x = torch.full((4, 1, 28, 28), 0.5)
    model.train_step(x)
    model.train_step(x)
    a, b = seen
    assert set(torch.unique(a).tolist()) == {0.0, 1.0}
    assert 0.4 < float(a.mean()) < 0.6 and not torch.equal(a, b)


# ----- bounds: ELBO and IWAE --------------------------------------------------------
@pytest.fixture(scope="module")
def trained_tiny():
    rng = np.random.default_rng(0)
    x = np.zeros((64, 28, 28), np.uint8)
    for i in range(64):
        r, c = rng.integers(4, 16, size=2)
        x[i, r : r + 8, c : c + 8] = 255
    set_seed(0)
    model = VAE(**TINY)
    model.fit(x, epochs=2, batch_size=16, verbose=False)
    return model, x


def test_elbo_is_finite_negative_and_seeded(trained_tiny):
    model, x = trained_tiny
    e = model.elbo(x[:6], seed=0)
    assert e.shape == (6,) and np.all(np.isfinite(e))
    assert np.all(e < 0)  # log p(x) of a discrete image is <= 0: -ELBO is positive nats
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
    many = np.repeat(x[:1], 2000, axis=0)
    iwae1 = model.iwae_bound(many, k=1, seed=0)  # 2000 single-sample estimates
    assert iwae1.std() > 0
    assert iwae1.mean() == pytest.approx(
        model.elbo(x[:1], seed=1, samples=2000)[0],
        abs=4 * iwae1.std() / math.sqrt(2000) + 0.05,
    )


def test_iwae_chunking_changes_nothing_and_large_k_runs(trained_tiny):
    model, x = trained_tiny
    prep = threshold_binarize(x[:3])[:, None]
    args = (model._stats, model._log_lik, prep, 50, model.latent_dim, 7)
    one = estimate_bounds(*args, max_rows=10_000)
    chunked = estimate_bounds(*args, max_rows=7)  # 7 // 3 = 2 samples per chunk
    np.testing.assert_allclose(one, chunked, rtol=1e-6)  # same noise; float32 decoder
    big = model.iwae_bound(x[:2], k=5000, seed=0)
    assert np.all(np.isfinite(big)) and np.all(
        big >= model.iwae_bound(x[:2], k=1, seed=0) - 1
    )


@pytest.mark.parametrize("k", [0, -3, 2.0, True])
def test_bad_k_rejected(trained_tiny, k):
    model, x = trained_tiny
    with pytest.raises(ValueError, match="positive int"):
        model.iwae_bound(x[:2], k=k)
    with pytest.raises(ValueError, match="positive int"):
        model.elbo(x[:2], samples=k)


# ----- the framework-neutral estimator on a model with a known log p(x) --------------
def _toy_gaussian(post_exact: bool):
    """z ~ N(0, 1), x|z ~ N(z, 1): p(x) = N(0, 2), posterior N(x/2, 1/2)."""

    def stats(xb):
        xb = xb[:, :1]
        if post_exact:
            return xb / 2, np.full_like(xb, math.log(0.5))
        return np.zeros_like(xb), np.zeros_like(xb)

    def log_lik(x_rows, z_rows):
        return -0.5 * ((x_rows[:, 0] - z_rows[:, 0]) ** 2 + math.log(2 * math.pi))

    return stats, log_lik


def test_estimator_recovers_exact_log_likelihood():
    x = np.array([[-1.5], [0.0], [2.0]])
    exact = -0.5 * (x[:, 0] ** 2 / 2 + math.log(2 * math.pi * 2))
    # exact posterior: every importance weight equals p(x), so any k is exact
    elbo, iwae = estimate_bounds(*_toy_gaussian(True), x, k=3, latent_dim=1, seed=0)
    np.testing.assert_allclose(iwae, exact, rtol=1e-6)  # z goes to log_lik as float32
    # prior as proposal: the ELBO is strictly below, IWAE closes the gap as k grows
    elbo, iwae = estimate_bounds(
        *_toy_gaussian(False), x, k=20_000, latent_dim=1, seed=0
    )
    np.testing.assert_allclose(iwae, exact, atol=0.03)
    # E_{z~N(0,1)} log N(x; z, 1) - 0
    true_elbo = -0.5 * (x[:, 0] ** 2 + 1 + math.log(2 * math.pi))
    np.testing.assert_allclose(elbo, true_elbo, atol=0.05)
    assert np.all(elbo < iwae)


def test_log_mean_exp_and_bits_per_dim():
    a = np.array([[1000.0, 1000.0], [1000.0 + math.log(3.0), -np.inf]])
    np.testing.assert_allclose(
        log_mean_exp(a, axis=0), [1000 + math.log(2.0), 1000 - math.log(2.0)]
    )
    assert log_mean_exp(np.array([-np.inf, -np.inf])) == -np.inf
    np.testing.assert_allclose(log_mean_exp(np.log([1.0, 2.0, 3.0])), math.log(2.0))
    assert float(nats_to_bits_per_dim(784 * math.log(2.0))) == pytest.approx(1.0)
    assert float(nats_to_bits_per_dim(math.log(2.0) * 10, dims=10)) == pytest.approx(
        1.0
    )


def test_threshold_binarize_thresholds_and_keeps_binary_images():
    x = np.zeros((1, 28, 28), np.uint8)
    x[0, 0, :4] = [127, 128, 255, 1]
    b = threshold_binarize(x)
    assert b.dtype == np.float32 and b[0, 0, :4].tolist() == [0, 1, 1, 0]
    f = (np.random.default_rng(0).random((2, 28, 28)) > 0.5).astype(np.float32)
    np.testing.assert_array_equal(threshold_binarize(f), f)


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
    hist = model.fit(data, epochs=10, batch_size=16, verbose=False)
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


@pytest.mark.parametrize("n", [0, -1, 2.5])
def test_sample_rejects_bad_n(n):
    with pytest.raises(ValueError, match="positive int"):
        VAE(**TINY).sample(n)


@pytest.mark.parametrize("cls", [VAE, ConvVAE])
def test_save_load_round_trip(cls, tmp_path, digits):
    set_seed(0)
    model = cls(latent_dim=4)
    model.fit(digits, epochs=1, batch_size=32, verbose=False)
    model.save(tmp_path / "v.pt")
    other = cls(latent_dim=4).load(tmp_path / "v.pt")
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert torch.equal(a, b), k
    np.testing.assert_array_equal(model.sample(4, seed=1), other.sample(4, seed=1))
    np.testing.assert_array_equal(
        model.iwae_bound(digits[:2], k=5, seed=0),
        other.iwae_bound(digits[:2], k=5, seed=0),
    )


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
        lambda x: model.fit(x, epochs=1, verbose=False),
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


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_mixed_precision_training(digits):
    set_seed(0)
    model = ConvVAE()
    hist = model.fit(
        digits, epochs=2, batch_size=16, verbose=False, amp=True, device="cuda"
    )
    assert model.device.type == "cuda"
    assert all(np.isfinite(v) for v in hist.history["loss"])
    assert np.all(np.isfinite(model.iwae_bound(digits[:2], k=2000, seed=0)))
    assert model.sample(4, seed=0).shape == (4, 28, 28)
