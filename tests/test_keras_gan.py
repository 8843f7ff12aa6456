"""Keras GAN tests. `make test` runs this file twice: KERAS_BACKEND=tensorflow and =torch."""
import os

import numpy as np
import pytest

pytestmark = pytest.mark.keras
keras = pytest.importorskip("keras")

from aigc_course.keras import MODELS, set_seed  # noqa: E402
from aigc_course.keras.gan import discriminator_loss, generator_loss  # noqa: E402

from _helpers import bce_logits_np, mlp_gan_params  # noqa: E402


def test_backend_is_the_one_requested():
    wanted = os.environ.get("KERAS_BACKEND")
    if wanted:
        assert keras.backend.backend() == wanted


def test_parameter_count_matches_hand_count_and_pytorch():
    assert MODELS["gan"]().count_params() == mlp_gan_params() == 2_043_537


def test_losses_against_numpy_bce():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(32, 1)).astype("float32")
    fake = rng.normal(size=(32, 1)).astype("float32")
    d = discriminator_loss(keras.ops.convert_to_tensor(real), keras.ops.convert_to_tensor(fake), 0.1)
    expected = bce_logits_np(real, 0.9) + bce_logits_np(fake, 0.0)
    assert float(keras.ops.convert_to_numpy(d)) == pytest.approx(expected, rel=1e-5)
    g = generator_loss(keras.ops.convert_to_tensor(fake))
    assert float(keras.ops.convert_to_numpy(g)) == pytest.approx(
        float(np.mean(np.log1p(np.exp(-fake.astype(np.float64))))), rel=1e-5)


def test_sample_shape_range_and_seed_determinism():
    set_seed(0)
    gan = MODELS["gan"]()
    a = gan.sample(5, seed=3)
    assert a.shape == (5, 28, 28) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert np.array_equal(a, gan.sample(5, seed=3))
    assert not np.array_equal(a, gan.sample(5, seed=4))


@pytest.mark.parametrize("n", [0, -1, 2.5])
def test_sample_rejects_bad_n(n):
    with pytest.raises(ValueError, match="positive int"):
        MODELS["gan"]().sample(n)


def test_fit_rejects_bad_images():
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        MODELS["gan"]().fit(np.zeros((8, 32, 32), np.uint8), epochs=1, verbose=0)


def test_train_step_updates_each_network_only_through_its_own_loss(digits):
    set_seed(0)
    gan = MODELS["gan"]()
    gan.compile()
    g0 = [w.copy() for w in gan.generator.get_weights()]
    d0 = [w.copy() for w in gan.discriminator.get_weights()]
    logs = gan.train_step(keras.ops.convert_to_tensor(gan.prepare(digits)[0][:16]))
    assert set(logs) == {"d_loss", "g_loss"}
    changed_g = [not np.array_equal(a, b) for a, b in zip(g0, gan.generator.get_weights())]
    changed_d = [not np.array_equal(a, b) for a, b in zip(d0, gan.discriminator.get_weights())]
    assert all(changed_d)
    assert sum(changed_g) >= 10  # every kernel, bias and BN parameter of G moved


def test_generator_learns_a_constant_dataset():
    set_seed(0)
    target = np.zeros((28, 28), np.uint8)
    target[8:20, 8:20] = 255
    data = np.repeat(target[None], 256, axis=0)
    gan = MODELS["gan"](lr=1e-3)
    err = lambda: float(np.mean((gan.sample(64, seed=0) - target / 255.0) ** 2))  # noqa: E731
    before = err()
    hist = gan.fit(data, epochs=6, batch_size=32, verbose=0)
    assert len(hist.history["d_loss"]) == 6
    assert err() < 0.5 * before


def test_save_load_round_trip_keras_and_weights_h5(tmp_path, digits):
    set_seed(0)
    gan = MODELS["gan"]()
    gan.fit(digits, epochs=1, batch_size=16, verbose=0)
    for name in ("g.keras", "g.weights.h5"):
        path = tmp_path / name
        gan.save(path) if name.endswith(".keras") else gan.save_weights(path)
        other = MODELS["gan"]().load(path)
        for a, b in zip(gan.get_weights(), other.get_weights()):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(gan.sample(8, seed=1), other.sample(8, seed=1))


def test_full_model_reloads_with_keras_load_model(tmp_path):
    gan = MODELS["gan"](latent_dim=16, label_smoothing=0.1)
    gan.save(tmp_path / "g.keras")
    other = keras.models.load_model(tmp_path / "g.keras")
    assert other.latent_dim == 16 and other.label_smoothing == 0.1
    np.testing.assert_array_equal(gan.sample(4, seed=0), other.sample(4, seed=0))


def test_checkpoint_dir_resumes_a_finished_run_without_retraining(tmp_path, digits):
    set_seed(0)
    first = MODELS["gan"]()
    first.fit(digits, epochs=2, batch_size=16, verbose=0, checkpoint_dir=tmp_path)
    assert any(tmp_path.iterdir())
    second = MODELS["gan"]()
    hist = second.fit(digits, epochs=2, batch_size=16, verbose=0, checkpoint_dir=tmp_path)
    # both epochs were already done: nothing runs, the history is the checkpoint's
    assert len(hist.history["d_loss"]) == 2
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    hist = second.fit(digits, epochs=3, batch_size=16, verbose=0, checkpoint_dir=tmp_path)
    assert len(hist.history["d_loss"]) == 3  # only the third epoch runs; the history has all three
