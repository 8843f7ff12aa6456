"""A minimal denoising diffusion probabilistic model (DDPM), PyTorch.

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
Mirrors ``aigc_course.keras.diffusion`` layer for layer (same parameter counts);
sampling draws its noise from NumPy, so the same seed and weights give the same
samples in both frameworks.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

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
from .core import GenerativeModel

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


class SinusoidalEmbedding(nn.Module):
    """t (N,) -> [sin(t f_i), cos(t f_i)] (N, dim), f_i = 10000^(-i / (dim/2)).

    The same numbers as :func:`aigc_course.diffusion.timestep_embedding`.
    """

    def __init__(self, dim: int):
        super().__init__()
        half = dim // 2
        freqs = torch.exp(
            -math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half
        )
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t):
        args = t.float()[:, None] * self.freqs[None]
        return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class MLPDenoiser(nn.Module):
    """eps_theta for vectors: h = silu(W_in x + e(t)), then ``depth`` layers
    h = silu(W h + e(t)), then a zero-initialised linear output. e(t) is an MLP of
    the sinusoidal embedding of t."""

    def __init__(self, dim: int, hidden: int = 128, depth: int = 2, time_dim: int = 32):
        super().__init__()
        self.embed = SinusoidalEmbedding(time_dim)
        self.time_mlp = nn.Sequential(
            nn.Linear(time_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )
        self.inp = nn.Linear(dim, hidden)
        self.layers = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(depth)])
        self.out = nn.Linear(hidden, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x, t):
        e = self.time_mlp(self.embed(t))
        h = F.silu(self.inp(x) + e)
        for layer in self.layers:
            h = F.silu(layer(h) + e)
        return self.out(h)


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> conv3x3, + time projection, GroupNorm -> SiLU -> conv3x3, + skip."""

    def __init__(self, c_in: int, c_out: int, time_dim: int, groups: int = 8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in, eps=1e-5)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(time_dim, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out, eps=1e-5)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(F.silu(e))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class UNetDenoiser(nn.Module):
    """eps_theta for 28x28 images: a two-level U-Net (28 -> 14 -> 7 -> 14 -> 28).

    channels (c1, c2): conv_in 1 -> c1; ResBlock at 28x28 (c1), stride-2 conv to
    14x14 (c2), ResBlock, stride-2 conv to 7x7, middle ResBlock, transposed convs
    back up, each followed by a ResBlock on [upsampled, skip] (concatenated);
    GroupNorm -> SiLU -> zero-initialised conv3x3 to 1 channel.
    """

    def __init__(self, channels=(32, 64)):
        super().__init__()
        c1, c2 = channels
        td = 4 * c1
        self.embed = SinusoidalEmbedding(c1)
        self.time_mlp = nn.Sequential(nn.Linear(c1, td), nn.SiLU(), nn.Linear(td, td))
        self.conv_in = nn.Conv2d(1, c1, 3, padding=1)
        self.res1 = ResBlock(c1, c1, td)
        self.down1 = nn.Conv2d(c1, c2, 4, stride=2, padding=1)  # 28 -> 14
        self.res2 = ResBlock(c2, c2, td)
        self.down2 = nn.Conv2d(c2, c2, 4, stride=2, padding=1)  # 14 -> 7
        self.mid = ResBlock(c2, c2, td)
        self.up2 = nn.ConvTranspose2d(c2, c2, 4, stride=2, padding=1)  # 7 -> 14
        self.res_up2 = ResBlock(2 * c2, c2, td)
        self.up1 = nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)  # 14 -> 28
        self.res_up1 = ResBlock(2 * c1, c1, td)
        self.norm_out = nn.GroupNorm(8, c1, eps=1e-5)
        self.conv_out = nn.Conv2d(c1, 1, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x, t):
        e = self.time_mlp(self.embed(t))
        h1 = self.res1(self.conv_in(x), e)  # c1 @ 28
        h2 = self.res2(self.down1(h1), e)  # c2 @ 14
        h = self.mid(self.down2(h2), e)  # c2 @ 7
        h = self.res_up2(torch.cat([self.up2(h), h2], dim=1), e)  # c2 @ 14
        h = self.res_up1(torch.cat([self.up1(h), h1], dim=1), e)  # c1 @ 28
        return self.conv_out(F.silu(self.norm_out(h)))


