"""aigc_course: the helper package of "Generative AI (AIGC): from principles to code".

Framework-neutral parts (data, plotting, config) live here in NumPy;
``aigc_course.torch`` and ``aigc_course.keras`` mirror each other and are
imported only when asked for, so a notebook loads one framework, not both.
"""
from .config import data_dir, in_colab, is_fast, pick, set_seed, show_source

__version__ = "0.1.0"

__all__ = ["data_dir", "in_colab", "is_fast", "pick", "set_seed", "show_source", "__version__"]
