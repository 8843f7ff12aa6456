"""Integrity of saved models and training checkpoints, for both frameworks (no framework import).

Every file the package writes with model weights (``save``, the training checkpoints
of ``fit(checkpoint_dir=...)``, later the published weights) goes through
:func:`write` and is read back through :func:`verify`:

* the file is written under a temporary name in the same folder, checked, hashed
  (SHA-256), and only then renamed over the real name, so a crash, a full disk or
  non-finite weights never replace a good file with a bad one;
* next to it, ``<file>.json`` (the *record*) holds the SHA-256 and size of the
  file, the model class, the framework and the model's configuration (its
  constructor arguments), plus what a trainer needs to resume (``extra``);
* :func:`verify` recomputes the SHA-256 and compares the configuration with the
  model the file is loaded into; any difference is a :class:`CheckpointError` that
  names the file and what does not match.

The record is written before the file is renamed and keeps the previous version's
entry (``previous``), so an interruption between the two renames leaves a pair that
still verifies: the previous, intact version. A file without a record (saved by
plain ``torch.save`` or ``keras.Model.save_weights``, or by an older version of the
course) loads with a warning, unverified.

Hyperparameters that only steer training (:data:`TRAINING_KEYS`: learning rate,
Adam's betas, label smoothing, the KL weight, ...) may differ: a file of weights
fits any model with the same architecture, and a run may resume with a new
learning rate (the trainers then say which values changed).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

__all__ = [
    "CheckpointError",
    "TRAINING_KEYS",
    "record_path",
    "sha256_file",
    "write",
    "read_record",
    "verify",
    "config_differences",
    "read_error",
    "clean_config",
]

FORMAT = "aigc_course.checkpoint"
VERSION = 1

#: Constructor arguments that steer training only: they may differ between a file and
#: the model that loads it (the architecture and the meaning of the weights do not change).
TRAINING_KEYS = frozenset(
    {
        "lr",
        "beta_1",
        "beta_2",
        "label_smoothing",
        "beta",
        "gp_weight",
        "n_critic",
        "dropout",
    }
)
#: Keras bookkeeping in ``get_config()`` that is not a hyperparameter.
IGNORED_KEYS = frozenset({"name", "trainable", "dtype"})


class CheckpointError(ValueError):
    """A checkpoint or saved model is damaged, or does not fit the model it is loaded into."""


def record_path(path) -> Path:
    """Where the integrity record of ``path`` lives: ``<path>.json`` next to it."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def sha256_file(path, chunk: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _jsonable(obj):
    """Configs as plain JSON values: tuples -> lists, NumPy scalars -> Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return repr(obj)


def clean_config(config) -> dict:
    """A model configuration as stored in a record: JSON values, without Keras bookkeeping."""
    return {
        k: v for k, v in _jsonable(dict(config or {})).items() if k not in IGNORED_KEYS
    }


def _temp_name(path: Path) -> Path:
    """A fresh name in the same folder that keeps the suffixes (Keras insists on them)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix="-" + path.name)
    os.close(fd)
    return Path(tmp)


