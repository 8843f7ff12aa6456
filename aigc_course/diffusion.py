"""Denoising diffusion probabilistic models (DDPM), the framework-neutral part (NumPy only).

A diffusion model (扩散模型) destroys data by adding Gaussian noise in ``T`` small
steps and learns to undo one step at a time (Ho, Jain & Abbeel, 2020). The
*forward process* (前向过程) is fixed::

    q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)

and has a closed form for any step, with ``alpha_t = 1 - beta_t`` and
``alpha_bar_t = prod_{s <= t} alpha_s``::

    q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)
    x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps,   eps ~ N(0, I).

A network ``eps_theta(x_t, t)`` is trained to predict the noise ``eps`` (the
"simple" loss ``|eps - eps_theta(x_t, t)|^2``); sampling runs the *reverse
process* (逆向过程) from ``x_T ~ N(0, I)`` down to ``x_0``.

This module holds what both frameworks share: the noise schedules, the
:class:`NoiseSchedule` constants and formulas, the exact optimal noise predictor
for a Gaussian-mixture data set (:func:`gmm_eps_star`, no training needed) and an
ancestral sampler that accepts any noise predictor (:func:`ddpm_sample_numpy`)::

    sched = NoiseSchedule(linear_betas(1000))
    means, weights = np.array([[-2.0, 0.0], [2.0, 0.0]]), np.array([0.5, 0.5])
    eps_fn = lambda xt, t: gmm_eps_star(xt, t, sched, means, weights, std=0.1)
    x0 = ddpm_sample_numpy(eps_fn, sched, (500, 2), rng=0)

**Indexing.** Time steps are 0-based: index ``t = 0`` is the first noising step
(``x_1`` in the paper) and ``t = T - 1`` the last. ``alpha_bars[t]`` is the paper's
``alpha_bar_{t+1}``; the "previous" cumulative product of step 0 is 1 (``x_0`` is
the clean data).
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import check_int

__all__ = [
    "linear_betas",
    "cosine_betas",
    "make_schedule",
    "NoiseSchedule",
    "gmm_eps_star",
    "ddpm_sample_numpy",
    "timestep_embedding",
]


def _check_T(T) -> int:
    return check_int(T, "T", expected="a positive int (number of diffusion steps)")


# --- schedules (shown in the book) ----------------------------------------------
def linear_betas(
    T: int = 1000, beta_1: float = 1e-4, beta_T: float = 0.02
) -> np.ndarray:
    """The linear schedule of Ho et al. (2020): beta_t evenly spaced from beta_1 to beta_T."""
    T = _check_T(T)
    if not (0.0 < beta_1 <= beta_T < 1.0):
        raise ValueError(
            f"expected 0 < beta_1 <= beta_T < 1, got beta_1={beta_1}, beta_T={beta_T}"
        )
    return np.linspace(beta_1, beta_T, T, dtype=np.float64)


def cosine_betas(T: int = 1000, s: float = 0.008) -> np.ndarray:
    """The cosine schedule of Nichol & Dhariwal (2021).

    alpha_bar(t) = f(t) / f(0) with f(t) = cos^2(pi/2 (t/T + s) / (1 + s)), and
    beta_t = 1 - alpha_bar(t) / alpha_bar(t-1), clipped at 0.999.
    """
    T = _check_T(T)
    if not (s >= 0.0 and math.isfinite(s)):
        raise ValueError(f"s: expected a non-negative offset, got {s!r}")
    steps = np.arange(T + 1, dtype=np.float64) / T
    f = np.cos((steps + s) / (1.0 + s) * np.pi / 2.0) ** 2
    alpha_bar = f / f[0]
    return np.clip(1.0 - alpha_bar[1:] / alpha_bar[:-1], 1e-8, 0.999)


# --- end schedules ----------------------------------------------------------------


SCHEDULES = ("linear", "cosine")


def make_schedule(kind: str = "linear", T: int = 1000) -> NoiseSchedule:
    """The schedule a :class:`~aigc_course.torch.DDPM` uses, by name.

    ``"linear"`` scales Ho et al.'s range (1e-4 to 0.02 at T = 1000) by 1000 / T, so
    that alpha_bar_T stays close to 0 (x_T is pure noise) for any T; ``"cosine"``
    is :func:`cosine_betas`.
    """
    T = _check_T(T)
    if kind == "linear":
        scale = 1000.0 / T
        return NoiseSchedule(
            linear_betas(T, min(1e-4 * scale, 0.999), min(0.02 * scale, 0.999))
        )
    if kind == "cosine":
        return NoiseSchedule(cosine_betas(T))
    raise ValueError(f"schedule: expected one of {SCHEDULES}, got {kind!r}")


class NoiseSchedule:
    """The constants of a DDPM and the closed-form Gaussian formulas built on them.

    ``NoiseSchedule(betas)`` stores (float64 NumPy arrays of length ``T``)
    ``betas``, ``alphas = 1 - betas``, ``alpha_bars = cumprod(alphas)`` and
    ``alpha_bars_prev`` (``alpha_bars`` shifted right by one, starting at 1).

    Every method takes ``t`` as an int (one step for the whole batch) or an int
    array of shape ``(N,)`` (one step per example, 0-based), and arrays ``x`` of
    shape ``(N, ...)``; per-step constants broadcast over the trailing axes.
    """

    def __init__(self, betas):
        betas = np.asarray(betas, dtype=np.float64)
        if betas.ndim != 1 or betas.size == 0:
            raise ValueError(
                f"betas: expected a non-empty 1-D array, got shape {betas.shape}"
            )
        if not np.all(np.isfinite(betas)) or betas.min() <= 0.0 or betas.max() >= 1.0:
            raise ValueError(
                f"betas: expected every value in (0, 1), got [{betas.min():.3g}, {betas.max():.3g}]"
            )
        self.T = int(betas.size)
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alpha_bars = np.cumprod(self.alphas)
        self.alpha_bars_prev = np.concatenate([[1.0], self.alpha_bars[:-1]])

    def __repr__(self) -> str:
        return (
            f"NoiseSchedule(T={self.T}, beta in [{self.betas.min():.2g}, {self.betas.max():.2g}], "
            f"alpha_bar_T={self.alpha_bars[-1]:.3g})"
        )

    # -- helpers ---------------------------------------------------------------
    def _t(self, t, n=None) -> np.ndarray:
        t = np.asarray(t)
        if not np.issubdtype(t.dtype, np.integer):
            raise ValueError(f"t: expected integer time steps, got dtype {t.dtype}")
        if t.ndim > 1:
            raise ValueError(
                f"t: expected an int or a 1-D int array, got shape {t.shape}"
            )
        if t.size and (t.min() < 0 or t.max() >= self.T):
            raise ValueError(
                f"t: expected steps in [0, {self.T}) (0-based), got [{t.min()}, {t.max()}]"
            )
        if t.ndim == 1 and n is not None and t.shape[0] != n:
            raise ValueError(
                f"t: expected {n} time steps (one per example), got {t.shape[0]}"
            )
        return t.astype(np.int64)

    def _take(self, arr, t, x) -> np.ndarray:
        """arr[t] reshaped to broadcast against x (N, ...)."""
        x = np.asarray(x)
        if x.ndim == 0:
            raise ValueError("x: expected an array shaped (N, ...), got a scalar")
        t = self._t(t, x.shape[0])
        v = arr[t]
        if t.ndim == 1:
            v = v.reshape((-1,) + (1,) * (x.ndim - 1))
        return v

    # --- formulas (shown in the book) -------------------------------------------
    def q_sample(self, x0, t, eps) -> np.ndarray:
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps."""
        x0, eps = np.asarray(x0, np.float64), np.asarray(eps, np.float64)
        if x0.shape != eps.shape:
            raise ValueError(
                f"eps: expected the shape of x0 {x0.shape}, got {eps.shape}"
            )
        ab = self._take(self.alpha_bars, t, x0)
        return np.sqrt(ab) * x0 + np.sqrt(1.0 - ab) * eps

    def predict_x0(self, xt, t, eps) -> np.ndarray:
        """Invert q_sample: x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)."""
        xt, eps = np.asarray(xt, np.float64), np.asarray(eps, np.float64)
        ab = self._take(self.alpha_bars, t, xt)
        return (xt - np.sqrt(1.0 - ab) * eps) / np.sqrt(ab)

    def posterior(self, x0, xt, t):
        """Mean and variance of q(x_{t-1} | x_t, x_0), a Gaussian.

        mean = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0
               + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t
        var  = beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)     (0 at the first step)
        The variance is returned broadcast to the shape of x_t.
        """
        x0, xt = np.asarray(x0, np.float64), np.asarray(xt, np.float64)
        if x0.shape != xt.shape:
            raise ValueError(f"xt: expected the shape of x0 {x0.shape}, got {xt.shape}")
        beta, alpha = self._take(self.betas, t, xt), self._take(self.alphas, t, xt)
        ab, ab_prev = (
            self._take(self.alpha_bars, t, xt),
            self._take(self.alpha_bars_prev, t, xt),
        )
        mean = (np.sqrt(ab_prev) * beta / (1.0 - ab)) * x0 + (
            np.sqrt(alpha) * (1.0 - ab_prev) / (1.0 - ab)
        ) * xt
        var = beta * (1.0 - ab_prev) / (1.0 - ab)
        return mean, np.broadcast_to(var, xt.shape).copy()

    def p_mean(self, xt, t, eps_hat) -> np.ndarray:
        """The DDPM reverse mean from predicted noise:
        mu = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_t).
        It equals posterior(predict_x0(x_t, t, eps_hat), x_t, t)[0]."""
        xt, eps_hat = np.asarray(xt, np.float64), np.asarray(eps_hat, np.float64)
        if xt.shape != eps_hat.shape:
            raise ValueError(
                f"eps_hat: expected the shape of xt {xt.shape}, got {eps_hat.shape}"
            )
        beta, alpha = self._take(self.betas, t, xt), self._take(self.alphas, t, xt)
        ab = self._take(self.alpha_bars, t, xt)
        return (xt - beta / np.sqrt(1.0 - ab) * eps_hat) / np.sqrt(alpha)

    def respace(self, steps: int):
        """A shorter schedule that visits only ``steps`` of the T steps (Nichol & Dhariwal, 2021).

        Keeps the evenly spaced steps ``ts`` (always 0 and T-1) and the same
        alpha_bar at each of them: the new betas are 1 - alpha_bar[ts[i]] / alpha_bar[ts[i-1]].
        Returns ``(schedule, ts)``: step ``i`` of the new schedule is step ``ts[i]`` of
        this one, which is the t the trained network must be given.
        """
        steps = check_int(steps, "steps", 1, self.T)
        ts = np.unique(np.round(np.linspace(0, self.T - 1, steps)).astype(np.int64))
        ab = self.alpha_bars[ts]
        betas = 1.0 - ab / np.concatenate([[1.0], ab[:-1]])
        return NoiseSchedule(betas), ts

    def snr(self, t) -> np.ndarray:
        """Signal-to-noise ratio alpha_bar_t / (1 - alpha_bar_t) of x_t."""
        t = self._t(t)
        return self.alpha_bars[t] / (1.0 - self.alpha_bars[t])

    # --- end formulas -------------------------------------------------------------


