"""Issue 14, the PyTorch half: divergence guard, NaN inputs, verified checkpoints,
resume (still bit-identical) and argument checks.

Test names start with the item of the issue they cover; the Keras twin is
tests/test_robustness_keras.py, the NumPy parts tests/test_robustness.py.
"""

import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from aigc_course import checkpoint
from aigc_course.torch import MODELS, Callback, set_seed
from aigc_course.training import TrainingDivergedError

TINY = {
    "gan": {"latent_dim": 8},
    "dcgan": {"latent_dim": 8, "channels": 8},
    "cgan": {"latent_dim": 8},
    "wgan_gp": {"latent_dim": 8, "channels": 8, "n_critic": 1},
    "vae": {"latent_dim": 4},
    "conv_vae": {"latent_dim": 4, "channels": (8, 8)},
    "cvae": {"latent_dim": 4},
    "pixelcnn": {"hidden": 8, "n_layers": 1},
    "ddpm": {"timesteps": 10, "channels": (8, 8)},
}
LABELLED = {"cgan", "cvae"}


def tiny(key, **kw):
    return MODELS[key](**{**TINY.get(key, {}), **kw})


def fit_args(key, x):
    return (x, np.arange(len(x)) % 10) if key in LABELLED else (x,)


class PoisonAfter(Callback):
    """Sets one weight to NaN at the end of epoch ``epoch`` (0-based), after the checkpoint."""

    def __init__(self, epoch=0):
        self.epoch = epoch

    def on_epoch_end(self, model, epoch, logs):
        if epoch == self.epoch:
            with torch.no_grad():
                next(model.parameters()).view(-1)[0] = float("nan")


def finite_state(model):
    return all(
        torch.isfinite(t).all()
        for t in model.state_dict().values()
        if t.is_floating_point()
    )


# ---------------------------------------------------------------------------
# item 1: divergence never destroys the last good checkpoint
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["gan", "vae"])
def test_item1_nan_after_epoch_1_stops_and_keeps_the_epoch_1_checkpoint(
    tmp_path, digits, key
):
    set_seed(0)
    model = tiny(key)
    with pytest.raises(TrainingDivergedError) as err:
        model.fit(
            digits,
            epochs=3,
            batch_size=16,
            verbose=0,
            checkpoint_dir=tmp_path,
            callbacks=[PoisonAfter(0)],
        )
    msg = str(err.value)
    assert "epoch 2/3, step 1/4" in msg and "nan" in msg and "learning rate" in msg
    assert "after epoch 1" in msg and str(tmp_path / "last.pt") in msg
    assert (
        err.value.epoch == 2
        and err.value.step == 1
        and len(err.value.history.history) > 0
    )
    # the model is back at its epoch-1 weights, which the checkpoint still holds
    assert finite_state(model)
    record = json.loads((tmp_path / "last.pt.json").read_text())
    assert record["extra"]["epoch"] == 1
    saved = torch.load(tmp_path / "last.pt", weights_only=True)["model"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved[k]), k
    # a new session resumes from epoch 1 and trains on, finite
    again = tiny(key)
    hist = again.fit(
        digits, epochs=3, batch_size=16, verbose=0, checkpoint_dir=tmp_path
    )
    assert len(next(iter(hist.history.values()))) == 3
    assert all(np.isfinite(v).all() for v in hist.history.values()) and finite_state(
        again
    )
    assert np.isfinite(again.sample(4, seed=0)).all()


