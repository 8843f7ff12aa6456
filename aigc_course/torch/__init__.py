"""PyTorch half of the model zoo. Mirrors :mod:`aigc_course.keras` name for name."""
from .core import Callback, GenerativeModel, History, SampleGrid, get_device, set_seed
from .gan import GAN

MODELS = {
    "gan": GAN,
}

__all__ = ["MODELS", "GAN", "Callback", "GenerativeModel", "History", "SampleGrid",
           "get_device", "set_seed"]
