"""Variational autoencoders on binarized 28x28 images (Keras 3).

Kingma & Welling (2013), "Auto-Encoding Variational Bayes". The encoder gives
a diagonal Gaussian q(z|x) = N(mu, exp(logvar)); the decoder gives Bernoulli
logits for every pixel, p(x|z) = Bernoulli(sigmoid(logits)); the prior is
p(z) = N(0, I). Training maximises the ELBO, i.e. minimises per example::

    loss = BCE_with_logits(decoder(z), x).sum()  +  beta * KL(q(z|x) || p(z)),
    z = mu + exp(logvar / 2) * eps,  eps ~ N(0, I)     (reparameterization)

* ``VAE``:     MLP 784 -> 512 -> 256 -> (mu, logvar), decoder 16 -> 256 -> 512 -> 784.
* ``ConvVAE``: conv 1 -> 32 (14x14) -> 64 (7x7) -> Dense 2*latent, decoder mirrored
  with transposed convolutions (``padding="same"``: the same sizes as PyTorch's
  k4/s2/p1).
* ``CVAE``:    the MLP VAE made class-conditional (Sohn et al., 2015): the one-hot
  label is concatenated to the flattened image for q(z|x, y) and to z for p(x|z, y).

Default latent_dim is 16. Mirrors ``aigc_course.torch.vae`` layer for layer
(same parameter counts). The framework-neutral bounds (ELBO, IWAE) live in
:mod:`aigc_course.likelihood`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from .._checks import as_labels, check_count, latent_noise
from ..likelihood import check_latent, estimate_bounds, threshold_binarize, unit_images
from .core import GenerativeModel, SingleOptimizer, apply_gradients


# --- losses (shown in the book) -------------------------------------------
def reparameterize(mu, logvar, eps):
    """z = mu + sigma * eps with sigma = exp(logvar / 2): a sample that gradients flow through."""
    return mu + ops.exp(0.5 * logvar) * eps


def gaussian_kl(mu, logvar):
    """KL(N(mu, sigma^2) || N(0, 1)) per example: -1/2 sum(1 + logvar - mu^2 - exp(logvar))."""
    return -0.5 * ops.sum(1.0 + logvar - ops.square(mu) - ops.exp(logvar), axis=-1)


def bernoulli_nll(logits, x):
    """-log p(x|z) per example: BCE with logits, summed over the pixels.

    softplus(l) - l*x: stable in every backend, and its gradient sigmoid(l) - x is
    right everywhere. (The form max(l, 0) - l*x + log(1 + exp(-|l|)) has the gradient
    0 at l = 0 exactly, where max and |.| have a kink: a network whose logits all
    start at 0 would never learn.)
    """
    bce = ops.softplus(logits) - logits * x
    return ops.sum(bce, axis=tuple(range(1, len(bce.shape))))


# --- end losses -------------------------------------------------------------


def mlp_encoder(latent_dim: int = 16, hidden=(512, 256)) -> keras.Sequential:
    h1, h2 = hidden
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Flatten(),
            layers.Dense(h1, activation="relu"),
            layers.Dense(h2, activation="relu"),
            layers.Dense(2 * latent_dim),
        ],
        name="encoder",
    )


def mlp_decoder(latent_dim: int = 16, hidden=(512, 256)) -> keras.Sequential:
    h1, h2 = hidden
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(h2, activation="relu"),
            layers.Dense(h1, activation="relu"),
            layers.Dense(28 * 28),
            layers.Reshape((28, 28, 1)),
        ],
        name="decoder",
    )


def conv_encoder(latent_dim: int = 16, channels=(32, 64)) -> keras.Sequential:
    c1, c2 = channels
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            # 28 -> 14
            layers.Conv2D(c1, 4, strides=2, padding="same", activation="relu"),
            # 14 -> 7
            layers.Conv2D(c2, 4, strides=2, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(2 * latent_dim),
        ],
        name="encoder",
    )


def conv_decoder(latent_dim: int = 16, channels=(32, 64)) -> keras.Sequential:
    c1, c2 = channels
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(7 * 7 * c2, activation="relu"),
            layers.Reshape((7, 7, c2)),
            # 7 -> 14
            layers.Conv2DTranspose(c1, 4, strides=2, padding="same", activation="relu"),
            layers.Conv2DTranspose(1, 4, strides=2, padding="same"),  # 14 -> 28 logits
        ],
        name="decoder",
    )


@keras.saving.register_keras_serializable(package="aigc_course")
class VAE(SingleOptimizer, GenerativeModel):
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
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_count(latent_dim, "latent_dim")
        if not beta >= 0:
            raise ValueError(f"beta: expected a non-negative float, got {beta!r}")
        self.latent_dim, self.beta, self.lr = int(latent_dim), float(beta), lr
        self.hidden = tuple(hidden)
        self.encoder, self.decoder = self.build_networks(self.hidden)
        self.seed_gen = keras.random.SeedGenerator(0)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.recon_tracker = keras.metrics.Mean(name="recon")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.built = True

    def build_networks(self, hidden):
        return mlp_encoder(self.latent_dim, hidden), mlp_decoder(
            self.latent_dim, hidden
        )

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "beta": self.beta,
            "lr": self.lr,
            "hidden": list(self.hidden),
        }

    @property
    def metrics(self):
        return [self.loss_tracker, self.recon_tracker, self.kl_tracker]

    def prepare(self, x, y=None):
        return (unit_images(x)[..., None],)  # (N, 28, 28, 1) grey levels in [0, 1]

    def posterior(self, x, training=False):
        """q(z|x): the encoder's output split into (mu, logvar), each (N, latent_dim)."""
        mu, logvar = ops.split(self.encoder(x, training=training), 2, axis=-1)
        return mu, logvar

    def call(self, x, training=False):
        """Reconstruction logits (N, 28, 28, 1) from the posterior mean z = mu."""
        mu, _ = self.posterior(x, training=training)
        return self.decoder(mu, training=training)

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        # dynamic binarization: a fresh binary image every step
        x = ops.cast(
            keras.random.uniform(ops.shape(x), seed=self.seed_gen) < x, "float32"
        )
        eps = keras.random.normal(
            (ops.shape(x)[0], self.latent_dim), seed=self.seed_gen
        )
        parts = {}

        def loss_fn():
            mu, logvar = self.posterior(x, training=True)
            logits = self.decoder(reparameterize(mu, logvar, eps), training=True)
            parts["recon"] = ops.mean(bernoulli_nll(logits, x))  # -E_q[log p(x|z)]
            parts["kl"] = ops.mean(gaussian_kl(mu, logvar))  # KL(q(z|x) || p(z))
            return parts["recon"] + self.beta * parts["kl"]  # -ELBO (beta = 1)

        loss = apply_gradients(self.optimizer, loss_fn, self.trainable_weights)

        self.loss_tracker.update_state(ops.stop_gradient(loss))
        self.recon_tracker.update_state(ops.stop_gradient(parts["recon"]))
        self.kl_tracker.update_state(ops.stop_gradient(parts["kl"]))
        return {m.name: m.result() for m in self.metrics}

    # --- end train_step ------------------------------------------------------

    # ----- NumPy in, NumPy out -------------------------------------------------
    def _stats(self, x):
        mu, logvar = self.posterior(ops.convert_to_tensor(x, "float32"))
        return ops.convert_to_numpy(mu), ops.convert_to_numpy(logvar)

    def _log_lik(self, x, z):
        logits = self.decoder(ops.convert_to_tensor(z, "float32"), training=False)
        return ops.convert_to_numpy(
            -bernoulli_nll(logits, ops.convert_to_tensor(x, "float32"))
        )

    def encode(self, x):
        """Images -> NumPy float32 ``(mu, logvar)``, each (N, latent_dim)."""
        return self._stats(self.prepare(x)[0])

    def decode(self, z) -> np.ndarray:
        """Latent codes (N, latent_dim) -> pixel probabilities, float32 (N, 28, 28) in [0, 1]."""
        z = check_latent(z, self.latent_dim)
        probs = ops.sigmoid(self.decoder(ops.convert_to_tensor(z), training=False))
        return ops.convert_to_numpy(probs).astype(np.float32).reshape(-1, 28, 28)

    def reconstruct(self, x) -> np.ndarray:
        """decode(mu): the mean reconstruction of images, (N, 28, 28) in [0, 1]."""
        return self.decode(self.encode(x)[0])

    def sample(self, n: int, seed=None) -> np.ndarray:
        """``n`` images from z ~ N(0, I): decoder MEAN probabilities (no Bernoulli noise).

        float32 (n, 28, 28) in [0, 1]; the same seed gives the same images
        (z from NumPy, hence also the same z as the PyTorch twin).
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
        return estimate_bounds(
            self._stats,
            self._log_lik,
            threshold_binarize(x)[..., None],
            k,
            self.latent_dim,
            seed,
        )


@keras.saving.register_keras_serializable(package="aigc_course")
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
        **kwargs,
    ):
        kwargs.pop("hidden", None)
        super().__init__(latent_dim, beta, lr, hidden=channels, **kwargs)

    def build_networks(self, channels):
        return conv_encoder(self.latent_dim, channels), conv_decoder(
            self.latent_dim, channels
        )

    def get_config(self):
        config = super().get_config()
        config["channels"] = config.pop("hidden")
        return config


# ---------------------------------------------------------------------------
# CVAE: class-conditional VAE
# ---------------------------------------------------------------------------
def conditional_encoder(
    latent_dim: int = 16, num_classes: int = 10, hidden=(512, 256)
) -> keras.Model:
    """q(z|x, y) = MLP([flatten(x), one_hot(y)]): 784 + C -> h1 -> h2 -> 2 * latent_dim."""
    h1, h2 = hidden
    x = keras.Input((28, 28, 1), name="image")
    y = keras.Input((num_classes,), name="label")
    h = layers.Concatenate()([layers.Flatten()(x), y])
    h = layers.Dense(h1, activation="relu")(h)
    h = layers.Dense(h2, activation="relu")(h)
    return keras.Model([x, y], layers.Dense(2 * latent_dim)(h), name="encoder")


def conditional_decoder(
    latent_dim: int = 16, num_classes: int = 10, hidden=(512, 256)
) -> keras.Model:
    """p(x|z, y) = MLP([z, one_hot(y)]): latent_dim + C -> h2 -> h1 -> 784 logits (28, 28, 1)."""
    h1, h2 = hidden
    z = keras.Input((latent_dim,), name="z")
    y = keras.Input((num_classes,), name="label")
    h = layers.Concatenate()([z, y])
    h = layers.Dense(h2, activation="relu")(h)
    h = layers.Dense(h1, activation="relu")(h)
    out = layers.Reshape((28, 28, 1))(layers.Dense(28 * 28)(h))
    return keras.Model([z, y], out, name="decoder")


@keras.saving.register_keras_serializable(package="aigc_course")
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
        **kwargs,
    ):
        # build_networks needs it
        self.num_classes = check_count(num_classes, "num_classes")
        super().__init__(latent_dim, beta, lr, hidden, **kwargs)

    def build_networks(self, hidden):
        return (
            conditional_encoder(self.latent_dim, self.num_classes, hidden),
            conditional_decoder(self.latent_dim, self.num_classes, hidden),
        )

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}

    def prepare(self, x, y=None):
        if y is None:
            raise ValueError(
                "CVAE.fit: expected class labels, call fit(x, y) with y shaped (N,)"
            )
        x = unit_images(x)[..., None]  # (N, 28, 28, 1) grey levels in [0, 1]
        return x, as_labels(y, len(x), self.num_classes).astype("int32")

    def posterior(self, x, y, training=False):
        """q(z|x, y) from images and one-hot labels: (mu, logvar), each (N, latent_dim)."""
        mu, logvar = ops.split(self.encoder([x, y], training=training), 2, axis=-1)
        return mu, logvar

    def call(self, inputs, training=False):
        """Reconstruction logits (N, 28, 28, 1) from z = mu, for inputs ``(images, labels)``."""
        x, labels = inputs
        y = ops.one_hot(ops.cast(labels, "int32"), self.num_classes)
        mu, _ = self.posterior(x, y, training=training)
        return self.decoder([mu, y], training=training)

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, data):
        x, labels = data[0], data[1]
        # dynamic binarization, as in the VAE
        x = ops.cast(
            keras.random.uniform(ops.shape(x), seed=self.seed_gen) < x, "float32"
        )
        # the condition, given to both networks
        y = ops.one_hot(labels, self.num_classes)
        eps = keras.random.normal(
            (ops.shape(x)[0], self.latent_dim), seed=self.seed_gen
        )
        parts = {}

        def loss_fn():
            mu, logvar = self.posterior(x, y, training=True)  # q(z | x, y)
            # p(x | z, y)
            logits = self.decoder([reparameterize(mu, logvar, eps), y], training=True)
            parts["recon"] = ops.mean(bernoulli_nll(logits, x))
            parts["kl"] = ops.mean(gaussian_kl(mu, logvar))  # KL(q(z|x, y) || p(z))
            return parts["recon"] + self.beta * parts["kl"]  # -ELBO of log p(x | y)

        loss = apply_gradients(self.optimizer, loss_fn, self.trainable_weights)

        self.loss_tracker.update_state(ops.stop_gradient(loss))
        self.recon_tracker.update_state(ops.stop_gradient(parts["recon"]))
        self.kl_tracker.update_state(ops.stop_gradient(parts["kl"]))
        return {m.name: m.result() for m in self.metrics}

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

    @staticmethod
    def _split(rows):
        rows = np.asarray(rows, np.float32)
        return rows[:, : 28 * 28].reshape(-1, 28, 28, 1), rows[:, 28 * 28 :]

    def _stats(self, rows):
        x, y = self._split(rows)
        mu, logvar = self.posterior(ops.convert_to_tensor(x), ops.convert_to_tensor(y))
        return ops.convert_to_numpy(mu), ops.convert_to_numpy(logvar)

    def _log_lik(self, rows, z):
        x, y = self._split(rows)
        logits = self.decoder(
            [ops.convert_to_tensor(z, "float32"), ops.convert_to_tensor(y)],
            training=False,
        )
        return ops.convert_to_numpy(-bernoulli_nll(logits, ops.convert_to_tensor(x)))

    def encode(self, x, labels):
        """Images and labels (N,) -> NumPy float32 ``(mu, logvar)``, each (N, latent_dim)."""
        return self._stats(self._rows(x, labels, binary=False))

    def decode(self, z, labels) -> np.ndarray:
        """Latent codes (N, latent_dim) and labels (N,) -> pixel probabilities (N, 28, 28)."""
        z = check_latent(z, self.latent_dim)
        y = self._one_hot_np(labels, len(z))
        logits = self.decoder(
            [ops.convert_to_tensor(z), ops.convert_to_tensor(y)], training=False
        )
        return (
            ops.convert_to_numpy(ops.sigmoid(logits))
            .astype(np.float32)
            .reshape(-1, 28, 28)
        )

    def reconstruct(self, x, labels) -> np.ndarray:
        """decode(mu, labels): the mean reconstruction of images, (N, 28, 28) in [0, 1]."""
        return self.decode(self.encode(x, labels)[0], labels)

    def sample(self, n: int, seed=None, labels=None) -> np.ndarray:
        """``n`` images (n, 28, 28) in [0, 1] of the classes ``labels`` (default
        ``0, 1, ..., num_classes - 1, 0, 1, ...``): decoder mean probabilities for
        z ~ N(0, I); the same seed gives the same z (and the same z as the PyTorch twin)."""
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
        return estimate_bounds(
            self._stats,
            self._log_lik,
            self._rows(x, labels, binary=True),
            k,
            self.latent_dim,
            seed,
        )
