"""Run folders: where a lab's checkpoints go, one folder per set of training settings.

``run_dir(name, **settings)`` returns ``<runs>/<name>-<hash>``, where ``<hash>`` is a
short SHA-256 of the settings written as canonical JSON (sorted keys, no spaces).
Identical settings give the same folder, so running a lab again *resumes* its
checkpoint; change one setting (an epoch count, a learning rate, the data) and the
folder is new, so training starts afresh instead of silently resuming the old run.

The runs folder ``<runs>`` is, in order,

1. ``$AIGC_COURSE_RUNS`` if set;
2. on Google Colab, ``MyDrive/aigc_course/runs`` on Google Drive, mounted on the first
   call (Colab asks for permission once): the Colab machine's own disk is wiped when
   the runtime disconnects, Drive is not;
3. elsewhere, ``runs/`` in the current folder (in a notebook: the notebook's folder;
   on Kaggle, ``/kaggle/working``, which a saved version keeps).

Settings are plain JSON values (numbers, strings, booleans, None, lists, dicts with
string keys), NumPy scalars and arrays (an array stands for its shape, dtype and the
SHA-256 of its bytes: pass the training data itself), and models of the course's zoo
(a model stands for its class, parameter count and constructor arguments).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from .config import in_colab, is_fast

__all__ = ["run_dir", "runs_root", "settings_key", "canonical_settings"]

#: where Colab mounts Google Drive (a module constant so that tests can move it)
COLAB_DRIVE = Path("/content/drive")
DRIVE_RUNS = Path("MyDrive") / "aigc_course" / "runs"
HASH_CHARS = 10
SETTINGS_FILE = "settings.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# ---------------------------------------------------------------------------
# settings -> canonical JSON -> short hash
# ---------------------------------------------------------------------------
def _array(value, key: str) -> dict:
    try:
        a = np.asarray(value)
    except (TypeError, ValueError, RuntimeError) as err:  # e.g. a tensor on a GPU
        raise ValueError(
            f"{key}: expected an array that NumPy can read ({err})"
        ) from None
    if a.dtype.kind not in "biufcSUM":
        raise ValueError(
            f"{key}: expected a numeric or string array, got dtype {a.dtype}"
        )
    a = np.ascontiguousarray(a)
    return {
        "array": {
            "shape": list(a.shape),
            "dtype": a.dtype.str,
            "sha256": hashlib.sha256(memoryview(a).cast("B")).hexdigest(),
        }
    }


def _count(model) -> int | None:
    try:
        if callable(getattr(model, "count_params", None)):
            return int(model.count_params())
        return int(sum(p.numel() for p in model.parameters()))
    except Exception:  # e.g. a Keras model that is not built yet
        return None


def _model(model, key: str) -> dict:
    """Class, parameter count and the constructor arguments the model keeps as attributes."""
    cls = type(model)
    config = {}
    missing = object()
    try:
        params = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):
        params = ()
    for p in params:
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        value = getattr(model, p.name, missing)
        if value is missing:
            continue
        try:
            config[p.name] = _canonical(value, f"{key}.{p.name}")
        except ValueError:
            # not a plain value (a layer, a callable): the parameter count covers it
            continue
    return {
        "model": {
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "params": _count(model),
            "config": config,
        }
    }


def _canonical(value, key: str):
    """``value`` as plain JSON data; ValueError if it cannot stand for a setting."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise ValueError(f"{key}: expected a finite number, got {value!r}")
        return float(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise ValueError(
                f"{key}: expected a dict with string keys, got key {bad[0]!r}"
            )
        return {k: _canonical(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if callable(getattr(value, "count_params", None)) or callable(
        getattr(value, "parameters", None)
    ):
        return _model(value, key)
    if isinstance(value, np.ndarray) or hasattr(value, "__array__"):
        return _array(value, key)
    raise ValueError(
        f"{key}: expected a number, string, bool, None, list, dict, NumPy array "
        f"or model, got {type(value).__name__}"
    )


def canonical_settings(**settings) -> str:
    """The settings as canonical JSON: sorted keys, no spaces, arrays and models summarised."""
    plain = {k: _canonical(v, k) for k, v in settings.items()}
    return json.dumps(
        plain,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def settings_key(**settings) -> str:
    """The first ``HASH_CHARS`` hex digits of the SHA-256 of :func:`canonical_settings`."""
    return hashlib.sha256(canonical_settings(**settings).encode("utf-8")).hexdigest()[
        :HASH_CHARS
    ]


# ---------------------------------------------------------------------------
# where the runs go
# ---------------------------------------------------------------------------
def _mount_drive() -> Path | None:
    """Google Drive's ``MyDrive`` on Colab, mounted if needed; None if that fails."""
    mydrive = COLAB_DRIVE / "MyDrive"
    if mydrive.is_dir():
        return mydrive
    try:
        from google.colab import drive

        drive.mount(str(COLAB_DRIVE))
    except Exception as err:  # declined, timed out, or not interactive
        print(
            f"[aigc_course] Google Drive could not be mounted ({type(err).__name__}: {err}). "
            "Checkpoints go to this Colab machine's disk and are lost when the runtime "
            "disconnects; run the cell again to retry."
        )
        return None
    return mydrive if mydrive.is_dir() else None


def runs_root(mount_drive: bool = True) -> tuple[Path, str]:
    """The runs folder and how to name it in a printout (never an absolute path).

    ``$AIGC_COURSE_RUNS``, else Google Drive on Colab (mounted unless ``mount_drive``
    is False), else ``./runs``.
    """
    env = os.environ.get("AIGC_COURSE_RUNS")
    if env:
        return Path(env).expanduser(), "$AIGC_COURSE_RUNS"
    if in_colab() and mount_drive:
        mydrive = _mount_drive()
        if mydrive is not None:
            return mydrive.parent / DRIVE_RUNS, "Google Drive: " + DRIVE_RUNS.as_posix()
    return Path.cwd() / "runs", "./runs"


def run_dir(name: str, *, root=None, mount_drive: bool = True, **settings) -> Path:
    """The checkpoint folder of one training run: ``<runs>/<name>-<hash of settings>``.

    >>> checkpoint_dir = run_dir("gan_pytorch", model=gan, data=images,
    ...                          epochs=30, batch_size=128, seed=0)  # doctest: +SKIP

    Pass everything that shapes the result: the model (its configuration is read from
    it), the training data (hashed) and the arguments of ``fit``. The folder is created,
    with ``settings.json`` in it (the settings in full, to tell runs apart).

    In fast mode (``AIGC_COURSE_FAST=1``) the runs go to a fresh temporary folder: a
    run of seconds neither resumes nor leaves checkpoints behind. ``root`` overrides
    where the runs go, in any mode. Prints one line: the folder's name, where it is
    (never an absolute path) and whether it holds a checkpoint.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            "name: expected a non-empty name of letters, digits, '_', '-' or '.' "
            f"(no folder separators), got {name!r}"
        )
    if not settings:
        raise ValueError(
            "settings: expected at least one setting (the model, data and training arguments), got none"
        )
    text = canonical_settings(**settings)
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]
    if root is not None:
        base, label = Path(root).expanduser(), "the folder given as root"
    elif is_fast():
        base, label = (
            Path(tempfile.mkdtemp(prefix="aigc_course_runs-")),
            "a temporary folder, fast mode",
        )
    else:
        base, label = runs_root(mount_drive)
    folder = base / f"{name}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / SETTINGS_FILE
    if record.is_file():
        old = record.read_text(encoding="utf-8").strip()
        if old != text:  # a hash collision: vanishingly rare, never silently shared
            raise RuntimeError(
                f"{folder.name}: {SETTINGS_FILE} holds other settings; "
                "delete that folder or change the run name"
            )
    else:
        record.write_text(text + "\n", encoding="utf-8")
    others = [p for p in folder.iterdir() if p.name != SETTINGS_FILE]
    state = (
        "holds a checkpoint: training resumes from it"
        if others
        else "new: training starts from scratch"
    )
    print(f"[aigc_course] run folder {folder.name} (in {label}): {state}")
    return folder
