"""GANs on 28x28 grayscale images (PyTorch): the source articles' MLP GAN, corrected
so that it trains, and three classic variants.

* ``GAN``     (Goodfellow et al., 2014): generator noise 100 -> 128 -> 256 -> 512 -> 1024
  -> 784 (tanh), reshaped to a 1x28x28 image; discriminator 784 -> 512 -> 256 -> 1 logit;
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
Mirrors ``aigc_course.keras.gan`` layer for layer (same parameter counts).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import (
    as_image_batch,
    as_labels,
    check_count,
    latent_noise,
    to_unit_images,
)
from .core import GenerativeModel


# --- losses (shown in the book) -------------------------------------------
def discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """BCE from logits: real images labelled 1 (or 1 - smoothing), fakes 0."""
    real_targets = torch.full_like(real_logits, 1.0 - label_smoothing)
    return F.binary_cross_entropy_with_logits(
        real_logits, real_targets
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def generator_loss(fake_logits):
    """Non-saturating loss: -log D(G(z)), i.e. BCE with the fakes labelled 1."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


# --- end losses -------------------------------------------------------------


# ---------------------------------------------------------------------------
# GAN networks: the source articles' MLPs
# ---------------------------------------------------------------------------
def mlp_generator(latent_dim: int = 100) -> nn.Sequential:
    def block(n_in, n_out, norm=True):
        layers = [nn.Linear(n_in, n_out)]
        if norm:
            layers.append(nn.BatchNorm1d(n_out, momentum=0.2, eps=1e-5))
        layers.append(nn.LeakyReLU(0.2))
        return layers

    return nn.Sequential(
        *block(latent_dim, 128, norm=False),
        *block(128, 256),
        *block(256, 512),
        *block(512, 1024),
        nn.Linear(1024, 28 * 28),
        nn.Tanh(),
        nn.Unflatten(1, (1, 28, 28)),
    )


def mlp_discriminator() -> nn.Sequential:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, 512),
        nn.LeakyReLU(0.2),
        nn.Linear(512, 256),
        nn.LeakyReLU(0.2),
        nn.Linear(256, 1),
    )


