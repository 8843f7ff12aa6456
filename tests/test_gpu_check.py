"""check_gpu(): full mode without a GPU switches to fast mode (unless asked for on purpose)."""

import os
import sys
import types

import pytest

from aigc_course import config


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.delenv("AIGC_COURSE_FAST", raising=False)
    monkeypatch.setattr(config, "_switched_to_fast", False)
    monkeypatch.setattr(config, "in_colab", lambda: False)


def _no_paths(text):
    assert os.sep + "home" not in text and "/usr/" not in text and "/tmp" not in text


def test_no_gpu_in_default_full_mode_switches_to_fast_mode(fresh, monkeypatch, capsys):
    monkeypatch.setattr(config, "has_gpu", lambda: False)
    assert not config.is_fast()
    assert config.check_gpu() is False
    out = capsys.readouterr().out
    assert config.is_fast() and os.environ["AIGC_COURSE_FAST"] == "1"
    assert "No GPU found" in out and "switched to fast mode" in out
    assert "AIGC_COURSE_FAST=0" in out and "Change runtime type" in out
    _no_paths(out)
    assert config.check_gpu() is False  # running the cell again repeats the notice
    assert "switched to fast mode" in capsys.readouterr().out


def test_full_mode_asked_for_on_purpose_stays_with_a_warning(
    fresh, monkeypatch, capsys
):
    monkeypatch.setattr(config, "has_gpu", lambda: False)
    monkeypatch.setenv("AIGC_COURSE_FAST", "0")
    config.check_gpu()
    out = capsys.readouterr().out
    assert not config.is_fast() and "take hours" in out and "AIGC_COURSE_FAST=1" in out


def test_after_a_switch_an_explicit_zero_is_respected(fresh, monkeypatch, capsys):
    monkeypatch.setattr(config, "has_gpu", lambda: False)
    config.check_gpu()
    os.environ["AIGC_COURSE_FAST"] = "0"  # the student asks for the full CPU run
    config.check_gpu()
    assert not config.is_fast() and "take hours" in capsys.readouterr().out


def test_with_a_gpu_or_in_fast_mode_nothing_is_said(fresh, monkeypatch, capsys):
    monkeypatch.setattr(config, "has_gpu", lambda: True)
    assert config.check_gpu() is True and not config.is_fast()
    monkeypatch.setattr(config, "has_gpu", lambda: False)
    monkeypatch.setenv("AIGC_COURSE_FAST", "1")
    assert config.check_gpu() is False and config.is_fast()
    assert capsys.readouterr().out == ""


def test_a_lab_with_published_weights_offers_them(fresh, monkeypatch, capsys):
    monkeypatch.setattr(config, "has_gpu", lambda: False)
    config.check_gpu()
    assert "AIGC_COURSE_PRETRAINED" not in capsys.readouterr().out
    config.check_gpu(pretrained=True)
    assert "AIGC_COURSE_PRETRAINED=1" in capsys.readouterr().out


def test_on_colab_the_notice_says_so(fresh, monkeypatch, capsys):
    monkeypatch.setattr(config, "has_gpu", lambda: False)
    monkeypatch.setattr(config, "in_colab", lambda: True)
    config.check_gpu()
    assert "No GPU found on this Colab runtime" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# has_gpu asks the framework already imported, and imports none itself
# ---------------------------------------------------------------------------
def _fake_torch(cuda):
    return types.SimpleNamespace(
        cuda=types.SimpleNamespace(is_available=lambda: cuda),
        backends=types.SimpleNamespace(
            mps=types.SimpleNamespace(is_available=lambda: False)
        ),
    )


def _fake_tf(gpus):
    return types.SimpleNamespace(
        config=types.SimpleNamespace(
            list_physical_devices=lambda kind: (
                ["/physical_device:GPU:0"] * gpus if kind == "GPU" else []
            )
        )
    )


def _fake_keras(backend):
    return types.SimpleNamespace(backend=types.SimpleNamespace(backend=lambda: backend))


@pytest.fixture
def no_frameworks(monkeypatch):
    for name in ("keras", "torch", "tensorflow", "jax"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr("shutil.which", lambda name: None)


def test_has_gpu_asks_the_imported_framework(no_frameworks, monkeypatch):
    assert config.has_gpu() is False  # nothing imported, no nvidia-smi
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(True))
    assert config.has_gpu() is True
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(False))
    assert config.has_gpu() is False
    # Keras decides by its backend: TensorFlow here, even with a torch module around
    monkeypatch.setitem(sys.modules, "keras", _fake_keras("tensorflow"))
    monkeypatch.setitem(sys.modules, "tensorflow", _fake_tf(1))
    assert config.has_gpu() is True
    monkeypatch.setitem(sys.modules, "tensorflow", _fake_tf(0))
    assert config.has_gpu() is False
    assert "jax" not in sys.modules  # nothing was imported on the way


def test_has_gpu_falls_back_to_nvidia_smi(no_frameworks, monkeypatch):
    import subprocess

    monkeypatch.setattr("shutil.which", lambda name: "nvidia-smi")
    answers = {"rc": 0, "out": "GPU 0: Tesla T4 (UUID: GPU-1)\n"}
    monkeypatch.setattr(
        subprocess,
        "run",
        lambda *a, **k: types.SimpleNamespace(
            returncode=answers["rc"], stdout=answers["out"]
        ),
    )
    assert config.has_gpu() is True
    answers.update(rc=9, out="NVIDIA-SMI has failed")
    assert config.has_gpu() is False


def test_has_gpu_on_this_machine_runs():
    assert isinstance(config.has_gpu(), bool)
