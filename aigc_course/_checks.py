"""Input validation shared by both frameworks (NumPy only).

Every public model entry point funnels its input through these functions, so
bad input fails early with a ``ValueError`` that says what was expected.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import warnings

import numpy as np

IMAGE_SHAPE = (28, 28)


def as_image_batch(x, name: str = "x") -> np.ndarray:
    """Validate a batch of 28x28 grayscale images and scale it to [-1, 1].

    Accepts uint8 images in [0, 255] or floats in [0, 1], shaped (N, 28, 28),
    (N, 28, 28, 1) or (N, 1, 28, 28). Returns float32 (N, 28, 28) in [-1, 1].
    NaN or infinite pixels are a ValueError; uint8 images whose largest value is 1
    (0/1 images that were meant as black and white) get a warning, since they
    are scaled as 1/255, nearly black.
    """
    x = drop_channel_axis(np.asarray(x))
    if x.ndim != 3 or tuple(x.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(
            f"{name}: expected images shaped (N, 28, 28) (or with a channel axis of 1), got shape {x.shape}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one image, got an empty batch")
    if x.dtype == np.uint8:
        if int(x.max()) == 1:
            warnings.warn(
                f"{name}: uint8 images whose largest value is 1 are read as 0..255 grey levels, "
                "so they come out nearly black; for black-and-white 0/1 images pass "
                "x.astype('float32') (floats in [0, 1]) or x * 255",
                UserWarning,
                stacklevel=3,
            )
        return x.astype(np.float32) / 127.5 - 1.0
    if np.issubdtype(x.dtype, np.floating):
        finite = np.isfinite(x)
        if not finite.all():
            bad = x[~finite]
            raise ValueError(
                f"{name}: expected finite pixel values, got {bad.size} NaN or infinite value(s) "
                f"(first: {bad.flat[0]}); remove or repair those images first"
            )
        lo, hi = float(np.min(x)), float(np.max(x))
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise ValueError(
                f"{name}: expected float images in [0, 1] (or uint8 in [0, 255]), "
                f"got values in [{lo:.3g}, {hi:.3g}]"
            )
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
            f"{name}: expected labels in [0, {num_classes}), got [{y.min()}, {y.max()}]"
        )
    return y.astype(np.int64)


def check_count(n, name: str = "n") -> int:
    """A positive number of samples: :func:`check_int` with ``minimum=1``."""
    return check_int(n, name)


def check_seed(seed, name: str = "seed"):
    """A seed for ``np.random.default_rng``: None, a non-negative int, or a NumPy Generator."""
    if seed is None or isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{name}: expected None or a non-negative int, got {seed!r}")
    return int(seed)


def rng_from(seed, name: str = "seed") -> np.random.Generator:
    """``np.random.default_rng(seed)`` after :func:`check_seed`."""
    return np.random.default_rng(check_seed(seed, name))


def check_number(
    value,
    name: str,
    low=None,
    high=None,
    low_open: bool = False,
    high_open: bool = False,
    expected: str | None = None,
) -> float:
    """A finite real number (not a bool, not a str) in the given interval, as float.

    ``expected`` replaces the generated description in the error message
    (e.g. "a perturbation size in [0, 1] (pixel units)").
    """
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
    ):
        what = "a finite number"
    else:
        v = float(value)
        if (low is None or (v > low if low_open else v >= low)) and (
            high is None or (v < high if high_open else v <= high)
        ):
            return v
        what = "a number"
    if low is not None and high is not None:
        what += f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        what += f" {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        what += f" {'<' if high_open else '<='} {high:g}"
    raise ValueError(f"{name}: expected {expected or what}, got {value!r}")


def check_int(
    value,
    name: str,
    minimum: int | None = 1,
    maximum: int | None = None,
    expected: str | None = None,
) -> int:
    """An int (not a bool) in [``minimum``, ``maximum``] (None: no bound), as int.

    ``expected`` replaces the generated description in the error message
    (e.g. "a positive int (number of diffusion steps)").
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        if expected is None:
            if minimum is not None and maximum is not None:
                expected = f"an int in [{minimum}, {maximum}]"
            elif minimum is not None:
                expected = "a positive int" if minimum == 1 else f"an int >= {minimum}"
            else:
                expected = "an int" if maximum is None else f"an int <= {maximum}"
        raise ValueError(f"{name}: expected {expected}, got {value!r}")
    return int(value)


