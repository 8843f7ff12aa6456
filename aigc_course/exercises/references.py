"""The reference solutions of the exercises, in NumPy (float64).

Each one states the exact rule in its docstring and calls the package function
that the course itself uses, so that an exercise checks the course's own
definition: :mod:`aigc_course.likelihood` (the VAE terms), :mod:`aigc_course.ar_numpy`
(the attention mask), :mod:`aigc_course.text` (top-k) and
:mod:`aigc_course.numpy_nn` (softplus). ``reference(name)`` returns them.
"""

from __future__ import annotations

import numpy as np

from ..ar_numpy import causal_attention_mask as _causal_attention_mask
from ..likelihood import bernoulli_nll_np, gaussian_kl_np, reparameterize_np
from ..numpy_nn import softplus
from ..text import top_k_filter as _top_k_filter


def _f64(a):
    return np.asarray(a, np.float64)


def gan_discriminator_loss(real_logits, fake_logits):
    """Discriminator loss from logits: mean BCE(real, 1) + mean BCE(fake, 0), a scalar.

    BCE(l, 1) = -log sigmoid(l) = softplus(-l) and BCE(l, 0) = -log(1 - sigmoid(l))
    = softplus(l). Each term is averaged over its own batch, then the two means
    are ADDED (not averaged), as in ``aigc_course.torch.gan.discriminator_loss``
    with ``label_smoothing=0``. At logits 0 the loss is 2 log 2.
    """
    return np.mean(softplus(-_f64(real_logits))) + np.mean(softplus(_f64(fake_logits)))


def gan_generator_loss(fake_logits):
    """Non-saturating generator loss: -mean(log sigmoid(l)) = mean BCE(fake, 1), a scalar."""
    return np.mean(softplus(-_f64(fake_logits)))


def vae_kl(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) per example, shape (N,).

    -1/2 * sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j)), summed over the
    latent axis (the last one), not averaged, and not reduced over the batch
    (:func:`aigc_course.likelihood.gaussian_kl_np`).
    """
    return gaussian_kl_np(mu, logvar)


def reparameterize(mu, logvar, eps):
    """z = mu + sigma * eps with sigma = exp(logvar / 2), the standard deviation
    (:func:`aigc_course.likelihood.reparameterize_np`)."""
    return reparameterize_np(mu, logvar, eps)


def bernoulli_nll(logits, x):
    """-log p(x | z) per example, shape (N,): BCE from logits, SUMMED over the pixels.

    x holds 0/1 pixels, logits are the decoder's raw scores; per pixel
    BCE(l, x) = -x log sigmoid(l) - (1 - x) log(1 - sigmoid(l)) = softplus(l) - x * l,
    stable for any l. Summed over every axis but the first (the batch axis), not
    averaged: log p(x | z) is a sum over independent pixels
    (:func:`aigc_course.likelihood.bernoulli_nll_np`).
    """
    return bernoulli_nll_np(logits, x)


def causal_attention_mask(T):
    """Boolean (T, T): entry [i, j] is True when position i may attend to j, i.e. j <= i.

    Row i is the query (the position being predicted from), column j the key;
    the diagonal is True (a position sees itself). This is the lower triangle
    (:func:`aigc_course.ar_numpy.causal_attention_mask`).
    """
    return _causal_attention_mask(T)


def top_k_filter(logits, k):
    """Keep the k largest logits on the last axis, set the others to -inf.

    Rule (as ``aigc_course.text.top_k_filter``): keep every logit >= the k-th
    largest value of its row, so logits tied with the k-th are all kept and a
    row may keep more than k. ``k`` is in [1, V]; ``k = V`` changes nothing.
    Works on one row (V,) and on a batch (B, V).
    """
    return _top_k_filter(logits, k)
