"""GAN, DCGAN, CGAN and WGAN-GP (PyTorch). The Keras twin is tests/test_keras_gan.py."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _helpers import (
    GAN_PARAMS,
    GAN_PARAMS_EXPECTED,
    bce_logits_np,
    cgan_params,
    dcgan_discriminator_params,
    dcgan_generator_params,
    dense,
)
from torch import nn

from aigc_course.torch import MODELS, get_device, set_seed
from aigc_course.torch import gan as gan_module
from aigc_course.torch.gan import (
    CGAN,
    DCGAN,
    GAN,
    WGAN_GP,
    critic_loss,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    sample_alpha,
    wasserstein_generator_loss,
)

GANS = ("gan", "dcgan", "cgan", "wgan_gp")


@pytest.mark.parametrize("name", GANS)
def test_parameter_count_matches_hand_count(name):
    assert (
        MODELS[name]().count_params() == GAN_PARAMS[name] == GAN_PARAMS_EXPECTED[name]
    )  # as in Keras


def test_parameter_count_of_narrow_and_small_configs():
    assert DCGAN(latent_dim=16, channels=8).count_params() == (
        dcgan_generator_params(16, 8) + dcgan_discriminator_params(8)
    )
    assert WGAN_GP(channels=8).count_params() == (
        dcgan_generator_params(100, 8) + dcgan_discriminator_params(8, batch_norm=False)
    )
    assert CGAN(
        latent_dim=16, num_classes=3, embed_dim=4
    ).count_params() == cgan_params(16, 3, 4)


def test_build_networks_is_the_one_hook_of_a_gan_subclass():
    """A subclass that overrides build_networks only gets GAN's checks, optimizers and sampler."""

    class TinyGAN(GAN):
        def build_networks(self):
            return (
                nn.Sequential(
                    nn.Linear(self.latent_dim, 784),
                    nn.Tanh(),
                    nn.Unflatten(1, (1, 28, 28)),
                ),
                nn.Sequential(nn.Flatten(), nn.Linear(784, 1)),
            )

    tiny = TinyGAN(latent_dim=4, label_smoothing=0.1)
    assert (tiny.latent_dim, tiny.label_smoothing) == (4, 0.1)
    assert tiny.count_params() == dense(4, 784) + dense(784, 1)
    assert set(tiny.configure_optimizers()) == {"g", "d"}
    assert tiny.sample(3, seed=0).shape == (3, 28, 28)
    with pytest.raises(ValueError, match="label_smoothing"):
        TinyGAN(label_smoothing=1.0)


def test_every_gan_subclass_goes_through_gan_init(monkeypatch):
    seen = []
    init = GAN.__init__

    def recording_init(self, *args, **kwargs):
        seen.append(type(self).__name__)
        init(self, *args, **kwargs)

    monkeypatch.setattr(GAN, "__init__", recording_init)
    DCGAN(channels=8)
    CGAN(latent_dim=16)
    assert seen == ["DCGAN", "CGAN"]
    # WGAN-GP: a critic, other losses
    assert issubclass(CGAN, GAN) and not issubclass(WGAN_GP, GAN)


def test_dcgan_shapes_and_it_is_a_gan_with_conv_nets():
    gan = DCGAN()
    assert isinstance(gan, GAN) and DCGAN.train_step is GAN.train_step
    gan.eval()
    x = gan.generator(torch.randn(3, 100))
    assert x.shape == (3, 1, 28, 28) and float(x.detach().abs().max()) <= 1.0
    assert gan.generator[:4](torch.randn(3, 100)).shape == (3, 128, 7, 7)
    assert gan.generator[:7](torch.randn(3, 100)).shape == (3, 64, 14, 14)
    assert gan.discriminator(x).shape == (3, 1)
    with pytest.raises(ValueError, match="label_smoothing"):
        DCGAN(label_smoothing=1.0)


def test_dcgan_init_is_normal_0_02():
    w = DCGAN().generator[4].weight.detach().numpy()  # ConvT 128 -> 64: 131072 weights
    assert abs(w.mean()) < 1e-3 and w.std() == pytest.approx(0.02, rel=0.02)


