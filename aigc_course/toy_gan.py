"""A tiny GAN for 2-D points in NumPy, with every gradient written by hand.

Everything a deep-learning framework does for a GAN is here: two multilayer
perceptrons and their backward passes (:class:`aigc_course.numpy_nn.MLP`), the two
losses, Adam, and the alternating training loop. It only handles 2-D data and is
meant to be *read* (the tests check each hand-written gradient against finite
differences). The mode-coverage measures of such 2-D samples are in
:mod:`aigc_course.metrics` (:func:`~aigc_course.metrics.modes_covered`, ...).

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

from ._checks import check_int, check_number, check_vectors
from .numpy_nn import MLP, Adam, sigmoid, softplus

# optional: these matrices are tiny, and BLAS threads only add overhead (or stall a busy CPU)
try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

__all__ = ["ToyGAN", "G_LOSSES"]

G_LOSSES = ("non-saturating", "saturating")


def _points(x, name="data") -> np.ndarray:
    return check_vectors(x, 2, name, dtype=np.float64)


class ToyGAN:
    """Generator ``z (latent_dim) -> hidden -> 2`` and discriminator ``2 -> hidden -> logit``.

    ``g_loss``: ``"non-saturating"`` (minimise ``-log D(G(z))``, the default of every
    practical GAN) or ``"saturating"`` (minimise ``log(1 - D(G(z)))``, the minimax game
    as written). ``d_steps`` discriminator updates are made per generator update.
    """

    def __init__(
        self,
        latent_dim=2,
        hidden=(64, 64),
        g_loss="non-saturating",
        lr_d=1e-3,
        lr_g=1e-3,
        d_steps=1,
        batch_size=128,
        betas=(0.5, 0.999),
        seed=0,
    ):
        if g_loss not in G_LOSSES:
            raise ValueError(f"g_loss: expected one of {G_LOSSES}, got {g_loss!r}")
        hidden = tuple(check_int(h, "hidden sizes") for h in hidden)
        lr_d = check_number(
            lr_d, "lr_d", low=0, low_open=True, expected="a positive learning rate"
        )
        lr_g = check_number(
            lr_g, "lr_g", low=0, low_open=True, expected="a positive learning rate"
        )
        self.latent_dim = check_int(latent_dim, "latent_dim")
        self.d_steps = check_int(d_steps, "d_steps")
        self.batch_size = check_int(batch_size, "batch_size")
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
        return self.G.forward(self.noise(check_int(n, "n"), rng))[0]

    def discriminate(self, x) -> np.ndarray:
        """The probability D(x) that each point of ``x`` (N, 2) is real, shape (N,)."""
        return sigmoid(self.D.forward(_points(x, "x"))[0][:, 0])

    # --- losses
    # The discriminator's loss: binary cross-entropy with logits, real -> 1, fake -> 0.
    def d_loss_and_grads(self, real, z):
        """L_D = mean softplus(-l_real) + mean softplus(l_fake)
        = -mean log sigma(l_real) - mean log(1 - sigma(l_fake)), and its gradients."""
        fake, _ = self.G.forward(z)  # no backward through G: the fakes are "detached"
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
            # d/dl: -(1 - sigma)
            loss, dl = softplus(-logit).mean(), (sigmoid(logit) - 1) / len(z)
        else:
            loss, dl = -softplus(logit).mean(), -sigmoid(logit) / len(z)  # d/dl: -sigma
        # dL/d(fake points); D's own grads are unused
        _, d_fake = self.D.backward(cache_d, dl)
        grads, _ = self.G.backward(cache_g, d_fake)
        return loss, grads

    # --- end losses

    def train_step(self, data):
        """``d_steps`` updates of D on fresh real and fake batches, then one update of G."""
        for _ in range(self.d_steps):
            real = data[self.rng.integers(0, len(data), self.batch_size)]
            d_loss, grads = self.d_loss_and_grads(real, self.noise(self.batch_size))
            self.opt_d.step(grads)  # only D's optimizer steps here ...
        g_loss, grads = self.g_loss_and_grads(self.noise(self.batch_size))
        self.opt_g.step(grads)  # ... and only G's here
        return float(d_loss), float(g_loss)

    def fit(self, data, steps, log_every=100):
        """Train for ``steps`` generator updates; mean losses are logged to ``self.history``."""
        data = _points(data)
        steps, log_every = check_int(steps, "steps"), check_int(log_every, "log_every")
        window = []
        with (
            threadpool_limits(1, "blas")
            if threadpool_limits
            else contextlib.nullcontext()
        ):
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
