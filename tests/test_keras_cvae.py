"""Conditional VAE (Keras 3). `make test` runs this file twice: KERAS_BACKEND=tensorflow
and =torch. The PyTorch twin is tests/test_torch_cvae.py."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.keras
keras = pytest.importorskip("keras")

from _helpers import dense

from aigc_course.keras import MODELS, set_seed
from aigc_course.keras.vae import CVAE, VAE

ops = keras.ops
TINY = dict(latent_dim=4, num_classes=3, hidden=(64, 32))


def cvae_params(latent=16, classes=10, h1=512, h2=256):
    """Encoder 784 + C -> h1 -> h2 -> 2*latent; decoder latent + C -> h2 -> h1 -> 784."""
    return (
        dense(784 + classes, h1)
        + dense(h1, h2)
        + dense(h2, 2 * latent)
        + dense(latent + classes, h2)
        + dense(h2, h1)
        + dense(h1, 784)
    )


def two_squares(n_per_class=64):
    """Class 0: a bright square top left; class 1: bottom right. uint8 images and labels."""
    top_left, bottom_right = np.zeros((28, 28), bool), np.zeros((28, 28), bool)
    top_left[2:14, 2:14] = True
    bottom_right[14:26, 14:26] = True
    x = np.concatenate(
        [
            np.repeat(top_left[None], n_per_class, 0),
            np.repeat(bottom_right[None], n_per_class, 0),
        ]
    )
    return (
        x.astype(np.uint8) * 255,
        np.repeat([0, 1], n_per_class),
        top_left,
        bottom_right,
    )


@pytest.fixture(scope="module")
def trained_two_class():
    x, y, top_left, bottom_right = two_squares()
    set_seed(0)
    model = CVAE(latent_dim=2, num_classes=2, hidden=(64, 32), lr=1e-2)
    hist = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    return model, hist, x, y, top_left, bottom_right


def test_backend_is_the_one_requested():
    wanted = os.environ.get("KERAS_BACKEND")
    if wanted:
        assert keras.backend.backend() == wanted


# ----- architecture ---------------------------------------------------------------
def test_registered_and_parameter_counts_match_hand_counts():
    assert MODELS["cvae"] is CVAE and issubclass(CVAE, VAE)
    assert CVAE().count_params() == cvae_params() == 1_087_280  # same number in PyTorch
    assert CVAE(**TINY).count_params() == cvae_params(4, 3, 64, 32)
    assert CVAE().count_params() - VAE().count_params() == 10 * 512 + 10 * 256


def test_shapes_and_ranges(digits):
    set_seed(0)
    model = CVAE()
    labels = np.arange(5) % 10
    mu, logvar = model.encode(digits[:5], labels)
    assert isinstance(mu, np.ndarray) and mu.dtype == np.float32
    assert mu.shape == logvar.shape == (5, 16)
    probs = model.decode(mu, labels)
    assert probs.shape == (5, 28, 28) and probs.dtype == np.float32
    assert probs.min() >= 0.0 and probs.max() <= 1.0
    assert model.reconstruct(digits[:2], [3, 4]).shape == (2, 28, 28)
    x, y = model.prepare(digits[:3], np.array([0, 1, 2]))
    assert tuple(model((x, y)).shape) == (3, 28, 28, 1)


def test_decoder_matches_a_numpy_reference_with_the_label_after_z():
    """decode = sigmoid(MLP([z, one_hot(y)])), recomputed from the weights in NumPy."""
    set_seed(0)
    model = CVAE(**TINY)
    rng = np.random.default_rng(0)
    z, labels = rng.normal(size=(6, 4)).astype(np.float32), np.array([0, 1, 2, 2, 1, 0])
    weights = model.decoder.get_weights()  # kernel (in, out), bias, for 3 Dense layers
    h = np.concatenate([z, np.eye(3)[labels]], axis=1).astype(np.float64)
    for i in range(3):
        h = h @ weights[2 * i].astype(np.float64) + weights[2 * i + 1]
        h = np.maximum(h, 0) if i < 2 else 1 / (1 + np.exp(-h))
    np.testing.assert_allclose(
        model.decode(z, labels), h.reshape(-1, 28, 28), atol=1e-5
    )


def test_encoder_matches_a_numpy_reference_with_the_label_after_the_pixels(digits):
    """encode = split(MLP([flatten(x / 255), one_hot(y)])) into (mu, logvar)."""
    set_seed(0)
    model = CVAE(**TINY)
    labels = np.array([2, 0, 1, 1])
    weights = model.encoder.get_weights()  # kernel (in, out), bias, for 3 Dense layers
    h = np.concatenate([digits[:4].reshape(4, -1) / 255.0, np.eye(3)[labels]], axis=1)
    for i in range(3):
        h = h @ weights[2 * i].astype(np.float64) + weights[2 * i + 1]
        h = np.maximum(h, 0) if i < 2 else h
    mu, logvar = model.encode(digits[:4], labels)
    np.testing.assert_allclose(mu, h[:, :4], atol=1e-5)
    np.testing.assert_allclose(logvar, h[:, 4:], atol=1e-5)


def test_labels_reach_both_networks(digits):
    set_seed(0)
    model = CVAE(**TINY)
    z = np.random.default_rng(1).normal(size=(4, 4)).astype(np.float32)
    assert not np.allclose(
        model.decode(z, np.zeros(4, int)), model.decode(z, np.ones(4, int))
    )
    mu0, _ = model.encode(digits[:4], np.zeros(4, int))
    mu2, _ = model.encode(digits[:4], np.full(4, 2))
    assert not np.allclose(mu0, mu2)


def test_train_step_reports_its_parts(digits):
    set_seed(0)
    model = CVAE(beta=0.5, **TINY)
    model.compile()
    x, y = model.prepare(digits[:8], np.arange(8) % 3)
    w0 = [w.copy() for w in model.get_weights()]
    logs = model.train_step((ops.convert_to_tensor(x), ops.convert_to_tensor(y)))
    assert set(logs) == {"loss", "recon", "kl"}
    loss, recon, kl = (
        float(ops.convert_to_numpy(logs[k])) for k in ("loss", "recon", "kl")
    )
    assert loss == pytest.approx(recon + 0.5 * kl, rel=1e-5)
    assert recon > 0 and kl >= 0
    # one joint step moves the encoder and the decoder
    assert all(not np.array_equal(a, b) for a, b in zip(w0, model.get_weights()))


# ----- sampling ---------------------------------------------------------------------
def test_sample_is_seeded_and_defaults_to_cycling_labels():
    set_seed(0)
    model = CVAE()
    a = model.sample(12, seed=3)
    assert a.shape == (12, 28, 28) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    assert np.array_equal(a, model.sample(12, seed=3))
    assert not np.array_equal(a, model.sample(12, seed=4))
    assert np.array_equal(a, model.sample(12, seed=3, labels=np.arange(12) % 10))
    threes = model.sample(6, seed=0, labels=np.full(6, 3))
    assert not np.allclose(
        threes, model.sample(6, seed=0, labels=np.full(6, 7)), atol=1e-4
    )


def test_overfit_on_two_classes_draws_each_class_on_demand(trained_two_class):
    model, hist, *_, top_left, bottom_right = trained_two_class
    loss = hist.history["loss"]
    assert loss[-1] < 0.5 * loss[0]
    zeros = model.sample(32, seed=0, labels=np.zeros(32, np.int64))
    ones = model.sample(32, seed=0, labels=np.ones(32, np.int64))  # the same z
    assert zeros[:, top_left].mean() > zeros[:, bottom_right].mean() + 0.5
    assert ones[:, bottom_right].mean() > ones[:, top_left].mean() + 0.5


# ----- bounds on log p(x | y) ---------------------------------------------------------
def test_bounds_are_seeded_ordered_and_prefer_the_true_label(trained_two_class):
    model, _, x, y, *_ = trained_two_class
    imgs, labels = x[::16], y[::16]  # 8 images, both classes
    e = model.elbo(imgs, labels, seed=0)
    assert e.shape == (8,) and np.all(np.isfinite(e)) and np.all(e < 0)
    np.testing.assert_array_equal(e, model.elbo(imgs, labels, seed=0))
    b1, b10, b100 = (
        model.iwae_bound(imgs, labels, k=k, seed=0).mean() for k in (1, 10, 100)
    )
    assert b1 < b10 < b100
    # same 100 z per image
    assert model.elbo(imgs, labels, seed=0, samples=100).mean() <= b100
    # the wrong label makes the image much less likely
    right = model.iwae_bound(imgs, labels, k=10, seed=0)
    wrong = model.iwae_bound(imgs, 1 - labels, k=10, seed=0)
    assert np.all(wrong < right) and wrong.mean() < right.mean() - 100


# ----- errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "labels, match",
    [
        (np.full(4, 10), r"\[0, 10\)"),
        (np.array([0, 1, -1, 2]), r"\[0, 10\)"),
        (np.zeros(3, np.int64), r"\(4,\)"),
        (np.zeros(4) + 0.5, "integer"),
    ],
)
def test_bad_labels_rejected(labels, match, digits):
    model = CVAE()
    with pytest.raises(ValueError, match=match):
        model.sample(4, labels=labels)
    z = np.zeros((4, 16), np.float32)
    for call in (
        lambda: model.decode(z, labels),
        lambda: model.encode(digits[:4], labels),
        lambda: model.elbo(digits[:4], labels),
        lambda: model.iwae_bound(digits[:4], labels),
        lambda: model.reconstruct(digits[:4], labels),
    ):
        with pytest.raises(ValueError, match=match):
            call()


def test_fit_needs_valid_labels_and_constructor_checks(digits):
    with pytest.raises(ValueError, match="labels"):
        CVAE(**TINY).fit(digits, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        CVAE(**TINY).fit(digits, np.full(64, 3), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        CVAE(**TINY).fit(
            np.zeros((4, 32, 32), np.uint8), np.zeros(4, int), epochs=1, verbose=0
        )
    with pytest.raises(ValueError, match="num_classes"):
        CVAE(num_classes=0)
    with pytest.raises(ValueError, match="latent_dim"):
        CVAE(latent_dim=0)
    with pytest.raises(ValueError, match="beta"):
        CVAE(beta=-1.0)


# ----- persistence ----------------------------------------------------------------------
def test_save_load_round_trip_keras_and_weights_h5(tmp_path, digits):
    set_seed(0)
    kwargs = dict(beta=0.5, **TINY)
    model = CVAE(**kwargs)
    labels = np.arange(64) % 3
    model.fit(digits, labels, epochs=1, batch_size=32, verbose=0)
    for name in ("cvae.keras", "cvae.weights.h5"):
        path = tmp_path / name
        model.save(path) if name.endswith(".keras") else model.save_weights(path)
        other = CVAE(**kwargs).load(path)
        for a, b in zip(model.get_weights(), other.get_weights()):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(model.sample(6, seed=1), other.sample(6, seed=1))
    # the whole model, config included, and it can keep training
    other = keras.models.load_model(tmp_path / "cvae.keras")
    assert type(other) is CVAE
    assert (other.num_classes, other.latent_dim, other.beta) == (3, 4, 0.5)
    np.testing.assert_array_equal(
        model.iwae_bound(digits[:3], labels[:3], k=5, seed=0),
        other.iwae_bound(digits[:3], labels[:3], k=5, seed=0),
    )
    hist = other.fit(digits, labels, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
