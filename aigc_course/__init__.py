"""aigc_course: the helper package of "Generative AI (AIGC): from principles to code".

Framework-neutral parts (data, plotting, config) live here in NumPy;
``aigc_course.torch`` and ``aigc_course.keras`` mirror each other and are
imported only when asked for, so a notebook loads one framework, not both.
"""

from .config import (
    check_gpu,
    data_dir,
    has_gpu,
    in_colab,
    is_fast,
    pick,
    set_seed,
    show_source,
)
from .runs import run_dir

__version__ = "0.6.0"  # the release of pyproject.toml (tests/test_pretrained.py checks)

__all__ = [
    "check_gpu",
    "data_dir",
    "has_gpu",
    "in_colab",
    "is_fast",
    "pick",
    "run_dir",
    "set_seed",
    "show_source",
    "__version__",
]