# ---------------------------------------------------------------------------
# DCGAN networks (sized for 28x28: 7x7 -> 14x14 -> 28x28)
# ---------------------------------------------------------------------------
def dcgan_init_(module: nn.Module) -> nn.Module:
    """Radford et al.: every conv and dense weight ~ N(0, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def dcgan_generator(latent_dim: int = 100, channels: int = 64) -> nn.Sequential:
    """z -> Dense 7*7*128 -> BN -> ReLU -> 128x7x7 -> ConvT 64 (14x14) -> BN -> ReLU
    -> ConvT 1 (28x28) -> tanh, with 64 = ``channels``, 128 = 2 * ``channels``.
    No bias before a batch norm: its mean subtraction would cancel it."""
    c = channels
    return dcgan_init_(
        nn.Sequential(
            nn.Linear(latent_dim, 7 * 7 * 2 * c, bias=False),
            nn.BatchNorm1d(7 * 7 * 2 * c, momentum=0.1, eps=1e-5),
            nn.ReLU(),
            nn.Unflatten(1, (2 * c, 7, 7)),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1, bias=False),  # 7 -> 14
            nn.BatchNorm2d(c, momentum=0.1, eps=1e-5),
            nn.ReLU(),
            nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1),  # 14 -> 28
            nn.Tanh(),
        )
    )


def dcgan_discriminator(channels: int = 64, batch_norm: bool = True) -> nn.Sequential:
    """1x28x28 -> Conv 64 (14x14) -> LeakyReLU -> Conv 128 (7x7) -> [BN] -> LeakyReLU
    -> Dense 1 logit (or score), with 64 = ``channels``.
    ``batch_norm=False`` gives the WGAN-GP critic."""
    c = channels
    return dcgan_init_(
        nn.Sequential(
            nn.Conv2d(1, c, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),  # 28 -> 14
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1, bias=not batch_norm),  # 14 -> 7
            *([nn.BatchNorm2d(2 * c, momentum=0.1, eps=1e-5)] if batch_norm else []),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(7 * 7 * 2 * c, 1),
        )
    )


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
    ):
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                f"label_smoothing: expected a value in [0, 1), got {label_smoothing}"
            )
        self.latent_dim, self.lr, self.beta_1 = latent_dim, lr, beta_1
        self.label_smoothing = label_smoothing
        self.generator, self.discriminator = self.build_networks()

    def build_networks(self):
        """``(generator, discriminator)``: here the MLPs of the source articles."""
        return mlp_generator(self.latent_dim), mlp_discriminator()

    def configure_optimizers(self):
        betas = (self.beta_1, 0.999)
        return {
            "g": torch.optim.Adam(self.generator.parameters(), lr=self.lr, betas=betas),
            "d": torch.optim.Adam(
                self.discriminator.parameters(), lr=self.lr, betas=betas
            ),
        }

    def prepare(self, x, y=None):
        return (as_image_batch(x)[:, None],)  # (N, 1, 28, 28) in [-1, 1]

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, real):
        opt_g, opt_d = self.optimizers["g"], self.optimizers["d"]
        z = torch.randn(real.shape[0], self.latent_dim, device=real.device)

        # 1) Discriminator: real -> 1, fake -> 0. detach(): this step must not touch G.
        with self.autocast():
            fake = self.generator(z)
            d_loss = discriminator_loss(
                self.discriminator(real),
                self.discriminator(fake.detach()),
                self.label_smoothing,
            )
        opt_d.zero_grad(set_to_none=True)
        self.backward(d_loss)  # d_loss.backward(), the loss scaled under float16 AMP
        # opt_d.step(), through the GradScaler under float16 AMP
        self.optimizer_step(opt_d)

        # 2) Generator: make D call the fakes real. Only G's optimizer steps.
        with self.autocast():
            g_loss = generator_loss(self.discriminator(fake))
        opt_g.zero_grad(set_to_none=True)
        self.backward(g_loss)
        self.optimizer_step(opt_g)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    # --- end train_step ------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, seed=None) -> np.ndarray:
        """``n`` images (n, 28, 28) in [0, 1]; the same seed gives the same images."""
        z = torch.from_numpy(latent_noise(n, self.latent_dim, seed)).to(self.device)
        with self.evaluating():
            out = self.generator(z).float().cpu().numpy()
        return to_unit_images(out)


class DCGAN(GAN):
    """Deep convolutional GAN (Radford et al., 2016).

    Only the networks differ from :class:`GAN` (:meth:`build_networks`): the
    non-saturating losses, Adam(2e-4, beta_1=0.5), ``train_step`` and ``sample``
    are inherited unchanged. ``channels`` (64) sets the width: G goes
    2 * channels -> channels -> 1 feature maps, D 1 -> channels -> 2 * channels.
    """

    def __init__(
        self,
        latent_dim: int = 100,
        lr: float = 2e-4,
        beta_1: float = 0.5,
        label_smoothing: float = 0.0,
        channels: int = 64,
    ):
        self.channels = channels  # build_networks needs it
        super().__init__(latent_dim, lr, beta_1, label_smoothing)

    def build_networks(self):
        return (
            dcgan_generator(self.latent_dim, self.channels),
            dcgan_discriminator(self.channels, batch_norm=True),
        )


# ---------------------------------------------------------------------------
# CGAN: class-conditional MLP GAN
# ---------------------------------------------------------------------------
class ConditionalGenerator(nn.Module):
    """G(z, y) = MLP([z, embed(y)]): the MLP GAN's generator with a wider input."""

    def __init__(
        self, latent_dim: int = 100, num_classes: int = 10, embed_dim: int = 10
    ):
        super().__init__()
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.net = mlp_generator(latent_dim + embed_dim)

    def forward(self, z, labels):
        return self.net(torch.cat([z, self.embed(labels)], dim=1))


