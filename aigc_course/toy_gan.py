"""A tiny GAN for 2-D points in NumPy, with every gradient written by hand.

Everything a deep-learning framework does for a GAN is here: two multilayer
perceptrons and their backward passes, the two losses, Adam, and the alternating
training loop. It only handles 2-D data and is meant to be *read* (the tests check
each hand-written gradient against finite differences).

    gan = ToyGAN(seed=0)
    gan.fit(points, steps=2000)        # call again to train on
    fake = gan.sample(1000, seed=1)

Notation: the discriminator network outputs a *logit* ``l``; its probability that
``x`` is real is ``D(x) = sigma(l)``. ``softplus(t) = log(1 + e^t)``, so ``-log sigma(l) =
softplus(-l)`` and ``-log(1 - sigma(l)) = softplus(l)``.
"""
from __future__ import annotations

import contextlib

import numpy as np

try:  # optional: these matrices are tiny, and BLAS threads only add overhead (or stall a busy CPU)
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

__all__ = ["MLP", "Adam", "ToyGAN", "G_LOSSES", "mode_counts", "modes_covered",
           "high_quality_fraction"]

G_LOSSES = ("non-saturating", "saturating")
SLOPE = 0.2  # negative slope of the LeakyReLU


def softplus(t):
    return np.logaddexp(0.0, t)             # log(1 + e^t) without overflow


def sigmoid(t):
    return np.exp(-np.logaddexp(0.0, -t))   # 1 / (1 + e^-t) without overflow


def _check_points(x, name="data") -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2 or len(x) == 0:
        raise ValueError(f"{name}: expected 2-D points shaped (N, 2) with N >= 1, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return x


def _positive_int(value, name) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return int(value)


class MLP:
    """``x -> [Linear -> LeakyReLU] * len(hidden) -> Linear``, ``params = [W1, b1, W2, b2, ...]``."""

    def __init__(self, sizes, rng: np.random.Generator):
        self.params = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            # He initialisation: keeps the activations' scale roughly constant across layers
            self.params += [rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in),
                            np.zeros(n_out)]

    def forward(self, x):
        """The output, and the cache (input and pre-activation of each layer) for ``backward``."""
        n_layers, cache, h = len(self.params) // 2, [], x
        for i in range(n_layers):
            a = h @ self.params[2 * i] + self.params[2 * i + 1]      # a = h W + b
            cache.append((h, a))
            h = np.where(a > 0, a, SLOPE * a) if i < n_layers - 1 else a
        return h, cache

    def backward(self, cache, grad_out):
        """Given dL/d(output), return (dL/d(each param), dL/d(input)): the chain rule, layer by layer.

        Each step uses the forward pass's cache: a layer's input h and pre-activation a.
        """
        grads, g = [None] * len(self.params), grad_out
        for i in reversed(range(len(cache))):
            h, a = cache[i]
            if i < len(cache) - 1:
                g = g * np.where(a > 0, 1.0, SLOPE)                  # dL/da = dL/dout * LeakyReLU'(a)
            grads[2 * i] = h.T @ g                                   # dL/dW = h^T dL/da
            grads[2 * i + 1] = g.sum(axis=0)                         # dL/db = sum over the batch
            g = g @ self.params[2 * i].T                             # dL/dh = dL/da W^T
        return grads, g


