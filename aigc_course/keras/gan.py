"""GANs on 28x28 grayscale images (Keras 3): the source articles' MLP GAN, corrected
so that it trains, and three classic variants.

* ``GAN``     (Goodfellow et al., 2014): generator noise 100 -> 128 -> 256 -> 512 -> 1024
  -> 784 (tanh), reshaped to a 28x28x1 image; discriminator 784 -> 512 -> 256 -> 1 logit;
  the non-saturating loss.
* ``DCGAN``   (Radford et al., 2016): the same GAN with convolutional networks. Same
  losses, same optimizers, same ``train_step`` (inherited); only ``build_networks`` differs.
* ``CGAN``    (Mirza & Osindero, 2014): the MLP GAN made class-conditional: a label
  embedding is concatenated with z for G and with the flattened image for D.
* ``WGAN_GP`` (Gulrajani et al., 2017): a critic D that scores instead of classifying,
  trained with the Wasserstein loss and a gradient penalty::

      critic loss    = E[D(G(z))] - E[D(x)] + lambda * E[(||grad_x^ D(x^)||_2 - 1)^2]
      generator loss = -E[D(G(z))]
      x^ = alpha * x + (1 - alpha) * G(z),   alpha ~ Uniform(0, 1) per example

Every subclass of ``GAN`` goes through ``GAN.__init__``, which builds the two networks
with the one hook ``build_networks()``.
Mirrors ``aigc_course.torch.gan`` layer for layer (same parameter counts).
The stride-2 4x4 convolutions use ``padding="same"``: 28 -> 14 -> 7 and back,
the sizes PyTorch gets with ``padding=1``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from .._checks import (
    as_image_batch,
    as_labels,
    check_count,
    latent_noise,
    to_unit_images,
)
from .core import GenerativeModel, apply_gradients, input_gradients


# --- losses (shown in the book) -------------------------------------------
def discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """BCE from logits: real images labelled 1 (or 1 - smoothing), fakes 0."""
    bce = keras.losses.binary_crossentropy
    real_targets = ops.full_like(real_logits, 1.0 - label_smoothing)
    return ops.mean(bce(real_targets, real_logits, from_logits=True)) + ops.mean(
        bce(ops.zeros_like(fake_logits), fake_logits, from_logits=True)
    )


def generator_loss(fake_logits):
    """Non-saturating loss: -log D(G(z)), i.e. BCE with the fakes labelled 1."""
    bce = keras.losses.binary_crossentropy
    return ops.mean(bce(ops.ones_like(fake_logits), fake_logits, from_logits=True))


# --- end losses -------------------------------------------------------------


# ---------------------------------------------------------------------------
# GAN networks: the source articles' MLPs
# ---------------------------------------------------------------------------
def mlp_generator(latent_dim: int = 100) -> keras.Sequential:
    def block(n_out, norm=True):
        out = [layers.Dense(n_out)]
        if norm:  # Keras momentum 0.8 == PyTorch momentum 0.2
            out.append(layers.BatchNormalization(momentum=0.8, epsilon=1e-5))
        out.append(layers.LeakyReLU(negative_slope=0.2))
        return out

    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            *block(128, norm=False),
            *block(256),
            *block(512),
            *block(1024),
            layers.Dense(28 * 28, activation="tanh"),
            layers.Reshape((28, 28, 1)),
        ],
        name="generator",
    )


def mlp_discriminator() -> keras.Sequential:
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Flatten(),
            layers.Dense(512),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Dense(256),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Dense(1),
        ],
        name="discriminator",
    )


# ---------------------------------------------------------------------------
# DCGAN networks (sized for 28x28: 7x7 -> 14x14 -> 28x28)
# ---------------------------------------------------------------------------
def dcgan_init():
    """Radford et al.: every conv and dense weight ~ N(0, 0.02) (biases start at 0)."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def dcgan_generator(latent_dim: int = 100, channels: int = 64) -> keras.Sequential:
    """z -> Dense 7*7*128 -> BN -> ReLU -> 7x7x128 -> ConvT 64 (14x14) -> BN -> ReLU
    -> ConvT 1 (28x28) -> tanh, with 64 = ``channels``, 128 = 2 * ``channels``.
    No bias before a batch norm: its mean subtraction would cancel it.
    Keras momentum 0.9 == PyTorch momentum 0.1."""
    c = channels
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(
                7 * 7 * 2 * c, use_bias=False, kernel_initializer=dcgan_init()
            ),
            layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
            layers.ReLU(),
            layers.Reshape((7, 7, 2 * c)),
            layers.Conv2DTranspose(
                c,
                4,
                strides=2,
                padding="same",
                use_bias=False,
                kernel_initializer=dcgan_init(),
            ),  # 7 -> 14
            layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
            layers.ReLU(),
            layers.Conv2DTranspose(
                1,
                4,
                strides=2,
                padding="same",
                activation="tanh",
                kernel_initializer=dcgan_init(),
            ),  # 14 -> 28
        ],
        name="generator",
    )