def gmm_eps_star(xt, t, schedule: NoiseSchedule, means, weights, std) -> np.ndarray:
    """The exact optimal noise predictor E[eps | x_t] for Gaussian-mixture data.

    If x_0 ~ sum_k w_k N(mu_k, s_k^2 I) then, given component k, x_t and eps are
    jointly Gaussian with x_t ~ N(sqrt(ab) mu_k, v_k I), v_k = ab s_k^2 + 1 - ab,
    and Cov(eps, x_t) = sqrt(1 - ab) I, so::

        E[eps | x_t, k] = sqrt(1 - ab) (x_t - sqrt(ab) mu_k) / v_k
        E[eps | x_t]    = sum_k r_k(x_t) E[eps | x_t, k],
        r_k(x_t)        = w_k N(x_t | sqrt(ab) mu_k, v_k I) / sum_j (...)    (responsibilities)

    This is the minimiser of the DDPM loss, i.e. what a perfectly trained network
    would output. ``xt``: (N, d); ``means``: (K, d); ``weights``: (K,) summing to 1;
    ``std``: a positive float or a (K,) array (per-component isotropic std).
    """
    xt = np.asarray(xt, np.float64)
    if xt.ndim != 2:
        raise ValueError(f"xt: expected points shaped (N, d), got {xt.shape}")
    means = np.asarray(means, np.float64)
    if means.ndim != 2 or means.shape[1] != xt.shape[1]:
        raise ValueError(f"means: expected shape (K, {xt.shape[1]}), got {means.shape}")
    K, d = means.shape
    weights = np.asarray(weights, np.float64)
    if weights.shape != (K,) or weights.min() < 0 or not np.isclose(weights.sum(), 1.0):
        raise ValueError(
            f"weights: expected {K} non-negative numbers summing to 1, got {weights}"
        )
    std = (
        np.broadcast_to(np.asarray(std, np.float64), (K,))
        if np.ndim(std) == 0
        else np.asarray(std, np.float64)
    )
    if std.shape != (K,) or std.min() <= 0:
        raise ValueError(
            f"std: expected a positive float or {K} positive numbers, got {std}"
        )
    # --- eps* (shown in the book)
    ab = schedule._take(schedule.alpha_bars, t, xt)  # (N, 1) or scalar
    ab = np.broadcast_to(ab, (xt.shape[0], 1))
    v = ab * std[None, :] ** 2 + (1.0 - ab)  # (N, K)
    diff = xt[:, None, :] - np.sqrt(ab)[:, :, None] * means[None]  # (N, K, d)
    with np.errstate(divide="ignore"):
        logits = (
            np.log(weights)[None] - 0.5 * np.sum(diff**2, -1) / v - 0.5 * d * np.log(v)
        )
    logits -= logits.max(axis=1, keepdims=True)
    r = np.exp(logits)
    r /= r.sum(axis=1, keepdims=True)  # (N, K)
    eps_k = np.sqrt(1.0 - ab)[:, :, None] * diff / v[:, :, None]  # (N, K, d)
    return np.einsum("nk,nkd->nd", r, eps_k)


