"""Issue 12, item 4: mixed precision chosen per GPU, losses read back once per window.

* :func:`aigc_course.training.amp_dtype`: float16 (with a loss scaler) below compute
  capability 8.0 (a T4), bfloat16 from 8.0 on, float32 on a CPU unless asked;
* the PyTorch trainer: that choice, its GradScaler (saved in checkpoints), and the
  losses kept on the device, read back every ``log_every`` steps;
* the Keras trainer: the matching dtype policy and LossScaleOptimizer (tests marked keras);
* on a CUDA GPU (marked cuda, skipped without one): one epoch of a small GAN in each mode.
"""

import numpy as np
import pytest

from aigc_course.training import AMP_CHOICES, amp_dtype

CAPS = [
    None,
    (3, 7),
    (5, 0),
    (6, 0),
    (7, 0),
    (7, 5),
    (8, 0),
    (8, 6),
    (8, 9),
    (9, 0),
    (10, 0),
    (12, 0),
]


# ---------------------------------------------------------------------------
# the selection, framework-neutral
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("cap", CAPS)
@pytest.mark.parametrize(
    "requested", ["auto", True, "float16", "bfloat16", "float32", False, None]
)
def test_amp_dtype_table(cap, requested):
    if requested in ("auto", True):
        expected = None if cap is None else ("bfloat16" if cap >= (8, 0) else "float16")
    elif requested == "float16":
        if cap is None:
            with pytest.raises(ValueError, match="needs a CUDA GPU"):
                amp_dtype(cap, requested)
            return
        expected = "float16"
    elif requested == "bfloat16":
        expected = "bfloat16"
    else:
        expected = None
    assert amp_dtype(cap, requested) == expected


def test_amp_dtype_the_issue_cases():
    assert amp_dtype((7, 5)) == "float16"  # T4
    assert amp_dtype((8, 0)) == "bfloat16"  # A100
    assert amp_dtype(None) is None  # CPU: float32, results unchanged
    assert amp_dtype([7, 5]) == "float16"  # a list, as TensorFlow reports it
    assert set(AMP_CHOICES) == {"auto", "float16", "bfloat16", "float32"}


@pytest.mark.parametrize("bad", ["fp16", "bf16", "AUTO", "", 16, 1.0, object()])
def test_amp_dtype_rejects_bad_requests(bad):
    with pytest.raises(ValueError, match="mixed precision"):
        amp_dtype((8, 0), bad)


@pytest.mark.parametrize("bad", [(8,), "80", 8])
def test_amp_dtype_rejects_bad_capabilities(bad):
    with pytest.raises(ValueError, match="capability"):
        amp_dtype(bad)


# ---------------------------------------------------------------------------
# the PyTorch trainer
# ---------------------------------------------------------------------------


def _torch():
    return pytest.importorskip("torch")


def tiny_gan():
    from aigc_course.torch import MODELS

    return MODELS["gan"](latent_dim=8)


@pytest.mark.parametrize(
    "cap, dtype, scaled",
    [
        ((7, 5), "float16", True),
        ((7, 0), "float16", True),
        ((8, 0), "bfloat16", False),
        ((9, 0), "bfloat16", False),
    ],
)
def test_torch_trainer_picks_fp16_with_scaler_below_8_and_bf16_from_8(
    monkeypatch, cap, dtype, scaled
):
    torch = _torch()
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: cap)
    model = tiny_gan()
    # "CUDA is not available" from GradScaler
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        model._set_precision("auto", torch.device("cuda"))
    assert model.amp_dtype == dtype and model.use_amp
    assert (
        isinstance(model.scaler, torch.amp.GradScaler)
        if scaled
        else model.scaler is None
    )
    model._set_precision(False, torch.device("cuda"))
    assert model.amp_dtype is None and model.scaler is None


def test_torch_trainer_on_cpu_stays_float32(digits):
    torch = _torch()
    model = tiny_gan()
    for amp in (False, True, "auto", "float32"):
        model._set_precision(amp, torch.device("cpu"))
        assert model.amp_dtype is None and model.scaler is None and not model.use_amp
    with pytest.raises(ValueError, match="mixed precision"):
        model.fit(digits, epochs=1, batch_size=16, verbose=0, amp="fp16")
    with pytest.raises(ValueError, match="log_every"):
        model.fit(digits, epochs=1, batch_size=16, verbose=0, log_every=0)