def write(
    path,
    writer,
    *,
    model: str,
    framework: str,
    config=None,
    kind: str = "weights",
    extra=None,
    check=None,
) -> Path:
    """Write ``path`` atomically with its integrity record; return ``path``.

    ``writer(tmp)`` writes the file to a temporary path (same folder, same suffix);
    ``check(tmp)``, if given, may raise to refuse it. Then the SHA-256 is taken, the
    record ``<path>.json`` (with ``model``, ``framework``, ``config``, ``kind`` and the
    JSON-able ``extra``) is written, and the file is renamed into place. On any error
    the temporary files are removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = record_path(path)
    tmp = tmp_record = None
    try:
        tmp = _temp_name(path)
        writer(tmp)
        if check is not None:
            check(tmp)
        if tmp.stat().st_size == 0:
            raise CheckpointError(f"{path}: writing produced an empty file; not saved")
        entry = {
            "file": path.name,
            "sha256": sha256_file(tmp),
            "size": tmp.stat().st_size,
            "model": model,
            "framework": framework,
            "kind": kind,
            "config": clean_config(config),
            "extra": _jsonable(extra or {}),
        }
        previous = None
        if path.is_file() and record.is_file():
            try:
                old = json.loads(record.read_text())
                previous = {
                    k: v
                    for k, v in old.items()
                    if k not in ("previous", "format", "version")
                }
            except (OSError, ValueError):
                previous = None
        content = {"format": FORMAT, "version": VERSION, **entry, "previous": previous}
        tmp_record = _temp_name(record)
        tmp_record.write_text(json.dumps(content, indent=1))
        # the record first: until the file is renamed, it still matches "previous"
        os.replace(tmp_record, record)
        os.replace(tmp, path)
    finally:
        for t in (tmp, tmp_record):
            if t is not None and t.exists():
                t.unlink()
    return path


def read_record(path) -> dict | None:
    """The integrity record of ``path`` (a dict), or None if there is none."""
    record = record_path(path)
    if not record.is_file():
        return None
    try:
        content = json.loads(record.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(
            f"{record}: the integrity record of {Path(path).name} is unreadable "
            f"({type(err).__name__}: {err}). Save the model again, or delete {record.name} "
            f"to load {Path(path).name} without verification."
        ) from None
    if (
        not isinstance(content, dict)
        or content.get("format") != FORMAT
        or "sha256" not in content
    ):
        raise CheckpointError(
            f"{record}: not an aigc_course integrity record (expected format {FORMAT!r} with a sha256)"
        )
    return content


def config_differences(stored, current, ignore=TRAINING_KEYS, only=None) -> list[str]:
    """``"key: X in the file, Y in this model"`` for every hyperparameter that differs.

    Keys in ``ignore`` are skipped; with ``only``, just those keys are compared.
    """
    stored, current = clean_config(stored), clean_config(current)
    keys = sorted(set(stored) | set(current))
    out = []
    for k in keys:
        if (only is not None and k not in only) or (only is None and k in ignore):
            continue
        a, b = stored.get(k, "<absent>"), current.get(k, "<absent>")
        if not _same(a, b):
            out.append(f"{k}: {a!r} in the file, {b!r} in this model")
    return out


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
        except (TypeError, ValueError):
            return False
    return a == b


def verify(
    path,
    *,
    model: str | None = None,
    framework: str | None = None,
    config=None,
    ignore=TRAINING_KEYS,
    require_record: bool = False,
) -> dict | None:
    """Check ``path`` against its integrity record; return the record's entry that matched.

    Raises :class:`CheckpointError` naming the file when its SHA-256 differs from the
    record, or when ``model``, ``framework`` or ``config`` (compared except for the
    keys in ``ignore``) differ from what was saved. Returns None, with a warning,
    for a file that has no record (unless ``require_record``).
    """
    path = Path(path)
    if not path.is_file():
        what = "a folder, not a file" if path.is_dir() else "no such file"
        raise FileNotFoundError(f"{path}: {what}")
    content = read_record(path)
    if content is None:
        if require_record:
            raise CheckpointError(
                f"{path} has no integrity record ({record_path(path).name}); it cannot be verified"
            )
        warnings.warn(
            f"{path} has no integrity record ({record_path(path).name}): it was not "
            "saved by aigc_course (or by an older version) and cannot be verified; "
            "loading it anyway",
            UserWarning,
            stacklevel=3,
        )
        return None
    digest = sha256_file(path)
    size = path.stat().st_size
    entry = content
    if digest != content["sha256"]:
        prev = content.get("previous") or {}
        if prev.get("sha256") == digest:
            entry = prev
            warnings.warn(
                f"{path}: the last save to this file was interrupted; it holds the "
                "previous version, which is intact and is used",
                UserWarning,
                stacklevel=3,
            )
        else:
            raise CheckpointError(
                f"{path} is corrupt: its SHA-256 is {digest[:16]}... ({size} bytes), but "
                f"{record_path(path).name} records {content['sha256'][:16]}... "
                f"({content.get('size')} bytes). The file changed after it was saved (an "
                "interrupted copy, a full disk, a bad download). Use another copy, or delete "
                "it and its record to start again."
            )
    if framework is not None and entry.get("framework") not in (None, framework):
        raise CheckpointError(
            f"{path} was saved by {entry.get('framework')}, it cannot be loaded into a {framework} model"
        )
    if model is not None and entry.get("model") not in (None, model):
        raise CheckpointError(
            f"{path} holds a {entry.get('model')}, not a {model}: build a "
            f"{entry.get('model')}({_call_args(entry.get('config'))}) to load it"
        )
    if config is not None:
        diffs = config_differences(entry.get("config", {}), config, ignore=ignore)
        if diffs:
            name = entry.get("model") or model or "model"
            raise CheckpointError(
                f"{path} was saved from a {name} with other hyperparameters: "
                + "; ".join(diffs)
                + f". Build the model as saved to load it: {name}({_call_args(entry.get('config'), ignore)})"
            )
    return entry


def _call_args(config, ignore=()) -> str:
    return ", ".join(
        f"{k}={v!r}" for k, v in clean_config(config).items() if k not in ignore
    )


def read_error(path, err: BaseException) -> CheckpointError:
    """The error to raise when a framework cannot read ``path``: it names the file."""
    msg = str(err).strip() or "(no message)"
    if len(msg) > 400:
        msg = msg[:400] + "..."
    return CheckpointError(
        f"{path} could not be loaded: {type(err).__name__}: {msg}. The file is "
        "truncated, damaged, not a checkpoint, or from another model"
    )