def dcgan_discriminator(
    channels: int = 64, batch_norm: bool = True, name: str = "discriminator"
) -> keras.Sequential:
    """28x28x1 -> Conv 64 (14x14) -> LeakyReLU -> Conv 128 (7x7) -> [BN] -> LeakyReLU
    -> Dense 1 logit (or score), with 64 = ``channels``.
    ``batch_norm=False`` gives the WGAN-GP critic."""
    c = channels
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(
                c, 4, strides=2, padding="same", kernel_initializer=dcgan_init()
            ),  # 28 -> 14
            layers.LeakyReLU(negative_slope=0.2),
            layers.Conv2D(
                2 * c,
                4,
                strides=2,
                padding="same",
                use_bias=not batch_norm,
                kernel_initializer=dcgan_init(),
            ),  # 14 -> 7
            *(
                [layers.BatchNormalization(momentum=0.9, epsilon=1e-5)]
                if batch_norm
                else []
            ),
            layers.LeakyReLU(negative_slope=0.2),
            layers.Flatten(),
            layers.Dense(1, kernel_initializer=dcgan_init()),
        ],
        name=name,
    )


@keras.saving.register_keras_serializable(package="aigc_course")
class GAN(GenerativeModel):
    """MLP GAN with the non-saturating loss (Goodfellow et al., 2014).

    A subclass with other networks overrides :meth:`build_networks` only; it sets
    the attributes that method reads (``channels``, ``num_classes``, ...) and then
    calls ``GAN.__init__``.
    """

    def __init__(
        self,
        latent_dim: int = 100,
        lr: float = 2e-4,
        beta_1: float = 0.5,
        label_smoothing: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                f"label_smoothing: expected a value in [0, 1), got {label_smoothing}"
            )
        self.latent_dim, self.lr, self.beta_1 = latent_dim, lr, beta_1
        self.label_smoothing = label_smoothing
        self.generator, self.discriminator = self.build_networks()
        self.seed_gen = keras.random.SeedGenerator(0)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.built = True

    def build_networks(self):
        """``(generator, discriminator)``: here the MLPs of the source articles."""
        return mlp_generator(self.latent_dim), mlp_discriminator()

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "lr": self.lr,
            "beta_1": self.beta_1,
            "label_smoothing": self.label_smoothing,
        }

    optimizer_names = ("g_optimizer", "d_optimizer")  # saved by get_compile_config

    def compile(self, g_optimizer=None, d_optimizer=None, **kwargs):
        super().compile(**kwargs)
        self.optimizer = None  # Keras's default single optimizer would go unused
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(
            self.lr, beta_1=self.beta_1
        )
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(
            self.lr, beta_1=self.beta_1
        )
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
        z = keras.random.normal(
            (ops.shape(real)[0], self.latent_dim), seed=self.seed_gen
        )

        # 1) Discriminator: real -> 1, fake -> 0. stop_gradient: this step must not touch G.
        def d_loss_fn():
            fake = ops.stop_gradient(self.generator(z, training=True))
            return discriminator_loss(
                self.discriminator(real, training=True),
                self.discriminator(fake, training=True),
                self.label_smoothing,
            )

        d_loss = apply_gradients(
            self.d_optimizer, d_loss_fn, self.discriminator.trainable_weights
        )

        # 2) Generator: make D call the fakes real. Only G's weights are updated.
        def g_loss_fn():
            return generator_loss(
                self.discriminator(self.generator(z, training=True), training=True)
            )

        g_loss = apply_gradients(
            self.g_optimizer, g_loss_fn, self.generator.trainable_weights
        )

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}

    # --- end train_step ------------------------------------------------------

    def sample(self, n: int, seed=None) -> np.ndarray:
        """``n`` images (n, 28, 28) in [0, 1]; the same seed gives the same images."""
        z = latent_noise(n, self.latent_dim, seed)
        return to_unit_images(ops.convert_to_numpy(self.generator(z, training=False)))


