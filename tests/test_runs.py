"""Run folders: keyed by the settings; Google Drive on Colab; resume with PyTorch's trainer."""

import json
import sys
import types

import numpy as np
import pytest

from aigc_course import runs


@pytest.fixture
def here(tmp_path, monkeypatch):
    """Full mode, not on Colab, no AIGC_COURSE_RUNS, working directory tmp_path."""
    monkeypatch.delenv("AIGC_COURSE_FAST", raising=False)
    monkeypatch.delenv("AIGC_COURSE_RUNS", raising=False)
    monkeypatch.setattr(runs, "in_colab", lambda: False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_identical_settings_give_the_same_folder_and_any_change_a_new_one(here):
    data = np.arange(12, dtype=np.uint8).reshape(3, 4)
    base = dict(data=data, epochs=3, batch_size=64, lr=2e-4, seed=0)
    first = runs.run_dir("lab", **base)
    assert (
        first.parent == here / "runs"
        and first.name.startswith("lab-")
        and first.is_dir()
    )
    # order is irrelevant
    assert runs.run_dir("lab", **dict(reversed(list(base.items())))) == first
    assert runs.run_dir("lab", **{**base, "data": data.copy()}) == first  # same content
    changed = [
        {"epochs": 4},
        {"batch_size": 32},
        {"lr": 1e-4},
        {"seed": 1},
        {"data": data[::-1]},
        {"data": data.astype(np.int16)},
        {"extra": None},
    ]
    folders = {runs.run_dir("lab", **{**base, **c}) for c in changed}
    assert len(folders) == len(changed) and first not in folders
    assert runs.run_dir("other_lab", **base).name != first.name


def test_settings_json_records_the_settings(here):
    folder = runs.run_dir("lab", epochs=np.int64(3), lr=np.float32(0.5), shape=(28, 28))
    saved = json.loads((folder / "settings.json").read_text())
    assert saved == {"epochs": 3, "lr": 0.5, "shape": [28, 28]}
    # NumPy scalars and tuples stand for the same settings as Python ints, floats and lists
    assert runs.settings_key(
        epochs=np.int64(3), lr=np.float32(0.5), shape=(28, 28)
    ) == runs.settings_key(epochs=3, lr=0.5, shape=[28, 28])
    assert runs.settings_key(epochs=3) == runs.settings_key(epochs=3)
    assert len(runs.settings_key(epochs=3)) == runs.HASH_CHARS


def test_the_key_is_stable_across_versions():
    """A changed canonical form would orphan every student's checkpoints: pin it."""
    assert (
        runs.canonical_settings(b=[1, 2.5, "x"], a={"z": None, "y": True})
        == '{"a":{"y":true,"z":null},"b":[1,2.5,"x"]}'
    )
    assert (
        runs.settings_key(epochs=30, batch_size=128, seed=0) == "81159e4cf7"
    )  # sha256 of {"batch_size":128,"epochs":30,"seed":0}


def test_bad_names_and_settings_raise_value_error(here):
    for name in ("", "../up", "a/b", None, ".hidden"):
        with pytest.raises(ValueError, match="name: expected"):
            runs.run_dir(name, epochs=1)
    with pytest.raises(ValueError, match="at least one setting"):
        runs.run_dir("lab")
    with pytest.raises(ValueError, match="callback: expected a number"):
        runs.run_dir("lab", callback=print)
    with pytest.raises(ValueError, match="lr: expected a finite number"):
        runs.run_dir("lab", lr=float("nan"))
    with pytest.raises(ValueError, match="string keys"):
        runs.run_dir("lab", table={1: 2})


def test_the_printout_names_the_folder_but_no_path(here, capsys):
    folder = runs.run_dir("lab", epochs=1)
    out = capsys.readouterr().out
    assert folder.name in out and "new" in out and str(here) not in out
    (folder / "last.pt").write_bytes(b"checkpoint")
    runs.run_dir("lab", epochs=1)
    assert "holds a checkpoint" in capsys.readouterr().out


def test_env_var_root_and_fast_mode(here, monkeypatch, capsys):
    monkeypatch.setenv("AIGC_COURSE_RUNS", str(here / "elsewhere"))
    assert runs.run_dir("lab", epochs=1).parent == here / "elsewhere"
    assert runs.run_dir("lab", root=here / "given", epochs=1).parent == here / "given"
    # fast mode: a fresh temporary folder each time
    monkeypatch.setenv("AIGC_COURSE_FAST", "1")
    a, b = runs.run_dir("lab", epochs=1), runs.run_dir("lab", epochs=1)
    assert a != b and a.name == b.name and here not in a.parents
    assert "temporary folder" in capsys.readouterr().out


def _fake_colab(monkeypatch, drive_root, mount):
    """google.colab.drive with a mount function of our own; Drive lives under drive_root."""
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mount)
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(runs, "in_colab", lambda: True)
    monkeypatch.setattr(runs, "COLAB_DRIVE", drive_root)


