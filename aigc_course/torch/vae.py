"""Variational autoencoders on binarized 28x28 images (PyTorch).

Kingma & Welling (2013), "Auto-Encoding Variational Bayes". The encoder gives
a diagonal Gaussian q(z|x) = N(mu, exp(logvar)); the decoder gives Bernoulli
logits for every pixel, p(x|z) = Bernoulli(sigmoid(logits)); the prior is
p(z) = N(0, I). Training maximises the ELBO, i.e. minimises per example::

    loss = BCE_with_logits(decoder(z), x).sum()  +  beta * KL(q(z|x) || p(z)),
    z = mu + exp(logvar / 2) * eps,  eps ~ N(0, I)     (reparameterization)

* ``VAE``:     MLP 784 -> 512 -> 256 -> (mu, logvar), decoder 16 -> 256 -> 512 -> 784.
* ``ConvVAE``: conv 1 -> 32 (14x14) -> 64 (7x7) -> Dense 2*latent, decoder mirrored
  with transposed convolutions.
* ``CVAE``:    the MLP VAE made class-conditional (Sohn et al., 2015): the one-hot
  label is concatenated to the flattened image for q(z|x, y) and to z for p(x|z, y).

Default latent_dim is 16. Mirrors ``aigc_course.keras.vae`` layer for layer
(same parameter counts). The framework-neutral bounds (ELBO, IWAE) live in
:mod:`aigc_course.likelihood`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import as_labels, check_count, latent_noise
from ..likelihood import check_latent, estimate_bounds, threshold_binarize, unit_images
from .core import GenerativeModel


# --- losses (shown in the book) -------------------------------------------
def reparameterize(mu, logvar, eps):
    """z = mu + sigma * eps with sigma = exp(logvar / 2): a sample that gradients flow through."""
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mu, logvar):
    """KL(N(mu, sigma^2) || N(0, 1)) per example: -1/2 sum(1 + logvar - mu^2 - exp(logvar))."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1)


def bernoulli_nll(logits, x):
    """-log p(x|z) per example: BCE with logits, summed over the pixels."""
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return bce.flatten(1).sum(dim=1)


# --- end losses -------------------------------------------------------------


def mlp_encoder(latent_dim: int = 16, hidden=(512, 256)) -> nn.Sequential:
    h1, h2 = hidden
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, h1),
        nn.ReLU(),
        nn.Linear(h1, h2),
        nn.ReLU(),
        nn.Linear(h2, 2 * latent_dim),
    )


def mlp_decoder(latent_dim: int = 16, hidden=(512, 256)) -> nn.Sequential:
    h1, h2 = hidden
    return nn.Sequential(
        nn.Linear(latent_dim, h2),
        nn.ReLU(),
        nn.Linear(h2, h1),
        nn.ReLU(),
        nn.Linear(h1, 28 * 28),
        nn.Unflatten(1, (1, 28, 28)),
    )


def conv_encoder(latent_dim: int = 16, channels=(32, 64)) -> nn.Sequential:
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 4, stride=2, padding=1),
        nn.ReLU(),  # 28 -> 14
        nn.Conv2d(c1, c2, 4, stride=2, padding=1),
        nn.ReLU(),  # 14 -> 7
        nn.Flatten(),
        nn.Linear(c2 * 7 * 7, 2 * latent_dim),
    )


def conv_decoder(latent_dim: int = 16, channels=(32, 64)) -> nn.Sequential:
    c1, c2 = channels
    return nn.Sequential(
        nn.Linear(latent_dim, c2 * 7 * 7),
        nn.ReLU(),
        nn.Unflatten(1, (c2, 7, 7)),
        nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1),
        nn.ReLU(),  # 7 -> 14
        nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),
    )  # 14 -> 28 logits


