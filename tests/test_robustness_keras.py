"""Issue 14, the Keras half (runs once per backend: KERAS_BACKEND=tensorflow and =torch):
divergence guard, NaN inputs, training again after load_model, resume that equals an
uninterrupted run, verified checkpoints and argument checks.

Test names start with the item of the issue they cover; the PyTorch twin is
tests/test_robustness_torch.py, the NumPy parts tests/test_robustness.py.
"""

import json
import warnings

import numpy as np
import pytest

pytestmark = pytest.mark.keras
keras = pytest.importorskip("keras")

from aigc_course import checkpoint
from aigc_course.keras import MODELS, set_seed
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
    if key == "gpt":
        return MODELS["gpt"](
            11, **{"block_size": 8, "n_layer": 1, "n_head": 2, "n_embd": 16, **kw}
        )
    return MODELS[key](**{**TINY.get(key, {}), **kw})


def fit_args(key, x):
    if key == "gpt":
        return (np.arange(64 * 9).reshape(64, 9) % 11,)
    return (x, np.arange(len(x)) % 10) if key in LABELLED else (x,)


class PoisonAfter(keras.callbacks.Callback):
    """Sets one weight to NaN at the end of epoch ``epoch`` (0-based), after the checkpoint:
    the last bias, which every output depends on (a NaN in a kernel row that only ever
    meets zero pixels may not reach the loss: BLAS may skip 0 * NaN)."""

    def __init__(self, epoch=0):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            v = self.model.trainable_weights[-1]
            value = keras.ops.convert_to_numpy(v).copy()
            value.flat[0] = np.nan
            v.assign(value)