def check_sizes(value, name: str):
    """A layer width: a positive int, or a non-empty tuple/list of positive ints."""
    if isinstance(value, (list, tuple)):
        if value and all(
            not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v > 0
            for v in value
        ):
            return value
    elif (
        not isinstance(value, bool)
        and isinstance(value, (int, np.integer))
        and value > 0
    ):
        return value
    raise ValueError(
        f"{name}: expected a positive int or a tuple of positive ints, got {value!r}"
    )


# Constructor arguments shared by the models of both frameworks, checked by name
# before any layer is built (each model adds its own, more specific checks).
_HYPERPARAMETERS = {
    **{
        k: (lambda v, k=k: check_int(v, k))
        for k in (
            "latent_dim",
            "num_classes",
            "embed_dim",
            "n_critic",
            "vocab_size",
            "block_size",
            "n_layer",
            "n_head",
            "n_embd",
            "hidden_size",
            "num_layers",
        )
    },
    "n_layers": lambda v: check_int(v, "n_layers", minimum=0),
    "channels": lambda v: check_sizes(v, "channels"),
    "hidden": lambda v: check_sizes(v, "hidden"),
    "lr": lambda v: check_number(v, "lr", low=0, low_open=True),
    "beta_1": lambda v: check_number(v, "beta_1", 0, 1, high_open=True),
    "beta_2": lambda v: check_number(v, "beta_2", 0, 1, high_open=True),
    "label_smoothing": lambda v: _check_unit_interval(v, "label_smoothing"),
    "dropout": lambda v: _check_unit_interval(v, "dropout"),
    "beta": lambda v: check_number(v, "beta", low=0),
    "gp_weight": lambda v: check_number(v, "gp_weight", low=0),
}


def _check_unit_interval(value, name):
    return check_number(value, name, 0, 1, high_open=True, expected="a value in [0, 1)")


def check_hyperparameters(params: dict) -> None:
    """Check the constructor arguments a model shares with others (see ``_HYPERPARAMETERS``)."""
    for name, value in params.items():
        rule = _HYPERPARAMETERS.get(name)
        if rule is not None:
            rule(value)


def checked_init(cls) -> None:
    """Wrap ``cls.__init__``: the outermost constructor call checks its arguments
    (:func:`check_hyperparameters`) and records them in ``_aigc_config``.

    Called by both frameworks' ``GenerativeModel.__init_subclass__``: the recorded
    arguments are the configuration a checkpoint stores (the PyTorch ``get_config``).
    """
    init = cls.__dict__.get("__init__")
    if init is None or getattr(init, "_aigc_checked", False):
        return
    sig = inspect.signature(init)
    named = [
        p.name
        for p in sig.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]

    @functools.wraps(init)
    def __init__(self, *a, **kw):
        if self.__dict__.get("_aigc_in_init"):
            return init(self, *a, **kw)  # a super().__init__ call: already checked
        try:
            bound = sig.bind(self, *a, **kw)
        except TypeError:
            return init(self, *a, **kw)  # Python's own error for a bad call
        bound.apply_defaults()
        params = {k: bound.arguments[k] for k in named}
        check_hyperparameters(params)
        object.__setattr__(self, "_aigc_in_init", True)
        try:
            init(self, *a, **kw)
        finally:
            object.__setattr__(self, "_aigc_in_init", False)
        object.__setattr__(self, "_aigc_config", params)

    # what inspect (and Keras's auto-config) sees: the real one
    __init__.__signature__ = sig
    __init__._aigc_checked = True
    cls.__init__ = __init__


def latent_noise(n: int, latent_dim: int, seed) -> np.ndarray:
    """Standard-normal noise (n, latent_dim) from NumPy.

    Both frameworks draw sampling noise here, so ``sample(n, seed=s)`` feeds
    the very same z to a PyTorch and a Keras generator.
    """
    n = check_count(n)
    rng = rng_from(seed)
    return rng.standard_normal((n, latent_dim)).astype(np.float32)


