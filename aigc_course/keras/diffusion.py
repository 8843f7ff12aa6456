"""A minimal denoising diffusion probabilistic model (DDPM), Keras 3.

Ho, Jain & Abbeel (2020). A network ``eps_theta(x_t, t)`` learns to predict the
noise that :meth:`~aigc_course.diffusion.NoiseSchedule.q_sample` mixed into the
data, with the "simple" loss (uniform ``t``, ``eps ~ N(0, I)``)::

    x_t  = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps
    loss = mean (eps - eps_theta(x_t, t))^2            (mean over batch and dimensions)

and sampling runs the reverse process from ``x_T ~ N(0, I)`` (Algorithm 2, with
``sigma_t^2 = beta_t``). The schedule constants come from the NumPy
:class:`~aigc_course.diffusion.NoiseSchedule` (one definition for both frameworks).

``data_shape`` picks the denoiser:

* ``(d,)``: vector data (e.g. 2-D points), an MLP with a sinusoidal time embedding;
* ``(28, 28, 1)``: grey images in [-1, 1], a small U-Net (two resolutions, residual
  blocks with GroupNorm and a time embedding added to every block, skip connections).

The last layer of both denoisers starts at zero, so an untrained model predicts
``eps_hat = 0`` and its loss is ``E[eps^2] = 1`` per dimension.
Mirrors ``aigc_course.torch.diffusion`` layer for layer (same parameter counts);
sampling draws its noise from NumPy, so the same seed and weights give the same
samples in both frameworks. Runs on the TensorFlow and PyTorch backends.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from .._checks import (
    as_image_batch,
    check_count,
    check_ema_decay,
    check_model_images,
    check_steps,
    check_vectors,
    rng_from,
    to_unit_images,
)
from ..diffusion import make_schedule
from .core import GenerativeModel, SingleOptimizer, apply_gradients

IMAGE_SHAPE = (28, 28, 1)


def check_data_shape(data_shape) -> tuple:
    """(d,) for vector data or (28, 28, 1) for images; anything else is a ValueError."""
    try:
        shape = tuple(int(s) for s in data_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"data_shape: expected (d,) or (28, 28, 1), got {data_shape!r}"
        ) from None
    if shape == IMAGE_SHAPE or (len(shape) == 1 and shape[0] >= 1):
        return shape
    raise ValueError(
        f"data_shape: expected (d,) for vectors or (28, 28, 1) for images, got {data_shape!r}"
    )


def sinusoidal_embedding(t, dim: int):
    """t (N,) -> [sin(t f_i), cos(t f_i)] (N, dim), f_i = 10000^(-i / (dim/2)).

    The same numbers as :func:`aigc_course.diffusion.timestep_embedding`.
    """
    half = dim // 2
    freqs = np.exp(-math.log(10000.0) * np.arange(half) / half).astype(np.float32)
    args = ops.cast(ops.reshape(t, (-1, 1)), "float32") * ops.convert_to_tensor(
        freqs[None]
    )
    return ops.concatenate([ops.sin(args), ops.cos(args)], axis=1)


class MLPDenoiser(layers.Layer):
    """eps_theta for vectors: h = silu(W_in x + e(t)), then ``depth`` layers
    h = silu(W h + e(t)), then a zero-initialised linear output. e(t) is an MLP of
    the sinusoidal embedding of t."""

    def __init__(
        self, dim: int, hidden: int = 128, depth: int = 2, time_dim: int = 32, **kwargs
    ):
        super().__init__(**kwargs)
        self.dim, self.hidden, self.depth, self.time_dim = dim, hidden, depth, time_dim
        self.time_mlp = keras.Sequential(
            [layers.Dense(hidden, activation="silu"), layers.Dense(hidden)]
        )
        self.inp = layers.Dense(hidden)
        self.hidden_layers = [layers.Dense(hidden) for _ in range(depth)]
        self.out = layers.Dense(dim, kernel_initializer="zeros")

    def call(self, x, t):
        e = self.time_mlp(sinusoidal_embedding(t, self.time_dim))
        h = ops.silu(self.inp(x) + e)
        for layer in self.hidden_layers:
            h = ops.silu(layer(h) + e)
        return self.out(h)


class ResBlock(layers.Layer):
    """GroupNorm -> SiLU -> conv3x3, + time projection, GroupNorm -> SiLU -> conv3x3, + skip."""

    def __init__(self, c_in: int, c_out: int, groups: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.norm1 = layers.GroupNormalization(groups, epsilon=1e-5)
        self.conv1 = layers.Conv2D(c_out, 3, padding="same")
        self.time = layers.Dense(c_out)
        self.norm2 = layers.GroupNormalization(groups, epsilon=1e-5)
        self.conv2 = layers.Conv2D(c_out, 3, padding="same")
        self.skip = layers.Conv2D(c_out, 1) if c_in != c_out else None

    def call(self, x, e):
        h = self.conv1(ops.silu(self.norm1(x)))
        h = h + self.time(ops.silu(e))[:, None, None, :]
        h = self.conv2(ops.silu(self.norm2(h)))
        return h + (self.skip(x) if self.skip is not None else x)


class UNetDenoiser(layers.Layer):
    """eps_theta for 28x28 images: a two-level U-Net (28 -> 14 -> 7 -> 14 -> 28).

    channels (c1, c2): conv_in 1 -> c1; ResBlock at 28x28 (c1), stride-2 conv to
    14x14 (c2), ResBlock, stride-2 conv to 7x7, middle ResBlock, transposed convs
    back up, each followed by a ResBlock on [upsampled, skip] (concatenated);
    GroupNorm -> SiLU -> zero-initialised conv3x3 to 1 channel.
    """

    def __init__(self, channels=(32, 64), **kwargs):
        super().__init__(**kwargs)
        c1, c2 = channels
        td = 4 * c1
        self.c1 = c1
        self.time_mlp = keras.Sequential(
            [layers.Dense(td, activation="silu"), layers.Dense(td)]
        )
        self.conv_in = layers.Conv2D(c1, 3, padding="same")
        self.res1 = ResBlock(c1, c1)
        self.down1 = layers.Conv2D(c2, 4, strides=2, padding="same")  # 28 -> 14
        self.res2 = ResBlock(c2, c2)
        self.down2 = layers.Conv2D(c2, 4, strides=2, padding="same")  # 14 -> 7
        self.mid = ResBlock(c2, c2)
        self.up2 = layers.Conv2DTranspose(c2, 4, strides=2, padding="same")  # 7 -> 14
        self.res_up2 = ResBlock(2 * c2, c2)
        self.up1 = layers.Conv2DTranspose(c1, 4, strides=2, padding="same")  # 14 -> 28
        self.res_up1 = ResBlock(2 * c1, c1)
        self.norm_out = layers.GroupNormalization(8, epsilon=1e-5)
        self.conv_out = layers.Conv2D(1, 3, padding="same", kernel_initializer="zeros")

    def call(self, x, t):
        e = self.time_mlp(sinusoidal_embedding(t, self.c1))
        h1 = self.res1(self.conv_in(x), e)  # c1 @ 28
        h2 = self.res2(self.down1(h1), e)  # c2 @ 14
        h = self.mid(self.down2(h2), e)  # c2 @ 7
        h = self.res_up2(ops.concatenate([self.up2(h), h2], axis=-1), e)  # c2 @ 14
        h = self.res_up1(ops.concatenate([self.up1(h), h1], axis=-1), e)  # c1 @ 28
        return self.conv_out(ops.silu(self.norm_out(h)))


@keras.saving.register_keras_serializable(package="aigc_course")
class DDPM(SingleOptimizer, GenerativeModel):
    """Denoising diffusion probabilistic model with an MLP (vectors) or U-Net (images) denoiser.

    ``data_shape``: ``(d,)`` or ``(28, 28, 1)`` (the default); ``timesteps``: T;
    ``schedule``: ``"linear"`` or ``"cosine"`` (see :func:`aigc_course.diffusion.make_schedule`);
    ``channels``: the U-Net's widths; ``hidden``: the MLP's width.
    ``ema_decay``: if above 0, keep an exponential moving average of the denoiser's
    weights, ``ema <- decay * ema + (1 - decay) * w`` after every training step, in
    ``ema_net``, and sample with it (Ho et al., 2020, used 0.9999); 0 (the default)
    samples with the trained weights themselves.
    Images go in as (N, 28, 28) (or with a channel axis of 1), uint8 or floats in
    [0, 1], and are scaled to [-1, 1]; vectors as floats (N, d), used as they are
    (standardise them first). All public methods take and return NumPy arrays.
    """

    def __init__(
        self,
        data_shape=IMAGE_SHAPE,
        timesteps: int = 1000,
        schedule: str = "linear",
        channels=(32, 64),
        hidden: int = 128,
        lr: float = 1e-3,
        ema_decay: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.data_shape = check_data_shape(data_shape)
        self.schedule = make_schedule(schedule, timesteps)  # NumPy constants, float64
        self.T, self.schedule_name, self.lr = self.schedule.T, schedule, lr
        self.is_image = self.data_shape == IMAGE_SHAPE
        check_count(hidden, "hidden")
        if len(tuple(channels)) != 2 or any(int(c) % 8 for c in channels):
            raise ValueError(
                f"channels: expected two multiples of 8 (GroupNorm uses 8 groups), got {channels!r}"
            )
        self.channels, self.hidden = tuple(int(c) for c in channels), int(hidden)
        self.net = self.build_denoiser(self.channels, hidden)
        # build the weights
        self.net(ops.zeros((1,) + self.data_shape), ops.zeros((1,), "int32"))
        self.ema_decay = check_ema_decay(ema_decay)
        self.ema_net = None
        if self.ema_decay:  # a frozen copy, moved towards net after every step
            self.ema_net = self.build_denoiser(self.channels, hidden)
            self.ema_net(ops.zeros((1,) + self.data_shape), ops.zeros((1,), "int32"))
            self.ema_net.trainable = False
            self.ema_net.set_weights(self.net.get_weights())
        ab = self.schedule.alpha_bars
        self.sqrt_ab = np.sqrt(ab).astype(np.float32)
        self.sqrt_1m_ab = np.sqrt(1 - ab).astype(np.float32)
        self.seed_gen = keras.random.SeedGenerator(0)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True

    def build_denoiser(self, channels, hidden):
        """eps_theta: the U-Net for images, an MLP for vectors."""
        return (
            UNetDenoiser(channels)
            if self.is_image
            else MLPDenoiser(self.data_shape[0], hidden)
        )

    def get_config(self):
        return {
            **super().get_config(),
            "data_shape": list(self.data_shape),
            "timesteps": self.T,
            "schedule": self.schedule_name,
            "channels": list(self.channels),
            "hidden": self.hidden,
            "lr": self.lr,
            "ema_decay": self.ema_decay,
        }

    @property
    def metrics(self):
        return [self.loss_tracker]

    def prepare(self, x, y=None):
        if self.is_image:
            return (as_image_batch(x)[..., None],)  # (N, 28, 28, 1) in [-1, 1]
        return (check_vectors(x, self.data_shape[0]),)

    def call(self, xt, t, training=False):
        """eps_theta(x_t, t) on tensors in the internal layout."""
        return self.net(xt, t, training=training)

    def q_sample(self, x0, t, eps):
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, on tensors (t: int (N,))."""
        shape = (-1,) + (1,) * (len(x0.shape) - 1)
        a = ops.reshape(ops.take(ops.convert_to_tensor(self.sqrt_ab), t), shape)
        b = ops.reshape(ops.take(ops.convert_to_tensor(self.sqrt_1m_ab), t), shape)
        return a * x0 + b * eps

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, data):
        x0 = data[0] if isinstance(data, (tuple, list)) else data
        # uniform step
        t = keras.random.randint((ops.shape(x0)[0],), 0, self.T, seed=self.seed_gen)
        # the noise to predict
        eps = keras.random.normal(ops.shape(x0), seed=self.seed_gen)
        xt = self.q_sample(x0, t, eps)  # jump straight to step t

        def loss_fn():
            eps_hat = self.net(xt, t, training=True)
            return ops.mean(ops.square(eps - eps_hat))  # the "simple" DDPM loss

        loss = apply_gradients(self.optimizer, loss_fn, self.trainable_weights)
        if self.ema_net is not None:
            self.update_ema()
        self.loss_tracker.update_state(ops.stop_gradient(loss))
        return {"loss": self.loss_tracker.result()}

    # --- end train_step ------------------------------------------------------

    def update_ema(self) -> None:
        """``ema <- decay * ema + (1 - decay) * w`` for every weight of the denoiser."""
        d = self.ema_decay
        for e, w in zip(self.ema_net.weights, self.net.weights):
            e.assign(d * e + (1.0 - d) * ops.stop_gradient(w))

    @property
    def sampling_net(self):
        """The denoiser that samples: the moving average if ``ema_decay`` > 0, else ``net``."""
        return self.net if self.ema_net is None else self.ema_net

    # ----- layouts: public NumPy (N, 28, 28) / (N, d) <-> internal tensors ------
    def _to_internal(self, x):
        x = np.asarray(x, np.float32)
        return ops.convert_to_tensor(x.reshape(-1, 28, 28, 1) if self.is_image else x)

    def _to_public(self, x):
        x = ops.convert_to_numpy(x).astype(np.float32)
        return x.reshape(-1, 28, 28) if self.is_image else x

    def _public_shape(self, n):
        return (n, 28, 28) if self.is_image else (n, self.data_shape[0])

    def _check_public(self, x, name="x"):
        return (
            check_model_images(x, name)
            if self.is_image
            else check_vectors(x, self.data_shape[0], name)
        )

    def _steps(self, t, n):
        return check_steps(t, n, self.T).astype(np.int32)

    def _denoise(self, x, t):
        """``net(x, t, training=False)``, through one cached ``tf.function`` on TensorFlow.

        Sampling calls the network T times on inputs of one shape; TensorFlow's eager
        mode pays its per-op dispatch cost on every call, a traced graph does not.
        The PyTorch backend runs eagerly anyway.
        """
        if keras.backend.backend() == "tensorflow":
            fn = self.__dict__.get("_aigc_denoise")
            if fn is None:
                import tensorflow as tf

                fn = tf.function(
                    lambda a, b: self.sampling_net(a, b, training=False),
                    reduce_retracing=True,
                )
                self.__dict__["_aigc_denoise"] = fn
            return fn(x, t)
        return self.sampling_net(x, t, training=False)

    def predict_noise(self, xt, t) -> np.ndarray:
        """eps_theta(x_t, t) for NumPy x_t in model space ((N, 28, 28) in about [-1, 1], or (N, d))."""
        xt = self._check_public(xt, "xt")
        t = self._steps(t, len(xt))
        return self._to_public(
            self._denoise(self._to_internal(xt), ops.convert_to_tensor(t))
        )

    def denoising_loss(self, x, t=None, seed=None) -> np.ndarray:
        """The simple loss per example, mean over dimensions, float64 (N,).

        ``x``: data as for ``fit``; ``t``: an int, N ints, or None (uniform);
        the steps and the noise come from NumPy with ``seed``.
        """
        x0 = self.prepare(x)[0]
        x0 = x0.reshape(-1, 28, 28) if self.is_image else x0
        rng = rng_from(seed)
        t = rng.integers(0, self.T, len(x0)) if t is None else self._steps(t, len(x0))
        eps = rng.standard_normal(x0.shape)
        xt = self.schedule.q_sample(x0, t, eps)
        eps_hat = self.predict_noise(xt, t)
        return np.mean((eps - eps_hat).reshape(len(x0), -1) ** 2, axis=1)

    # --- sampler (shown in the book) -----------------------------------------
    def _reverse(self, n, seed, steps, keep):
        sched, ts = (
            (self.schedule, np.arange(self.T))
            if steps is None
            else self.schedule.respace(steps)
        )
        rng = rng_from(seed)  # NumPy noise: same as the PyTorch twin
        # x_T ~ N(0, I)
        x = self._to_internal(rng.standard_normal(self._public_shape(n)))
        snaps = {}
        for i in reversed(range(sched.T)):
            t = int(ts[i])  # the step the network was trained on
            if t in keep:
                snaps[t] = self._to_public(x)
            eps_hat = self._denoise(x, ops.full((n,), t, dtype="int32"))
            coef = float(sched.betas[i] / math.sqrt(1.0 - sched.alpha_bars[i]))
            # mean of p(x_{t-1} | x_t)
            x = (x - coef * eps_hat) / math.sqrt(sched.alphas[i])
            if i > 0:  # fresh noise at every step but the last
                z = self._to_internal(rng.standard_normal(self._public_shape(n)))
                x = x + math.sqrt(sched.betas[i]) * z
        return self._to_public(x), snaps

    # --- end sampler ---------------------------------------------------------

    def reverse_process(self, n: int, seed=None, steps=None, keep=()):
        """Run the sampler and keep snapshots: ``(x_0, {t: x_t})`` in model space.

        ``keep``: steps t (0-based, of the full schedule) whose input x_t is stored;
        ``steps``: sample with a respaced schedule of that many steps
        (:meth:`~aigc_course.diffusion.NoiseSchedule.respace`) instead of all T.
        Images come back (N, 28, 28) unclipped (about [-1, 1]), vectors (N, d).
        """
        n = check_count(n)
        keep = {int(k) for k in keep}
        return self._reverse(n, seed, steps, keep)

    def sample(self, n: int, seed=None, steps=None) -> np.ndarray:
        """``n`` samples by ancestral sampling from x_T ~ N(0, I).

        Images: float32 (n, 28, 28) in [0, 1]; vectors: float32 (n, d). The same
        seed gives the same samples (noise from NumPy, shared with the PyTorch twin).
        ``steps``: fewer sampling steps on a respaced schedule (default: all T).
        """
        x, _ = self.reverse_process(n, seed=seed, steps=steps)
        return to_unit_images(x) if self.is_image else x.astype(np.float32)