class Interrupt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt at step ``step`` of epoch ``epoch`` (both 0-based): a Colab
    disconnect in the middle of an epoch."""

    def __init__(self, epoch, step):
        super().__init__()
        self.at, self.epoch = (epoch, step), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt


def finite(model):
    return all(np.isfinite(w).all() for w in model.get_weights())


def same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))


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
    assert "after epoch 1" in msg and "last.weights.h5" in msg
    assert err.value.epoch == 2 and err.value.step == 1
    assert len(next(iter(err.value.history.values()))) == 1
    assert finite(model)
    record = json.loads((tmp_path / "last.weights.h5.json").read_text())
    assert record["extra"]["epoch"] == 1
    assert same_weights(model, tiny(key).load(tmp_path / "last.weights.h5"))
    again = tiny(key)
    hist = again.fit(
        digits, epochs=3, batch_size=16, verbose=0, checkpoint_dir=tmp_path
    )
    assert all(len(v) == 3 and np.isfinite(v).all() for v in hist.history.values())
    assert finite(again) and np.isfinite(again.sample(4, seed=0)).all()


def test_item1_huge_learning_rate_stops_with_a_message_and_restores(tmp_path, digits):
    set_seed(0)
    model = tiny("vae", lr=1e3)
    before = model.get_weights()
    with pytest.raises(
        TrainingDivergedError, match=r"epoch 1/2, step \d/4 .*lr=1000"
    ) as err:
        model.fit(digits, epochs=2, batch_size=16, verbose=0, checkpoint_dir=tmp_path)
    assert "weights it had before training" in str(err.value)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert not (tmp_path / "last.weights.h5").exists()
    assert np.isfinite(model.sample(2, seed=0)).all()


def test_item1_save_refuses_non_finite_weights(tmp_path):
    model = tiny("gan")
    model.save(tmp_path / "g.keras")
    good = (tmp_path / "g.keras").read_bytes()
    cb = PoisonAfter(0)
    cb.set_model(model)
    cb.on_epoch_end(0)
    for name in ("g.keras", "g.weights.h5"):
        with pytest.raises(ValueError, match="not saved"):
            model.save(tmp_path / name) if name.endswith(
                ".keras"
            ) else model.save_weights(tmp_path / name)
    assert (tmp_path / "g.keras").read_bytes() == good and not (
        tmp_path / "g.weights.h5"
    ).exists()


# ---------------------------------------------------------------------------
# item 2: NaN pixels are a ValueError wherever images enter
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(TINY))
def test_item2_nan_pixel_is_rejected_by_every_image_model(key, digits):
    x = digits[:16].astype(np.float32) / 255
    x[3, 10, 10] = np.nan
    model = tiny(key)
    before = model.get_weights()
    with pytest.raises(ValueError, match="finite"):
        model.fit(*fit_args(key, x), epochs=1, batch_size=8, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
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


def test_item2_uint8_zero_one_images_warn_in_fit(digits):
    with pytest.warns(UserWarning, match="largest value is 1"):
        tiny("gan").fit(
            (digits[:16] > 0).astype(np.uint8), epochs=1, batch_size=8, verbose=0
        )


# ---------------------------------------------------------------------------
# item 3: GAN-family models train again after keras.models.load_model
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["gan", "dcgan", "cgan", "wgan_gp"])
def test_item3_gan_family_trains_again_after_load_model(tmp_path, digits, key):
    set_seed(0)
    model = tiny(key, lr=1e-3)
    model.fit(*fit_args(key, digits), epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m.keras")
    with warnings.catch_warnings():
        # no "compile() was not called" warning
        warnings.simplefilter("error", UserWarning)
        other = keras.models.load_model(tmp_path / "m.keras")
    assert type(other) is type(model) and other.compiled
    names = model.optimizer_names
    for name in names:  # optimizer states (and learning rates) came back
        a, b = getattr(model, name), getattr(other, name)
        assert (
            int(keras.ops.convert_to_numpy(b.iterations))
            == int(keras.ops.convert_to_numpy(a.iterations))
            > 0
        )
        assert float(keras.ops.convert_to_numpy(b.learning_rate)) == pytest.approx(1e-3)
        for u, v in zip(a.variables, b.variables):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(u), keras.ops.convert_to_numpy(v)
            )
    hist = other.fit(*fit_args(key, digits), epochs=1, batch_size=16, verbose=0)
    assert all(np.isfinite(v).all() for v in hist.history.values())
    assert int(keras.ops.convert_to_numpy(getattr(other, names[0]).iterations)) > int(
        keras.ops.convert_to_numpy(getattr(model, names[0]).iterations)
    )


# ---------------------------------------------------------------------------
# item 4: a resumed run equals the uninterrupted one (losses, weights, history)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, kw", [("gan", {}), ("cvae", {}), ("gpt", {"dropout": 0.2}), ("ddpm", {})]
)
def test_item4_resumed_run_equals_the_uninterrupted_run(tmp_path, digits, key, kw):
    set_seed(0)
    straight = tiny(key, **kw)
    h1 = straight.fit(
        *fit_args(key, digits), epochs=3, batch_size=16, verbose=0, seed=5
    )
    set_seed(0)
    # interrupted in the middle of the third epoch
    with pytest.raises(KeyboardInterrupt):
        tiny(key, **kw).fit(
            *fit_args(key, digits),
            epochs=3,
            batch_size=16,
            verbose=0,
            seed=5,
            checkpoint_dir=tmp_path,
            callbacks=[Interrupt(2, 1)],
        )
    set_seed(1)  # a new session: other initial weights, other global random state
    resumed = tiny(key, **kw)
    h2 = resumed.fit(
        *fit_args(key, digits),
        epochs=3,
        batch_size=16,
        verbose=0,
        seed=5,
        checkpoint_dir=tmp_path,
    )
    assert h1.history == h2.history and h2.epoch == [0, 1, 2]
    assert same_weights(straight, resumed)
    seeds = [keras.ops.convert_to_numpy(v) for v in straight._seed_variables()]
    assert seeds and all(
        np.array_equal(a, keras.ops.convert_to_numpy(b))
        for a, b in zip(seeds, resumed._seed_variables())
    )


def test_item4_the_shuffle_order_depends_on_seed_and_epoch_only(digits):
    set_seed(0)
    a = tiny("gan").fit(digits, epochs=2, batch_size=16, verbose=0, seed=1)
    set_seed(0)
    b = tiny("gan").fit(digits, epochs=2, batch_size=16, verbose=0, seed=1)
    set_seed(0)
    c = tiny("gan").fit(digits, epochs=2, batch_size=16, verbose=0, seed=2)
    assert a.history == b.history and a.history != c.history


# ---------------------------------------------------------------------------
# item 5: checkpoints and saved models carry a SHA-256 and the configuration
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["m.weights.h5", "m.keras"])
@pytest.mark.parametrize("damage", ["zeroed", "truncated", "empty", "text"])
def test_item5_damaged_file_is_an_error_naming_it(tmp_path, name, damage):
    model = tiny("gan")
    path = tmp_path / name
    model.save_weights(path) if name.endswith(".weights.h5") else model.save(path)
    raw = bytearray(path.read_bytes())
    if damage == "zeroed":  # 64 zero bytes inside the weights: h5py would not notice
        raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)
    path.write_bytes(
        {
            "zeroed": bytes(raw),
            "truncated": bytes(raw[:1000]),
            "empty": b"",
            "text": b"not a checkpoint\n",
        }[damage]
    )
    with pytest.raises(
        checkpoint.CheckpointError, match=name.replace(".", r"\.") + " is corrupt"
    ):
        tiny("gan").load(path)
    (tmp_path / (name + ".json")).unlink()
    if damage != "zeroed":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(
                checkpoint.CheckpointError,
                match=name.replace(".", r"\.") + " could not be loaded",
            ):
                tiny("gan").load(path)


def test_item5_same_shapes_other_hyperparameters_do_not_load(tmp_path):
    gpt = tiny("gpt", n_head=4)
    gpt.save_weights(tmp_path / "gpt.weights.h5")
    with pytest.raises(
        checkpoint.CheckpointError, match="n_head: 4 in the file, 2 in this model"
    ):
        tiny("gpt", n_head=2).load(tmp_path / "gpt.weights.h5")
    same = tiny("gpt", n_head=4, lr=1.0).load(tmp_path / "gpt.weights.h5")
    ids = np.arange(8)[None] % 11
    np.testing.assert_array_equal(same.logits(ids), gpt.logits(ids))
    record = json.loads((tmp_path / "gpt.weights.h5.json").read_text())
    assert record["framework"] == "keras" and record["config"]["n_head"] == 4
    assert "name" not in record["config"]


def test_item5_training_checkpoint_is_verified_on_resume(tmp_path, digits):
    set_seed(0)
    tiny("gan").fit(digits, epochs=1, batch_size=16, verbose=0, checkpoint_dir=tmp_path)
    record = json.loads((tmp_path / "last.weights.h5.json").read_text())
    assert record["kind"] == "training" and record["extra"]["epoch"] == 1
    assert (
        len(record["extra"]["seed_states"]) >= 1
        and "d_loss" in record["extra"]["history"]
    )
    with pytest.raises(
        checkpoint.CheckpointError, match="latent_dim: 8 in the file, 16 in this model"
    ):
        MODELS["gan"](latent_dim=16).fit(
            digits, epochs=2, batch_size=16, verbose=0, checkpoint_dir=tmp_path
        )
    raw = bytearray((tmp_path / "last.weights.h5").read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)
    (tmp_path / "last.weights.h5").write_bytes(bytes(raw))
    with pytest.raises(
        checkpoint.CheckpointError, match=r"last\.weights\.h5 is corrupt"
    ):
        tiny("gan").fit(
            digits, epochs=2, batch_size=16, verbose=0, checkpoint_dir=tmp_path
        )


def test_item5_same_config_as_the_pytorch_twin():
    torch_models = pytest.importorskip("aigc_course.torch").MODELS
    for key in list(TINY) + ["gpt", "char_rnn"]:
        args = (11,) if key in ("gpt", "char_rnn") else ()
        k = MODELS[key](*args, **TINY.get(key, {}))
        t = torch_models[key](*args, **TINY.get(key, {}))
        assert checkpoint.clean_config(k.get_config()) == checkpoint.clean_config(
            t.get_config()
        ), key


# ---------------------------------------------------------------------------
# item 8: the small ones
# ---------------------------------------------------------------------------
def test_item8_validation_split_is_a_clear_value_error(digits):
    for kw in ({"validation_split": 0.2}, {"validation_data": (digits,)}):
        with pytest.raises(
            ValueError, match="validation_split / validation_data: not supported"
        ):
            tiny("vae").fit(digits, epochs=1, batch_size=16, verbose=0, **kw)
    with pytest.raises(ValueError, match="unexpected argument"):
        tiny("vae").fit(
            digits, epochs=1, batch_size=16, verbose=0, class_weight={0: 1.0}
        )


def test_item8_bad_seed_and_temperature_are_value_errors(digits):
    with pytest.raises(ValueError, match="seed"):
        tiny("gan").sample(2, seed="a")
    with pytest.raises(ValueError, match="seed"):
        tiny("ddpm").sample(1, seed=-3)
    with pytest.raises(ValueError, match="seed"):
        tiny("gan").fit(digits, epochs=1, batch_size=16, verbose=0, seed="a")
    gpt = tiny("gpt")
    with pytest.raises(ValueError, match="temperature"):
        gpt.generate([1, 2], 3, temperature="1")
    with pytest.raises(ValueError, match="seed"):
        gpt.generate([1, 2], 3, seed="a")


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: MODELS["cgan"](num_classes=0), "num_classes"),
        (lambda: MODELS["gpt"](11, n_layer=-1), "n_layer"),
        (lambda: MODELS["gan"](lr=-1.0), "lr"),
        (lambda: MODELS["wgan_gp"](beta_2=1.5), "beta_2"),
        (lambda: MODELS["vae"](hidden=(0, 8)), "hidden"),
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
    model.fit(digits, epochs=2, batch_size=16, verbose=2, checkpoint_dir=tmp_path)
    for opt in (model.g_optimizer, model.d_optimizer):
        assert float(keras.ops.convert_to_numpy(opt.learning_rate)) == pytest.approx(
            1e-5
        )
    out = capsys.readouterr().out
    assert (
        "new training settings" in out
        and "lr: 0.0002 in the file, 1e-05 in this model" in out
    )


def test_item8_checkpoint_dir_that_is_a_file_fails_before_training(tmp_path, digits):
    (tmp_path / "ckpt").write_text("a file")
    model = tiny("gan")
    with pytest.raises(
        ValueError, match="checkpoint_dir: expected a folder, but .*ckpt is a file"
    ):
        model.fit(
            digits, epochs=1, batch_size=16, verbose=0, checkpoint_dir=tmp_path / "ckpt"
        )
    assert (
        not model.compiled
        or int(keras.ops.convert_to_numpy(model.g_optimizer.iterations)) == 0
    )