@keras.saving.register_keras_serializable(package="aigc_course")
class DCGAN(GAN):
    """Deep convolutional GAN (Radford et al., 2016).

    Only the networks differ from :class:`GAN` (:meth:`build_networks`): the
    non-saturating losses, Adam(2e-4, beta_1=0.5), ``compile``, ``train_step``
    and ``sample`` are inherited unchanged. ``channels`` (64) sets the width:
    G goes 2 * channels -> channels -> 1 feature maps, D 1 -> channels -> 2 * channels.
    """

    def __init__(
        self,
        latent_dim: int = 100,
        lr: float = 2e-4,
        beta_1: float = 0.5,
        label_smoothing: float = 0.0,
        channels: int = 64,
        **kwargs,
    ):
        self.channels = channels  # build_networks needs it
        super().__init__(latent_dim, lr, beta_1, label_smoothing, **kwargs)

    def build_networks(self):
        return (
            dcgan_generator(self.latent_dim, self.channels),
            dcgan_discriminator(self.channels, batch_norm=True),
        )

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


# ---------------------------------------------------------------------------
# CGAN: class-conditional MLP GAN
# ---------------------------------------------------------------------------
def label_embedding(num_classes: int, embed_dim: int) -> layers.Embedding:
    """A learned vector per class, initialised N(0, 1) like ``torch.nn.Embedding``.
    (Keras's default, U(-0.05, 0.05), would make the label a whisper next to z.)"""
    return layers.Embedding(
        num_classes,
        embed_dim,
        embeddings_initializer=keras.initializers.RandomNormal(0.0, 1.0),
    )


def conditional_generator(
    latent_dim: int = 100, num_classes: int = 10, embed_dim: int = 10
) -> keras.Model:
    """G(z, y) = MLP([z, embed(y)]): the MLP GAN's generator with a wider input."""
    z = keras.Input((latent_dim,), name="z")
    y = keras.Input((), dtype="int32", name="label")
    h = layers.Concatenate()([z, label_embedding(num_classes, embed_dim)(y)])
    return keras.Model(
        [z, y], mlp_generator(latent_dim + embed_dim)(h), name="generator"
    )


def conditional_discriminator(
    num_classes: int = 10, embed_dim: int = 10, dropout: float = 0.5
) -> keras.Model:
    """D(x, y) = MLP([flatten(x), embed(y)]): 784 + embed_dim -> 512 -> 256 -> 1 logit,
    with dropout after each hidden layer (why: the PyTorch twin's docstring)."""
    x = keras.Input((28, 28, 1), name="image")
    y = keras.Input((), dtype="int32", name="label")
    h = layers.Concatenate()(
        [layers.Flatten()(x), label_embedding(num_classes, embed_dim)(y)]
    )
    h = layers.LeakyReLU(negative_slope=0.2)(layers.Dense(512)(h))
    h = layers.Dropout(dropout)(h)
    h = layers.LeakyReLU(negative_slope=0.2)(layers.Dense(256)(h))
    h = layers.Dropout(dropout)(h)
    return keras.Model([x, y], layers.Dense(1)(h), name="discriminator")


