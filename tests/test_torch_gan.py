import numpy as np
import pytest

torch = pytest.importorskip("torch")

from aigc_course.torch import MODELS, get_device, set_seed  # noqa: E402
from aigc_course.torch.gan import discriminator_loss, generator_loss  # noqa: E402

from _helpers import bce_logits_np, mlp_gan_params  # noqa: E402


def test_parameter_count_matches_hand_count():
    assert MODELS["gan"]().count_params() == mlp_gan_params() == 2_043_537


def test_losses_against_numpy_bce():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(32, 1)), rng.normal(size=(32, 1))
    d = discriminator_loss(torch.tensor(real), torch.tensor(fake), label_smoothing=0.1)
    assert float(d) == pytest.approx(bce_logits_np(real, 0.9) + bce_logits_np(fake, 0.0), rel=1e-6)
    g = generator_loss(torch.tensor(fake))
    # non-saturating: -log sigmoid(l)
    assert float(g) == pytest.approx(float(np.mean(np.log1p(np.exp(-fake)))), rel=1e-6)


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
        MODELS["gan"]().fit(np.zeros((8, 32, 32), np.uint8), epochs=1, verbose=False)
    with pytest.raises(ValueError, match="batch_size"):
        MODELS["gan"]().fit(np.zeros((8, 28, 28), np.uint8), batch_size=0, verbose=False)


def test_generator_learns_a_constant_dataset():
    """Trained on one repeated image, samples must move towards it."""
    set_seed(0)
    target = np.zeros((28, 28), np.uint8)
    target[8:20, 8:20] = 255
    data = np.repeat(target[None], 256, axis=0)
    gan = MODELS["gan"](lr=1e-3)
    err = lambda: float(np.mean((gan.sample(64, seed=0) - target / 255.0) ** 2))  # noqa: E731
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
    assert all(not torch.equal(a, b) for a, b in zip(g0, gan.generator.parameters()) if a.dim() == 2)
    assert all(not torch.equal(a, b) for a, b in zip(d0, gan.discriminator.parameters()) if a.dim() == 2)


def test_save_load_round_trip(tmp_path, digits):
    set_seed(0)
    gan = MODELS["gan"]()
    gan.fit(digits, epochs=1, batch_size=16, verbose=False)
    gan.save(tmp_path / "g.pt")
    other = MODELS["gan"]().load(tmp_path / "g.pt")
    for (k, a), (_, b) in zip(gan.state_dict().items(), other.state_dict().items()):
        assert torch.equal(a, b), k
    assert np.array_equal(gan.sample(8, seed=1), other.sample(8, seed=1))


def test_resume_from_checkpoint_equals_uninterrupted_training(tmp_path, digits, capsys):
    set_seed(0)
    straight = MODELS["gan"]()
    straight.fit(digits, epochs=3, batch_size=16, verbose=False, seed=7)

    set_seed(0)
    first = MODELS["gan"]()
    first.fit(digits, epochs=2, batch_size=16, verbose=False, seed=7, checkpoint_dir=tmp_path)
    assert (tmp_path / "last.pt").exists()
    second = MODELS["gan"]()  # a "new session": fresh weights, then resume
    hist = second.fit(digits, epochs=3, batch_size=16, verbose=True, seed=7, checkpoint_dir=tmp_path)
    assert "Resumed" in capsys.readouterr().out
    assert len(hist.history["g_loss"]) == 3
    for (k, a), (_, b) in zip(straight.state_dict().items(), second.state_dict().items()):
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


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_mixed_precision_training(digits):
    set_seed(0)
    gan = MODELS["gan"]()
    hist = gan.fit(digits, epochs=2, batch_size=16, verbose=False, amp=True, device="cuda")
    assert gan.device.type == "cuda"
    assert all(np.isfinite(v) for v in hist.history["d_loss"])
    assert gan.sample(4, seed=0).shape == (4, 28, 28)
