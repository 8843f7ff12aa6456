"""PyTorch half of the model zoo. Mirrors :mod:`aigc_course.keras` name for name."""

from .autoregressive import GPT, CharRNN, PixelCNN
from .core import Callback, GenerativeModel, History, SampleGrid, get_device, set_seed
from .diffusion import DDPM
from .gan import CGAN, DCGAN, GAN, WGAN_GP
from .vae import CVAE, VAE, ConvVAE

MODELS = {
    "gan": GAN,
    "vae": VAE,
    "conv_vae": ConvVAE,
    "cvae": CVAE,
    "dcgan": DCGAN,
    "cgan": CGAN,
    "wgan_gp": WGAN_GP,
    "char_rnn": CharRNN,
    "gpt": GPT,
    "pixelcnn": PixelCNN,
    "ddpm": DDPM,
}

__all__ = [
    "MODELS",
    "GAN",
    "VAE",
    "ConvVAE",
    "CVAE",
    "DCGAN",
    "CGAN",
    "WGAN_GP",
    "CharRNN",
    "GPT",
    "PixelCNN",
    "DDPM",
    "Callback",
    "GenerativeModel",
    "History",
    "SampleGrid",
    "get_device",
    "set_seed",
]