class ConditionalDiscriminator(nn.Module):
    """D(x, y) = MLP([flatten(x), embed(y)]): 784 + embed_dim -> 512 -> 256 -> 1 logit,
    with dropout after each hidden layer.

    Each class has only a tenth of the data (500 images on the offline subset);
    without dropout the course's CGAN collapsed to nearly one image per class
    (recall 0.0014 after 100 epochs, benchmarks/results/explore_cgan.log has the
    runs that chose 0.5). Mirza & Osindero's discriminator also used dropout (0.5).
    """

    def __init__(
        self, num_classes: int = 10, embed_dim: int = 10, dropout: float = 0.5
    ):
        super().__init__()
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.net = nn.Sequential(
            nn.Linear(28 * 28 + embed_dim, 512),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(256, 1),
        )

    def forward(self, x, labels):
        return self.net(torch.cat([x.flatten(1), self.embed(labels)], dim=1))


class CGAN(GAN):
    """Conditional GAN (Mirza & Osindero, 2014): ``fit(x, y)``, ``sample(n, labels=...)``.

    The MLP GAN with conditional networks (:meth:`build_networks`); the losses and
    the optimizers are :class:`GAN`'s, ``train_step`` and ``sample`` take the labels.
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
    ):
        # build_networks needs them
        self.num_classes, self.embed_dim = num_classes, embed_dim
        self.dropout = dropout
        super().__init__(latent_dim, lr, beta_1, label_smoothing)

    def build_networks(self):
        return (
            ConditionalGenerator(self.latent_dim, self.num_classes, self.embed_dim),
            ConditionalDiscriminator(self.num_classes, self.embed_dim, self.dropout),
        )

    def prepare(self, x, y=None):
        if y is None:
            raise ValueError(
                "CGAN.fit: expected class labels, call fit(x, y) with y shaped (N,)"
            )
        x = as_image_batch(x)[:, None]  # (N, 1, 28, 28) in [-1, 1]
        return x, as_labels(y, len(x), self.num_classes)

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, real, labels):
        opt_g, opt_d = self.optimizers["g"], self.optimizers["d"]
        z = torch.randn(real.shape[0], self.latent_dim, device=real.device)

        # 1) Discriminator: (real, y) -> 1, (G(z, y), y) -> 0. The fakes get the
        #    real batch's labels, so D must judge "is this a plausible image OF y".
        with self.autocast():
            fake = self.generator(z, labels)
            d_loss = discriminator_loss(
                self.discriminator(real, labels),
                self.discriminator(fake.detach(), labels),
                self.label_smoothing,
            )
        opt_d.zero_grad(set_to_none=True)
        self.backward(d_loss)
        self.optimizer_step(opt_d)

        # 2) Generator: make D accept (G(z, y), y).
        with self.autocast():
            g_loss = generator_loss(self.discriminator(fake, labels))
        opt_g.zero_grad(set_to_none=True)
        self.backward(g_loss)
        self.optimizer_step(opt_g)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    # --- end train_step ------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, seed=None, labels=None) -> np.ndarray:
        """``n`` images (n, 28, 28) in [0, 1] of the classes ``labels``
        (default ``0, 1, ..., num_classes - 1, 0, 1, ...``)."""
        n = check_count(n)
        if labels is None:
            labels = np.arange(n) % self.num_classes
        labels = torch.from_numpy(as_labels(labels, n, self.num_classes, name="labels"))
        z = torch.from_numpy(latent_noise(n, self.latent_dim, seed)).to(self.device)
        with self.evaluating():
            out = self.generator(z, labels.to(self.device)).float().cpu().numpy()
        return to_unit_images(out)


# ---------------------------------------------------------------------------
# WGAN-GP
# ---------------------------------------------------------------------------
# --- Wasserstein losses (shown in the book) -------------------------------
def sample_alpha(n: int, device=None):
    """Interpolation weights alpha ~ Uniform(0, 1), one per example, shaped (n, 1, 1, 1).

    Uniform, so that x^ lies on the segment between a real and a fake image.
    A common bug draws alpha from a normal (``torch.randn``): alpha < 0 or > 1
    then puts x^ off the segment and the penalty constrains the wrong region.
    """
    return torch.rand(n, 1, 1, 1, device=device)


def gradient_penalty(critic, real, fake, alpha):
    """E[(||grad_x^ D(x^)||_2 - 1)^2] with x^ = alpha * real + (1 - alpha) * fake.

    ``create_graph=True`` keeps the graph of the gradient itself, so that the
    penalty can be differentiated again with respect to the critic's weights.
    The sum over the batch gives every example its own gradient only if the
    examples do not interact inside D: hence no batch norm in the critic.
    Under mixed precision the penalty is computed in float32 (autocast off): a
    gradient of a gradient in float16 under- and overflows easily, and the loss
    scaler only protects the outer backward pass.
    """
    alpha = alpha.reshape(-1, *([1] * (real.dim() - 1)))  # broadcast over the pixels
    with torch.autocast(real.device.type, enabled=False):
        real, fake = (
            t.float() if t.dtype in (torch.float16, torch.bfloat16) else t
            for t in (real, fake)
        )
        x_hat = alpha * real + (1 - alpha) * fake
        if not x_hat.requires_grad:
            x_hat.requires_grad_(True)
        (grads,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        # +1e-12 keeps the square root differentiable where the gradient is zero
        norms = torch.sqrt(grads.flatten(1).pow(2).sum(dim=1) + 1e-12)
        return ((norms - 1.0) ** 2).mean()


def critic_loss(real_scores, fake_scores):
    """E[D(G(z))] - E[D(x)]: minus the critic's estimate of the Wasserstein distance."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores):
    """-E[D(G(z))]: the generator raises the critic's score of its fakes."""
    return -fake_scores.mean()


