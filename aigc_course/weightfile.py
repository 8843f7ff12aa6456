"""The course's framework-neutral weight file: safetensors, NumPy only (no framework import).

One file holds a model's weights for both frameworks:

* the tensors, in the **canonical names and layouts** (PyTorch's ``state_dict``; see
  :mod:`aigc_course.torch.weights` and :mod:`aigc_course.keras.weights` for the
  mapping onto each framework), float32 or float16;
* in the safetensors header's metadata (strings only): ``format``
  (``aigc_course.weights``), ``version``, ``model`` (the class, e.g. ``GAN``), ``key``
  (its ``MODELS`` key, e.g. ``gan``), ``config`` (the constructor arguments, JSON),
  ``dtype``, ``layout`` (``torch-state-dict``) and ``extra`` (JSON, free-form).

safetensors is a plain header + raw little-endian buffers: reading one never runs
code (unlike a pickle). Files are written atomically with an integrity record next
to them (``<file>.json``, :mod:`aigc_course.checkpoint`) and read back verified:
a changed byte is a :class:`~aigc_course.checkpoint.CheckpointError` naming the file.

    write("gan.safetensors", arrays, model=model, dtype="float16")
    arrays, meta = read("gan.safetensors")     # meta["config"] is a dict
    model = build(meta, framework="keras")     # an empty model of the right class and size
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import checkpoint

__all__ = [
    "FORMAT",
    "VERSION",
    "LAYOUT",
    "KEYS",
    "DTYPES",
    "model_key",
    "model_config",
    "cast",
    "check_arrays",
    "json_text",
    "write",
    "read",
    "read_metadata",
    "check_model",
    "build",
]

FORMAT = "aigc_course.weights"
VERSION = "1"
LAYOUT = "torch-state-dict"
#: class name -> ``MODELS`` key (the same in both halves of the zoo)
KEYS = {
    "GAN": "gan",
    "DCGAN": "dcgan",
    "CGAN": "cgan",
    "WGAN_GP": "wgan_gp",
    "VAE": "vae",
    "ConvVAE": "conv_vae",
    "CVAE": "cvae",
    "CharRNN": "char_rnn",
    "GPT": "gpt",
    "PixelCNN": "pixelcnn",
    "DDPM": "ddpm",
}
DTYPES = ("float32", "float16")


def model_key(model) -> str:
    """The ``MODELS`` key of a model of either framework (``"gan"`` for a GAN)."""
    name = type(model).__name__
    if name not in KEYS:
        raise ValueError(
            f"model: expected a model of the zoo ({', '.join(KEYS)}), got {name}"
        )
    return KEYS[name]


def model_config(model) -> dict:
    """The constructor arguments of a model of either framework, as JSON values.

    Both halves record them when the model is built (``_aigc_config``, see
    :func:`aigc_course._checks.checked_init`), so ``MODELS[key](**config)`` rebuilds
    the same architecture in either framework.
    """
    config = model.__dict__.get("_aigc_config")
    if config is None:
        raise ValueError(
            f"{type(model).__name__}: no recorded configuration (not a model of the zoo?)"
        )
    return checkpoint.clean_config(config)


def cast(arrays: dict, dtype: str = "float32") -> dict[str, np.ndarray]:
    """Floating-point arrays cast to ``dtype`` (float32 or float16), others as they are.

    A value that does not fit (|x| > 65504 in float16) is a ValueError, never an inf.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {DTYPES}, got {dtype!r}")
    out = {}
    for k, a in arrays.items():
        a = np.asarray(a)
        if a.dtype.kind == "f":
            if not np.all(np.isfinite(a)):
                raise ValueError(
                    f"{k}: non-finite values (NaN or inf); such weights are not saved"
                )
            with np.errstate(over="ignore"):
                b = a.astype(dtype)
            if not np.all(np.isfinite(b)):
                raise ValueError(
                    f"{k}: values too large for {dtype} (max |x| = {np.max(np.abs(a)):g}); store float32"
                )
            a = b
        out[k] = np.ascontiguousarray(a)
    return out