def test_item1_huge_learning_rate_stops_with_a_message_and_restores(tmp_path, digits):
    set_seed(0)
    model = tiny("vae", lr=1e3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(
        TrainingDivergedError, match=r"epoch 1/2, step \d/4 .*lr=1000"
    ) as err:
        model.fit(digits, epochs=2, batch_size=16, verbose=0, checkpoint_dir=tmp_path)
    assert "weights it had before training" in str(err.value)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    # nothing good to keep yet, nothing bad written
    assert not (tmp_path / "last.pt").exists()
    assert np.isfinite(model.sample(2, seed=0)).all()
    # the fix the message suggests: a smaller learning rate
    small = tiny("vae", lr=1e-3)
    small.fit(digits, epochs=2, batch_size=16, verbose=0, checkpoint_dir=tmp_path)
    assert finite_state(small)


def test_item1_non_finite_weights_at_the_end_of_an_epoch_are_never_checkpointed(
    tmp_path, digits, monkeypatch
):
    set_seed(0)
    model = tiny("gan")
    model.fit(digits, epochs=1, batch_size=16, verbose=0, checkpoint_dir=tmp_path)
    good = (tmp_path / "last.pt").read_bytes()
    step = model.train_step
    calls = []

    def last_step_breaks_the_weights(*batch):
        logs = step(*batch)  # the loss of this step is still finite ...
        calls.append(1)
        if len(calls) == 4:  # ... but the update of the epoch's last step is not
            with torch.no_grad():
                model.generator[0].bias.fill_(float("inf"))
        return logs

    monkeypatch.setattr(model, "train_step", last_step_breaks_the_weights)
    with pytest.raises(
        TrainingDivergedError, match=r"the end of epoch 2/2 .*weight generator\.0\.bias"
    ):
        model.fit(digits, epochs=2, batch_size=16, verbose=0, checkpoint_dir=tmp_path)
    assert (tmp_path / "last.pt").read_bytes() == good and finite_state(model)


def test_item1_save_refuses_non_finite_weights(tmp_path):
    model = tiny("gan")
    model.save(tmp_path / "g.pt")
    good = (tmp_path / "g.pt").read_bytes()
    with torch.no_grad():
        model.generator[0].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"not saved.*generator\.0\.weight"):
        model.save(tmp_path / "g.pt")
    assert (tmp_path / "g.pt").read_bytes() == good


# ---------------------------------------------------------------------------
# item 2: NaN pixels are a ValueError wherever images enter
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(TINY))
def test_item2_nan_pixel_is_rejected_by_every_image_model(key, digits):
    x = digits[:16].astype(np.float32) / 255
    x[3, 10, 10] = np.nan
    model = tiny(key)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="finite"):
        model.fit(*fit_args(key, x), epochs=1, batch_size=8, verbose=0)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k  # nothing was trained on the NaN
    labels = np.arange(16) % 10
    entry_points = {
        "vae": [
            lambda: model.encode(x),
            lambda: model.elbo(x),
            lambda: model.reconstruct(x),
        ],
        "conv_vae": [lambda: model.iwae_bound(x, k=2)],
        "cvae": [lambda: model.encode(x, labels), lambda: model.elbo(x, labels)],
        "pixelcnn": [lambda: model.nll(x), lambda: model.logits(x)],
        "ddpm": [
            lambda: model.denoising_loss(x),
            lambda: model.predict_noise(x * 2 - 1, 3),
        ],
    }
    for call in entry_points.get(key, []):
        with pytest.raises(ValueError, match="finite"):
            call()


def test_item2_nan_latent_codes_are_rejected(digits):
    z = np.zeros((2, 4), np.float32)
    z[1, 2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        tiny("vae").decode(z)


def test_item2_uint8_zero_one_images_warn_in_fit(digits):
    with pytest.warns(UserWarning, match="largest value is 1"):
        tiny("gan").fit(
            (digits[:16] > 0).astype(np.uint8), epochs=1, batch_size=8, verbose=0
        )


# ---------------------------------------------------------------------------
# item 5: checkpoints and saved models carry a SHA-256 and the configuration
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["zeroed", "truncated", "empty", "text"])
def test_item5_damaged_pt_file_is_an_error_naming_it(tmp_path, damage):
    model = tiny("gan")
    path = tmp_path / "g.pt"
    model.save(path)
    raw = bytearray(path.read_bytes())
    if damage == "zeroed":  # 64 zero bytes inside a tensor: torch.load would not notice
        raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)
    path.write_bytes(
        {
            "zeroed": bytes(raw),
            "truncated": bytes(raw[:1000]),
            "empty": b"",
            "text": b"not a checkpoint\n",
        }[damage]
    )
    with pytest.raises(checkpoint.CheckpointError, match=r"g\.pt is corrupt"):
        tiny("gan").load(path)
    # without the record, torch's own error is still wrapped in one that names the file
    (tmp_path / "g.pt.json").unlink()
    if damage != "zeroed":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(
                checkpoint.CheckpointError, match=r"g\.pt could not be loaded"
            ):
                tiny("gan").load(path)


