"""What the PyTorch and the Keras trainer share, written once (no framework import).

* :class:`TrainingDivergedError` and its message: both trainers stop at the first
  non-finite loss (or non-finite weights at the end of an epoch), put the model back
  at its last good weights, and never write the bad weights to a checkpoint.
* :func:`checkpoint_folder`: ``checkpoint_dir`` is checked before the first epoch.
* :func:`epoch_order`: the shuffle order of an epoch, a function of ``(seed, epoch)``
  only, so that a resumed Keras run sees the batches an uninterrupted one would.
* :func:`resume_changes`: the training settings (learning rate, ...) that differ
  between a checkpoint and the model resuming from it; the new ones are used.
* :func:`amp_dtype`: which mixed precision a GPU gets (float16 with a loss scaler
  below compute capability 8.0, e.g. a T4; bfloat16 from 8.0 on, e.g. an A100).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .checkpoint import TRAINING_KEYS, config_differences

__all__ = [
    "TrainingDivergedError",
    "divergence_message",
    "non_finite",
    "checkpoint_folder",
    "epoch_order",
    "resume_changes",
    "amp_dtype",
    "AMP_CHOICES",
    "DEFAULT_LOG_EVERY",
]

#: what ``fit(amp=...)`` (PyTorch) and ``fit(mixed_precision=...)`` (Keras) accept
AMP_CHOICES = ("auto", "float16", "bfloat16", "float32")
#: a trainer reads the losses back from the device every this many steps (and at the
#: end of every epoch), not at every step: each read-back waits for the GPU
DEFAULT_LOG_EVERY = 50


class TrainingDivergedError(FloatingPointError):
    """A loss or a weight became NaN or infinite during ``fit``.

    ``epoch`` and ``step`` count from 1 (``step`` is None when the weights were found
    non-finite at the end of the epoch); ``history`` holds the finished epochs.
    """

    def __init__(self, message: str, epoch: int, step, history=None):
        super().__init__(message)
        self.epoch, self.step, self.history = epoch, step, history


def non_finite(values: dict) -> dict:
    """The entries of ``{name: float}`` that are NaN or infinite."""
    out = {}
    for k, v in values.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(f):
            out[k] = f
    return out


def divergence_message(
    *,
    epoch: int,
    epochs: int,
    step,
    steps: int,
    bad: dict,
    lr=None,
    restored_epoch=None,
    checkpoint=None,
    framework: str = "torch",
) -> str:
    """The message of :class:`TrainingDivergedError` (``epoch`` and ``step`` count from 0).

    ``bad``: the non-finite losses (name -> value) or ``{"weight <name>": value}``;
    ``restored_epoch``: the number of finished epochs the weights were put back to
    (None: not restored); ``checkpoint``: the checkpoint file that still holds them.
    """
    what = ", ".join(f"{k} = {v}" for k, v in bad.items())
    where = (
        f"epoch {epoch + 1}/{epochs}, step {step + 1}/{steps}"
        if step is not None
        else f"the end of epoch {epoch + 1}/{epochs}"
    )
    lines = [f"Training stopped: it diverged at {where} ({what})."]
    if restored_epoch is None:
        lines.append(
            "The weights were already non-finite when this fit call started, so they could not be put back."
        )
    elif restored_epoch == 0:
        lines.append("The model is back at the weights it had before training.")
    else:
        lines.append(
            f"The model is back at its last good weights (after epoch {restored_epoch})."
        )
    if checkpoint is not None and restored_epoch:
        lines.append(
            f"The checkpoint {checkpoint} still holds epoch {restored_epoch}; fit with "
            "the same checkpoint_dir resumes from there (a new learning rate is used)."
        )
    clipping = f"aigc_course.{'torch' if framework == 'torch' else 'keras'}.clipping"
    lr_text = f" (lr={lr:g})" if isinstance(lr, (int, float)) else ""
    lines.append(
        "Usual causes: a learning rate too high" + lr_text + ", try 3 to 10 times "
        f"smaller; exploding gradients, clip them ({clipping}.GradientClipper); inputs "
        "outside the expected range (uint8 0..255 or floats in [0, 1]); a custom loss "
        "that takes log(0) or divides by zero."
    )
    return " ".join(lines)


def checkpoint_folder(checkpoint_dir) -> Path | None:
    """``checkpoint_dir`` as a Path to an existing, writable folder (created if needed)."""
    if checkpoint_dir is None:
        return None
    if (
        isinstance(checkpoint_dir, bool)
        or not isinstance(checkpoint_dir, (str, os.PathLike))
        or not os.fspath(checkpoint_dir)
    ):
        raise ValueError(
            f"checkpoint_dir: expected None or a folder path, got {checkpoint_dir!r}"
        )
    folder = Path(checkpoint_dir).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"checkpoint_dir: expected a folder, but {folder} is a file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(
            f"checkpoint_dir: cannot create the folder {folder} ({err})"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"checkpoint_dir: the folder {folder} is not writable")
    return folder


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order in which epoch ``epoch`` visits ``n`` examples: a permutation drawn
    from ``(seed, epoch)`` alone, whatever happened before (so resuming repeats it)."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n)


def resume_changes(stored_config, current_config) -> list[str]:
    """Training settings (:data:`~aigc_course.checkpoint.TRAINING_KEYS`) that differ."""
    return config_differences(stored_config, current_config, only=TRAINING_KEYS)


def amp_dtype(capability, requested="auto"):
    """The mixed-precision dtype to train with: ``"bfloat16"``, ``"float16"`` or None.

    ``capability``: the CUDA compute capability ``(major, minor)`` of the GPU that
    trains, or None where there is no CUDA GPU (CPU, Apple MPS). ``requested``:

    ========================  ===================  ======================  =========
    requested                 None (CPU, MPS)      CUDA < (8, 0), e.g. T4  >= (8, 0)
    ========================  ===================  ======================  =========
    "auto" (or True)          None                 "float16"               "bfloat16"
    "float16"                 ValueError           "float16"               "float16"
    "bfloat16"                "bfloat16"           "bfloat16" (emulated)   "bfloat16"
    "float32" (False, None)   None                 None                    None
    ========================  ===================  ======================  =========

    Below compute capability 8.0 bfloat16 has no fast hardware path, so "auto" picks
    float16, which needs a loss scaler (the trainers add it); from 8.0 (A100, L4,
    RTX 30xx and later) bfloat16, which has float32's range and needs none. On a
    CPU "auto" trains in float32, so CPU results do not change; bfloat16 there
    only when asked for by name.
    """
    if requested is True:
        requested = "auto"
    if requested is None or requested is False:
        requested = "float32"
    if not isinstance(requested, str) or requested not in AMP_CHOICES:
        raise ValueError(
            f"mixed precision: expected one of {', '.join(map(repr, AMP_CHOICES))} "
            f"(or True/False), got {requested!r}"
        )
    if capability is not None:
        try:
            if isinstance(capability, (str, bytes)) or len(capability) != 2:
                raise ValueError
            capability = (int(capability[0]), int(capability[1]))
        except (TypeError, ValueError, IndexError):
            raise ValueError(
                f"capability: expected None or a (major, minor) pair, got {capability!r}"
            ) from None
    if requested == "float32":
        return None
    if requested == "bfloat16":
        return "bfloat16"
    if requested == "float16":
        if capability is None:
            raise ValueError(
                "mixed precision 'float16' needs a CUDA GPU; on this device use "
                "'auto' (float32 here) or 'bfloat16'"
            )
        return "float16"
    if capability is None:  # "auto" on a CPU or an Apple GPU: float32, as before
        return None
    return "bfloat16" if capability >= (8, 0) else "float16"
