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

from ._checks import check_int

_TRUE = {"1", "true", "yes", "on"}


def env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to 1/true/yes/on."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def is_fast() -> bool:
    """True when ``AIGC_COURSE_FAST`` is set to 1/true/yes/on."""
    return env_flag("AIGC_COURSE_FAST")


def is_offline() -> bool:
    """True when ``AIGC_COURSE_OFFLINE`` is set: no downloads (data, checkpoints)."""
    return env_flag("AIGC_COURSE_OFFLINE")


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
    seed = check_int(seed, "seed", minimum=None)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    os.environ["PYTHONHASHSEED"] = str(seed)


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

        def find(marker: str) -> int:
            for k, line in enumerate(lines):
                if marker in line:
                    return k
            name = getattr(obj, "__qualname__", getattr(obj, "__name__", obj))
            raise ValueError(
                f"show_source: marker {marker!r} not found in the source of {name}; "
                "expected a line of it to contain the marker"
            )

        i = find(start) + 1 if start else 0
        j = find(end) if end else len(lines)
        src = "\n".join(lines[i:j])
    return Code(textwrap.dedent(src), language="python")


def display_path(path) -> str:
    """A path as it may be printed in a notebook output or an error message.

    Printed outputs end up on the published website, so they must not show the
    absolute paths of the machine that ran the notebook. A path inside the data
    folder is shown relative to it (``$AIGC_COURSE_DATA/mnist/`` when that variable
    is set, else ``~/.cache/aigc_course/mnist/``), one inside the cache folder
    likewise (``$AIGC_COURSE_CACHE/…``), one inside the home folder as ``~/…``, and
    any other absolute path by its last two parts (``…/fortunes/tang300``).

    >>> display_path(data_dir() / "mnist")  # doctest: +SKIP
    '$AIGC_COURSE_DATA/mnist'
    """
    p = Path(path).expanduser()
    if not p.is_absolute():
        return str(path)
    roots = [("AIGC_COURSE_DATA", data_dir()), ("AIGC_COURSE_CACHE", cache_dir())]
    for env, root in roots:
        try:
            rel = p.resolve().relative_to(root.expanduser().resolve())
        except (ValueError, OSError):
            continue
        prefix = f"${env}" if os.environ.get(env) else "~/.cache/aigc_course"
        return prefix if str(rel) == "." else f"{prefix}/{rel.as_posix()}"
    try:
        return "~/" + p.relative_to(Path.home()).as_posix()
    except ValueError:
        pass
    parts = p.parts[-2:]
    return "…/" + "/".join(parts)


# ---------------------------------------------------------------------------
# GPU or not: what full mode costs here
# ---------------------------------------------------------------------------
_switched_to_fast = False  # check_gpu() turned fast mode on in this process


def has_gpu() -> bool:
    """True if a GPU is visible to the framework this notebook uses.

    Framework-neutral and import-free: it asks the framework already imported
    (Keras's backend, else PyTorch, else TensorFlow; an Apple-silicon GPU counts),
    and with none imported, ``nvidia-smi``. It never imports a framework itself, so a
    Keras lab stays free of PyTorch.
    """
    import shutil
    import subprocess
    import sys

    mods = sys.modules
    backend = None
    if "keras" in mods:
        try:
            backend = mods["keras"].backend.backend()
        except Exception:  # a half-imported or stub keras
            backend = None
    if backend == "jax":
        return any(d.platform == "gpu" for d in mods["jax"].devices())
    if backend == "torch" or (backend is None and "torch" in mods):
        torch = mods["torch"]
        mps = getattr(getattr(torch, "backends", None), "mps", None)
        return bool(
            torch.cuda.is_available() or (mps is not None and mps.is_available())
        )
    if backend == "tensorflow" or "tensorflow" in mods:
        return bool(mods["tensorflow"].config.list_physical_devices("GPU"))
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        out = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


_NO_GPU = (
    "No GPU found{where}. {what} For the full run (minutes on a GPU): on Colab, "
    "Runtime > Change runtime type > T4 GPU, then run the notebook again from the top; "
    "on Kaggle, Settings > Accelerator > GPU."
)


def check_gpu(pretrained: bool = False) -> bool:
    """Look for a GPU once, at the top of a lab, and make full mode safe without one.

    Returns whether a GPU was found. Without one:

    * ``AIGC_COURSE_FAST`` unset (the default): the lab would train for hours on the
      CPU, so this switches **fast mode** on (sets ``AIGC_COURSE_FAST=1`` for this
      process) and prints a notice saying so and how to get the full run;
    * ``AIGC_COURSE_FAST=0``, set on purpose: full mode stays, with a warning that
      training will take hours;
    * fast mode already on: nothing to say.

    ``pretrained=True`` (a lab that can load published weights instead of training,
    see :mod:`aigc_course.pretrained`) adds that option to the notice. Call it after the
    framework import and before the first :func:`pick`.
    """
    global _switched_to_fast
    gpu = has_gpu()
    flag = os.environ.get("AIGC_COURSE_FAST", "").strip().lower()
    if gpu or (flag in _TRUE and not _switched_to_fast):
        return gpu
    where = " on this Colab runtime" if in_colab() else ""
    # the default, or fast mode this function chose
    if flag in _TRUE or flag in ("", "auto"):
        os.environ["AIGC_COURSE_FAST"] = "1"
        _switched_to_fast = True
        what = (
            "This notebook switched to fast mode: training is cut to seconds, so the "
            "samples are rough. To train fully on this CPU anyway (hours), set "
            'AIGC_COURSE_FAST=0 before running it (os.environ["AIGC_COURSE_FAST"] = "0").'
        )
    else:  # full mode asked for on purpose
        what = (
            "AIGC_COURSE_FAST=0 asks for full mode: training will take hours on this CPU. "
            "For a quick run instead, set AIGC_COURSE_FAST=1."
        )
    if pretrained:
        what += " Or skip training: set AIGC_COURSE_PRETRAINED=1 to load the course's published weights."
    print(_NO_GPU.format(where=where, what=what))
    return gpu
