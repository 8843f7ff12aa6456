"""Shared test helpers (hand counts and NumPy references)."""

import numpy as np


def dense(n_in, n_out):
    return n_in * n_out + n_out


def mlp_gan_params(latent_dim=100):
    """Trainable parameters of the articles' MLP GAN, counted by hand.

    Generator: latent -> 128 -> 256 -> 512 -> 1024 -> 784, batch norm (scale and
    shift) after every hidden layer but the first. Discriminator: 784 -> 512 -> 256 -> 1.
    """
    g = (
        dense(latent_dim, 128)
        + dense(128, 256)
        + 2 * 256
        + dense(256, 512)
        + 2 * 512
        + dense(512, 1024)
        + 2 * 1024
        + dense(1024, 784)
    )
    d = dense(784, 512) + dense(512, 256) + dense(256, 1)
    return g + d


def bce_logits_np(logits, targets):
    """Reference binary cross-entropy from logits (NumPy, stable)."""
    logits = np.asarray(logits, np.float64)
    return float(
        np.mean(
            np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
        )
    )


def numeric_grads(loss_fn, params, h=1e-6):
    """Central finite differences of the scalar ``loss_fn()`` w.r.t. every entry of ``params``."""
    out = []
    for p in params:
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + h
            up = loss_fn()
            p[i] = old - h
            down = loss_fn()
            p[i] = old
            g[i] = (up - down) / (2 * h)
        out.append(g)
    return out


# ----- hand counts of the GAN zoo (tests/test_torch_gan.py and tests/test_keras_gan.py) -----
def conv(n_in, n_out, k=4, bias=True):
    return n_in * n_out * k * k + (n_out if bias else 0)


def dcgan_generator_params(latent_dim=100, c=64):
    # Dense (no bias) -> BN(7*7*2c) -> ConvT 2c->c (no bias) -> BN(c) -> ConvT c->1
    return (
        latent_dim * 7 * 7 * 2 * c
        + 2 * 7 * 7 * 2 * c
        + conv(2 * c, c, bias=False)
        + 2 * c
        + conv(c, 1)
    )


def dcgan_discriminator_params(c=64, batch_norm=True):
    # Conv 1->c -> Conv c->2c (bias only without BN) -> [BN(2c)] -> Dense 7*7*2c -> 1
    return (
        conv(1, c)
        + conv(c, 2 * c, bias=not batch_norm)
        + (2 * 2 * c if batch_norm else 0)
        + dense(7 * 7 * 2 * c, 1)
    )


def cgan_params(latent_dim=100, num_classes=10, embed_dim=10):
    g = (
        num_classes * embed_dim
        + dense(latent_dim + embed_dim, 128)
        + dense(128, 256)
        + 2 * 256
        + dense(256, 512)
        + 2 * 512
        + dense(512, 1024)
        + 2 * 1024
        + dense(1024, 784)
    )
    d = (
        num_classes * embed_dim
        + dense(784 + embed_dim, 512)
        + dense(512, 256)
        + dense(256, 1)
    )
    return g + d


GAN_PARAMS = {  # the hand counts of MODELS[name]()
    "gan": mlp_gan_params(),
    "dcgan": dcgan_generator_params() + dcgan_discriminator_params(),
    "cgan": cgan_params(),
    "wgan_gp": dcgan_generator_params() + dcgan_discriminator_params(batch_norm=False),
}
GAN_PARAMS_EXPECTED = {
    "gan": 2_043_537,
    "dcgan": 910_658,
    "cgan": 2_050_137,
    "wgan_gp": 910_530,
}
