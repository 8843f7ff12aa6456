"""Keras 3 half of the model zoo. Mirrors :mod:`aigc_course.torch` name for name.

Runs on the TensorFlow backend (Colab's default) and the PyTorch backend
(``KERAS_BACKEND=torch``, set before Keras is first imported).
"""
from .core import GenerativeModel, SampleGrid, apply_gradients, set_seed
from .gan import GAN
from .vae import VAE, ConvVAE, CVAE
from .gan_variants import CGAN, DCGAN, WGAN_GP
from .autoregressive import GPT, CharRNN, PixelCNN
from .diffusion import DDPM

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

__all__ = ["MODELS", "GAN", "VAE", "ConvVAE", "CVAE", "DCGAN", "CGAN", "WGAN_GP", "CharRNN", "GPT", "PixelCNN", "DDPM", "GenerativeModel", "SampleGrid", "apply_gradients", "set_seed"]
