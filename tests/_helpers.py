"""Shared test helpers (hand counts and NumPy references)."""
import numpy as np


def dense(n_in, n_out):
    return n_in * n_out + n_out


def mlp_gan_params(latent_dim=100):
    """Trainable parameters of the articles' MLP GAN, counted by hand.

    Generator: latent -> 128 -> 256 -> 512 -> 1024 -> 784, batch norm (scale and
    shift) after every hidden layer but the first. Discriminator: 784 -> 512 -> 256 -> 1.
    """
    g = (dense(latent_dim, 128) + dense(128, 256) + 2 * 256 + dense(256, 512) + 2 * 512
         + dense(512, 1024) + 2 * 1024 + dense(1024, 784))
    d = dense(784, 512) + dense(512, 256) + dense(256, 1)
    return g + d


def bce_logits_np(logits, targets):
    """Reference binary cross-entropy from logits (NumPy, stable)."""
    logits = np.asarray(logits, np.float64)
    return float(np.mean(np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))))