# --- sampler (shown in the book) --------------------------------------------------
def ddpm_sample_numpy(
    eps_fn,
    schedule: NoiseSchedule,
    shape,
    rng=None,
    keep=None,
    steps=None,
    add_noise: bool = True,
):
    """Ancestral DDPM sampling (Algorithm 2 of Ho et al., 2020) with sigma_t^2 = beta_t.

    x_T ~ N(0, I); for t = T-1, ..., 0:  x_{t-1} = p_mean(x_t, t, eps_fn(x_t, t)) + sigma_t z,
    with fresh z ~ N(0, I) at every step except the last (t = 0), which returns the mean.
    ``eps_fn(xt, t)`` gets x_t (float64, ``shape``) and t (int array, one per example).
    ``keep``: optional iterable of steps t whose x_t (the input of that step) is stored;
    ``keep`` may contain ``-1`` for the final output. Returns x_0, or
    ``(x_0, {t: x_t})`` when ``keep`` is given. ``steps``: sample with the respaced
    schedule :meth:`NoiseSchedule.respace` (fewer network calls); ``eps_fn`` and
    ``keep`` still use the original step numbers. ``add_noise=False`` leaves out
    sigma_t z at every step: the common tutorial bug of chapter 11 (the samples
    collapse onto a few points), kept here so that the bug can be run, not rewritten.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 1 or min(shape) < 1:
        raise ValueError(f"shape: expected a non-empty shape (N, ...), got {shape}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    keep = None if keep is None else set(int(k) for k in keep)
    ts = np.arange(schedule.T)
    if steps is not None:
        schedule, ts = schedule.respace(steps)
    snaps = {}
    x = rng.standard_normal(shape)
    for i in range(schedule.T - 1, -1, -1):
        t = int(ts[i])  # the step the network knows
        if keep is not None and t in keep:
            snaps[t] = x.copy()
        eps_hat = np.asarray(
            eps_fn(x, np.full(shape[0], t, dtype=np.int64)), np.float64
        )
        mean = schedule.p_mean(x, i, eps_hat)
        if i > 0 and add_noise:
            x = mean + np.sqrt(schedule.betas[i]) * rng.standard_normal(shape)
        else:
            x = mean  # no noise at the last step (or ever, if buggy)
    if keep is None:
        return x
    if -1 in keep:
        snaps[-1] = x.copy()
    return x, snaps


# --- end sampler --------------------------------------------------------------------


def timestep_embedding(t, dim: int, max_period: float = 10000.0) -> np.ndarray:
    """Sinusoidal time embedding (as in the Transformer and in DDPM), (N,) -> (N, dim).

    emb[:, i] = sin(t * f_i), emb[:, dim/2 + i] = cos(t * f_i), f_i = max_period^(-i / (dim/2)).
    Both frameworks compute exactly this inside their denoisers; this NumPy version
    is the reference the tests compare against.
    """
    if (
        isinstance(dim, bool)
        or not isinstance(dim, (int, np.integer))
        or dim < 2
        or dim % 2
    ):
        raise ValueError(f"dim: expected an even int >= 2, got {dim!r}")
    t = np.asarray(t, np.float64).reshape(-1)
    half = dim // 2
    freqs = np.exp(-math.log(max_period) * np.arange(half, dtype=np.float64) / half)
    args = t[:, None] * freqs[None]
    return np.concatenate([np.sin(args), np.cos(args)], axis=1)