def test_on_colab_runs_go_to_google_drive_mounted_once(here, monkeypatch, capsys):
    drive_root, calls = here / "content" / "drive", []

    def mount(mountpoint):
        calls.append(mountpoint)
        (drive_root / "MyDrive").mkdir(parents=True)

    _fake_colab(monkeypatch, drive_root, mount)
    first = runs.run_dir("gan_pytorch", epochs=30)
    assert first.parent == drive_root / "MyDrive" / "aigc_course" / "runs"
    assert calls == [str(drive_root)]
    assert "Google Drive: MyDrive/aigc_course/runs" in capsys.readouterr().out
    # mounted already
    assert runs.run_dir("gan_pytorch", epochs=30) == first and len(calls) == 1


def test_on_colab_a_failed_mount_falls_back_to_local_disk_and_says_so(
    here, monkeypatch, capsys
):
    def mount(mountpoint):
        raise TimeoutError("the user did not answer")

    _fake_colab(monkeypatch, here / "content" / "drive", mount)
    folder = runs.run_dir("lab", epochs=1)
    assert folder.parent == here / "runs"
    out = capsys.readouterr().out
    assert "could not be mounted" in out and "lost when the runtime" in out
    assert runs.run_dir("lab", mount_drive=False, epochs=1) == folder


# ---------------------------------------------------------------------------
# with the PyTorch trainer: a changed argument starts afresh, identical ones resume
# ---------------------------------------------------------------------------
def test_pytorch_changed_settings_start_afresh_identical_ones_resume(
    here, digits, capsys
):
    torch = pytest.importorskip("torch")
    from aigc_course.torch import MODELS, set_seed

    def train(epochs, batch_size):
        set_seed(0)
        model = MODELS["gan"](latent_dim=8)
        folder = runs.run_dir(
            "gan_test",
            model=model,
            data=digits,
            epochs=epochs,
            batch_size=batch_size,
            seed=0,
        )
        history = model.fit(
            digits,
            epochs=epochs,
            batch_size=batch_size,
            checkpoint_dir=folder,
            seed=0,
            verbose=2,
            device="cpu",
        )
        model.weights_after = {k: v.clone() for k, v in model.state_dict().items()}
        return folder, history, capsys.readouterr().out, model

    folder, history, out, first = train(epochs=2, batch_size=32)
    assert (
        "new" in out
        and "epoch 1/2" in out
        and "epoch 2/2" in out
        and len(history.history["d_loss"]) == 2
    )

    # identical settings: resumes
    again, history2, out, second = train(epochs=2, batch_size=32)
    assert again == folder and "holds a checkpoint" in out and "Resumed" in out
    assert "epoch 1/2" not in out and "epoch 2/2" not in out  # nothing left to train
    assert history2.history == history.history  # the saved history comes back
    assert all(
        torch.equal(v, second.weights_after[k]) for k, v in first.weights_after.items()
    )

    # one argument changed: a new run
    other, history3, out, _ = train(epochs=2, batch_size=16)
    assert (
        other != folder and "new" in out and "Resumed" not in out and "epoch 1/2" in out
    )
    longer, _, out, _ = train(epochs=3, batch_size=32)  # more epochs: a new run too
    assert longer not in (folder, other) and "epoch 1/3" in out

    # the model's own configuration is part of the key
    assert runs.settings_key(model=MODELS["gan"](latent_dim=8)) != runs.settings_key(
        model=MODELS["gan"](latent_dim=9)
    )
    assert runs.settings_key(model=MODELS["gan"](latent_dim=8)) == runs.settings_key(
        model=MODELS["gan"](latent_dim=8)
    )