@pytest.mark.parametrize("name", GANS)
def test_sample_shape_range_and_seed_determinism(name):
    set_seed(0)
    model = MODELS[name]()
    a = model.sample(5, seed=3)
    assert a.shape == (5, 28, 28) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert np.array_equal(a, model.sample(5, seed=3))
    assert not np.array_equal(a, model.sample(5, seed=4))


@pytest.mark.parametrize("name", GANS)
@pytest.mark.parametrize("n", [0, -1, 2.5])
def test_sample_rejects_bad_n(name, n):
    with pytest.raises(ValueError, match="positive int"):
        MODELS[name]().sample(n)


@pytest.mark.parametrize("name", GANS)
def test_fit_rejects_bad_images(name):
    y = np.zeros(8, np.int64) if name == "cgan" else None
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        MODELS[name]().fit(np.zeros((8, 32, 32), np.uint8), y, epochs=1, verbose=False)


# ----- the MLP GAN: losses, updates, checkpoints -----
def test_losses_against_numpy_bce():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(32, 1)), rng.normal(size=(32, 1))
    d = discriminator_loss(torch.tensor(real), torch.tensor(fake), label_smoothing=0.1)
    assert float(d) == pytest.approx(
        bce_logits_np(real, 0.9) + bce_logits_np(fake, 0.0), rel=1e-6
    )
    g = generator_loss(torch.tensor(fake))
    # non-saturating: -log sigmoid(l)
    assert float(g) == pytest.approx(float(np.mean(np.log1p(np.exp(-fake)))), rel=1e-6)


def test_fit_rejects_a_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        MODELS["gan"]().fit(
            np.zeros((8, 28, 28), np.uint8), batch_size=0, verbose=False
        )


def test_mlp_generator_learns_a_constant_dataset():
    """Trained on one repeated image, samples must move towards it."""
    set_seed(0)
    target = np.zeros((28, 28), np.uint8)
    target[8:20, 8:20] = 255
    data = np.repeat(target[None], 256, axis=0)
    gan = MODELS["gan"](lr=1e-3)
    err = lambda: float(np.mean((gan.sample(64, seed=0) - target / 255.0) ** 2))
    before = err()
    hist = gan.fit(data, epochs=6, batch_size=32, verbose=False)
    assert len(hist.history["d_loss"]) == 6
    assert err() < 0.5 * before


def test_only_each_networks_own_weights_change_in_its_step(digits):
    """The discriminator step must not move G and vice versa (pitfalls 1 and 2)."""
    set_seed(0)
    gan = MODELS["gan"]()
    gan.optimizers = gan.configure_optimizers()
    real = torch.as_tensor(gan.prepare(digits)[0][:16])
    g0 = [p.detach().clone() for p in gan.generator.parameters()]
    d0 = [p.detach().clone() for p in gan.discriminator.parameters()]
    gan.train_step(real)
    assert all(
        not torch.equal(a, b)
        for a, b in zip(g0, gan.generator.parameters())
        if a.dim() == 2
    )
    assert all(
        not torch.equal(a, b)
        for a, b in zip(d0, gan.discriminator.parameters())
        if a.dim() == 2
    )


def test_resume_from_checkpoint_equals_uninterrupted_training(tmp_path, digits, capsys):
    set_seed(0)
    straight = MODELS["gan"]()
    straight.fit(digits, epochs=3, batch_size=16, verbose=False, seed=7)

    set_seed(0)
    first = MODELS["gan"]()
    first.fit(
        digits, epochs=2, batch_size=16, verbose=False, seed=7, checkpoint_dir=tmp_path
    )
    assert (tmp_path / "last.pt").exists()
    second = MODELS["gan"]()  # a "new session": fresh weights, then resume
    hist = second.fit(
        digits, epochs=3, batch_size=16, verbose=True, seed=7, checkpoint_dir=tmp_path
    )
    assert "Resumed" in capsys.readouterr().out
    assert len(hist.history["g_loss"]) == 3
    for (k, a), (_, b) in zip(
        straight.state_dict().items(), second.state_dict().items()
    ):
        assert torch.allclose(a, b, atol=1e-6), k


