"""Framework-neutral weights of a PyTorch model: NumPy arrays in the canonical layout.

The course stores every model's weights once, as a dict of NumPy arrays saved with
safetensors (:mod:`aigc_course.weightfile`), and loads them into either framework.
The **canonical names and layouts are PyTorch's** ``state_dict``: so on this side
the mapping is the identity, with two exceptions:

* ``*.num_batches_tracked`` (batch norm's step counter) is not stored. It only
  matters for ``BatchNorm(momentum=None)``, which no model of the zoo uses, and
  Keras has no counterpart; loading leaves the model's own counter as it is.
* non-persistent buffers (the GPT's causal mask, the DDPM's schedule constants and
  time frequencies) are not in ``state_dict`` at all: they follow from the
  configuration. The PixelCNN's kernel masks *are* stored (``net.<i>.mask``) and are
  checked on loading: a file whose masks differ was not written for a PixelCNN with
  this ``kernel``.

The Keras twin, :mod:`aigc_course.keras.weights`, has the same public functions and
documents how each canonical tensor maps onto a Keras weight.

    arrays = to_arrays(model)              # {"generator.0.weight": (128, 100) float32, ...}
    from_arrays(other_model, arrays)       # ValueError naming any missing/extra/misshaped tensor
    save(model, "gan.safetensors")         # to_arrays + aigc_course.weightfile.write
    load(keras_or_torch_model, "gan.safetensors")
"""

from __future__ import annotations

import numpy as np
import torch

from .. import weightfile

__all__ = ["to_arrays", "from_arrays", "mapping", "save", "load", "SKIPPED_SUFFIXES"]

#: state_dict entries that are not part of the canonical weights
SKIPPED_SUFFIXES = ("num_batches_tracked",)


def _stored(name: str) -> bool:
    return not name.endswith(SKIPPED_SUFFIXES)


def to_arrays(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """The model's weights as NumPy arrays (copies) in the canonical names and layouts.

    Floating-point tensors come back as float32 whatever their dtype in the model.
    """
    if not isinstance(model, torch.nn.Module):
        raise ValueError(
            f"model: expected a torch.nn.Module, got {type(model).__name__}"
        )
    out = {}
    for name, t in model.state_dict().items():
        if not _stored(name):
            continue
        a = t.detach().cpu()
        a = a.float().numpy() if a.is_floating_point() else a.numpy()
        out[name] = np.array(a, copy=True)
    return out


def from_arrays(model: torch.nn.Module, arrays: dict) -> torch.nn.Module:
    """Copy canonical arrays (float32 or float16) into ``model`` in place; return it.

    Every tensor of the model must be given, with its shape, and nothing else:
    otherwise a ValueError names the missing, unexpected or wrong-shaped tensors
    and the model is left unchanged.
    """
    if not isinstance(model, torch.nn.Module):
        raise ValueError(
            f"model: expected a torch.nn.Module, got {type(model).__name__}"
        )
    expected = to_arrays(model)
    weightfile.check_arrays(expected, arrays, f"this {type(model).__name__}")
    for k, mine in expected.items():  # derived constants must agree, not be overwritten
        if k.endswith(".mask") and not np.array_equal(
            np.asarray(arrays[k], np.float32), mine
        ):
            raise ValueError(
                f"these weights do not fit this {type(model).__name__}: the kernel "
                f"mask {k} differs (the file was written for another kernel size "
                "or mask type)"
            )
    state = model.state_dict()
    with torch.no_grad():
        for k in expected:
            t = state[k]
            t.copy_(
                torch.as_tensor(np.asarray(arrays[k])).to(
                    dtype=t.dtype, device=t.device
                )
            )
    return model


def mapping(model: torch.nn.Module) -> list[dict]:
    """One row per canonical tensor: ``{"name", "shape", "framework_name", "framework_shape",
    "rule"}``. On this side every rule is ``"identity"``."""
    return [
        {
            "name": k,
            "shape": tuple(a.shape),
            "framework_name": k,
            "framework_shape": tuple(a.shape),
            "rule": "identity",
        }
        for k, a in to_arrays(model).items()
    ]


def save(
    model: torch.nn.Module, path, dtype: str = "float32", metadata: dict | None = None
):
    """Write the model's weights to a safetensors file (see :func:`aigc_course.weightfile.write`)."""
    return weightfile.write(
        path, to_arrays(model), model=model, dtype=dtype, metadata=metadata
    )


def load(model: torch.nn.Module, path) -> torch.nn.Module:
    """Load a safetensors weight file (written by either framework) into ``model``; return it.

    The file's recorded model class and configuration are checked against ``model``
    first (:func:`aigc_course.weightfile.check_model`).
    """
    arrays, meta = weightfile.read(path)
    weightfile.check_model(meta, model, path)
    return from_arrays(model, arrays)