def test_item5_same_shapes_other_hyperparameters_do_not_load(tmp_path):
    gpt = MODELS["gpt"](11, block_size=8, n_layer=1, n_head=4, n_embd=16)
    gpt.save(tmp_path / "gpt.pt")
    # same shapes
    other = MODELS["gpt"](11, block_size=8, n_layer=1, n_head=2, n_embd=16)
    with pytest.raises(
        checkpoint.CheckpointError,
        match=r"gpt\.pt .*n_head: 4 in the file, 2 in this model",
    ):
        other.load(tmp_path / "gpt.pt")
    with pytest.raises(checkpoint.CheckpointError, match="holds a GPT, not a CharRNN"):
        MODELS["char_rnn"](11).load(tmp_path / "gpt.pt")
    # lr: fine
    same = MODELS["gpt"](11, block_size=8, n_layer=1, n_head=4, n_embd=16, lr=1.0)
    same.load(tmp_path / "gpt.pt")
    ids = np.arange(8)[None] % 11
    np.testing.assert_array_equal(same.logits(ids), gpt.logits(ids))
    record = json.loads((tmp_path / "gpt.pt.json").read_text())
    assert record["config"] == {
        "vocab_size": 11,
        "block_size": 8,
        "n_layer": 1,
        "n_head": 4,
        "n_embd": 16,
        "dropout": 0.0,
        "lr": 3e-4,
    }


def test_item5_training_checkpoint_is_verified_on_resume(tmp_path, digits):
    set_seed(0)
    tiny("gan").fit(digits, epochs=1, batch_size=16, verbose=0, checkpoint_dir=tmp_path)
    record = json.loads((tmp_path / "last.pt.json").read_text())
    assert record["kind"] == "training" and record["config"]["latent_dim"] == 8
    with pytest.raises(
        checkpoint.CheckpointError, match="latent_dim: 8 in the file, 16 in this model"
    ):
        MODELS["gan"](latent_dim=16).fit(
            digits, epochs=2, batch_size=16, verbose=0, checkpoint_dir=tmp_path
        )
    raw = bytearray((tmp_path / "last.pt").read_bytes())
    raw[-2000:-1936] = bytes(64)
    (tmp_path / "last.pt").write_bytes(bytes(raw))
    with pytest.raises(checkpoint.CheckpointError, match=r"last\.pt is corrupt"):
        tiny("gan").fit(
            digits, epochs=2, batch_size=16, verbose=0, checkpoint_dir=tmp_path
        )


def test_item5_load_reads_the_weights_of_a_training_checkpoint(tmp_path, digits):
    set_seed(0)
    model = tiny("vae")
    model.fit(digits, epochs=1, batch_size=16, verbose=0, checkpoint_dir=tmp_path)
    other = tiny("vae").load(tmp_path / "last.pt")
    np.testing.assert_array_equal(other.sample(3, seed=1), model.sample(3, seed=1))


def test_item5_get_config_rebuilds_the_model():
    for key in TINY:
        model = tiny(key)
        config = model.get_config()
        assert type(model)(**config).get_config() == config
    assert MODELS["gpt"](7, n_head=2).get_config()["n_head"] == 2


# ---------------------------------------------------------------------------
# item 4 (PyTorch side): resume stays bit-identical
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["gan", "cvae", "ddpm"])
def test_item4_torch_resume_is_bit_identical(tmp_path, digits, key):
    set_seed(0)
    straight = tiny(key)
    h1 = straight.fit(
        *fit_args(key, digits), epochs=3, batch_size=16, verbose=0, seed=4
    )

    class Interrupt(Callback):
        def on_epoch_end(self, model, epoch, logs):
            if epoch == 1:
                raise KeyboardInterrupt

    set_seed(0)
    with pytest.raises(KeyboardInterrupt):
        tiny(key).fit(
            *fit_args(key, digits),
            epochs=3,
            batch_size=16,
            verbose=0,
            seed=4,
            checkpoint_dir=tmp_path,
            callbacks=[Interrupt()],
        )
    set_seed(1)  # another session: other initial weights, other global RNG state
    resumed = tiny(key)
    h2 = resumed.fit(
        *fit_args(key, digits),
        epochs=3,
        batch_size=16,
        verbose=0,
        seed=4,
        checkpoint_dir=tmp_path,
    )
    assert h1.history == h2.history
    for (k, a), (_, b) in zip(
        straight.state_dict().items(), resumed.state_dict().items()
    ):
        assert torch.equal(a, b), k