def test_checkpoint_is_written_atomically(tmp_path, digits, monkeypatch):
    """A crash while saving must leave the previous checkpoint intact."""
    gan = MODELS["gan"]()
    gan.fit(digits, epochs=1, batch_size=32, verbose=False, checkpoint_dir=tmp_path)
    good = (tmp_path / "last.pt").read_bytes()

    def boom(obj, f, *a, **k):
        open(f, "wb").write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        gan.fit(digits, epochs=2, batch_size=32, verbose=False, checkpoint_dir=tmp_path)
    assert (tmp_path / "last.pt").read_bytes() == good
    # no temporary file left; the integrity record still describes the good file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "last.pt.json"]
    MODELS["gan"]().load(tmp_path / "last.pt")


def test_device_selection_defaults_to_an_available_device():
    dev = get_device()
    assert dev.type in {"cuda", "mps", "cpu"}
    if not torch.cuda.is_available():
        assert dev.type != "cuda"


# ----- WGAN-GP: losses and the gradient penalty against closed forms -----
def test_wasserstein_losses_closed_form():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(16, 1)), rng.normal(size=(16, 1))
    assert float(critic_loss(torch.tensor(real), torch.tensor(fake))) == pytest.approx(
        fake.mean() - real.mean(), rel=1e-12
    )
    assert float(wasserstein_generator_loss(torch.tensor(fake))) == pytest.approx(
        -fake.mean()
    )


def test_gradient_penalty_of_a_linear_critic_is_known_exactly():
    """D(x) = w . x has grad D = w everywhere: the penalty is (||w|| - 1)^2 for any alpha."""
    rng = np.random.default_rng(0)
    real = torch.tensor(rng.normal(size=(6, 1, 28, 28)), dtype=torch.float64)
    fake = torch.tensor(rng.normal(size=(6, 1, 28, 28)), dtype=torch.float64)
    alpha = torch.tensor(rng.uniform(size=6))
    w = torch.tensor(rng.normal(size=(1, 28, 28)) * 0.1)
    norm = float(np.linalg.norm(w.numpy()))
    assert norm > 2.0  # far from 1: the penalty is large
    gp = gradient_penalty(lambda x: (x * w).flatten(1).sum(dim=1), real, fake, alpha)
    assert float(gp.detach()) == pytest.approx((norm - 1) ** 2, rel=1e-9)
    unit = w / norm  # unit norm: a 1-Lipschitz critic pays nothing
    gp = gradient_penalty(lambda x: (x * unit).flatten(1).sum(dim=1), real, fake, alpha)
    assert float(gp.detach()) == pytest.approx(0.0, abs=1e-12)


def test_gradient_penalty_interpolates_with_alpha_per_example():
    """D(x) = ||x||^2 / 2 has grad D(x^) = x^: the penalty is mean((||x^|| - 1)^2)."""
    rng = np.random.default_rng(1)
    real, fake = (
        rng.normal(size=(5, 1, 28, 28)) * 0.05,
        rng.normal(size=(5, 1, 28, 28)) * 0.05,
    )
    alpha = np.array([0.0, 0.25, 0.5, 0.9, 1.0])
    x_hat = alpha[:, None, None, None] * real + (1 - alpha[:, None, None, None]) * fake
    expected = np.mean((np.linalg.norm(x_hat.reshape(5, -1), axis=1) - 1) ** 2)
    quadratic = lambda x: 0.5 * (x**2).flatten(1).sum(dim=1)
    gp = gradient_penalty(
        quadratic, torch.tensor(real), torch.tensor(fake), torch.tensor(alpha)
    )
    assert float(gp.detach()) == pytest.approx(expected, rel=1e-9)


def test_gradient_penalty_can_be_differentiated_for_the_critic_weights():
    """d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||: needs create_graph=True."""
    w = torch.full((1, 28, 28), 0.1, dtype=torch.float64, requires_grad=True)
    real = torch.randn(4, 1, 28, 28, dtype=torch.float64)
    fake = torch.randn(4, 1, 28, 28, dtype=torch.float64)
    gp = gradient_penalty(
        lambda x: (x * w).flatten(1).sum(dim=1), real, fake, torch.rand(4)
    )
    gp.backward()
    norm = w.detach().norm()
    torch.testing.assert_close(w.grad, 2 * (norm - 1) * w.detach() / norm)


