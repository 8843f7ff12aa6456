"""Keras DDPM (TensorFlow and PyTorch backends): the PyTorch tests' twins, plus a cross-framework check."""

import numpy as np
import pytest

pytestmark = pytest.mark.keras
keras = pytest.importorskip("keras")

from test_torch_diffusion import mlp_params, two_points, unet_params

from aigc_course.diffusion import ddpm_sample_numpy, timestep_embedding
from aigc_course.keras import MODELS, set_seed
from aigc_course.keras.diffusion import DDPM, sinusoidal_embedding


def randomize_output(model, seed=0):
    """The output layer starts at zero; give it random weights so eps_hat depends on the input."""
    rng = np.random.default_rng(seed)
    out = model.net.out if hasattr(model.net, "out") else model.net.conv_out
    out.set_weights(
        [
            0.1 * rng.standard_normal(w.shape).astype(np.float32)
            for w in out.get_weights()
        ]
    )
    return model


def test_registered_and_parameter_counts_by_hand():
    assert MODELS["ddpm"] is DDPM
    assert DDPM(timesteps=10).count_params() == unet_params() == 567_457
    assert DDPM(data_shape=(2,)).count_params() == mlp_params() == 54_402
    assert DDPM(data_shape=(3,), hidden=64).count_params() == mlp_params(3, 64)


def test_shapes_and_zero_init_output():
    img = DDPM(timesteps=20, channels=(8, 16))
    x = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28))
    eps = img.predict_noise(x, np.array([0, 5, 19]))
    assert eps.shape == (3, 28, 28) and eps.dtype == np.float32
    assert np.all(eps == 0)  # zero-initialised last layer
    vec = DDPM(data_shape=(2,), timesteps=20)
    assert vec.predict_noise(np.zeros((4, 2)), 3).shape == (4, 2)
    s = img.sample(2, seed=1)
    assert (
        s.shape == (2, 28, 28)
        and s.dtype == np.float32
        and 0 <= s.min()
        and s.max() <= 1
    )
    v = vec.sample(5, seed=1)
    assert v.shape == (5, 2) and v.dtype == np.float32


def test_embedding_and_q_sample_match_numpy():
    m = DDPM(data_shape=(2,), timesteps=50)
    t = np.array([0, 7, 49])
    emb = keras.ops.convert_to_numpy(
        sinusoidal_embedding(keras.ops.convert_to_tensor(t), 32)
    )
    assert np.allclose(emb, timestep_embedding(t, 32), atol=1e-5)
    rng = np.random.default_rng(0)
    x0, eps = (
        rng.standard_normal((3, 2)).astype(np.float32),
        rng.standard_normal((3, 2)).astype(np.float32),
    )
    got = keras.ops.convert_to_numpy(
        m.q_sample(
            keras.ops.convert_to_tensor(x0),
            keras.ops.convert_to_tensor(t),
            keras.ops.convert_to_tensor(eps),
        )
    )
    assert np.allclose(got, m.schedule.q_sample(x0, t, eps), atol=1e-6)


def test_loss_at_init_is_mean_squared_noise(digits):
    """eps_hat = 0 at init, so the loss is exactly mean(eps^2): about 1 per dimension."""
    m = DDPM(timesteps=100, channels=(8, 8))
    loss = m.denoising_loss(digits, seed=3)
    rng = np.random.default_rng(3)
    rng.integers(0, 100, len(digits))
    eps = rng.standard_normal((len(digits), 28, 28))
    assert np.allclose(
        loss, np.mean(eps.reshape(len(digits), -1) ** 2, axis=1), atol=1e-6
    )
    assert loss.mean() == pytest.approx(1.0, abs=0.02)
    set_seed(0)  # the train step's loss (MLP: fast to trace)
    first = (
        DDPM(data_shape=(2,), timesteps=100)
        .fit(two_points(2048), epochs=1, batch_size=2048, verbose=0)
        .history["loss"][0]
    )
    # the first step's loss, before any update
    assert first == pytest.approx(1.0, abs=0.05)


