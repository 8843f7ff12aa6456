"""Framework-neutral plotting helpers (NumPy in, Matplotlib figures out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ._checks import check_int, drop_channel_axis


def image_grid(
    images: np.ndarray, nrow: int | None = None, pad: int = 2, pad_value: float = 1.0
) -> np.ndarray:
    """Tile ``images`` (N, H, W) or (N, H, W, 1) into one (rows*H, cols*W) array.

    Values are passed through unchanged, so call it on images in [0, 1].
    """
    images = drop_channel_axis(np.asarray(images))
    if images.ndim != 3:
        raise ValueError(
            f"expected images shaped (N, H, W) or (N, H, W, 1), got {images.shape}"
        )
    n, h, w = images.shape
    if n == 0:
        raise ValueError("expected at least one image, got 0")
    ncol = nrow if nrow is not None else int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncol))
    grid = np.full(
        (nrows * (h + pad) + pad, ncol * (w + pad) + pad), pad_value, dtype=np.float32
    )
    for i, img in enumerate(images):
        r, c = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y : y + h, x : x + w] = img
    return grid


def show_images(
    images: np.ndarray,
    title: str = "",
    nrow: int | None = None,
    ax=None,
    figsize: float = 5.0,
):
    """Show a grid of grayscale images in [0, 1]; returns the Matplotlib axes."""
    import matplotlib.pyplot as plt

    grid = image_grid(images, nrow=nrow)
    if ax is None:
        _, ax = plt.subplots(figsize=(figsize, figsize))
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_title(title)
    ax.axis("off")
    return ax


def plot_history(
    history: Mapping[str, Sequence[float]],
    keys: Sequence[str] | None = None,
    title: str = "Training losses",
    xlabel: str = "epoch",
    ax=None,
):
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


def compare_samples(
    yours: np.ndarray,
    course: np.ndarray,
    your_title: str,
    course_title: str,
    nrow: int | None = None,
    figsize: float = 4.2,
):
    """Two sample grids side by side: the student's run and the course checkpoint.

    ``yours`` and ``course``: grayscale images in [0, 1], (N, H, W) or with a channel
    axis. The titles say how each was trained (``pretrained.describe``). Returns the
    two axes.
    """
    import textwrap

    import matplotlib.pyplot as plt

    _, axes = plt.subplots(1, 2, figsize=(2 * figsize, figsize + 0.6))
    for ax, images, title in zip(axes, (yours, course), (your_title, course_title)):
        show_images(images, title="\n".join(textwrap.wrap(title, 42)), nrow=nrow, ax=ax)
        ax.title.set_fontsize(9)
    plt.tight_layout()
    return axes


def show_sample_grid(samples: np.ndarray, epoch: int, nrow: int | None = None):
    """The per-epoch sample grid drawn by both frameworks' ``SampleGrid`` callbacks."""
    import matplotlib.pyplot as plt

    show_images(samples, title=f"Samples after epoch {epoch}", nrow=nrow, figsize=3.5)
    plt.show()


def samples_by_class(
    images: np.ndarray, predicted: np.ndarray, per_class: int = 8, num_classes: int = 10
) -> np.ndarray:
    """Rows of ``per_class`` images predicted as class 0, 1, ...; black where there are too few.

    Returns (num_classes * per_class, H, W) for :func:`show_images` with ``nrow=per_class``:
    a row of black squares shows a class the samples (almost) never produce, mode collapse at a glance.
    """
    images, predicted = np.asarray(images), np.asarray(predicted)
    if images.ndim < 3:
        raise ValueError(
            f"images: expected a batch shaped (N, H, W) or (N, H, W, 1), got shape {images.shape}"
        )
    images = (
        images.reshape(images.shape[:3])
        if images.ndim == 4 and images.shape[-1] == 1
        else images
    )
    if predicted.shape != (len(images),):
        raise ValueError(
            f"predicted: expected one label per image, shape ({len(images)},), got {predicted.shape}"
        )
    per_class, num_classes = (
        check_int(per_class, "per_class"),
        check_int(num_classes, "num_classes"),
    )
    rows = np.zeros((num_classes, per_class) + images.shape[1:3], np.float32)
    for c in range(num_classes):
        chosen = images[predicted == c][:per_class]
        rows[c, : len(chosen)] = chosen
    return rows.reshape((-1,) + images.shape[1:3])


def plot_class_histograms(
    coverage: Mapping[str, Mapping],
    ax=None,
    num_classes: int = 10,
    title: str = "Which classes do the samples show? (evaluator's predictions)",
):
    """Grouped bars of the predicted-class fractions, one group per model.

    ``coverage`` maps a name to the dict of :func:`aigc_course.metrics.mode_coverage`
    (``counts``, ``modes_hit``, ``kl_to_uniform``). The dashed line is the fair share 1/num_classes.
    """
    import matplotlib.pyplot as plt

    if not coverage:
        raise ValueError(
            "coverage: expected at least one {name: mode_coverage(...)} entry"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.8))
    width = 0.8 / len(coverage)
    for i, (name, c) in enumerate(coverage.items()):
        counts = np.asarray(c["counts"], np.float64)
        if counts.shape != (num_classes,):
            raise ValueError(
                f"coverage[{name!r}]['counts']: expected shape ({num_classes},), got {counts.shape}"
            )
        offset = (i - (len(coverage) - 1) / 2) * width
        ax.bar(
            np.arange(num_classes) + offset,
            counts / counts.sum(),
            width,
            label=f"{name}: {c['modes_hit']}/{num_classes} classes, KL {c['kl_to_uniform']:.3f}",
        )
    ax.axhline(1 / num_classes, color="gray", ls="--", lw=1)
    ax.set_xticks(range(num_classes))
    ax.set_title(title)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("fraction of samples")
    ax.legend(fontsize=8)
    return ax


def plot_precision_recall(results: Mapping[str, Mapping], ax=None):
    """One point per model at (recall, precision), both in [0, 1]; higher and further right is better."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    for name, r in results.items():
        ax.scatter(r["recall"], r["precision"], s=80, label=name)
        ax.annotate(
            name,
            (r["recall"], r["precision"]),
            xytext=(6, 4),
            textcoords="offset points",
        )
    ax.set_xlim(0, 1.05)
    ax.set_ylim(0, 1.05)
    ax.set_title("Precision (quality) vs recall (diversity)")
    ax.set_xlabel("recall: real images covered by the samples")
    ax.set_ylabel("precision: samples that look real")
    ax.grid(alpha=0.3)
    return ax