def _fit_gan(digits, **kw):
    torch = _torch()
    from aigc_course.torch import set_seed

    set_seed(0)
    model = tiny_gan()
    hist = model.fit(digits, batch_size=8, verbose=0, **{"epochs": 2, **kw})
    return model, hist, torch


def test_torch_read_back_window_does_not_change_results(digits):
    a, ha, torch = _fit_gan(digits, log_every=1)
    b, hb, _ = _fit_gan(digits, log_every=50)
    c, hc, _ = _fit_gan(digits, log_every=3)
    assert ha.history == hb.history == hc.history
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]) and torch.equal(
            v, c.state_dict()[k]
        ), k


def test_torch_losses_are_read_back_once_per_window_not_per_step(digits, monkeypatch):
    torch = _torch()
    from aigc_course.torch import core

    reads, syncs = [], []
    real_read_back = core._read_back
    monkeypatch.setattr(
        core,
        "_read_back",
        lambda window: reads.append(len(window)) or real_read_back(window),
    )
    model = tiny_gan()
    step, inside = model.train_step, []

    # the trainer's own read-backs are those outside train_step
    def flagged_step(*batch):
        inside.append(1)  # (Adam reads its CPU step counter with .item() inside it)
        try:
            return step(*batch)
        finally:
            inside.pop()

    monkeypatch.setattr(model, "train_step", flagged_step)
    for name in ("item", "__float__", "tolist"):
        real = getattr(torch.Tensor, name)

        def counted(self, *a, _real=real, _name=name, **kw):
            if not inside:
                syncs.append(_name)
            return _real(self, *a, **kw)

        monkeypatch.setattr(torch.Tensor, name, counted)
    # 64 images, batch 4: 16 steps per epoch; read back after steps 5, 10, 15 and 16
    model.fit(digits, epochs=2, batch_size=4, verbose=0, log_every=5)
    assert reads == [5, 5, 5, 1] * 2
    assert syncs.count("item") + syncs.count("__float__") == 0
    # one transfer per read-back, none per step
    assert syncs.count("tolist") == len(reads)
    reads.clear()
    model2 = tiny_gan()
    # default log_every=50 > 16 steps
    model2.fit(digits, epochs=1, batch_size=4, verbose=0)
    assert reads == [16]