def test_overfits_two_points_and_samples_them():
    set_seed(0)
    m = DDPM(data_shape=(2,), timesteps=50, hidden=64, lr=3e-3)
    data = two_points(512 * 150)  # one epoch of 600 steps: less Keras overhead
    before = m.denoising_loss(data[:512], seed=0).mean()
    m.fit(data, epochs=1, batch_size=128, verbose=0)
    after = m.denoising_loss(data[:512], seed=0).mean()
    assert before == pytest.approx(1.0, abs=0.1) and after < 0.3 * before
    s = m.sample(400, seed=0)
    d = np.minimum(
        np.linalg.norm(s - [1.0, 0.5], axis=1), np.linalg.norm(s + [1.0, 0.5], axis=1)
    )
    assert np.mean(d < 0.3) > 0.8
    assert 0.3 < np.mean(s[:, 0] > 0) < 0.7  # both points, not one


@pytest.mark.parametrize("steps", [None, 7])
def test_sampler_matches_the_numpy_reference(steps):
    """The same seed drives the model's sampler and ddpm_sample_numpy with its eps: same x_0."""
    m = randomize_output(DDPM(data_shape=(3,), timesteps=30))
    ours, snaps = m.reverse_process(6, seed=4, steps=steps, keep=[29, 0])
    ref, ref_snaps = ddpm_sample_numpy(
        m.predict_noise, m.schedule, (6, 3), rng=4, keep=[29, 0], steps=steps
    )
    assert np.allclose(ours, ref, atol=1e-4)
    assert set(snaps) == {29, 0} and np.allclose(snaps[0], ref_snaps[0], atol=1e-4)


def test_seeded_sampling_is_deterministic():
    m = randomize_output(DDPM(timesteps=5, channels=(8, 8)))
    a = m.sample(2, seed=7)
    assert np.array_equal(a, m.sample(2, seed=7))
    assert not np.array_equal(a, m.sample(2, seed=8))


@pytest.mark.parametrize("name", ["d.keras", "d.weights.h5"])
def test_save_load_round_trip(name, tmp_path):
    set_seed(0)
    m = DDPM(data_shape=(2,), timesteps=20)
    m.fit(two_points(128), epochs=1, batch_size=32, verbose=0)
    path = tmp_path / name
    m.save(path) if name.endswith(".keras") else m.save_weights(path)
    other = DDPM(data_shape=(2,), timesteps=20).load(path)
    x = np.random.default_rng(0).standard_normal((5, 2))
    assert np.allclose(m.predict_noise(x, 3), other.predict_noise(x, 3), atol=1e-6)
    assert np.allclose(m.sample(4, seed=1), other.sample(4, seed=1), atol=1e-5)
    if name.endswith(".keras"):
        loaded = keras.models.load_model(path)
        assert isinstance(loaded, DDPM) and loaded.T == 20 and loaded.data_shape == (2,)
        assert np.allclose(m.predict_noise(x, 3), loaded.predict_noise(x, 3), atol=1e-6)


def test_same_weights_same_noise_prediction_as_pytorch():
    """Copy the PyTorch MLP's weights into the Keras twin: same eps_hat, same samples."""
    torch = pytest.importorskip("torch")
    from aigc_course.torch.diffusion import DDPM as TorchDDPM

    torch.manual_seed(0)
    t_model = TorchDDPM(data_shape=(2,), timesteps=20)
    with torch.no_grad():
        torch.nn.init.normal_(t_model.net.out.weight, std=0.1)
    k_model = DDPM(data_shape=(2,), timesteps=20)
    t_params = [p.detach().numpy() for p in t_model.net.parameters()]
    k_vars = k_model.net.trainable_weights
    # same layers, same order
    assert [tuple(v.shape) for v in k_vars] == [p.T.shape for p in t_params]
    for v, p in zip(k_vars, t_params):
        v.assign(p.T)  # Linear (out, in) -> Dense kernel (in, out)
    x = np.random.default_rng(1).standard_normal((8, 2))
    t = np.arange(8) * 2
    assert np.allclose(
        k_model.predict_noise(x, t), t_model.predict_noise(x, t), atol=1e-5
    )
    assert np.allclose(k_model.sample(5, seed=3), t_model.sample(5, seed=3), atol=1e-4)


