"""PyTorch DDPM: shapes, hand parameter counts, the loss at init, training, sampling, save/load."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _helpers import dense

from aigc_course.diffusion import ddpm_sample_numpy, make_schedule, timestep_embedding
from aigc_course.torch import MODELS, set_seed
from aigc_course.torch.diffusion import DDPM


def conv(c_in, c_out, k):
    return c_in * c_out * k * k + c_out


def res_block(c_in, c_out, td):
    skip = conv(c_in, c_out, 1) if c_in != c_out else 0
    return (
        2 * c_in
        + conv(c_in, c_out, 3)
        + dense(td, c_out)
        + 2 * c_out
        + conv(c_out, c_out, 3)
        + skip
    )


def unet_params(c1=32, c2=64):
    td = 4 * c1
    return (
        dense(c1, td)
        + dense(td, td)
        + conv(1, c1, 3)
        + res_block(c1, c1, td)
        + conv(c1, c2, 4)
        + res_block(c2, c2, td)
        + conv(c2, c2, 4)
        + res_block(c2, c2, td)
        + conv(c2, c2, 4)
        + res_block(2 * c2, c2, td)
        + (c2 * c1 * 16 + c1)
        + res_block(2 * c1, c1, td)
        + 2 * c1
        + conv(c1, 1, 3)
    )


def mlp_params(d=2, h=128, depth=2, time_dim=32):
    return (
        dense(time_dim, h)
        + dense(h, h)
        + dense(d, h)
        + depth * dense(h, h)
        + dense(h, d)
    )


def two_points(n=256, seed=0):
    rng = np.random.default_rng(seed)
    return np.where(rng.random((n, 1)) < 0.5, -1.0, 1.0) * np.array(
        [[1.0, 0.5]]
    ) + 0.02 * rng.standard_normal((n, 2))


def randomize_output(model, seed=0):
    """The output layer starts at zero; give it random weights so eps_hat depends on the input."""
    g = torch.Generator().manual_seed(seed)
    out = model.net.out if hasattr(model.net, "out") else model.net.conv_out
    with torch.no_grad():
        out.weight.copy_(0.1 * torch.randn(out.weight.shape, generator=g))
        out.bias.copy_(0.1 * torch.randn(out.bias.shape, generator=g))
    return model


def test_registered_and_parameter_counts_by_hand():
    assert MODELS["ddpm"] is DDPM
    assert DDPM().count_params() == unet_params() == 567_457
    assert DDPM(channels=(16, 32)).count_params() == unet_params(16, 32)
    assert DDPM(data_shape=(2,)).count_params() == mlp_params() == 54_402
    assert DDPM(data_shape=(3,), hidden=64).count_params() == mlp_params(3, 64)


def test_shapes_and_zero_init_output():
    img = DDPM(timesteps=20)
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
    t = torch.tensor([0, 7, 49])
    assert np.allclose(
        m.net.embed(t).numpy(), timestep_embedding([0, 7, 49], 32), atol=1e-5
    )
    rng = np.random.default_rng(0)
    x0, eps = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    got = m.q_sample(
        torch.tensor(x0, dtype=torch.float32), t, torch.tensor(eps, dtype=torch.float32)
    )
    assert np.allclose(got.numpy(), m.schedule.q_sample(x0, t.numpy(), eps), atol=1e-6)
    assert np.allclose(m.schedule.alpha_bars, make_schedule("linear", 50).alpha_bars)


def test_loss_at_init_is_mean_squared_noise(digits):
    """eps_hat = 0 at init, so the loss is exactly mean(eps^2): about 1 per dimension."""
    m = DDPM(timesteps=100)
    loss = m.denoising_loss(digits, seed=3)
    rng = np.random.default_rng(3)
    rng.integers(0, 100, len(digits))
    eps = rng.standard_normal((len(digits), 28, 28))
    assert np.allclose(
        loss, np.mean(eps.reshape(len(digits), -1) ** 2, axis=1), atol=1e-6
    )
    assert loss.mean() == pytest.approx(1.0, abs=0.02)
    set_seed(0)
    first = m.fit(digits, epochs=1, batch_size=64, verbose=0).history["loss"][0]
    # the first step's loss, before any update
    assert first == pytest.approx(1.0, abs=0.05)


def test_overfits_two_points_and_samples_them():
    set_seed(0)
    m = DDPM(data_shape=(2,), timesteps=50, hidden=64, lr=3e-3)
    hist = m.fit(two_points(512), epochs=150, batch_size=128, verbose=0).history["loss"]
    assert np.mean(hist[-10:]) < 0.3 * np.mean(hist[:3])
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
    m = randomize_output(DDPM(timesteps=5))
    a = m.sample(2, seed=7)
    assert np.array_equal(a, m.sample(2, seed=7))
    assert not np.array_equal(a, m.sample(2, seed=8))


def test_save_load_and_checkpoint_resume(tmp_path):
    set_seed(0)
    m = DDPM(data_shape=(2,), timesteps=20)
    data = two_points(128)
    m.fit(data, epochs=1, batch_size=32, verbose=0, checkpoint_dir=tmp_path / "ck")
    m.save(tmp_path / "d.pt")
    other = DDPM(data_shape=(2,), timesteps=20).load(tmp_path / "d.pt")
    x = np.random.default_rng(0).standard_normal((5, 2))
    assert np.array_equal(m.predict_noise(x, 3), other.predict_noise(x, 3))
    assert np.array_equal(m.sample(4, seed=1), other.sample(4, seed=1))
    again = DDPM(data_shape=(2,), timesteps=20)
    hist = again.fit(
        data, epochs=2, batch_size=32, verbose=0, checkpoint_dir=tmp_path / "ck"
    )
    assert len(hist.history["loss"]) == 2  # resumed after epoch 1, trained epoch 2


def test_value_errors(digits):
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


def test_ema_follows_the_weights_step_by_step_and_samples(tmp_path):
    set_seed(0)
    m = DDPM(data_shape=(2,), timesteps=20, ema_decay=0.75)
    assert m.count_params() == DDPM(data_shape=(2,), timesteps=20).count_params()
    ema = [p.detach().clone() for p in m.net.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(ema, m.ema_net.parameters()))
    data = torch.as_tensor(m.prepare(two_points(96))[0])
    m.optimizers = m.configure_optimizers()
    for i in range(3):  # three steps, by hand: ema <- 0.75 ema + 0.25 w
        m.train_step(data[32 * i : 32 * (i + 1)])
        ema = [0.75 * e + 0.25 * w.detach() for e, w in zip(ema, m.net.parameters())]
    for e, got in zip(ema, m.ema_net.parameters()):
        torch.testing.assert_close(got, e)
    assert any(
        not torch.equal(e, w)
        for e, w in zip(m.ema_net.parameters(), m.net.parameters())
    )
    # the average, not the last weights, predicts the noise and samples
    x = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    with torch.no_grad():
        by_hand = m.ema_net(torch.as_tensor(x), torch.full((5,), 3)).numpy()
        last = m.net(torch.as_tensor(x), torch.full((5,), 3)).numpy()
    np.testing.assert_allclose(m.predict_noise(x, 3), by_hand, atol=1e-6)
    assert np.max(np.abs(m.predict_noise(x, 3) - last)) > 1e-4
    # saved, loaded and resumed with the average
    m.save(tmp_path / "e.pt")
    other = DDPM(data_shape=(2,), timesteps=20, ema_decay=0.75).load(tmp_path / "e.pt")
    assert np.array_equal(m.sample(4, seed=1), other.sample(4, seed=1))


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
    for a, b in zip(straight.ema_net.parameters(), resumed.ema_net.parameters()):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("decay", [1.0, -0.1, True, "0.9", None])
def test_ema_decay_must_be_in_0_1(decay):
    with pytest.raises(ValueError, match=r"ema_decay: expected a number in \[0, 1\)"):
        DDPM(data_shape=(2,), timesteps=10, ema_decay=decay)
