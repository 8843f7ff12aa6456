"""Run folders with Keras's fit: a changed argument starts afresh, identical ones resume."""

import re

import pytest

from aigc_course import runs

pytestmark = pytest.mark.keras


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.delenv("AIGC_COURSE_FAST", raising=False)
    monkeypatch.delenv("AIGC_COURSE_RUNS", raising=False)
    monkeypatch.setattr(runs, "in_colab", lambda: False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_keras_changed_settings_start_afresh_identical_ones_resume(
    here, digits, capsys
):
    import numpy as np

    from aigc_course.keras import MODELS, set_seed

    def train(epochs, batch_size):
        set_seed(0)
        model = MODELS["gan"](latent_dim=8)
        folder = runs.run_dir(
            "gan_keras_test",
            model=model,
            data=digits,
            epochs=epochs,
            batch_size=batch_size,
        )
        model.fit(
            digits,
            epochs=epochs,
            batch_size=batch_size,
            checkpoint_dir=folder,
            verbose=2,
        )
        out = capsys.readouterr().out
        # Keras's line per epoch it runs
        trained = re.findall(r"^Epoch (\d+)/\d+", out, re.M)
        return folder, [int(e) for e in trained], model.get_weights(), out

    folder, trained, weights, out = train(epochs=2, batch_size=32)
    assert "new" in out and trained == [1, 2]

    # identical settings: resumes
    again, trained, weights2, out = train(epochs=2, batch_size=32)
    assert again == folder and "holds a checkpoint" in out
    assert trained == []  # nothing left to train ...
    # ... and run 1's weights
    assert all(np.array_equal(a, b) for a, b in zip(weights, weights2))

    other, trained, _, out = train(epochs=2, batch_size=16)  # one argument changed
    assert other != folder and "new" in out and trained == [1, 2]
    longer, trained, _, out = train(epochs=3, batch_size=32)
    assert longer not in (folder, other) and trained == [1, 2, 3]

    assert runs.settings_key(model=MODELS["gan"](latent_dim=8)) != runs.settings_key(
        model=MODELS["gan"](latent_dim=9)
    )
