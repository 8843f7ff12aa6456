"""Framework-neutral plotting helpers (NumPy in, Matplotlib figures out)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def image_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2,
               pad_value: float = 1.0) -> np.ndarray:
    """Tile ``images`` (N, H, W) or (N, H, W, 1) into one (rows*H, cols*W) array.

    Values are passed through unchanged, so call it on images in [0, 1].
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(
            f"expected images shaped (N, H, W) or (N, H, W, 1), got {images.shape}")
    n, h, w = images.shape
    if n == 0:
        raise ValueError("expected at least one image, got 0")
    ncol = nrow if nrow is not None else int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncol))
    grid = np.full((nrows * (h + pad) + pad, ncol * (w + pad) + pad), pad_value,
                   dtype=np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y:y + h, x:x + w] = img
    return grid


def show_images(images: np.ndarray, title: str = "", nrow: int | None = None,
                ax=None, figsize: float = 5.0):
    """Show a grid of grayscale images in [0, 1]; returns the Matplotlib axes."""
    import matplotlib.pyplot as plt

    grid = image_grid(images, nrow=nrow)
    if ax is None:
        _, ax = plt.subplots(figsize=(figsize, figsize))
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_title(title)
    ax.axis("off")
    return ax


def plot_history(history: Mapping[str, Sequence[float]], keys: Sequence[str] | None = None,
                 title: str = "Training losses", xlabel: str = "epoch", ax=None):
    """Plot per-epoch curves from a ``{name: [values...]}`` history dict.

    Works with ``history`` from both ``aigc_course.torch`` models and Keras's
    ``History.history``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    keys = list(keys) if keys is not None else list(history)
    for k in keys:
        values = np.asarray(history[k], dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", ms=3, label=k)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def show_sample_grid(samples: np.ndarray, epoch: int, nrow: int | None = None):
    """The per-epoch sample grid drawn by both frameworks' ``SampleGrid`` callbacks."""
    import matplotlib.pyplot as plt

    show_images(samples, title=f"Samples after epoch {epoch}", nrow=nrow, figsize=3.5)
    plt.show()
