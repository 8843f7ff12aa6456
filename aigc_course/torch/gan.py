"""The source articles' MLP GAN, corrected so that it trains (PyTorch).

Generator: noise 100 -> 128 -> 256 -> 512 -> 1024 -> 784 (tanh), reshaped to
a 1x28x28 image. Discriminator: 784 -> 512 -> 256 -> 1 logit.
Mirrors ``aigc_course.keras.gan`` layer for layer (same parameter count).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import as_image_batch, latent_noise, to_unit_images
from .core import GenerativeModel


# --- losses (shown in the book) -------------------------------------------
def discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """BCE from logits: real images labelled 1 (or 1 - smoothing), fakes 0."""
    real_targets = torch.full_like(real_logits, 1.0 - label_smoothing)
    return (F.binary_cross_entropy_with_logits(real_logits, real_targets)
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits):
    """Non-saturating loss: -log D(G(z)), i.e. BCE with the fakes labelled 1."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
# --- end losses -------------------------------------------------------------


def mlp_generator(latent_dim: int = 100) -> nn.Sequential:
    def block(n_in, n_out, norm=True):
        layers = [nn.Linear(n_in, n_out)]
        if norm:
            layers.append(nn.BatchNorm1d(n_out, momentum=0.2, eps=1e-5))
        layers.append(nn.LeakyReLU(0.2))
        return layers

    return nn.Sequential(
        *block(latent_dim, 128, norm=False), *block(128, 256), *block(256, 512),
        *block(512, 1024), nn.Linear(1024, 28 * 28), nn.Tanh(),
        nn.Unflatten(1, (1, 28, 28)))


def mlp_discriminator() -> nn.Sequential:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(28 * 28, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))


class GAN(GenerativeModel):
    """MLP GAN with the non-saturating loss (Goodfellow et al., 2014)."""

    def __init__(self, latent_dim: int = 100, lr: float = 2e-4, beta_1: float = 0.5,
                 label_smoothing: float = 0.0):
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing: expected a value in [0, 1), got {label_smoothing}")
        self.latent_dim, self.lr, self.beta_1 = latent_dim, lr, beta_1
        self.label_smoothing = label_smoothing
        self.generator = mlp_generator(latent_dim)
        self.discriminator = mlp_discriminator()

    def configure_optimizers(self):
        betas = (self.beta_1, 0.999)
        return {"g": torch.optim.Adam(self.generator.parameters(), lr=self.lr, betas=betas),
                "d": torch.optim.Adam(self.discriminator.parameters(), lr=self.lr, betas=betas)}

    def prepare(self, x, y=None):
        return (as_image_batch(x)[:, None],)  # (N, 1, 28, 28) in [-1, 1]

    # --- train_step (shown in the book) --------------------------------------
    def train_step(self, real):
        opt_g, opt_d = self.optimizers["g"], self.optimizers["d"]
        z = torch.randn(real.shape[0], self.latent_dim, device=real.device)

        # 1) Discriminator: real -> 1, fake -> 0. detach(): this step must not touch G.
        with self.autocast():
            fake = self.generator(z)
            d_loss = discriminator_loss(self.discriminator(real),
                                        self.discriminator(fake.detach()),
                                        self.label_smoothing)
        opt_d.zero_grad(set_to_none=True)
        self.backward(d_loss)       # d_loss.backward(), the loss scaled under float16 AMP
        self.optimizer_step(opt_d)  # opt_d.step(), through the GradScaler under float16 AMP

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
        was_training = self.training
        self.eval()
        out = self.generator(z).float().cpu().numpy()
        self.train(was_training)
        return to_unit_images(out)
