"""Run-time settings shared by every notebook: fast mode, seeds, data folder.

Fast mode (``AIGC_COURSE_FAST=1``, set by CI) shortens training so that every
cell of every notebook still executes on a 2-core CPU in seconds; full mode is
what a student runs on a Colab GPU.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np

_TRUE = {"1", "true", "yes", "on"}


def is_fast() -> bool:
    """True when ``AIGC_COURSE_FAST`` is set to 1/true/yes/on."""
    return os.environ.get("AIGC_COURSE_FAST", "").strip().lower() in _TRUE


def pick(full, fast):
    """Return ``fast`` in fast mode and ``full`` otherwise.

    >>> epochs = pick(full=30, fast=1)
    """
    return fast if is_fast() else full


def data_dir() -> Path:
    """Folder where datasets are looked for first and cached.

    ``AIGC_COURSE_DATA`` if set, otherwise ``~/.cache/aigc_course``.
    """
    env = os.environ.get("AIGC_COURSE_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "aigc_course"


def cache_dir() -> Path:
    """Writable folder for things the package computes and keeps (e.g. trained evaluators).

    ``AIGC_COURSE_CACHE`` if set, otherwise ``~/.cache/aigc_course``. Kept apart from
    :func:`data_dir` on purpose: ``AIGC_COURSE_DATA`` may point at a read-only mirror.
    """
    env = os.environ.get("AIGC_COURSE_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "aigc_course"


def set_seed(seed: int = 0) -> None:
    """Seed Python's and NumPy's global generators.

    The framework packages add their own seeding on top:
    :func:`aigc_course.torch.set_seed` and :func:`aigc_course.keras.set_seed`.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    os.environ["PYTHONHASHSEED"] = str(int(seed))


def in_colab() -> bool:
    """True inside Google Colab."""
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


def show_source(obj, start: str | None = None, end: str | None = None):
    """Display the source of a function, class or module, syntax-highlighted.

    Lab notebooks use it to put the essential code (a loss, a training step)
    on the page while the code itself lives, tested, in the package. With
    ``start``/``end`` only the lines between those marker strings are shown.
    """
    import inspect
    import textwrap

    from IPython.display import Code

    src = inspect.getsource(obj)
    if start is not None or end is not None:
        lines = src.splitlines()
        i = next(k for k, line in enumerate(lines) if start in line) + 1 if start else 0
        j = next(k for k, line in enumerate(lines) if end in line) if end else len(lines)
        src = "\n".join(lines[i:j])
    return Code(textwrap.dedent(src), language="python")