@keras.saving.register_keras_serializable(package="aigc_course")
class CGAN(GAN):
    """Conditional GAN (Mirza & Osindero, 2014): ``fit(x, y)``, ``sample(n, labels=...)``.

    The MLP GAN with conditional networks (:meth:`build_networks`); the losses,
    ``compile`` and the optimizers are :class:`GAN`'s, ``train_step`` and ``sample``
    take the labels.
    """

    def __init__(
        self,
        latent_dim: int = 100,
        num_classes: int = 10,
        embed_dim: int = 10,
        lr: float = 2e-4,
        beta_1: float = 0.5,
        label_smoothing: float = 0.0,
        dropout: float = 0.5,
        **kwargs,
    ):
        # build_networks needs them
        self.num_classes, self.embed_dim = num_classes, embed_dim
        self.dropout = dropout
        super().__init__(latent_dim, lr, beta_1, label_smoothing, **kwargs)

    def build_networks(self):
        return (
            conditional_generator(self.latent_dim, self.num_classes, self.embed_dim),
            conditional_discriminator(self.num_classes, self.embed_dim, self.dropout),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "embed_dim": self.embed_dim,
            "dropout": self.dropout,
        }

    def prepare(self, x, y=None):
        if y is None:
            raise ValueError(
                "CGAN.fit: expected class labels, call fit(x, y) with y shaped (N,)"
            )
        x = as_image_batch(x)[..., None]  # (N, 28, 28, 1) in [-1, 1]
        return x, as_labels(y, len(x), self.num_classes).astype("int32")

    def call(self, inputs, training=False):
        z, labels = inputs
        return self.generator([z, labels], training=training)

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, data):
        real, labels = data[0], data[1]
        z = keras.random.normal(
            (ops.shape(real)[0], self.latent_dim), seed=self.seed_gen
        )

        # 1) Discriminator: (real, y) -> 1, (G(z, y), y) -> 0. The fakes get the
        #    real batch's labels, so D must judge "is this a plausible image OF y".
        def d_loss_fn():
            fake = ops.stop_gradient(self.generator([z, labels], training=True))
            return discriminator_loss(
                self.discriminator([real, labels], training=True),
                self.discriminator([fake, labels], training=True),
                self.label_smoothing,
            )

        d_loss = apply_gradients(
            self.d_optimizer, d_loss_fn, self.discriminator.trainable_weights
        )

        # 2) Generator: make D accept (G(z, y), y).
        def g_loss_fn():
            fake = self.generator([z, labels], training=True)
            return generator_loss(self.discriminator([fake, labels], training=True))

        g_loss = apply_gradients(
            self.g_optimizer, g_loss_fn, self.generator.trainable_weights
        )

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}

    # --- end train_step ------------------------------------------------------

    def sample(self, n: int, seed=None, labels=None) -> np.ndarray:
        """``n`` images (n, 28, 28) in [0, 1] of the classes ``labels``
        (default ``0, 1, ..., num_classes - 1, 0, 1, ...``)."""
        n = check_count(n)
        if labels is None:
            labels = np.arange(n) % self.num_classes
        labels = as_labels(labels, n, self.num_classes, name="labels").astype("int32")
        z = latent_noise(n, self.latent_dim, seed)
        out = self.generator([z, labels], training=False)
        return to_unit_images(ops.convert_to_numpy(out))


# ---------------------------------------------------------------------------
# WGAN-GP
# ---------------------------------------------------------------------------
# --- Wasserstein losses (shown in the book) -------------------------------
def sample_alpha(n, seed=None):
    """Interpolation weights alpha ~ Uniform(0, 1), one per example, shaped (n, 1, 1, 1).

    Uniform, so that x^ lies on the segment between a real and a fake image.
    A common bug draws alpha from a normal (``keras.random.normal``): alpha < 0
    or > 1 then puts x^ off the segment and the penalty constrains the wrong region.
    """
    return keras.random.uniform((n, 1, 1, 1), minval=0.0, maxval=1.0, seed=seed)


def gradient_penalty(critic, real, fake, alpha):
    """E[(||grad_x^ D(x^)||_2 - 1)^2] with x^ = alpha * real + (1 - alpha) * fake.

    :func:`~aigc_course.keras.core.input_gradients` keeps the graph of the
    gradient, so that the penalty can be differentiated again with respect to
    the critic's weights. The sum over the batch gives every example its own
    gradient only if the examples do not interact inside D: hence no batch norm
    in the critic.
    """
    real = ops.convert_to_tensor(real)
    alpha = ops.reshape(
        ops.cast(alpha, real.dtype), (-1,) + (1,) * (len(real.shape) - 1)
    )
    x_hat = alpha * real + (1.0 - alpha) * fake
    grads = input_gradients(critic, x_hat)
    axes = tuple(range(1, len(real.shape)))
    # +1e-12 keeps the square root differentiable where the gradient is zero
    norms = ops.sqrt(ops.sum(ops.square(grads), axis=axes) + 1e-12)
    return ops.mean(ops.square(norms - 1.0))


def critic_loss(real_scores, fake_scores):
    """E[D(G(z))] - E[D(x)]: minus the critic's estimate of the Wasserstein distance."""
    return ops.mean(fake_scores) - ops.mean(real_scores)


def wasserstein_generator_loss(fake_scores):
    """-E[D(G(z))]: the generator raises the critic's score of its fakes."""
    return -ops.mean(fake_scores)


# --- end Wasserstein losses -------------------------------------------------