def to_unit_images(x: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] (any channel layout) to (N, 28, 28) in [0, 1]."""
    x = np.asarray(x, dtype=np.float32).reshape(-1, *IMAGE_SHAPE)
    return np.clip((x + 1.0) / 2.0, 0.0, 1.0)


def check_vectors(
    x,
    dim: int | None = None,
    name: str = "x",
    *,
    min_rows: int = 1,
    what: str = "points",
    dtype=np.float32,
) -> np.ndarray:
    """A batch of vectors (N, dim) of finite real numbers, N >= ``min_rows``, as ``dtype`` (a copy).

    ``dim=None`` accepts any number d >= 1 of columns; ``what`` names the rows
    in the error messages ("points", "features", "latent codes", ...).
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] == 0 or (dim is not None and x.shape[1] != dim):
        raise ValueError(
            f"{name}: expected {what} shaped (N, {'d' if dim is None else dim}), got shape {x.shape}"
        )
    if x.shape[0] < min_rows:
        raise ValueError(
            f"{name}: expected at least {min_rows} {what} (rows), got {x.shape[0]}"
        )
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(
            f"{name}: expected real numbers (float or int), got dtype {x.dtype}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: expected finite numbers, got NaN or infinite values")
    return x.astype(dtype)


def check_model_images(x, name: str = "x") -> np.ndarray:
    """Images already in a model's space (about [-1, 1], not rescaled), float32 (N, 28, 28);
    a channel axis of 1, (N, 28, 28, 1), is dropped. Both DDPM halves check their inputs here."""
    x = np.asarray(x, np.float32)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE or x.shape[0] == 0:
        raise ValueError(
            f"{name}: expected images shaped (N, 28, 28) in model space, got {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: expected finite values, got NaN or infinite ones")
    return x


def check_steps(t, n: int, timesteps: int) -> np.ndarray:
    """Diffusion steps for ``n`` examples: one int or ``n`` ints in [0, timesteps), as int64 (n,)."""
    t = np.asarray(t)
    if (
        not np.issubdtype(t.dtype, np.integer)
        or t.ndim > 1
        or (t.ndim == 1 and t.shape[0] != n)
    ):
        raise ValueError(f"t: expected an int or {n} ints, got {t!r}")
    if t.size and (t.min() < 0 or t.max() >= timesteps):
        raise ValueError(
            f"t: expected steps in [0, {timesteps}), got [{t.min()}, {t.max()}]"
        )
    return np.broadcast_to(t, (n,)).astype(np.int64)


def check_ema_decay(decay) -> float:
    """The decay of a weight moving average: a number in [0, 1) (0: no average)."""
    if isinstance(decay, bool) or not isinstance(decay, (int, float, np.floating)):
        raise ValueError(f"ema_decay: expected a number in [0, 1), got {decay!r}")
    if not 0.0 <= float(decay) < 1.0:
        raise ValueError(f"ema_decay: expected a number in [0, 1), got {decay!r}")
    return float(decay)


def check_norm_type(norm_type) -> float:
    """The p of a gradient p-norm: a number >= 1, or ``math.inf`` (the largest entry)."""
    p = float(norm_type)
    if not (p == math.inf or p >= 1.0):
        raise ValueError(
            f"norm_type: expected a number >= 1 or math.inf, got {norm_type!r}"
        )
    return p


def check_max_norm(max_norm):
    """A gradient-clipping threshold: None (no clipping) or a positive number."""
    if max_norm is not None and not (
        isinstance(max_norm, (int, float)) and max_norm > 0
    ):
        raise ValueError(
            f"max_norm: expected None or a positive number, got {max_norm!r}"
        )
    return max_norm


def check_binarization(binarization) -> str:
    """How a model turns grey levels into bits: ``"static"`` or ``"dynamic"``."""
    if binarization not in ("static", "dynamic"):
        raise ValueError(
            f"binarization: expected 'static' or 'dynamic', got {binarization!r}"
        )
    return binarization


def drop_channel_axis(x: np.ndarray) -> np.ndarray:
    """A batch of grayscale images with a channel axis of 1, (N, H, W, 1) or (N, 1, H, W),
    as (N, H, W); any other array is returned unchanged."""
    if x.ndim == 4 and x.shape[-1] == 1:
        return x[..., 0]
    if x.ndim == 4 and x.shape[1] == 1:
        return x[:, 0]
    return x