# ---------------------------------------------------------------------------
# item 8: the small ones
# ---------------------------------------------------------------------------
def test_item8_bad_seed_and_temperature_are_value_errors(digits):
    with pytest.raises(ValueError, match="seed"):
        tiny("gan").sample(2, seed="a")
    with pytest.raises(ValueError, match="seed"):
        tiny("pixelcnn").sample(1, seed="a")
    with pytest.raises(ValueError, match="seed"):
        tiny("ddpm").sample(1, seed=-3)
    with pytest.raises(ValueError, match="seed"):
        tiny("gan").fit(digits, epochs=1, batch_size=16, verbose=0, seed="a")
    gpt = MODELS["gpt"](5, block_size=8, n_layer=1, n_head=1, n_embd=8)
    with pytest.raises(ValueError, match="temperature"):
        gpt.generate([1, 2], 3, temperature="1")
    with pytest.raises(ValueError, match="seed"):
        gpt.generate([1, 2], 3, seed="a")


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: MODELS["cgan"](num_classes=0), "num_classes"),
        (lambda: MODELS["gpt"](11, n_layer=-1), "n_layer"),
        (lambda: MODELS["gpt"](11, n_head=0), "n_head"),
        (lambda: MODELS["gan"](lr=-1.0), "lr"),
        (lambda: MODELS["gan"](latent_dim="8"), "latent_dim"),
        (lambda: MODELS["wgan_gp"](beta_2=1.5), "beta_2"),
        (lambda: MODELS["char_rnn"](11, num_layers=0), "num_layers"),
        (lambda: MODELS["char_rnn"](11, dropout=-0.1), "dropout"),
        (lambda: MODELS["vae"](hidden=(0, 8)), "hidden"),
        (lambda: MODELS["dcgan"](channels=0), "channels"),
        (lambda: MODELS["pixelcnn"](n_layers=-2), "n_layers"),
    ],
)
def test_item8_bad_hyperparameters_are_value_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_item8_resume_with_a_new_learning_rate_uses_it(tmp_path, digits, capsys):
    set_seed(0)
    tiny("gan").fit(digits, epochs=1, batch_size=16, verbose=0, checkpoint_dir=tmp_path)
    model = tiny("gan", lr=1e-5)
    model.fit(digits, epochs=2, batch_size=16, verbose=1, checkpoint_dir=tmp_path)
    assert all(
        g["lr"] == 1e-5 for o in model.optimizers.values() for g in o.param_groups
    )
    out = capsys.readouterr().out
    assert (
        "new training settings" in out
        and "lr: 0.0002 in the file, 1e-05 in this model" in out
    )
    assert json.loads((tmp_path / "last.pt.json").read_text())["config"]["lr"] == 1e-5


def test_item8_checkpoint_dir_that_is_a_file_fails_before_training(
    tmp_path, digits, monkeypatch
):
    model = tiny("gan")
    monkeypatch.setattr(
        model, "train_step", lambda *b: pytest.fail("trained before checking")
    )
    (tmp_path / "ckpt").write_text("a file")
    with pytest.raises(
        ValueError, match="checkpoint_dir: expected a folder, but .*ckpt is a file"
    ):
        model.fit(
            digits, epochs=1, batch_size=16, verbose=0, checkpoint_dir=tmp_path / "ckpt"
        )
    with pytest.raises(ValueError, match="checkpoint_dir"):
        model.fit(digits, epochs=1, batch_size=16, verbose=0, checkpoint_dir=3)