class VAE(GenerativeModel):
    """MLP VAE with a Bernoulli decoder; ``beta`` != 1 gives a beta-VAE (Higgins et al., 2017).

    Inputs: images shaped (N, 28, 28) (or with a channel axis of 1), uint8 in
    [0, 255] or floats in [0, 1]. ``fit`` binarizes dynamically (a fresh
    Bernoulli(pixel) image every step); ``elbo``/``iwae_bound`` binarize by
    thresholding at 0.5 (images already in {0, 1} are unchanged); ``encode``
    uses the intensities in [0, 1] as they are. All public methods take and
    return NumPy arrays.
    """

    def __init__(
        self,
        latent_dim: int = 16,
        beta: float = 1.0,
        lr: float = 1e-3,
        hidden=(512, 256),
    ):
        super().__init__()
        check_count(latent_dim, "latent_dim")
        if not beta >= 0:
            raise ValueError(f"beta: expected a non-negative float, got {beta!r}")
        self.latent_dim, self.beta, self.lr = int(latent_dim), float(beta), lr
        self.encoder, self.decoder = self.build_networks(hidden)

    def build_networks(self, hidden):
        return mlp_encoder(self.latent_dim, hidden), mlp_decoder(
            self.latent_dim, hidden
        )

    def configure_optimizers(self):
        return {"vae": torch.optim.Adam(self.parameters(), lr=self.lr)}

    def prepare(self, x, y=None):
        return (unit_images(x)[:, None],)  # (N, 1, 28, 28) grey levels in [0, 1]

    def posterior(self, x):
        """q(z|x): the encoder's output split into (mu, logvar), each (N, latent_dim)."""
        return self.encoder(x).chunk(2, dim=1)

    def forward(self, x):
        """Reconstruction logits (N, 1, 28, 28) from the posterior mean z = mu."""
        mu, _ = self.posterior(x)
        return self.decoder(mu)

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, x):
        opt = self.optimizers["vae"]
        x = torch.bernoulli(x)  # dynamic binarization: a fresh binary image every step
        with self.autocast():
            mu, logvar = self.posterior(x)
            z = reparameterize(mu, logvar, torch.randn_like(mu))
            logits = self.decoder(z)
        recon = bernoulli_nll(logits.float(), x).mean()  # -E_q[log p(x|z)]
        kl = gaussian_kl(mu.float(), logvar.float()).mean()  # KL(q(z|x) || p(z))
        loss = recon + self.beta * kl  # -ELBO (beta = 1)
        opt.zero_grad(set_to_none=True)
        self.backward(loss)
        self.optimizer_step(opt)
        return {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach()}

    # --- end train_step ------------------------------------------------------

    # ----- NumPy in, NumPy out -------------------------------------------------
    def _to_device(self, a):
        return torch.as_tensor(np.asarray(a, np.float32), device=self.device)

    @torch.no_grad()
    def _stats(self, x):
        mu, logvar = self.posterior(self._to_device(x))
        return mu.float().cpu().numpy(), logvar.float().cpu().numpy()

    @torch.no_grad()
    def _log_lik(self, x, z):
        logits = self.decoder(self._to_device(z)).float()
        return (-bernoulli_nll(logits, self._to_device(x))).cpu().numpy()

    def encode(self, x):
        """Images -> NumPy float32 ``(mu, logvar)``, each (N, latent_dim)."""
        x = self.prepare(x)[0]
        with self.evaluating():
            return self._stats(x)

    @torch.no_grad()
    def decode(self, z) -> np.ndarray:
        """Latent codes (N, latent_dim) -> pixel probabilities, float32 (N, 28, 28) in [0, 1]."""
        z = check_latent(z, self.latent_dim)
        with self.evaluating():
            logits = self.decoder(self._to_device(z))
        return torch.sigmoid(logits.float()).cpu().numpy().reshape(-1, 28, 28)

    def reconstruct(self, x) -> np.ndarray:
        """decode(mu): the mean reconstruction of images, (N, 28, 28) in [0, 1]."""
        return self.decode(self.encode(x)[0])

    def sample(self, n: int, seed=None) -> np.ndarray:
        """``n`` images from z ~ N(0, I): decoder MEAN probabilities (no Bernoulli noise).

        float32 (n, 28, 28) in [0, 1]; the same seed gives the same images
        (z from NumPy, hence also the same z as the Keras twin).
        """
        return self.decode(latent_noise(n, self.latent_dim, seed))

    def elbo(self, x, seed=None, samples: int = 1) -> np.ndarray:
        """ELBO per example in nats (a lower bound on log p(x), so negative), float64 (N,).

        E_q[log p(x|z)] estimated with ``samples`` draws (default 1), minus the
        closed-form KL. ``x`` is binarized by thresholding at 0.5.
        """
        return self._bounds(x, samples, seed)[0]

    def iwae_bound(self, x, k: int = 100, seed=None) -> np.ndarray:
        """k-sample importance-weighted bound on log p(x), in nats, float64 (N,).

        log (1/k) sum_i p(x, z_i) / q(z_i|x); it grows with k towards log p(x).
        Computed in chunks, so k = 5000 fits in memory.
        """
        return self._bounds(x, k, seed)[1]

    def _bounds(self, x, k, seed):
        x = threshold_binarize(x)[:, None]
        with self.evaluating():
            return estimate_bounds(
                self._stats, self._log_lik, x, k, self.latent_dim, seed
            )


