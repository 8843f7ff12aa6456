"""Input validation shared by both frameworks (NumPy only).

Every public model entry point funnels its input through these functions, so
bad input fails early with a ``ValueError`` that says what was expected.
"""
from __future__ import annotations

import numpy as np

IMAGE_SHAPE = (28, 28)


def as_image_batch(x, name: str = "x") -> np.ndarray:
    """Validate a batch of 28x28 grayscale images and scale it to [-1, 1].

    Accepts uint8 images in [0, 255] or floats in [0, 1], shaped (N, 28, 28),
    (N, 28, 28, 1) or (N, 1, 28, 28). Returns float32 (N, 28, 28) in [-1, 1].
    """
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    elif x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 3 or tuple(x.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(
            f"{name}: expected images shaped (N, 28, 28) (or with a channel axis of 1), "
            f"got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one image, got an empty batch")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 127.5 - 1.0
    if np.issubdtype(x.dtype, np.floating):
        lo, hi = float(np.min(x)), float(np.max(x))
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise ValueError(
                f"{name}: expected float images in [0, 1] (or uint8 in [0, 255]), "
                f"got values in [{lo:.3g}, {hi:.3g}]")
        return x.astype(np.float32) * 2.0 - 1.0
    raise ValueError(f"{name}: expected dtype uint8 or float, got {x.dtype}")


def as_labels(y, n: int, num_classes: int, name: str = "y") -> np.ndarray:
    """Validate integer class labels: shape (n,), values in [0, num_classes)."""
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"{name}: expected labels shaped ({n},), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name}: expected integer labels, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"{name}: expected labels in [0, {num_classes}), got [{y.min()}, {y.max()}]")
    return y.astype(np.int64)


def check_count(n, name: str = "n") -> int:
    """A positive number of samples."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"{name}: expected a positive int, got {n!r}")
    return int(n)


def latent_noise(n: int, latent_dim: int, seed) -> np.ndarray:
    """Standard-normal noise (n, latent_dim) from NumPy.

    Both frameworks draw sampling noise here, so ``sample(n, seed=s)`` feeds
    the very same z to a PyTorch and a Keras generator.
    """
    n = check_count(n)
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, latent_dim)).astype(np.float32)


def to_unit_images(x: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] (any channel layout) to (N, 28, 28) in [0, 1]."""
    x = np.asarray(x, dtype=np.float32).reshape(-1, *IMAGE_SHAPE)
    return np.clip((x + 1.0) / 2.0, 0.0, 1.0)