def test_torch_nan_inside_a_window_names_the_exact_step(digits, monkeypatch):
    torch = _torch()
    from aigc_course.training import TrainingDivergedError

    model = tiny_gan()
    step, calls = model.train_step, []

    def nan_at_step_3(*batch):
        out = step(*batch)
        calls.append(1)
        if len(calls) == 3:
            out["g_loss"] = torch.tensor(float("nan"))
        return out

    monkeypatch.setattr(model, "train_step", nan_at_step_3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(
        TrainingDivergedError, match=r"epoch 1/1, step 3/8 \(g_loss = nan\)"
    ) as err:
        model.fit(digits, epochs=1, batch_size=8, verbose=0, log_every=50)
    assert err.value.step == 3
    # put back, though later steps of the window ran
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def _cpu_float16(monkeypatch, init_scale=None):
    """A CPU stand-in for a T4: amp 'float16' with a GradScaler('cpu')."""
    torch = _torch()
    from aigc_course.torch import core

    monkeypatch.setattr(
        core, "amp_dtype", lambda cap, requested: "float16" if requested else None
    )
    if init_scale is not None:
        real = torch.amp.GradScaler
        monkeypatch.setattr(
            torch.amp,
            "GradScaler",
            lambda device="cuda", **kw: real(device, init_scale=init_scale, **kw),
        )
    return torch


def test_torch_float16_scaler_path_trains_and_resumes_exactly(
    digits, monkeypatch, tmp_path
):
    torch = _cpu_float16(monkeypatch)
    whole, hw, _ = _fit_gan(digits, amp=True, epochs=2)
    assert isinstance(whole.scaler, torch.amp.GradScaler) and whole.scaler.is_enabled()
    assert all(np.isfinite(v).all() for v in hw.history.values())
    _fit_gan(digits, amp=True, epochs=1, checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert state["scaler"]["scale"] > 0
    resumed, hr, _ = _fit_gan(digits, amp=True, epochs=2, checkpoint_dir=tmp_path)
    assert hr.history == hw.history
    assert resumed.scaler.get_scale() == whole.scaler.get_scale()
    for k, v in whole.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


def test_torch_steps_skipped_by_the_scaler_are_not_a_divergence(digits, monkeypatch):
    # a loss scale of 2**40 overflows float16 gradients: the scaler skips those steps and
    # halves the scale; the losses stay finite, so the guard must not stop training
    torch = _cpu_float16(monkeypatch, init_scale=2.0**40)
    from aigc_course.torch import set_seed

    set_seed(0)
    model = tiny_gan()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hist = model.fit(digits, epochs=1, batch_size=8, verbose=0, amp=True)
    assert all(np.isfinite(v).all() for v in hist.history.values())
    assert model.scaler.get_scale() < 2.0**40  # some steps were skipped ...
    # ... not all
    assert any(not torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_torch_clipping_hook_sees_unscaled_gradients(digits, monkeypatch):
    _cpu_float16(monkeypatch, init_scale=2.0**10)
    from aigc_course.torch import set_seed
    from aigc_course.torch.clipping import GradientClipper

    set_seed(0)
    plain = tiny_gan()
    plain.optimizers = plain.configure_optimizers()
    clip = GradientClipper(plain.optimizers["d"])
    plain.fit(digits, epochs=1, batch_size=8, verbose=0, amp=True)
    # unscaled: norms of order 1, not 1024 times that
    assert clip.before and max(clip.before) < 100


@pytest.mark.cuda
@pytest.mark.parametrize(
    "amp, dtype", [("float16", "float16"), ("bfloat16", "bfloat16"), ("auto", None)]
)
def test_cuda_one_epoch_of_a_small_gan(digits, amp, dtype):
    torch = _torch()
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from aigc_course.torch import MODELS, set_seed

    expected = dtype or amp_dtype(torch.cuda.get_device_capability(), "auto")
    for key, kw in (
        ("gan", {"latent_dim": 8}),
        ("wgan_gp", {"latent_dim": 8, "channels": 8, "n_critic": 2}),
    ):
        set_seed(0)
        model = MODELS[key](**kw)
        hist = model.fit(
            digits, epochs=1, batch_size=16, verbose=0, amp=amp, device="cuda"
        )
        assert model.amp_dtype == expected
        assert (model.scaler is not None) == (expected == "float16")
        assert all(np.isfinite(v).all() for v in hist.history.values())
        assert np.isfinite(model.sample(4, seed=0)).all()


# ---------------------------------------------------------------------------
# the Keras trainer (run once per backend: -m keras)
# ---------------------------------------------------------------------------
@pytest.mark.keras
@pytest.mark.parametrize(
    "cap, policy, scaled",
    [
        (None, "float32", False),
        ((7, 5), "mixed_float16", True),
        ((8, 0), "mixed_bfloat16", False),
    ],
)
def test_keras_policy_follows_the_capability(digits, monkeypatch, cap, policy, scaled):
    keras = pytest.importorskip("keras")
    from aigc_course.keras import MODELS, core, set_seed

    monkeypatch.setattr(core, "_gpu_capability", lambda: cap)
    set_seed(0)
    model = MODELS["gan"](latent_dim=8)
    hist = model.fit(digits, epochs=1, batch_size=16, verbose=0, mixed_precision="auto")
    names = {
        layer.dtype_policy.name for layer in model._flatten_layers(include_self=True)
    }
    assert names == {policy}
    assert all(w.dtype == "float32" for w in model.weights)  # weights stay float32
    opts = model._optimizers()
    assert opts and all(
        isinstance(o, keras.optimizers.LossScaleOptimizer) == scaled
        for o in opts.values()
    )
    assert all(np.isfinite(v).all() for v in hist.history.values())


@pytest.mark.keras
def test_keras_default_is_float32_and_bad_requests_fail(digits):
    pytest.importorskip("keras")
    from aigc_course.keras import MODELS

    model = MODELS["gan"](latent_dim=8)
    model.fit(digits, epochs=1, batch_size=16, verbose=0)
    assert {layer.dtype_policy.name for layer in model._flatten_layers()} == {"float32"}
    with pytest.raises(ValueError, match="mixed precision"):
        model.fit(digits, epochs=1, batch_size=16, verbose=0, mixed_precision="fp16")