class ConvVAE(VAE):
    """Convolutional VAE: 1 -> 32 -> 64 channels (28 -> 14 -> 7), mirrored decoder.

    Same interface as :class:`VAE`; ``channels`` replaces ``hidden``.
    """

    def __init__(
        self,
        latent_dim: int = 16,
        beta: float = 1.0,
        lr: float = 1e-3,
        channels=(32, 64),
    ):
        super().__init__(latent_dim, beta, lr, hidden=channels)

    def build_networks(self, channels):
        return conv_encoder(self.latent_dim, channels), conv_decoder(
            self.latent_dim, channels
        )


# ---------------------------------------------------------------------------
# CVAE: class-conditional VAE
# ---------------------------------------------------------------------------
def one_hot(labels, num_classes: int):
    """Integer labels (N,) -> float one-hot rows (N, num_classes)."""
    return F.one_hot(labels.long(), num_classes).float()


class ConditionalEncoder(nn.Module):
    """q(z|x, y) = MLP([flatten(x), one_hot(y)]): 784 + C -> h1 -> h2 -> 2 * latent_dim."""

    def __init__(self, latent_dim: int = 16, num_classes: int = 10, hidden=(512, 256)):
        super().__init__()
        h1, h2 = hidden
        self.net = nn.Sequential(
            nn.Linear(28 * 28 + num_classes, h1),
            nn.ReLU(),
            nn.Linear(h1, h2),
            nn.ReLU(),
            nn.Linear(h2, 2 * latent_dim),
        )

    def forward(self, x, y):
        return self.net(torch.cat([x.flatten(1), y], dim=1))


class ConditionalDecoder(nn.Module):
    """p(x|z, y) = MLP([z, one_hot(y)]): latent_dim + C -> h2 -> h1 -> 784 logits (1, 28, 28)."""

    def __init__(self, latent_dim: int = 16, num_classes: int = 10, hidden=(512, 256)):
        super().__init__()
        h1, h2 = hidden
        self.net = nn.Sequential(
            nn.Linear(latent_dim + num_classes, h2),
            nn.ReLU(),
            nn.Linear(h2, h1),
            nn.ReLU(),
            nn.Linear(h1, 28 * 28),
            nn.Unflatten(1, (1, 28, 28)),
        )

    def forward(self, z, y):
        return self.net(torch.cat([z, y], dim=1))