@keras.saving.register_keras_serializable(package="aigc_course")
class WGAN_GP(GenerativeModel):
    """Wasserstein GAN with gradient penalty (Gulrajani et al., 2017).

    Generator: DCGAN's. Critic: DCGAN's discriminator without batch norm (batch
    norm mixes the examples of a batch, which breaks the per-example gradient
    penalty) and with a bias in its place; its output is an unbounded score.

    ``n_critic`` critic steps per generator step all happen inside one
    ``train_step``, on the same real batch with fresh noise and fresh alpha each
    time. (The paper's code draws a new real batch for every critic step; reusing
    one keeps ``fit``'s one-batch-per-step contract, at the cost of the critic
    seeing each epoch's data ``n_critic`` times.)
    """

    def __init__(
        self,
        latent_dim: int = 100,
        lr: float = 1e-4,
        beta_1: float = 0.0,
        beta_2: float = 0.9,
        gp_weight: float = 10.0,
        n_critic: int = 5,
        channels: int = 64,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(n_critic, bool) or not isinstance(n_critic, int) or n_critic < 1:
            raise ValueError(f"n_critic: expected a positive int, got {n_critic!r}")
        if gp_weight < 0:
            raise ValueError(f"gp_weight: expected a value >= 0, got {gp_weight}")
        self.latent_dim, self.lr, self.beta_1, self.beta_2 = (
            latent_dim,
            lr,
            beta_1,
            beta_2,
        )
        self.gp_weight, self.n_critic, self.channels = gp_weight, n_critic, channels
        self.generator = dcgan_generator(latent_dim, channels)
        self.critic = dcgan_discriminator(channels, batch_norm=False, name="critic")
        self.seed_gen = keras.random.SeedGenerator(0)
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("critic_loss", "gp", "w_dist", "g_loss")
        }
        self.built = True

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "lr": self.lr,
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "gp_weight": self.gp_weight,
            "n_critic": self.n_critic,
            "channels": self.channels,
        }

    optimizer_names = ("g_optimizer", "critic_optimizer")  # saved by get_compile_config

    def compile(self, g_optimizer=None, critic_optimizer=None, **kwargs):
        super().compile(**kwargs)
        self.optimizer = None  # Keras's default single optimizer would go unused
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(
            self.lr, beta_1=self.beta_1, beta_2=self.beta_2
        )
        self.critic_optimizer = critic_optimizer or keras.optimizers.Adam(
            self.lr, beta_1=self.beta_1, beta_2=self.beta_2
        )
        self.g_optimizer.build(self.generator.trainable_variables)
        self.critic_optimizer.build(self.critic.trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    # the unconditional GAN's: images in [-1, 1], and noise -> generator for samples
    prepare, call, sample = GAN.prepare, GAN.call, GAN.sample

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data
        n = ops.shape(real)[0]
        parts = {}  # the loss's terms, for the progress bar

        # 1) n_critic critic steps: push D(real) up and D(fake) down, with
        #    ||grad D|| held near 1 on the segments between real and fake images.
        for _ in range(self.n_critic):
            z = keras.random.normal((n, self.latent_dim), seed=self.seed_gen)
            alpha = sample_alpha(n, seed=self.seed_gen)  # U(0, 1), not N(0, 1)

            def c_loss_fn(z=z, alpha=alpha):
                fake = ops.stop_gradient(self.generator(z, training=True))
                parts["w_dist"] = -critic_loss(
                    self.critic(real, training=True), self.critic(fake, training=True)
                )
                parts["gp"] = gradient_penalty(self.critic, real, fake, alpha)
                return -parts["w_dist"] + self.gp_weight * parts["gp"]

            c_loss = apply_gradients(
                self.critic_optimizer, c_loss_fn, self.critic.trainable_weights
            )

        # 2) Generator: raise the critic's score of fresh fakes.
        z = keras.random.normal((n, self.latent_dim), seed=self.seed_gen)

        def g_loss_fn():
            return wasserstein_generator_loss(
                self.critic(self.generator(z, training=True), training=True)
            )

        g_loss = apply_gradients(
            self.g_optimizer, g_loss_fn, self.generator.trainable_weights
        )

        for name, value in (
            ("critic_loss", c_loss),
            ("gp", parts["gp"]),
            ("w_dist", parts["w_dist"]),
            ("g_loss", g_loss),
        ):
            self.trackers[name].update_state(value)
        return {m.name: m.result() for m in self.metrics}

    # --- end train_step ------------------------------------------------------
