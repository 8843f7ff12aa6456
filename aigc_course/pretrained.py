"""Published checkpoints: one set of weights per model and dataset, for both frameworks.

    from aigc_course import pretrained
    pretrained.available()                       # [("pixelcnn", "mnist"), ...]
    model = pretrained.load("pixelcnn", "mnist")                     # PyTorch
    model = pretrained.load("pixelcnn", "mnist", framework="keras")  # the same weights
    pretrained.card("pixelcnn", "mnist")         # data, recipe, seed, steps, metrics, SHA-256 ...

**Names.** ``name`` is a ``MODELS`` key (``gan`` ... ``ddpm``); ``dataset`` names what it
was trained on: ``mnist``, ``fashion_mnist``, ``tang300`` (the Tang poems, ``char_rnn``),
``melodies`` (chapter 9's corpus, ``gpt``), ``shakespeare``, ... Text models carry their
tokenizer in the card (:func:`tokenizer`).

**Files.** Each checkpoint is one safetensors file (:mod:`aigc_course.weightfile`:
canonical PyTorch names and layouts, float16 or float32, the configuration in its
header), ``pretrained/<name>-<dataset>.safetensors`` in the repository, with its
integrity record ``<file>.json``; ``pretrained/index.json`` lists them all with their
SHA-256, size and model card. The Keras models read the same file through the explicit
mapping of :mod:`aigc_course.keras.weights`.

**Where they are found**, in order:

1. ``folder=`` (or ``$AIGC_COURSE_PRETRAINED_DIR``): a folder holding ``index.json``;
2. the repository's ``pretrained/`` folder, when the package runs from a clone
   (``pip install -e .``): offline, nothing to download;
3. otherwise (Colab, a ``pip install`` from the repository) the index and the files are
   downloaded from the repository at the pinned ref :data:`PINNED_REF` (the release the
   notebooks' install cell installs; ``$AIGC_COURSE_PRETRAINED_URL`` points at a mirror)
   and cached under ``cache_dir()/pretrained/`` (not with ``AIGC_COURSE_OFFLINE=1``).

**Always verified.** Before a file is read its SHA-256 and size are compared with the
index; a mismatch is a :class:`~aigc_course.checkpoint.CheckpointError` that names the
file, and the file is never loaded (a corrupt cached download is fetched again once).

**In the labs.** ``AIGC_COURSE_PRETRAINED=1`` means "skip training, load the published
checkpoint": a lab asks :func:`use_only` and calls :func:`load` instead of ``fit``.

**Publishing.** A training script ends with :func:`publish`, which writes the file, its
record and the index entry (SHA-256, size, card); it refuses a card without the data,
recipe, seed, steps, wall time, hardware and metrics, and records how much storing
float16 changes the model's samples.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import http.client
import json
import os
import re
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from . import checkpoint, weightfile
from .config import cache_dir, display_path, env_flag, is_offline

__all__ = [
    "REPOSITORY",
    "PINNED_REF",
    "MAX_TOTAL_BYTES",
    "NotPublishedError",
    "available",
    "card",
    "load",
    "tokenizer",
    "use_only",
    "publish",
    "repository_folder",
    "base_url",
    "cache_folder",
    "read_index",
    "CARD_FIELDS",
    "is_published",
    "describe",
    "history",
    "training_summary",
]

#: The repository the checkpoints are published in (``repository.url`` of ``_config.yml``).
REPOSITORY = "https://github.com/aigc-course/aigc-course"
#: The ref downloads are pinned to: the same release as ``repository.install_ref`` of
#: ``_config.yml``, the ref the notebooks' install cell installs (a test checks they agree;
#: bump both together when releasing). The ONE place this module names a ref.
PINNED_REF = "v0.6.0"
FOLDER = "pretrained"
INDEX = "index.json"
INDEX_FORMAT = "aigc_course.pretrained"
#: the issue's budget for everything under pretrained/
MAX_TOTAL_BYTES = 40 * 1024 * 1024
DOWNLOAD_TIMEOUT_S = 60
ENV_USE, ENV_DIR, ENV_URL = (
    "AIGC_COURSE_PRETRAINED",
    "AIGC_COURSE_PRETRAINED_DIR",
    "AIGC_COURSE_PRETRAINED_URL",
)
#: what every card must say (publish refuses a card without them); ``data`` is a dict
#: with at least ``name``, ``split``, ``n_examples`` and ``source`` (e.g. whether it was
#: the offline MNIST subset), ``metrics`` a dict of values measured by the course's own
#: code (may be empty, never guessed)
CARD_FIELDS = ("data", "recipe", "seed", "steps", "wall_time_s", "hardware", "metrics")
DATA_FIELDS = ("name", "split", "n_examples", "source")
TEXT_MODELS = ("char_rnn", "gpt")
_DATASET = re.compile(r"^[a-z0-9][a-z0-9_]*$")


class NotPublishedError(ValueError):
    """No checkpoint is published (yet) for this model and dataset."""


def _log(msg: str) -> None:
    print(f"[aigc_course.pretrained] {msg}")


def use_only() -> bool:
    """True when ``AIGC_COURSE_PRETRAINED`` is 1/true/yes/on: labs skip training and load
    the published checkpoint instead (``pretrained.load(...)``)."""
    return env_flag(ENV_USE)


# ---------------------------------------------------------------------------
# where the files are
# ---------------------------------------------------------------------------
def repository_folder() -> Path | None:
    """The ``pretrained/`` folder of the clone this package runs from, or None.

    Only when the package sits in a source tree (``pyproject.toml`` beside it, as in an
    editable install) and the folder has an ``index.json``.
    """
    root = Path(__file__).resolve().parent.parent
    folder = root / FOLDER
    if (root / "pyproject.toml").is_file() and (folder / INDEX).is_file():
        return folder
    return None


def base_url() -> str:
    """Where downloads come from: ``$AIGC_COURSE_PRETRAINED_URL``, else the repository's
    ``pretrained/`` folder at :data:`PINNED_REF`."""
    env = os.environ.get(ENV_URL, "").strip()
    return env.rstrip("/") if env else f"{REPOSITORY}/raw/{PINNED_REF}/{FOLDER}"


def cache_folder() -> Path:
    """The download cache of :func:`base_url`: ``cache_dir()/pretrained/<ref>`` (or a hash
    of the mirror's address)."""
    url = base_url()
    default = f"{REPOSITORY}/raw/{PINNED_REF}/{FOLDER}"
    key = (
        PINNED_REF
        if url == default
        else "mirror-" + hashlib.sha256(url.encode()).hexdigest()[:12]
    )
    return cache_dir() / FOLDER / key


class _Source:
    """A folder of published files, local (a clone or ``folder=``) or a download cache."""

    def __init__(self, folder: Path, url: str | None = None, kind: str = "folder"):
        self.folder, self.url, self.kind = Path(folder), url, kind

    def describe(self) -> str:
        if self.kind == "clone":
            return "the repository's pretrained/ folder"
        if self.url is not None:
            return f"{self.url} (cached in {display_path(self.folder)})"
        return display_path(self.folder)

    # ----- the index -----
    def index(self) -> dict:
        path = self.folder / INDEX
        if self.url is not None and not path.is_file():
            self._download(INDEX, path)
        if not path.is_file():
            raise FileNotFoundError(
                f"{display_path(path)}: no index of published checkpoints"
            )
        try:
            index = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            if self.url is None:
                raise checkpoint.CheckpointError(
                    f"{display_path(path)} is unreadable ({err})"
                ) from None
            self._download(INDEX, path)  # a damaged cached copy: fetch it again
            try:
                index = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err2:
                raise checkpoint.CheckpointError(
                    f"{self.url}/{INDEX} is not an index ({err2})"
                ) from None
        return _check_index(index, path)

    # ----- a verified file -----
    def file(self, entry: dict) -> Path:
        path = self.folder / entry["file"]
        if self.url is None:
            if not path.is_file():
                raise FileNotFoundError(
                    f"{display_path(path)}: listed in {INDEX} but missing"
                )
            _verify(path, entry)
            return path
        if path.is_file():
            try:
                _verify(path, entry)
                return path
            except checkpoint.CheckpointError as err:
                _log(f"{err} Downloading it again.")
        self._download(entry["file"], path)
        _verify(path, entry)
        return path

    def _download(self, name: str, target: Path) -> None:
        url = f"{self.url}/{name}"
        if is_offline():
            raise FileNotFoundError(
                f"{name} is not in the cache ({display_path(target.parent)}) and downloads are off "
                f"(AIGC_COURSE_OFFLINE=1): unset it, or run from a clone of {REPOSITORY}, whose "
                f"{FOLDER}/ folder holds the published checkpoints"
            )
        _log(f"downloading {url}")
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                content = response.read()
        except (OSError, ValueError, http.client.HTTPException) as err:
            raise FileNotFoundError(
                f"{url} could not be downloaded ({type(err).__name__}: {err})"
            ) from None
        _atomic_write(target, content)


def _readable(path) -> None:
    """The usual permissions of a new file (temporary files are created owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _atomic_write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix="-" + path.name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        _readable(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _verify(path: Path, entry: dict) -> None:
    """CheckpointError naming ``path`` unless its size and SHA-256 are the index's."""
    size, digest = path.stat().st_size, checkpoint.sha256_file(path)
    if digest != entry["sha256"] or size != entry["size"]:
        raise checkpoint.CheckpointError(
            f"{display_path(path)} is corrupt or not the published file: its SHA-256 is "
            f"{digest[:16]}... ({size} bytes), {INDEX} lists {entry['sha256'][:16]}... "
            f"({entry['size']} bytes). It was not loaded. Delete it (a download is fetched again), "
            "or restore it (git checkout in a clone)."
        )


def _check_index(index, path) -> dict:
    if (
        not isinstance(index, dict)
        or index.get("format") != INDEX_FORMAT
        or not isinstance(index.get("checkpoints"), dict)
    ):
        raise checkpoint.CheckpointError(
            f"{display_path(path)} is not an index of aigc_course "
            f"checkpoints (expected format {INDEX_FORMAT!r})"
        )
    for key, e in index["checkpoints"].items():
        missing = [
            k
            for k in ("name", "dataset", "file", "sha256", "size", "card")
            if k not in e
        ]
        if missing:
            raise checkpoint.CheckpointError(
                f"{display_path(path)}: entry {key!r} lacks {missing}"
            )
        # a plain file name in this folder, never a path elsewhere
        if (
            key != _key(e["name"], e["dataset"])
            or e["file"] != _file_name(e["name"], e["dataset"])
            or not _DATASET.match(str(e["dataset"]))
        ):
            raise checkpoint.CheckpointError(
                f"{display_path(path)}: entry {key!r} names the file "
                f"{e['file']!r}, expected {_file_name(e['name'], e['dataset'])!r}"
            )
    return index


def _file_name(name: str, dataset: str) -> str:
    return f"{name}-{dataset}.safetensors"


def _source(folder=None) -> _Source:
    folder = folder if folder is not None else os.environ.get(ENV_DIR) or None
    if folder is not None:
        return _Source(Path(folder).expanduser())
    clone = repository_folder()
    if clone is not None:
        return _Source(clone, kind="clone")
    return _Source(cache_folder(), url=base_url(), kind="download")


def read_index(folder=None) -> dict:
    """The index of published checkpoints (found as :func:`load` finds files)."""
    return _source(folder).index()


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------
def _key(name: str, dataset: str) -> str:
    return f"{name}/{dataset}"


def _check_name(name) -> str:
    keys = sorted(weightfile.KEYS.values())
    if name not in keys:
        raise ValueError(
            f"name: expected a MODELS key ({', '.join(keys)}), got {name!r}"
        )
    return name


def available(folder=None) -> list[tuple[str, str]]:
    """The published ``(name, dataset)`` pairs, sorted."""
    return sorted(
        (e["name"], e["dataset"]) for e in read_index(folder)["checkpoints"].values()
    )


def _entry(name, dataset, source: _Source) -> dict:
    _check_name(name)
    checkpoints = source.index()["checkpoints"]
    entry = checkpoints.get(_key(name, dataset))
    if entry is None:
        have = ", ".join(sorted(checkpoints)) or "none yet"
        raise NotPublishedError(
            f"no checkpoint of {name!r} on {dataset!r} is published (in "
            f"{source.describe()}); published: {have}. Train it instead "
            "(leave AIGC_COURSE_PRETRAINED unset)."
        )
    return entry


def card(name: str, dataset: str, folder=None) -> dict:
    """The model card of a published checkpoint: configuration, training data, recipe
    command, seed, steps, wall time, hardware, metrics, date, and the file's SHA-256."""
    entry = _entry(name, dataset, _source(folder))
    out = copy.deepcopy(entry["card"])
    out.update(file=entry["file"], sha256=entry["sha256"], size=entry["size"])
    return out


def load(
    name: str,
    dataset: str,
    framework: str = "torch",
    *,
    folder=None,
    device=None,
    **overrides,
):
    """A ready model of the zoo (``MODELS[name]``) with the published weights for ``dataset``.

    ``framework``: ``"torch"`` or ``"keras"`` (either Keras backend), the same file for
    both. ``overrides`` may change training settings (``lr``, ``dropout``, ...) for
    fine-tuning, not the architecture. ``device`` (PyTorch) moves the model there. The
    file is verified against the index first; a PyTorch model comes back in eval mode.
    """
    if framework not in ("torch", "keras"):
        raise ValueError(f"framework: expected 'torch' or 'keras', got {framework!r}")
    source = _source(folder)
    entry = _entry(name, dataset, source)
    path = source.file(entry)
    # verified against the index above
    arrays, meta = weightfile.read(path, verify=False)
    if meta.get("key") != name or checkpoint.config_differences(
        meta["config"], entry["card"].get("config", {})
    ):
        raise checkpoint.CheckpointError(
            f"{display_path(path)} does not hold the {name} its card "
            f"in {INDEX} describes (model {meta.get('model')}, "
            f"config {meta.get('config')})"
        )
    model = weightfile.build(meta, framework, **overrides)
    if framework == "torch":
        from .torch import weights

        if device is not None:
            model.to(device)
        weights.from_arrays(model, arrays)
        model.eval()
    else:
        from .keras import weights

        weights.from_arrays(model, arrays)
    return model


def is_published(name: str, dataset: str, folder=None) -> bool:
    """True when a checkpoint of ``name`` on ``dataset`` is published (smoke tests count
    too; see ``card(...)["smoke_test"]``)."""
    _check_name(name)
    return _key(name, dataset) in read_index(folder)["checkpoints"]


def _duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _hardware_short(hardware: str) -> str:
    """'CPU (AMD EPYC ..., x86_64, 2 logical cores, torch ..., 2 threads)' -> 'a 2-thread CPU'."""
    low = hardware.strip().lower()
    if low in ("cpu", "cuda", "gpu", "mps") or low.startswith("cuda:"):  # a device name
        return {"cpu": "a CPU", "mps": "an Apple GPU"}.get(low, "a GPU")
    m = re.search(r"(\d+) threads", hardware)
    if hardware.startswith("CPU"):
        return f"a CPU ({m.group(1)} threads)" if m else "a CPU"
    m = re.match(r"GPU \(([^)]*)\)", hardware)
    return f"a {m.group(1)} GPU" if m else hardware


def training_summary(
    epochs: int, n_examples: int, seconds: float, hardware: str, unit: str = "images"
) -> str:
    """'30 epochs on 5,000 images, 14 min on a CPU (2 threads)': one line for a run."""
    return (
        f"{epochs} epoch{'s' if epochs != 1 else ''} on {n_examples:,} {unit}, "
        f"{_duration(seconds)} on {_hardware_short(hardware)}"
    )


def describe(name: str, dataset: str, folder=None) -> str:
    """One line saying how the published checkpoint was trained, from its card:
    ``"course checkpoint: 100 epochs on 5,000 images (offline MNIST subset), 6 min on a
    CPU (2 threads)"``. Labs put it beside the student's own run."""
    c = card(name, dataset, folder)
    data = c["data"]
    unit = (
        "images"
        if name not in TEXT_MODELS
        else ("tokens" if dataset == "melodies" else "characters")
    )
    line = "course checkpoint: " + training_summary(
        c.get("epochs", 0), data["n_examples"], c["wall_time_s"], c["hardware"], unit
    )
    if data.get("offline_subset"):
        line = line.replace(
            f"{data['n_examples']:,} images",
            f"{data['n_examples']:,} images (offline MNIST subset)",
        )
    if c.get("selected_epoch"):
        line += f"; the weights of epoch {c['selected_epoch']}, chosen on held-out training images"
    if c.get("smoke_test"):
        line += " [smoke test, not a recipe result]"
    return line


def history(name: str, dataset: str, folder=None) -> dict:
    """The published checkpoint's training curves, ``{name: [one value per epoch]}``
    (the losses the trainer logged, and ``val_nats`` for text models), as recorded by
    the recipe: what a lab plots when ``AIGC_COURSE_PRETRAINED=1`` skips training."""
    c = card(name, dataset, folder)
    curves = c.get("history")
    if not curves:
        raise ValueError(f"{name}/{dataset}: its card records no training history")
    return {k: list(v) for k, v in curves.items()}


def tokenizer(name: str, dataset: str, folder=None):
    """The tokenizer a published text model was trained with (from its card)."""
    spec = card(name, dataset, folder).get("tokenizer")
    if spec is None:
        raise ValueError(f"{name}/{dataset}: its card records no tokenizer")
    return _tokenizer_from(spec)


def _tokenizer_spec(tok) -> dict:
    """A tokenizer (or its dict) as the JSON a card stores."""
    if isinstance(tok, dict):
        _tokenizer_from(tok)  # check it
        return dict(tok)
    from .audio import NoteTokenizer
    from .text import CharTokenizer

    if isinstance(tok, CharTokenizer):
        return {"type": "char", "chars": tok.chars}
    if isinstance(tok, NoteTokenizer):
        return {
            "type": "notes",
            "low": tok.low,
            "high": tok.high,
            "durations": list(tok.durations),
        }
    raise ValueError(
        f"tokenizer: expected a CharTokenizer, a NoteTokenizer or a dict, got {type(tok).__name__}"
    )


def _tokenizer_from(spec: dict):
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind == "char":
        from .text import CharTokenizer

        return CharTokenizer(spec["chars"])
    if kind == "notes":
        from .audio import NoteTokenizer

        return NoteTokenizer(spec["low"], spec["high"], spec["durations"])
    raise ValueError(
        f"tokenizer: expected {{'type': 'char', 'chars': ...}} or {{'type': 'notes', "
        f"'low': ..., 'high': ..., 'durations': [...]}}, got {spec!r}"
    )


# ---------------------------------------------------------------------------
# publishing (what a training script calls at the end)
# ---------------------------------------------------------------------------
def _framework(model) -> str:
    module = type(model).__module__
    if module.startswith("aigc_course.torch"):
        return "torch"
    if module.startswith("aigc_course.keras"):
        return "keras"
    raise ValueError(
        f"model: expected a model of aigc_course.torch or aigc_course.keras, got "
        f"{type(model).__name__} from {module}"
    )


def _weights_module(framework: str):
    if framework == "torch":
        from .torch import weights
    else:
        from .keras import weights
    return weights


def float16_effect(model, n: int = 8, seed: int = 0) -> dict:
    """How much rounding the weights to float16 changes the model's output.

    Image models: ``sample(n, seed)`` with float32 and with float16-rounded weights
    (DDPM on a respaced 50-step schedule, PixelCNN with 2 images); text models: the
    logits of ``n`` fixed random windows. Returns ``max_abs_diff``, ``mean_abs_diff``
    and what was compared.
    """
    framework = _framework(model)
    w = _weights_module(framework)
    key = weightfile.model_key(model)
    twin = type(model)(**weightfile.model_config(model))
    if framework == "torch":
        twin.to(next(model.parameters()).device)
    arrays = w.to_arrays(model)
    w.from_arrays(
        twin,
        {
            k: v.astype(np.float16) if v.dtype.kind == "f" else v
            for k, v in arrays.items()
        },
    )
    if key in TEXT_MODELS:
        rng = np.random.default_rng(seed)
        t = min(32, model.block_size or 32)
        ids = rng.integers(0, model.vocab_size, (n, t))
        a, b, what = (
            model.logits(ids),
            twin.logits(ids),
            f"logits of {n} random windows of {t} tokens",
        )
    else:
        kw = {}
        if key == "ddpm":
            kw["steps"] = min(50, model.T)
        if key == "pixelcnn":
            n = 2
        a, b = model.sample(n, seed=seed, **kw), twin.sample(n, seed=seed, **kw)
        what = f"sample({n}, seed={seed}{', steps=' + str(kw['steps']) if kw else ''})"
    diff = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    return {
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "compared": what,
    }


def default_folder() -> Path:
    """The clone's ``pretrained/`` folder (where :func:`publish` writes by default)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise ValueError(
            "publish: this package is not running from a clone of the repository; "
            "pass folder= (the clone's pretrained/ folder)"
        )
    return root / FOLDER


def publish(
    model,
    name: str,
    dataset: str,
    card: dict,
    dtype: str = "float16",
    folder=None,
    tokenizer=None,
    float16_tolerance: float = 0.01,
) -> dict:
    """Publish ``model``'s weights as the checkpoint ``name``/``dataset``; return its index entry.

    Writes ``<folder>/<name>-<dataset>.safetensors`` (atomically, with its integrity
    record) and updates ``<folder>/index.json`` with the file's SHA-256, size and the
    card. ``card`` must hold :data:`CARD_FIELDS` (``data`` with :data:`DATA_FIELDS`);
    the model's class, configuration, parameter count, framework, dtype and the date
    (unless given) are added. Text models need their ``tokenizer``. With
    ``dtype="float16"`` the card records :func:`float16_effect`, and a mean change above
    ``float16_tolerance`` is refused (store float32 then). ``folder``: default the
    clone's ``pretrained/``. Refused too: non-finite weights, a total above
    :data:`MAX_TOTAL_BYTES`.
    """
    key = weightfile.model_key(model)
    if name != key:
        raise ValueError(
            f"name: this model is a {type(model).__name__}, MODELS key {key!r}, not {name!r}"
        )
    if not isinstance(dataset, str) or not _DATASET.match(dataset):
        raise ValueError(
            f"dataset: expected a lower-case name such as 'mnist' or 'tang300', got {dataset!r}"
        )
    if dtype not in weightfile.DTYPES:
        raise ValueError(f"dtype: expected one of {weightfile.DTYPES}, got {dtype!r}")
    if not isinstance(card, dict):
        raise ValueError(f"card: expected a dict, got {type(card).__name__}")
    missing = [k for k in CARD_FIELDS if k not in card]
    if missing:
        raise ValueError(
            f"card: missing {', '.join(missing)} (every card says {', '.join(CARD_FIELDS)})"
        )
    if not isinstance(card["data"], dict) or any(
        k not in card["data"] for k in DATA_FIELDS
    ):
        raise ValueError(
            f"card['data']: expected a dict with {', '.join(DATA_FIELDS)}, got {card['data']!r}"
        )
    if not isinstance(card["metrics"], dict):
        raise ValueError(
            "card['metrics']: expected a dict of measured values (empty if none was measured)"
        )
    framework = _framework(model)
    card = json.loads(weightfile.json_text(card))  # plain JSON values from here on
    tok = tokenizer if tokenizer is not None else card.get("tokenizer")
    if key in TEXT_MODELS and tok is None:
        raise ValueError(
            f"{key}: a text model needs its tokenizer (tokenizer=CharTokenizer(...) "
            "or NoteTokenizer(...)) so that its ids can be read"
        )
    if tok is not None:
        card["tokenizer"] = _tokenizer_spec(tok)

    arrays = _weights_module(framework).to_arrays(model)
    # refuses non-finite weights and float16 overflow
    arrays = weightfile.cast(arrays, dtype)
    folder = Path(folder) if folder is not None else default_folder()
    file = _file_name(name, dataset)
    index_path = folder / INDEX
    index = (
        _check_index(json.loads(index_path.read_text(encoding="utf-8")), index_path)
        if index_path.is_file()
        else {"format": INDEX_FORMAT, "version": 1, "checkpoints": {}}
    )
    others = sum(
        e["size"] for k, e in index["checkpoints"].items() if k != _key(name, dataset)
    )
    new = sum(a.nbytes for a in arrays.values())
    if others + new > MAX_TOTAL_BYTES:
        raise ValueError(
            f"publish: {file} ({new / 2**20:.1f} MiB) would bring {FOLDER}/ to "
            f"{(others + new) / 2**20:.1f} MiB, over the {MAX_TOTAL_BYTES / 2**20:.0f} MiB budget"
        )

    card.update(
        model=type(model).__name__,
        key=key,
        config=weightfile.model_config(model),
        trained_with=framework,
        parameters=int(model.count_params()),
        dtype=dtype,
        format=f"{weightfile.FORMAT} v{weightfile.VERSION} (safetensors, {weightfile.LAYOUT})",
    )
    card.setdefault(
        "date", datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    )
    from . import __version__

    card.setdefault("aigc_course_version", __version__)
    if dtype == "float16":
        effect = float16_effect(model)
        card["float16"] = effect
        if effect["mean_abs_diff"] > float16_tolerance:
            raise ValueError(
                f"publish: float16 weights change the output by {effect['mean_abs_diff']:.3g} "
                f"on average ({effect['compared']}), above float16_tolerance="
                f"{float16_tolerance}; publish with dtype='float32'"
            )
    path = weightfile.write(
        folder / file,
        arrays,
        model=model,
        dtype=dtype,
        metadata={"name": name, "dataset": dataset},
        kind="pretrained",
    )
    for p in (path, checkpoint.record_path(path)):
        _readable(p)
    entry = {
        "name": name,
        "dataset": dataset,
        "file": file,
        "sha256": checkpoint.sha256_file(path),
        "size": path.stat().st_size,
        "card": card,
    }
    index["checkpoints"][_key(name, dataset)] = entry
    index["checkpoints"] = dict(sorted(index["checkpoints"].items()))
    _atomic_write(
        index_path,
        (
            json.dumps(index, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
        ).encode("utf-8"),
    )
    return entry
