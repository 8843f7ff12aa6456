"""Keras 3 half of the model zoo. Mirrors :mod:`aigc_course.torch` name for name.

Runs on the TensorFlow backend (Colab's default) and the PyTorch backend
(``KERAS_BACKEND=torch``, set before Keras is first imported).
"""

from .autoregressive import GPT, CharRNN, PixelCNN
from .core import GenerativeModel, SampleGrid, apply_gradients, set_seed
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
    "GenerativeModel",
    "SampleGrid",
    "apply_gradients",
    "set_seed",
]