def test_sample_alpha_is_uniform_on_0_1_not_normal():
    torch.manual_seed(0)
    a = sample_alpha(200_000)
    assert a.shape == (200_000, 1, 1, 1)
    assert float(a.min()) >= 0.0 and float(a.max()) < 1.0  # a normal would go negative
    assert float(a.mean()) == pytest.approx(0.5, abs=0.005)
    assert float(a.std()) == pytest.approx(1 / np.sqrt(12), abs=0.005)  # uniform's std


def test_critic_has_no_batch_norm_so_each_example_gets_its_own_gradient():
    set_seed(0)
    critic = WGAN_GP(channels=8).critic
    assert not any(
        isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in critic.modules()
    )
    x = torch.randn(4, 1, 28, 28, requires_grad=True)
    (batch_grad,) = torch.autograd.grad(critic(x).sum(), x)
    for i in range(4):
        xi = x[i : i + 1].detach().requires_grad_(True)
        (gi,) = torch.autograd.grad(critic(xi).sum(), xi)
        torch.testing.assert_close(batch_grad[i : i + 1], gi, rtol=1e-4, atol=1e-6)


def test_wgan_train_step_runs_n_critic_critic_steps_with_uniform_alpha(
    monkeypatch, digits
):
    calls = []

    def recording_sample_alpha(n, device=None):
        a = sample_alpha(n, device)
        calls.append(a.detach().clone())
        return a

    monkeypatch.setattr(gan_module, "sample_alpha", recording_sample_alpha)
    set_seed(0)
    model = WGAN_GP(channels=8)
    model.optimizers = model.configure_optimizers()
    g0 = [p.detach().clone() for p in model.generator.parameters()]
    c0 = [p.detach().clone() for p in model.critic.parameters()]
    logs = model.train_step(torch.as_tensor(model.prepare(digits)[0][:16]))
    assert set(logs) == {"critic_loss", "gp", "w_dist", "g_loss"}
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert len(calls) == model.n_critic == 5
    alphas = torch.cat(calls).flatten()
    assert (
        alphas.numel() == 5 * 16
        and float(alphas.min()) >= 0.0
        and float(alphas.max()) < 1.0
    )
    assert all(not torch.equal(a, b) for a, b in zip(g0, model.generator.parameters()))
    # Every critic weight moves but the last bias b: D + b adds b to both expectations of
    # E[D(fake)] - E[D(real)] (it cancels) and leaves grad D alone, so its gradient is 0.
    moved = [not torch.equal(a, b) for a, b in zip(c0, model.critic.parameters())]
    assert moved == [True] * (len(moved) - 1) + [False]
    assert torch.equal(model.critic[-1].bias, c0[-1])
    with pytest.raises(ValueError, match="n_critic"):
        WGAN_GP(n_critic=0)


# ----- CGAN: labels -----
def test_cgan_labels_condition_the_samples():
    set_seed(0)
    cgan = CGAN()
    threes = cgan.sample(6, seed=0, labels=np.full(6, 3))
    sevens = cgan.sample(6, seed=0, labels=np.full(6, 7))
    assert not np.allclose(threes, sevens, atol=1e-4)
    assert np.array_equal(threes, cgan.sample(6, seed=0, labels=np.full(6, 3)))
    # default labels: 0, 1, ..., 9, 0, 1, ...
    assert np.array_equal(
        cgan.sample(12, seed=1), cgan.sample(12, seed=1, labels=np.arange(12) % 10)
    )
    x = torch.randn(2, 1, 28, 28)
    cgan.discriminator.eval()  # dropout off: only the labels differ
    assert not torch.equal(
        cgan.discriminator(x, torch.tensor([0, 0])),
        cgan.discriminator(x, torch.tensor([1, 1])),
    )


def test_cgan_discriminator_drops_out_only_while_training():
    set_seed(0)
    x, y = torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    d = CGAN().discriminator  # dropout 0.5 by default
    d.train()
    assert not torch.equal(d(x, y), d(x, y))
    d.eval()
    assert torch.equal(d(x, y), d(x, y))
    d0 = CGAN(dropout=0.0).discriminator.train()
    assert torch.equal(d0(x, y), d0(x, y))
    with pytest.raises(ValueError, match="dropout"):
        CGAN(dropout=1.5)