def check_arrays(expected: dict, arrays, what: str) -> None:
    """ValueError naming every missing, unexpected or wrong-shaped tensor, or a non-finite one.

    ``expected``: canonical name -> array (or anything with ``.shape``).
    """
    if not isinstance(arrays, dict):
        raise ValueError(
            f"arrays: expected a dict of NumPy arrays, got {type(arrays).__name__}"
        )
    missing = sorted(set(expected) - set(arrays))
    unexpected = sorted(set(arrays) - set(expected))
    shapes = [
        f"{k}: {tuple(np.shape(arrays[k]))} given, {tuple(expected[k].shape)} expected"
        for k in sorted(set(expected) & set(arrays))
        if tuple(np.shape(arrays[k])) != tuple(expected[k].shape)
    ]

    def listed(names):
        return ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")

    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensor(s): {listed(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} tensor(s): {listed(unexpected)}")
    if shapes:
        problems.append(
            f"wrong shape: {'; '.join(shapes[:8])}"
            + ("; ..." if len(shapes) > 8 else "")
        )
    if problems:
        raise ValueError(
            f"these weights do not fit {what}: "
            + " | ".join(problems)
            + ". Build the model with the configuration the weights were saved from "
            "(aigc_course.weightfile.read(path)[1]['config'])."
        )
    for k in sorted(arrays):
        a = np.asarray(arrays[k])
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ValueError(
                f"these weights do not fit {what}: {k} holds non-finite values"
            )


def write(
    path,
    arrays: dict,
    *,
    model=None,
    key: str | None = None,
    config: dict | None = None,
    dtype: str = "float32",
    metadata: dict | None = None,
    kind: str = "weights",
) -> Path:
    """Write canonical ``arrays`` to the safetensors file ``path``, atomically, with a record.

    ``model`` (either framework) gives the class, key and configuration; without it
    pass ``key`` and ``config``. ``metadata``: JSON-able extras stored as ``extra``.
    """
    import safetensors.numpy

    if model is not None:
        key, config = model_key(model), model_config(model)
    if key not in KEYS.values():
        raise ValueError(f"key: expected one of {sorted(KEYS.values())}, got {key!r}")
    cls = next(c for c, k in KEYS.items() if k == key)
    arrays = cast(arrays, dtype)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "layout": LAYOUT,
        "model": cls,
        "key": key,
        "config": json.dumps(checkpoint.clean_config(config), sort_keys=True),
        "dtype": dtype,
        "extra": json_text(metadata or {}),
    }
    return checkpoint.write(
        path,
        lambda tmp: safetensors.numpy.save_file(arrays, str(tmp), metadata=header),
        model=cls,
        framework="neutral",
        config=config,
        kind=kind,
        extra={"format": FORMAT, "dtype": dtype},
    )


def json_text(obj) -> str:
    """JSON text of ``obj``; NumPy scalars and arrays become plain numbers and lists."""

    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, (tuple, set, frozenset)):
            return list(o)
        return str(o)

    return json.dumps(obj, sort_keys=True, default=default)


def read_metadata(path) -> dict:
    """The header metadata of a weight file, parsed (``config`` and ``extra`` as dicts).

    Reads only the header; no verification (see :func:`read`).
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            meta = dict(f.metadata() or {})
    except Exception as err:  # a truncated or foreign file
        raise checkpoint.read_error(path, err) from None
    return _parse_metadata(meta, path)


def _parse_metadata(meta: dict, path) -> dict:
    if meta.get("format") != FORMAT:
        raise checkpoint.CheckpointError(
            f"{path} is not an aigc_course weight file (its header "
            f"says format={meta.get('format')!r}, expected {FORMAT!r})"
        )
    if meta.get("version") != VERSION:
        raise checkpoint.CheckpointError(
            f"{path}: weight-file version {meta.get('version')!r}; this "
            f"version of aigc_course reads version {VERSION}"
        )
    try:
        meta["config"] = json.loads(meta.get("config", "{}"))
        meta["extra"] = json.loads(meta.get("extra", "{}"))
    except ValueError as err:
        raise checkpoint.CheckpointError(
            f"{path}: unreadable metadata ({err})"
        ) from None
    return meta


def read(path, verify: bool = True) -> tuple[dict[str, np.ndarray], dict]:
    """``(arrays, metadata)`` of a weight file.

    With ``verify`` (the default) the file is first checked against its integrity
    record ``<path>.json`` when there is one (a changed byte raises
    :class:`~aigc_course.checkpoint.CheckpointError`, naming the file); a file without
    a record is read with a warning. :mod:`aigc_course.pretrained` verifies against
    its index instead and passes ``verify=False``.
    """
    import safetensors.numpy

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if verify:
        checkpoint.verify(path)
    meta = read_metadata(path)
    try:
        arrays = safetensors.numpy.load_file(str(path))
    except Exception as err:
        raise checkpoint.read_error(path, err) from None
    return arrays, meta


def check_model(meta: dict, model, path="the weight file") -> None:
    """CheckpointError naming ``path`` if ``model`` is not the class and architecture of ``meta``.

    Training-only settings (learning rate, dropout, ...) may differ.
    """
    cls = type(model).__name__
    if meta.get("model") != cls:
        raise checkpoint.CheckpointError(
            f"{path} holds a {meta.get('model')}, not a {cls}: build "
            f"{meta.get('model')}(**config) with its configuration {meta.get('config')}"
        )
    diffs = checkpoint.config_differences(meta.get("config", {}), model_config(model))
    if diffs:
        raise checkpoint.CheckpointError(
            f"{path} was saved from a {cls} with other hyperparameters: "
            + "; ".join(diffs)
        )


def build(meta: dict, framework: str = "torch", **overrides):
    """An untrained model of the class and configuration in ``meta``, in ``framework``.

    ``overrides`` may change training-only settings (``lr``, ``dropout``, ...), nothing else.
    """
    if framework not in ("torch", "keras"):
        raise ValueError(f"framework: expected 'torch' or 'keras', got {framework!r}")
    arch = sorted(k for k in overrides if k not in checkpoint.TRAINING_KEYS)
    if arch:
        raise ValueError(
            f"{', '.join(arch)}: these set the architecture, which the weights fix; "
            f"only training settings ({', '.join(sorted(checkpoint.TRAINING_KEYS))}) "
            "may be overridden"
        )
    if framework == "torch":
        from .torch import MODELS
    else:
        from .keras import MODELS
    key = meta.get("key")
    if key not in MODELS:
        raise ValueError(
            f"{meta.get('model')!r} (key {key!r}) is not a model of aigc_course.{framework}"
        )
    return MODELS[key](**{**meta.get("config", {}), **overrides})