class DDPM(GenerativeModel):
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
    ):
        super().__init__()
        self.data_shape = check_data_shape(data_shape)
        self.schedule = make_schedule(schedule, timesteps)  # NumPy constants, float64
        self.T, self.schedule_name, self.lr = self.schedule.T, schedule, lr
        self.is_image = self.data_shape == IMAGE_SHAPE
        check_count(hidden, "hidden")
        if len(tuple(channels)) != 2 or any(int(c) % 8 for c in channels):
            raise ValueError(
                f"channels: expected two multiples of 8 (GroupNorm uses 8 groups), got {channels!r}"
            )
        self.net = self.build_denoiser(tuple(channels), hidden)
        self.ema_decay = check_ema_decay(ema_decay)
        self.ema_net = None
        if self.ema_decay:  # a frozen copy, moved towards net after every step
            self.ema_net = self.build_denoiser(tuple(channels), hidden)
            self.ema_net.load_state_dict(self.net.state_dict())
            self.ema_net.requires_grad_(False)
        ab = self.schedule.alpha_bars
        self.register_buffer(
            "sqrt_ab", torch.tensor(np.sqrt(ab), dtype=torch.float32), persistent=False
        )
        self.register_buffer(
            "sqrt_1m_ab",
            torch.tensor(np.sqrt(1 - ab), dtype=torch.float32),
            persistent=False,
        )

    def build_denoiser(self, channels, hidden):
        """eps_theta: the U-Net for images, an MLP for vectors."""
        return (
            UNetDenoiser(channels)
            if self.is_image
            else MLPDenoiser(self.data_shape[0], hidden)
        )

    def configure_optimizers(self):
        return {"ddpm": torch.optim.Adam(self.parameters(), lr=self.lr)}

    def prepare(self, x, y=None):
        if self.is_image:
            return (as_image_batch(x)[:, None],)  # (N, 1, 28, 28) in [-1, 1]
        return (check_vectors(x, self.data_shape[0]),)

    def forward(self, xt, t):
        """eps_theta(x_t, t) on tensors in the internal layout."""
        return self.net(xt, t)

    def q_sample(self, x0, t, eps):
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, on tensors (t: int64 (N,))."""
        shape = (-1,) + (1,) * (x0.dim() - 1)
        return self.sqrt_ab[t].view(shape) * x0 + self.sqrt_1m_ab[t].view(shape) * eps

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, x0):
        opt = self.optimizers["ddpm"]
        # uniform step per example
        t = torch.randint(0, self.T, (x0.shape[0],), device=x0.device)
        eps = torch.randn_like(x0)  # the noise to predict
        xt = self.q_sample(x0, t, eps)  # jump straight to step t
        with self.autocast():
            eps_hat = self.net(xt, t)
        loss = F.mse_loss(eps_hat.float(), eps)  # the "simple" DDPM loss
        opt.zero_grad(set_to_none=True)
        self.backward(loss)
        self.optimizer_step(opt)
        if self.ema_net is not None:
            self.update_ema()
        return {"loss": loss.detach()}

    # --- end train_step ------------------------------------------------------

    @torch.no_grad()
    def update_ema(self) -> None:
        """``ema <- decay * ema + (1 - decay) * w`` for every weight of the denoiser."""
        for e, w in zip(self.ema_net.parameters(), self.net.parameters()):
            e.lerp_(w, 1.0 - self.ema_decay)

    @property
    def sampling_net(self):
        """The denoiser that samples: the moving average if ``ema_decay`` > 0, else ``net``."""
        return self.net if self.ema_net is None else self.ema_net

    # ----- layouts: public NumPy (N, 28, 28) / (N, d) <-> internal tensors ------
    def _to_internal(self, x):
        x = torch.as_tensor(np.asarray(x, np.float32), device=self.device)
        return x.reshape(-1, 1, 28, 28) if self.is_image else x

    def _to_public(self, x):
        x = x.float().cpu().numpy()
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
        return check_steps(t, n, self.T)

    @torch.no_grad()
    def predict_noise(self, xt, t) -> np.ndarray:
        """eps_theta(x_t, t) for NumPy x_t in model space ((N, 28, 28) in about [-1, 1], or (N, d))."""
        xt = self._check_public(xt, "xt")
        t = self._steps(t, len(xt))
        with self.evaluating():
            return self._to_public(
                self.sampling_net(
                    self._to_internal(xt), torch.as_tensor(t, device=self.device)
                )
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
    @torch.no_grad()
    def _reverse(self, n, seed, steps, keep):
        sched, ts = (
            (self.schedule, np.arange(self.T))
            if steps is None
            else self.schedule.respace(steps)
        )
        rng = rng_from(seed)  # NumPy noise: same as the Keras twin
        net = self.sampling_net  # the EMA weights, if the model keeps them
        # x_T ~ N(0, I)
        x = self._to_internal(rng.standard_normal(self._public_shape(n)))
        snaps = {}
        for i in reversed(range(sched.T)):
            t = int(ts[i])  # the step the network was trained on
            if t in keep:
                snaps[t] = self._to_public(x)
            eps_hat = net(x, torch.full((n,), t, device=self.device, dtype=torch.long))
            coef = sched.betas[i] / math.sqrt(1.0 - sched.alpha_bars[i])
            # mean of p(x_{t-1} | x_t)
            x = (x - coef * eps_hat.float()) / math.sqrt(sched.alphas[i])
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
        with self.evaluating():
            return self._reverse(n, seed, steps, keep)

    def sample(self, n: int, seed=None, steps=None) -> np.ndarray:
        """``n`` samples by ancestral sampling from x_T ~ N(0, I).

        Images: float32 (n, 28, 28) in [0, 1]; vectors: float32 (n, d). The same
        seed gives the same samples (noise from NumPy, shared with the Keras twin).
        ``steps``: fewer sampling steps on a respaced schedule (default: all T).
        """
        x, _ = self.reverse_process(n, seed=seed, steps=steps)
        return to_unit_images(x) if self.is_image else x.astype(np.float32)
