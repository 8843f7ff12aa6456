"""The source articles' MLP GAN, corrected so that it trains (Keras 3).

Generator: noise 100 -> 128 -> 256 -> 512 -> 1024 -> 784 (tanh), reshaped to
a 28x28x1 image. Discriminator: 784 -> 512 -> 256 -> 1 logit.
Mirrors ``aigc_course.torch.gan`` layer for layer (same parameter count).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from .._checks import as_image_batch, latent_noise, to_unit_images
from .core import GenerativeModel, apply_gradients


# --- losses (shown in the book) -------------------------------------------
def discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """BCE from logits: real images labelled 1 (or 1 - smoothing), fakes 0."""
    bce = keras.losses.binary_crossentropy
    real_targets = ops.full_like(real_logits, 1.0 - label_smoothing)
    return (ops.mean(bce(real_targets, real_logits, from_logits=True))
            + ops.mean(bce(ops.zeros_like(fake_logits), fake_logits, from_logits=True)))


def generator_loss(fake_logits):
    """Non-saturating loss: -log D(G(z)), i.e. BCE with the fakes labelled 1."""
    bce = keras.losses.binary_crossentropy
    return ops.mean(bce(ops.ones_like(fake_logits), fake_logits, from_logits=True))
# --- end losses -------------------------------------------------------------


def mlp_generator(latent_dim: int = 100) -> keras.Sequential:
    def block(n_out, norm=True):
        out = [layers.Dense(n_out)]
        if norm:  # Keras momentum 0.8 == PyTorch momentum 0.2
            out.append(layers.BatchNormalization(momentum=0.8, epsilon=1e-5))
        out.append(layers.LeakyReLU(negative_slope=0.2))
        return out

    return keras.Sequential([
        keras.Input((latent_dim,)), *block(128, norm=False), *block(256), *block(512),
        *block(1024), layers.Dense(28 * 28, activation="tanh"), layers.Reshape((28, 28, 1)),
    ], name="generator")


def mlp_discriminator() -> keras.Sequential:
    return keras.Sequential([
        keras.Input((28, 28, 1)), layers.Flatten(),
        layers.Dense(512), layers.LeakyReLU(negative_slope=0.2),
        layers.Dense(256), layers.LeakyReLU(negative_slope=0.2), layers.Dense(1),
    ], name="discriminator")


@keras.saving.register_keras_serializable(package="aigc_course")
class GAN(GenerativeModel):
    """MLP GAN with the non-saturating loss (Goodfellow et al., 2014)."""

    def __init__(self, latent_dim: int = 100, lr: float = 2e-4, beta_1: float = 0.5,
                 label_smoothing: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing: expected a value in [0, 1), got {label_smoothing}")
        self.latent_dim, self.lr, self.beta_1 = latent_dim, lr, beta_1
        self.label_smoothing = label_smoothing
        self.generator = mlp_generator(latent_dim)
        self.discriminator = mlp_discriminator()
        self.seed_gen = keras.random.SeedGenerator(0)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.built = True

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "lr": self.lr,
                "beta_1": self.beta_1, "label_smoothing": self.label_smoothing}

    optimizer_names = ("g_optimizer", "d_optimizer")  # saved by get_compile_config

    def compile(self, g_optimizer=None, d_optimizer=None, **kwargs):
        super().compile(**kwargs)
        self.optimizer = None  # Keras's default single optimizer would go unused
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(self.lr, beta_1=self.beta_1)
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(self.lr, beta_1=self.beta_1)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def prepare(self, x, y=None):
        return (as_image_batch(x)[..., None],)  # (N, 28, 28, 1) in [-1, 1]

    def call(self, z, training=False):
        return self.generator(z, training=training)

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data
        z = keras.random.normal((ops.shape(real)[0], self.latent_dim), seed=self.seed_gen)

        # 1) Discriminator: real -> 1, fake -> 0. stop_gradient: this step must not touch G.
        def d_loss_fn():
            fake = ops.stop_gradient(self.generator(z, training=True))
            return discriminator_loss(self.discriminator(real, training=True),
                                      self.discriminator(fake, training=True),
                                      self.label_smoothing)
        d_loss = apply_gradients(self.d_optimizer, d_loss_fn,
                                 self.discriminator.trainable_weights)

        # 2) Generator: make D call the fakes real. Only G's weights are updated.
        def g_loss_fn():
            return generator_loss(self.discriminator(self.generator(z, training=True),
                                                     training=True))
        g_loss = apply_gradients(self.g_optimizer, g_loss_fn, self.generator.trainable_weights)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}
    # --- end train_step ------------------------------------------------------

    def sample(self, n: int, seed=None) -> np.ndarray:
        """``n`` images (n, 28, 28) in [0, 1]; the same seed gives the same images."""
        z = latent_noise(n, self.latent_dim, seed)
        return to_unit_images(ops.convert_to_numpy(self.generator(z, training=False)))