@pytest.mark.parametrize(
    "labels, match",
    [
        (np.full(4, 10), r"\[0, 10\)"),
        (np.array([0, 1, -1, 2]), r"\[0, 10\)"),
        (np.zeros(3, np.int64), r"\(4,\)"),
        (np.zeros(4) + 0.5, "integer"),
    ],
)
def test_cgan_rejects_bad_labels(labels, match):
    with pytest.raises(ValueError, match=match):
        CGAN().sample(4, labels=labels)


def test_cgan_fit_needs_valid_labels(digits):
    with pytest.raises(ValueError, match="labels"):
        CGAN().fit(digits, epochs=1, verbose=False)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        CGAN().fit(digits, np.full(64, 10), epochs=1, verbose=False)


# ----- short trainings on tiny constant datasets -----
SQUARE = np.zeros((28, 28), np.uint8)
SQUARE[8:20, 8:20] = 255


def contrast(samples, target):
    """Mean brightness inside the target's bright pixels minus outside them."""
    on = target > 0
    return float(samples[:, on].mean() - samples[:, ~on].mean())


@pytest.mark.parametrize(
    "name, kwargs, epochs",
    [
        ("dcgan", dict(channels=8, lr=3e-3), 16),
        ("wgan_gp", dict(channels=8, lr=2e-3, n_critic=2), 12),
    ],
)
def test_generator_learns_a_constant_dataset(name, kwargs, epochs):
    set_seed(0)
    data = np.repeat(SQUARE[None], 128, axis=0)
    model = MODELS[name](**kwargs)
    err = lambda: float(np.mean((model.sample(64, seed=0) - SQUARE / 255.0) ** 2))
    before = err()
    assert abs(contrast(model.sample(64, seed=0), SQUARE)) < 0.05
    hist = model.fit(data, epochs=epochs, batch_size=16, verbose=False)
    assert len(next(iter(hist.history.values()))) == epochs
    assert err() < 0.5 * before
    assert contrast(model.sample(64, seed=0), SQUARE) > 0.25


def test_cgan_learns_which_label_is_which_image():
    """Class 0: a square top left; class 1: bottom right. Each label must draw its own."""
    top_left, bottom_right = np.zeros((28, 28), bool), np.zeros((28, 28), bool)
    top_left[2:14, 2:14] = True
    bottom_right[14:26, 14:26] = True
    x = np.concatenate(
        [np.repeat(top_left[None], 64, 0), np.repeat(bottom_right[None], 64, 0)]
    )
    y = np.repeat([0, 1], 64)
    set_seed(0)
    cgan = CGAN(latent_dim=16, num_classes=2, lr=1e-3)
    cgan.fit(x.astype(np.uint8) * 255, y, epochs=24, batch_size=16, verbose=False)
    zeros = cgan.sample(32, seed=0, labels=np.zeros(32, np.int64))
    ones = cgan.sample(32, seed=0, labels=np.ones(32, np.int64))
    assert zeros[:, top_left].mean() > zeros[:, bottom_right].mean() + 0.4
    assert ones[:, bottom_right].mean() > ones[:, top_left].mean() + 0.4


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("gan", {}),
        ("dcgan", dict(channels=8)),
        ("cgan", dict(latent_dim=16)),
        ("wgan_gp", dict(channels=8)),
    ],
)
def test_save_load_round_trip(tmp_path, digits, name, kwargs):
    set_seed(0)
    model = MODELS[name](**kwargs)
    y = np.arange(64) % 10 if name == "cgan" else None
    model.fit(digits, y, epochs=1, batch_size=32, verbose=False)
    model.save(tmp_path / "m.pt")
    other = MODELS[name](**kwargs).load(tmp_path / "m.pt")
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert torch.equal(a, b), k
    assert np.array_equal(model.sample(8, seed=1), other.sample(8, seed=1))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", GANS)
def test_cuda_mixed_precision_training(digits, name):
    set_seed(0)
    model = MODELS[name]()
    y = np.arange(64) % 10 if name == "cgan" else None
    hist = model.fit(
        digits, y, epochs=2, batch_size=16, verbose=False, amp=True, device="cuda"
    )
    assert model.device.type == "cuda"
    assert all(np.isfinite(v) for vals in hist.history.values() for v in vals)
    assert model.sample(4, seed=0).shape == (4, 28, 28)
