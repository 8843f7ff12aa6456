"""PyTorch half of the model zoo. Mirrors :mod:`aigc_course.keras` name for name."""
from .core import Callback, GenerativeModel, History, SampleGrid, get_device, set_seed
from .gan import GAN
from .vae import VAE, ConvVAE

MODELS = {
    "gan": GAN,
    "vae": VAE,
    "conv_vae": ConvVAE,
}

__all__ = ["MODELS", "GAN", "VAE", "ConvVAE", "Callback", "GenerativeModel", "History", "SampleGrid",
           "get_device", "set_seed"]