class Adam:
    """Adam (Kingma & Ba, 2015); updates the arrays in ``params`` in place."""

    def __init__(self, params, lr=1e-3, betas=(0.5, 0.999), eps=1e-8):
        self.params, self.lr, (self.b1, self.b2), self.eps = params, lr, betas, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g                                   # running mean of g
            v *= self.b2
            v += (1 - self.b2) * g * g                               # running mean of g^2
            m_hat, v_hat = m / (1 - self.b1 ** self.t), v / (1 - self.b2 ** self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class ToyGAN:
    """Generator ``z (latent_dim) -> hidden -> 2`` and discriminator ``2 -> hidden -> logit``.

    ``g_loss``: ``"non-saturating"`` (minimise ``-log D(G(z))``, the default of every
    practical GAN) or ``"saturating"`` (minimise ``log(1 - D(G(z)))``, the minimax game
    as written). ``d_steps`` discriminator updates are made per generator update.
    """

    def __init__(self, latent_dim=2, hidden=(64, 64), g_loss="non-saturating", lr_d=1e-3,
                 lr_g=1e-3, d_steps=1, batch_size=128, betas=(0.5, 0.999), seed=0):
        if g_loss not in G_LOSSES:
            raise ValueError(f"g_loss: expected one of {G_LOSSES}, got {g_loss!r}")
        hidden = tuple(_positive_int(h, "hidden sizes") for h in hidden)
        if not (lr_d > 0 and lr_g > 0):
            raise ValueError(f"learning rates must be positive, got lr_d={lr_d}, lr_g={lr_g}")
        self.latent_dim = _positive_int(latent_dim, "latent_dim")
        self.d_steps = _positive_int(d_steps, "d_steps")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.g_loss_kind = g_loss
        self.rng = np.random.default_rng(seed)
        self.G = MLP([self.latent_dim, *hidden, 2], self.rng)
        self.D = MLP([2, *hidden, 1], self.rng)
        self.opt_g = Adam(self.G.params, lr_g, betas)
        self.opt_d = Adam(self.D.params, lr_d, betas)
        self.steps_done = 0
        self.history = {"step": [], "d_loss": [], "g_loss": []}

    def noise(self, n, rng=None) -> np.ndarray:
        return (self.rng if rng is None else rng).standard_normal((n, self.latent_dim))

    def sample(self, n, seed=None) -> np.ndarray:
        """``n`` generated points (n, 2); with a ``seed``, training's random stream is left alone."""
        rng = None if seed is None else np.random.default_rng(seed)
        return self.G.forward(self.noise(_positive_int(n, "n"), rng))[0]

    def discriminate(self, x) -> np.ndarray:
        """The probability D(x) that each point of ``x`` (N, 2) is real, shape (N,)."""
        return sigmoid(self.D.forward(_check_points(x, "x"))[0][:, 0])

    # --- losses
    # The discriminator's loss: binary cross-entropy with logits, real -> 1, fake -> 0.
    def d_loss_and_grads(self, real, z):
        """L_D = mean softplus(-l_real) + mean softplus(l_fake)
               = -mean log sigma(l_real) - mean log(1 - sigma(l_fake)), and its gradients."""
        fake, _ = self.G.forward(z)             # no backward through G: the fakes are "detached"
        l_real, cache_real = self.D.forward(real)
        l_fake, cache_fake = self.D.forward(fake)
        loss = softplus(-l_real).mean() + softplus(l_fake).mean()
        # d softplus(-l)/dl = sigma(l) - 1 and d softplus(l)/dl = sigma(l)
        grads_real, _ = self.D.backward(cache_real, (sigmoid(l_real) - 1) / len(real))
        grads_fake, _ = self.D.backward(cache_fake, sigmoid(l_fake) / len(fake))
        return loss, [a + b for a, b in zip(grads_real, grads_fake)]

    # The generator's loss: back through D (whose gradients are discarded) into G.
    def g_loss_and_grads(self, z):
        """With l the logit of D on G(z), and its gradients:
        non-saturating: L_G = mean softplus(-l) = -mean log sigma(l);
        saturating:     L_G = mean log(1 - sigma(l)) = -mean softplus(l)."""
        fake, cache_g = self.G.forward(z)
        logit, cache_d = self.D.forward(fake)
        if self.g_loss_kind == "non-saturating":
            loss, dl = softplus(-logit).mean(), (sigmoid(logit) - 1) / len(z)  # d/dl: -(1 - sigma)
        else:
            loss, dl = -softplus(logit).mean(), -sigmoid(logit) / len(z)       # d/dl: -sigma
        _, d_fake = self.D.backward(cache_d, dl)    # dL/d(fake points); D's own grads are unused
        grads, _ = self.G.backward(cache_g, d_fake)
        return loss, grads
    # --- end losses

    def train_step(self, data):
        """``d_steps`` updates of D on fresh real and fake batches, then one update of G."""
        for _ in range(self.d_steps):
            real = data[self.rng.integers(0, len(data), self.batch_size)]
            d_loss, grads = self.d_loss_and_grads(real, self.noise(self.batch_size))
            self.opt_d.step(grads)                  # only D's optimizer steps here ...
        g_loss, grads = self.g_loss_and_grads(self.noise(self.batch_size))
        self.opt_g.step(grads)                      # ... and only G's here
        return float(d_loss), float(g_loss)

    def fit(self, data, steps, log_every=100):
        """Train for ``steps`` generator updates; mean losses are logged to ``self.history``."""
        data = _check_points(data)
        steps, log_every = _positive_int(steps, "steps"), _positive_int(log_every, "log_every")
        window = []
        with threadpool_limits(1, "blas") if threadpool_limits else contextlib.nullcontext():
            for _ in range(steps):
                window.append(self.train_step(data))
                self.steps_done += 1
                if self.steps_done % log_every == 0:
                    d, g = np.mean(window, axis=0)
                    self.history["step"].append(self.steps_done)
                    self.history["d_loss"].append(float(d))
                    self.history["g_loss"].append(float(g))
                    window = []
        return self.history


# --- measuring mode coverage
def mode_counts(samples, centers, radius) -> np.ndarray:
    """How many ``samples`` lie within ``radius`` of each of the ``centers`` (K, 2); shape (K,)."""
    samples, centers = _check_points(samples, "samples"), _check_points(centers, "centers")
    if not radius > 0:
        raise ValueError(f"radius: expected a positive number, got {radius!r}")
    dist = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)  # (N, K)
    return (dist <= radius).sum(axis=0)


def modes_covered(samples, centers, radius, min_count=1) -> int:
    """Number of modes with at least ``min_count`` samples within ``radius`` of their centre."""
    min_count = _positive_int(min_count, "min_count")
    return int((mode_counts(samples, centers, radius) >= min_count).sum())


def high_quality_fraction(samples, centers, radius) -> float:
    """Fraction of samples within ``radius`` of some centre (the rest fall between modes)."""
    samples, centers = _check_points(samples, "samples"), _check_points(centers, "centers")
    dist = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)
    return float((dist.min(axis=1) <= radius).mean())
