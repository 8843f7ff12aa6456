"""aigc_course.evaluator: the NumPy domain classifier, its cache and its metrics.

Trained here on 2,000 MNIST training images for 5 epochs (about a second), in a
temporary cache folder; the tests skip if the MNIST files are not available.
"""

import math
import os

import numpy as np
import pytest

from aigc_course import data
from aigc_course import evaluator as E
from aigc_course.config import cache_dir

SMALL = dict(train_size=2000, epochs=5)
# for the cache tests: only the bookkeeping matters
TINY = dict(train_size=500, epochs=2)


@pytest.fixture(scope="module")
def mnist():
    try:
        return data.load_mnist("train"), data.load_mnist("test")
    except FileNotFoundError as err:
        pytest.skip(f"MNIST not available: {err}")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("AIGC_COURSE_CACHE", str(folder))
    return folder


@pytest.fixture(scope="module")
def ev(mnist, tmp_path_factory):
    old = os.environ.get("AIGC_COURSE_CACHE")
    os.environ["AIGC_COURSE_CACHE"] = str(tmp_path_factory.mktemp("shared_cache"))
    try:
        return E.load_evaluator("mnist", **SMALL, verbose=False)
    finally:
        if old is None:
            del os.environ["AIGC_COURSE_CACHE"]
        else:
            os.environ["AIGC_COURSE_CACHE"] = old


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_COURSE_CACHE", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x"
    monkeypatch.delenv("AIGC_COURSE_CACHE")
    assert cache_dir().parts[-2:] == (".cache", "aigc_course")


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    params = {k: v.astype(np.float64) for k, v in E._init(rng).items()}
    x, y = rng.uniform(-1, 1, (5, 784)), np.array([0, 3, 9, 3, 1])
    _, grads = E._loss_and_grads(params, x, y)
    h = 1e-6
    with E._one_blas_thread():
        _check_grads(params, grads, x, y, h, rng)


def _check_grads(params, grads, x, y, h, rng):
    for k in ("w1", "b2", "w3", "b3"):
        for idx in [
            tuple(rng.integers(0, s) for s in params[k].shape) for _ in range(3)
        ]:
            old = params[k][idx]
            params[k][idx] = old + h
            up = E._loss_and_grads(params, x, y)[0]
            params[k][idx] = old - h
            down = E._loss_and_grads(params, x, y)[0]
            params[k][idx] = old
            assert grads[k][idx] == pytest.approx(
                (up - down) / (2 * h), rel=1e-4, abs=1e-7
            ), (k, idx)


def test_accuracy_and_outputs(ev, mnist):
    (_, _), (x_test, y_test) = mnist
    assert ev.test_accuracy >= 0.85  # 2,000 images, 5 epochs: about 0.89
    assert ev.test_accuracy == pytest.approx(ev.accuracy(x_test, y_test))
    feats, probs = ev.features(x_test[:50]), ev.predict_proba(x_test[:50])
    # after ReLU
    assert feats.shape == (50, 128) and feats.dtype == np.float64 and feats.min() >= 0
    assert probs.shape == (50, 10)
    np.testing.assert_allclose(probs.sum(1), 1.0)
    np.testing.assert_array_equal(ev.predict(x_test[:50]), probs.argmax(1))
    # uint8 [0, 255] and float [0, 1] (with a channel axis) are the same images
    np.testing.assert_allclose(
        ev.features(x_test[:50, None] / 255.0), feats, rtol=1e-4, atol=1e-4
    )
    assert ev.dataset == "mnist" and "2,000" in ev.train_source
    if data.last_source("mnist/train") == data.MNIST_SUBSET:
        assert "5,000-image subset" in ev.train_source


def test_real_vs_real_is_far_below_real_vs_noise(ev):
    floor = ev.real_baseline(n=300)
    noise = ev.evaluate(np.random.default_rng(0).random((300, 28, 28)))
    assert floor["n"] == noise["n"] == 300
    assert noise["classifier_fd"] > 10 * floor["classifier_fd"]
    assert floor["precision"] > 0.6 and noise["precision"] < 0.05
    assert floor["modes_hit"] == 10 and floor["kl_to_uniform"] < 0.05
    assert floor["classifier_score"] > 6  # about 7 for this small evaluator
    assert ev.real_baseline(n=300) == floor  # memoised, deterministic


