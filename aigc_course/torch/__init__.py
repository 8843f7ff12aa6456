"""PyTorch half of the model zoo. Mirrors :mod:`aigc_course.keras` name for name."""
from .core import Callback, GenerativeModel, History, SampleGrid, get_device, set_seed
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

__all__ = ["MODELS", "GAN", "VAE", "ConvVAE", "CVAE", "DCGAN", "CGAN", "WGAN_GP", "CharRNN", "GPT", "PixelCNN", "DDPM", "Callback", "GenerativeModel", "History", "SampleGrid",
           "get_device", "set_seed"]
