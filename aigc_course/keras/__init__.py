"""Keras 3 half of the model zoo. Mirrors :mod:`aigc_course.torch` name for name.

Runs on the TensorFlow backend (Colab's default) and the PyTorch backend
(``KERAS_BACKEND=torch``, set before Keras is first imported).
"""
from .core import GenerativeModel, SampleGrid, apply_gradients, set_seed
from .gan import GAN
from .vae import VAE, ConvVAE

MODELS = {
    "gan": GAN,
    "vae": VAE,
    "conv_vae": ConvVAE,
}

__all__ = ["MODELS", "GAN", "VAE", "ConvVAE", "GenerativeModel", "SampleGrid", "apply_gradients", "set_seed"]