class CVAE(VAE):
    """Conditional VAE (Sohn et al., 2015): ``fit(x, y)``, ``sample(n, labels=...)``.

    The label y is given to both networks as a one-hot vector: q(z|x, y) and
    p(x|z, y), with the prior p(z) = N(0, I) unchanged. The loss is the VAE's,
    now a bound on log p(x|y). Since the label already says *which* digit, z only
    has to encode *how* it is written (slant, thickness, ...).

    ``encode``, ``decode``, ``reconstruct``, ``elbo`` and ``iwae_bound`` take the
    integer labels (N,) as their second argument; ``sample`` draws the classes
    ``labels`` (default ``0, 1, ..., num_classes - 1, 0, 1, ...``).
    """

    def __init__(
        self,
        latent_dim: int = 16,
        num_classes: int = 10,
        beta: float = 1.0,
        lr: float = 1e-3,
        hidden=(512, 256),
    ):
        # build_networks needs it
        self.num_classes = check_count(num_classes, "num_classes")
        super().__init__(latent_dim, beta, lr, hidden)

    def build_networks(self, hidden):
        return (
            ConditionalEncoder(self.latent_dim, self.num_classes, hidden),
            ConditionalDecoder(self.latent_dim, self.num_classes, hidden),
        )

    def prepare(self, x, y=None):
        if y is None:
            raise ValueError(
                "CVAE.fit: expected class labels, call fit(x, y) with y shaped (N,)"
            )
        x = unit_images(x)[:, None]  # (N, 1, 28, 28) grey levels in [0, 1]
        return x, as_labels(y, len(x), self.num_classes)

    def posterior(self, x, y):
        """q(z|x, y) from images and one-hot labels: (mu, logvar), each (N, latent_dim)."""
        return self.encoder(x, y).chunk(2, dim=1)

    def forward(self, x, labels):
        """Reconstruction logits (N, 1, 28, 28) from z = mu, given integer labels (N,)."""
        y = one_hot(labels, self.num_classes)
        mu, _ = self.posterior(x, y)
        return self.decoder(mu, y)

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, x, labels):
        opt = self.optimizers["vae"]
        x = torch.bernoulli(x)  # dynamic binarization, as in the VAE
        y = one_hot(labels, self.num_classes)  # the condition, given to both networks
        with self.autocast():
            mu, logvar = self.posterior(x, y)  # q(z | x, y)
            z = reparameterize(mu, logvar, torch.randn_like(mu))
            logits = self.decoder(z, y)  # p(x | z, y)
        recon = bernoulli_nll(logits.float(), x).mean()
        kl = gaussian_kl(mu.float(), logvar.float()).mean()  # KL(q(z|x, y) || p(z))
        loss = recon + self.beta * kl  # -ELBO of log p(x | y)
        opt.zero_grad(set_to_none=True)
        self.backward(loss)
        self.optimizer_step(opt)
        return {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach()}

    # --- end train_step ------------------------------------------------------

    # ----- NumPy in, NumPy out -------------------------------------------------
    # estimate_bounds slices and repeats one array, so images and labels travel
    # together as rows [784 pixels, one-hot label].
    def _one_hot_np(self, labels, n: int) -> np.ndarray:
        labels = as_labels(labels, n, self.num_classes, name="labels")
        return np.eye(self.num_classes, dtype=np.float32)[labels]

    def _rows(self, x, labels, binary: bool) -> np.ndarray:
        x = threshold_binarize(x) if binary else unit_images(x)
        return np.concatenate(
            [x.reshape(len(x), -1), self._one_hot_np(labels, len(x))], axis=1
        )

    def _split(self, rows):
        rows = self._to_device(rows)
        return rows[:, : 28 * 28].reshape(-1, 1, 28, 28), rows[:, 28 * 28 :]

    @torch.no_grad()
    def _stats(self, rows):
        mu, logvar = self.posterior(*self._split(rows))
        return mu.float().cpu().numpy(), logvar.float().cpu().numpy()

    @torch.no_grad()
    def _log_lik(self, rows, z):
        x, y = self._split(rows)
        logits = self.decoder(self._to_device(z), y).float()
        return (-bernoulli_nll(logits, x)).cpu().numpy()

    def encode(self, x, labels):
        """Images and labels (N,) -> NumPy float32 ``(mu, logvar)``, each (N, latent_dim)."""
        rows = self._rows(x, labels, binary=False)
        with self.evaluating():
            return self._stats(rows)

    @torch.no_grad()
    def decode(self, z, labels) -> np.ndarray:
        """Latent codes (N, latent_dim) and labels (N,) -> pixel probabilities (N, 28, 28)."""
        z = check_latent(z, self.latent_dim)
        y = self._to_device(self._one_hot_np(labels, len(z)))
        with self.evaluating():
            logits = self.decoder(self._to_device(z), y)
        return torch.sigmoid(logits.float()).cpu().numpy().reshape(-1, 28, 28)

    def reconstruct(self, x, labels) -> np.ndarray:
        """decode(mu, labels): the mean reconstruction of images, (N, 28, 28) in [0, 1]."""
        return self.decode(self.encode(x, labels)[0], labels)

    def sample(self, n: int, seed=None, labels=None) -> np.ndarray:
        """``n`` images (n, 28, 28) in [0, 1] of the classes ``labels`` (default
        ``0, 1, ..., num_classes - 1, 0, 1, ...``): decoder mean probabilities for
        z ~ N(0, I); the same seed gives the same z (and the same z as the Keras twin)."""
        n = check_count(n)
        if labels is None:
            labels = np.arange(n) % self.num_classes
        return self.decode(latent_noise(n, self.latent_dim, seed), labels)

    def elbo(self, x, labels, seed=None, samples: int = 1) -> np.ndarray:
        """ELBO of log p(x|y) per example in nats, float64 (N,); see :meth:`VAE.elbo`."""
        return self._bounds(x, labels, samples, seed)[0]

    def iwae_bound(self, x, labels, k: int = 100, seed=None) -> np.ndarray:
        """k-sample importance-weighted bound on log p(x|y), in nats, float64 (N,)."""
        return self._bounds(x, labels, k, seed)[1]

    def _bounds(self, x, labels, k, seed):
        rows = self._rows(x, labels, binary=True)
        with self.evaluating():
            return estimate_bounds(
                self._stats, self._log_lik, rows, k, self.latent_dim, seed
            )