def test_collapsed_samples_are_detected(ev, mnist):
    (_, _), (x_test, y_test) = mnist
    ones = x_test[y_test == 1][:300]  # real digits, but only "1"s
    out, floor = ev.evaluate(ones), ev.real_baseline(n=300)
    assert out["modes_hit"] <= 3  # 1, plus a few misread
    # a few misclassified
    assert ev.evaluate(ones, min_share=0)["modes_hit"] >= out["modes_hit"]
    assert out["kl_to_uniform"] > 0.8 * math.log(10)
    assert out["recall"] < 0.5 * floor["recall"]
    assert out["classifier_score"] < 2
    assert out["classifier_fd"] > 5 * floor["classifier_fd"]
    # an explicit real reference is used instead of the training subset
    same = ev.evaluate(ones, real=ones)
    assert (
        same["classifier_fd"] == pytest.approx(0.0, abs=1e-6)
        and same["precision"] == 1.0
    )


def test_cache_roundtrip_and_determinism(mnist, cache, capsys):
    a = E.load_evaluator("mnist", **TINY)
    path = E.evaluator_path("mnist", 500, 2, 0)
    assert (
        a.path == path
        and path.is_file()
        and path.with_name(path.name + ".sha256").is_file()
    )
    assert "trained" in capsys.readouterr().out
    b = E.load_evaluator("mnist", **TINY)
    assert "loaded" in capsys.readouterr().out
    assert b.test_accuracy == a.test_accuracy and b.train_source == a.train_source
    # trained again, same seed
    c = E.load_evaluator("mnist", **TINY, cache=False, verbose=False)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
        np.testing.assert_array_equal(a.params[k], c.params[k])
    d = E.load_evaluator("mnist", **TINY, seed=1, cache=False, verbose=False)
    assert not np.array_equal(a.params["w1"], d.params["w1"])
    assert not list(path.parent.glob("*.part"))  # no temporary files left


def test_corrupt_cache_is_reported_and_retrained(mnist, cache, capsys):
    a = E.load_evaluator("mnist", **TINY, verbose=False)
    path = a.path
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # flip one byte
    path.write_bytes(bytes(raw))
    b = E.load_evaluator("mnist", **TINY)
    out = capsys.readouterr().out
    assert "not using the cache file" in out and "corrupt" in out and "trained" in out
    np.testing.assert_array_equal(a.params["w2"], b.params["w2"])
    E.load_evaluator("mnist", **TINY)  # rewritten: loads again
    assert "loaded" in capsys.readouterr().out

    path.with_name(path.name + ".sha256").unlink()  # missing sidecar
    E.load_evaluator("mnist", **TINY)
    assert "sidecar" in capsys.readouterr().out


def test_mismatching_cache_is_not_used(mnist, cache, capsys):
    a = E.load_evaluator("mnist", **TINY, verbose=False)
    meta = {
        "dataset": "mnist",
        "version": E.VERSION,
        "n_train": 500,
        "epochs": 2,
        "seed": 7,
        "train_source": a.train_source,
        "test_accuracy": 0.5,
    }
    zeros = {k: np.zeros_like(v) for k, v in a.params.items()}
    assert E._save(a.path, zeros, meta)  # valid checksum, wrong seed
    b = E.load_evaluator("mnist", **TINY)
    assert "seed=7" in capsys.readouterr().out
    np.testing.assert_array_equal(a.params["w1"], b.params["w1"])
    assert b.test_accuracy == a.test_accuracy


def test_unwritable_cache_folder_still_works(mnist, cache, capsys, monkeypatch):
    def refuse(path, content):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(E, "_atomic_write", refuse)  # as in a read-only folder
    ev = E.load_evaluator("mnist", train_size=500, epochs=1)
    assert ev.path is None and "could not cache" in capsys.readouterr().out
    assert not list(cache.rglob("*.npz"))


def test_bad_input(ev, mnist):
    with pytest.raises(ValueError, match="dataset"):
        E.load_evaluator("cifar10")
    with pytest.raises(ValueError, match="train_size"):
        E.load_evaluator("mnist", train_size=0)
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        ev.features(np.zeros((4, 32, 32)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ev.evaluate(np.full((10, 28, 28), 3.0))
    with pytest.raises(ValueError, match="at least 4 images"):
        ev.evaluate(np.zeros((3, 28, 28)))
    with pytest.raises(ValueError, match="at least 4 test images"):
        ev.real_baseline(n=2)
    with pytest.raises(ValueError, match="has 10000"):
        ev.real_baseline(n=20000)
