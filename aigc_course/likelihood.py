"""Framework-neutral likelihood maths for latent-variable models (NumPy only).

The VAEs of :mod:`aigc_course.torch.vae` and :mod:`aigc_course.keras.vae`
evaluate two lower bounds on log p(x), in nats, per example:

* the ELBO (Kingma & Welling, 2013), with the KL term in closed form::

      ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))

* the importance-weighted bound (Burda et al., 2015) with k samples::

      L_k(x) = E[ log (1/k) sum_i p(x, z_i) / q(z_i|x) ],   z_i ~ q(z|x)

  ELBO = L_1 <= L_k <= L_{k+1} <= log p(x)  (in expectation), and L_k -> log p(x).

Both frameworks delegate the loop (chunks of examples and of importance
samples, the noise, the log-mean-exp) to :func:`estimate_bounds` below and
only supply two small callables: the encoder's ``(mu, logvar)`` and the
decoder's ``log p(x|z)``. The same ``seed`` therefore draws the same noise
in PyTorch and in Keras.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import as_image_batch, check_int, check_vectors, rng_from

LOG_2PI = math.log(2.0 * math.pi)


# ----- input handling ---------------------------------------------------------
def unit_images(x, name: str = "x") -> np.ndarray:
    """Validated images as float32 (N, 28, 28) intensities in [0, 1]."""
    return np.clip((as_image_batch(x, name) + 1.0) / 2.0, 0.0, 1.0)


def threshold_binarize(x, threshold: float = 0.5, name: str = "x") -> np.ndarray:
    """Validated images as float32 (N, 28, 28) in {0, 1}: 1 where the pixel is > ``threshold``.

    A fixed (static) binarization: images already in {0, 1} (floats or uint8
    0/255) pass through unchanged; grey levels are thresholded (uint8: 128..255
    -> 1). Evaluation uses it; training draws a fresh Bernoulli(pixel) image
    instead (:func:`aigc_course.data.binarize`, ``method="dynamic"``).
    """
    return (unit_images(x, name) > threshold).astype(np.float32)


def check_latent(z, latent_dim: int, name: str = "z") -> np.ndarray:
    """Latent codes as float32 (N, latent_dim)."""
    return check_vectors(z, latent_dim, name, what="latent codes", dtype=np.float32)


# ----- the maths, as NumPy references -----------------------------------------
def log_mean_exp(a, axis: int = 0) -> np.ndarray:
    """log(mean(exp(a))) along ``axis``, without overflow: m + log mean exp(a - m)."""
    a = np.asarray(a, np.float64)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):  # all -inf -> log 0 = -inf, as it should
        out = m + np.log(np.mean(np.exp(a - m), axis=axis, keepdims=True))
    return np.squeeze(out, axis=axis)


def nats_to_bits_per_dim(nats, dims: int = 784):
    """Negative log-likelihood in nats per example -> bits per dimension.

    bits/dim = nats / (dims * ln 2). Pass ``-elbo`` or ``-iwae_bound`` (positive).
    """
    return np.asarray(nats, np.float64) / (dims * math.log(2.0))


def reparameterize_np(mu, logvar, eps) -> np.ndarray:
    """z = mu + sigma * eps with sigma = exp(logvar / 2), the standard deviation (float64)."""
    mu, logvar = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
    return mu + np.exp(0.5 * logvar) * np.asarray(eps, np.float64)


def gaussian_kl_np(mu, logvar) -> np.ndarray:
    """KL(N(mu, exp(logvar)) || N(0, I)) per example, summed over the last axis.

    = -1/2 * sum(1 + logvar - mu^2 - exp(logvar))
    """
    mu, logvar = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
    return -0.5 * np.sum(1.0 + logvar - mu**2 - np.exp(logvar), axis=-1)


def bernoulli_nll_np(logits, x) -> np.ndarray:
    """-log Bernoulli(x | sigmoid(logits)) per example, summed over all but the first axis.

    Stable form of BCE with logits: max(l, 0) - l*x + log(1 + exp(-|l|)).
    """
    l, x = np.asarray(logits, np.float64), np.asarray(x, np.float64)
    nll = np.maximum(l, 0.0) - l * x + np.log1p(np.exp(-np.abs(l)))
    return nll.reshape(len(nll), -1).sum(axis=1)


def standard_normal_log_prob(z) -> np.ndarray:
    """log N(z; 0, I), summed over the last axis."""
    z = np.asarray(z, np.float64)
    return -0.5 * np.sum(z**2 + LOG_2PI, axis=-1)


def posterior_log_prob(eps, logvar) -> np.ndarray:
    """log N(z; mu, exp(logvar)) at z = mu + exp(logvar/2) * eps, summed over the last axis.

    (z - mu)^2 / sigma^2 = eps^2, so mu drops out: -1/2 * sum(eps^2 + logvar + log 2 pi).
    """
    eps, logvar = np.asarray(eps, np.float64), np.asarray(logvar, np.float64)
    return -0.5 * np.sum(eps**2 + logvar + LOG_2PI, axis=-1)


# ----- the estimator loop shared by both frameworks ---------------------------
def estimate_bounds(
    stats_fn,
    log_lik_fn,
    x,
    k: int,
    latent_dim: int,
    seed=None,
    max_rows: int = 4096,
    examples_per_batch: int = 64,
):
    """Single-pass estimates of the ELBO and the k-sample IWAE bound, per example.

    stats_fn(xb) -> (mu, logvar), each (b, latent_dim): the encoder q(z|x).
    log_lik_fn(x_rows, z_rows) -> (rows,): log p(x|z) for paired rows.
    x: (N, ...) data, already in the model's input format.

    The k samples per example are drawn with ``np.random.default_rng(seed)``
    in chunks, so that at most ``max_rows`` (example, sample) pairs go through
    the decoder at once: k = 5000 costs time, not memory. Returns float64
    ``(elbo, iwae)``, each (N,), where ``elbo`` averages log p(x|z) over the
    same k samples and subtracts the closed-form KL (with k = 1: one sample),
    and ``iwae`` is log (1/k) sum_i p(x, z_i) / q(z_i|x).
    """
    k = check_int(k, "k", expected="a positive int (number of samples)")
    x = np.asarray(x)
    n = len(x)
    rng = rng_from(seed)
    elbo, iwae = np.empty(n), np.empty(n)
    b = max(1, min(n, examples_per_batch))
    chunk = max(1, max_rows // b)
    for start in range(0, n, b):
        xb = x[start : start + b]
        mu, logvar = (np.asarray(a, np.float64) for a in stats_fn(xb))
        sum_log_lik = np.zeros(len(xb))
        log_sum_w = np.full(len(xb), -np.inf)
        for s in range(0, k, chunk):
            c = min(chunk, k - s)
            eps = rng.standard_normal((c, len(xb), latent_dim))
            z = reparameterize_np(mu, logvar, eps)
            rows = np.repeat(xb[None], c, axis=0).reshape(c * len(xb), *xb.shape[1:])
            log_lik = np.asarray(
                log_lik_fn(rows, z.reshape(-1, latent_dim).astype(np.float32)),
                np.float64,
            ).reshape(c, len(xb))
            # log w = log p(x|z) + log p(z) - log q(z|x)
            log_w = (
                log_lik + standard_normal_log_prob(z) - posterior_log_prob(eps, logvar)
            )
            sum_log_lik += log_lik.sum(axis=0)
            log_sum_w = np.logaddexp(
                log_sum_w, log_mean_exp(log_w, axis=0) + math.log(c)
            )
        elbo[start : start + b] = sum_log_lik / k - gaussian_kl_np(mu, logvar)
        iwae[start : start + b] = log_sum_w - math.log(k)
    return elbo, iwae