def test_value_errors():
    for shape in [(28, 28), (3, 4), (), "abc"]:
        with pytest.raises(ValueError, match="data_shape"):
            DDPM(data_shape=shape)
    with pytest.raises(ValueError, match="schedule"):
        DDPM(schedule="quadratic")
    with pytest.raises(ValueError, match="T"):
        DDPM(timesteps=0)
    with pytest.raises(ValueError, match="channels"):
        DDPM(channels=(30, 64))
    m = DDPM(data_shape=(2,), timesteps=10)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        m.fit(np.zeros((8, 3)), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="finite"):
        m.fit(np.full((8, 2), np.nan), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="t"):
        m.predict_noise(np.zeros((2, 2)), 10)
    with pytest.raises(ValueError, match="steps"):
        m.sample(2, steps=11)
    with pytest.raises(ValueError, match="n"):
        m.sample(0)
    with pytest.raises(ValueError, match="28, 28"):
        DDPM(timesteps=10).fit(np.zeros((4, 2)), epochs=1, verbose=0)


def test_ema_follows_the_weights_and_samples(tmp_path):
    set_seed(0)
    m = DDPM(data_shape=(2,), timesteps=20, ema_decay=0.75)
    assert m.count_params() == DDPM(data_shape=(2,), timesteps=20).count_params()
    w0 = [np.array(v) for v in m.net.weights]
    assert all(np.array_equal(a, np.array(b)) for a, b in zip(w0, m.ema_net.weights))
    m.fit(two_points(32), epochs=1, batch_size=32, verbose=0)  # one step
    for a, w, e in zip(w0, m.net.weights, m.ema_net.weights):
        np.testing.assert_allclose(
            np.array(e), 0.75 * a + 0.25 * np.array(w), atol=1e-6
        )
    assert not m.ema_net.trainable_weights  # the average is not trained
    x = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    t = np.full((5,), 3, np.int32)
    by_hand = keras.ops.convert_to_numpy(m.ema_net(x, t))
    last = keras.ops.convert_to_numpy(m.net(x, t))
    np.testing.assert_allclose(m.predict_noise(x, 3), by_hand, atol=1e-6)
    assert np.max(np.abs(m.predict_noise(x, 3) - last)) > 1e-5
    m.save_weights(tmp_path / "e.weights.h5")
    other = DDPM(data_shape=(2,), timesteps=20, ema_decay=0.75)
    other.load(tmp_path / "e.weights.h5")
    assert np.allclose(m.sample(4, seed=1), other.sample(4, seed=1), atol=1e-6)


def test_ema_resume_reproduces_an_uninterrupted_run(tmp_path):
    data = two_points(128)
    set_seed(0)
    straight = DDPM(data_shape=(2,), timesteps=20, ema_decay=0.9)
    straight.fit(data, epochs=2, batch_size=32, verbose=0)
    set_seed(0)
    first = DDPM(data_shape=(2,), timesteps=20, ema_decay=0.9)
    first.fit(data, epochs=1, batch_size=32, verbose=0, checkpoint_dir=tmp_path / "c")
    resumed = DDPM(data_shape=(2,), timesteps=20, ema_decay=0.9)
    resumed.fit(data, epochs=2, batch_size=32, verbose=0, checkpoint_dir=tmp_path / "c")
    for a, b in zip(straight.ema_net.weights, resumed.ema_net.weights):
        np.testing.assert_allclose(np.array(a), np.array(b), atol=1e-6)


@pytest.mark.parametrize("decay", [1.0, -0.1, True, "0.9", None])
def test_ema_decay_must_be_in_0_1(decay):
    with pytest.raises(ValueError, match=r"ema_decay: expected a number in \[0, 1\)"):
        DDPM(data_shape=(2,), timesteps=10, ema_decay=decay)