# --- end Wasserstein losses -------------------------------------------------


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
    ):
        super().__init__()
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
        self.critic = dcgan_discriminator(channels, batch_norm=False)

    def configure_optimizers(self):
        betas = (self.beta_1, self.beta_2)
        return {
            "g": torch.optim.Adam(self.generator.parameters(), lr=self.lr, betas=betas),
            "critic": torch.optim.Adam(
                self.critic.parameters(), lr=self.lr, betas=betas
            ),
        }

    # the unconditional GAN's: images in [-1, 1], and noise -> generator for samples
    prepare, sample = GAN.prepare, GAN.sample

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, real):
        opt_g, opt_c = self.optimizers["g"], self.optimizers["critic"]
        n = real.shape[0]

        # 1) n_critic critic steps: push D(real) up and D(fake) down, with
        #    ||grad D|| held near 1 on the segments between real and fake images.
        for _ in range(self.n_critic):
            z = torch.randn(n, self.latent_dim, device=real.device)
            alpha = sample_alpha(n, real.device)  # U(0, 1), not N(0, 1)
            with self.autocast():
                fake = self.generator(z).detach()
                w_dist = -critic_loss(self.critic(real), self.critic(fake))
                gp = gradient_penalty(self.critic, real, fake, alpha)
                c_loss = -w_dist + self.gp_weight * gp
            opt_c.zero_grad(set_to_none=True)
            self.backward(c_loss)
            self.optimizer_step(opt_c)

        # 2) Generator: raise the critic's score of fresh fakes.
        z = torch.randn(n, self.latent_dim, device=real.device)
        with self.autocast():
            g_loss = wasserstein_generator_loss(self.critic(self.generator(z)))
        opt_g.zero_grad(set_to_none=True)
        self.backward(g_loss)
        self.optimizer_step(opt_g)
        return {
            "critic_loss": c_loss.detach(),
            "gp": gp.detach(),
            "w_dist": w_dist.detach(),
            "g_loss": g_loss.detach(),
        }

    # --- end train_step ------------------------------------------------------
