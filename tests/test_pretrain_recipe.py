"""The checkpoint recipe (benchmarks/pretrain.py): chunked training resumes to the same
weights as an uninterrupted run, the card it publishes is complete and loads in the
lab-facing helpers (describe, history)."""

import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from aigc_course import pretrained

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def recipe_module():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(
        "pretrain_recipe", ROOT / "benchmarks" / "pretrain.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["pretrain_recipe"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def tiny(module, name="gpt", dataset="melodies", **kw):
    base = module.RECIPES[f"{name}-{dataset}"]
    small = dict(
        epochs=2,
        batch_size=64,
        stride=16,
        config=dict(block_size=64, n_layer=1, n_head=2, n_embd=16, lr=3e-3),
    )
    small.update(kw)
    return dataclasses.replace(base, **small)


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_every_recipe_names_a_model_of_the_zoo(recipe_module):
    from aigc_course.torch import MODELS

    for key, r in recipe_module.RECIPES.items():
        assert r.name in MODELS, key
        assert key == f"{r.name}-{r.dataset}"
        assert r.epochs >= 1 and r.batch_size >= 1
        if r.text:
            assert r.block > 0 and r.stride > 0


def test_chunked_run_resumes_to_the_uninterrupted_weights(
    recipe_module, tmp_path, monkeypatch
):
    recipe = tiny(recipe_module)
    monkeypatch.setattr(recipe_module, "RUNS", tmp_path / "a")
    full, progress, _, done = recipe_module.train(recipe, minutes=None)
    assert done and len(progress.epochs) == 2
    assert all("val_nats" in e and e["seconds"] > 0 for e in progress.epochs)

    monkeypatch.setattr(recipe_module, "RUNS", tmp_path / "b")
    _, first, _, done = recipe_module.train(
        dataclasses.replace(recipe, epochs=1), minutes=None
    )
    assert done and len(first.epochs) == 1  # "the session ended" after epoch 1
    # a new process resumes
    resumed, progress, _, done = recipe_module.train(recipe, minutes=None)
    assert done and [e["epoch"] for e in progress.epochs] == [1, 2]
    a, b = weights(full), weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_out_of_time_stops_and_says_so(recipe_module, tmp_path, monkeypatch):
    monkeypatch.setattr(recipe_module, "RUNS", tmp_path)
    _, progress, _, done = recipe_module.train(tiny(recipe_module), minutes=-1)
    assert not done and progress.epochs == []
    code = recipe_module.run("gpt-melodies", minutes=-1, folder=tmp_path / "pub")
    assert code == 3 and not (tmp_path / "pub" / "index.json").exists()


def test_published_card_is_complete_and_feeds_the_lab_helpers(
    recipe_module, tmp_path, monkeypatch
):
    monkeypatch.setattr(recipe_module, "RUNS", tmp_path / "runs")
    monkeypatch.setitem(recipe_module.RECIPES, "gpt-melodies", tiny(recipe_module))
    folder = tmp_path / "pub"
    assert recipe_module.run("gpt-melodies", minutes=None, folder=folder) == 0
    card = pretrained.card("gpt", "melodies", folder=folder)
    for field in pretrained.CARD_FIELDS + (
        "epochs",
        "history",
        "config",
        "sha256",
        "tokenizer",
    ):
        assert field in card, field
    assert card["smoke_test"] is False and card["epochs"] == 2
    m = card["metrics"]
    assert m["best_ngram"] in m["ngram_baselines"]
    assert np.isclose(
        m["beats_best_ngram_by"],
        m["ngram_baselines"][m["best_ngram"]] - m["val_nats_per_token"],
    )
    assert len(m["val_curve"]) == 2 and np.isclose(
        m["val_curve"][-1], m["val_nats_per_token"], atol=1e-3
    )
    curves = pretrained.history("gpt", "melodies", folder=folder)
    assert len(curves["loss"]) == 2 and len(curves["val_nats"]) == 2
    line = pretrained.describe("gpt", "melodies", folder=folder)
    assert (
        line.startswith("course checkpoint: 2 epochs on ")
        and "tokens" in line
        and "CPU" in line
    )
    model = pretrained.load("gpt", "melodies", folder=folder)
    assert model.count_params() == card["parameters"]
    assert "au_clair" in card["data"]["held_out"]


def test_training_summary_and_durations():
    assert (
        pretrained.training_summary(
            30, 5000, 840, "CPU (x, 2 logical cores, torch 2, 2 threads)"
        )
        == "30 epochs on 5,000 images, 14 min on a CPU (2 threads)"
    )
    assert (
        pretrained.training_summary(1, 60000, 20, "GPU (NVIDIA H200), torch 2")
        == "1 epoch on 60,000 images, 20 s on a NVIDIA H200 GPU"
    )
    assert pretrained.training_summary(6, 10, 7200, "CPU").endswith("2.0 h on a CPU")
    assert (
        pretrained.training_summary(3, 2048, 20.4, "cpu")
        == "3 epochs on 2,048 images, 20 s on a CPU"
    )
    assert pretrained.training_summary(3, 2048, 20.4, "cuda:0").endswith("on a GPU")


def test_a_validation_split_chooses_the_published_epoch(
    recipe_module, tmp_path, monkeypatch
):
    """VAE recipe with val_images: the model trains on the rest of the training images,
    records the validation -ELBO of every epoch and ends with the best epoch's weights."""
    base = recipe_module.RECIPES["vae-mnist"]
    assert base.val_images > 0
    recipe = dataclasses.replace(
        base, epochs=3, config=dict(latent_dim=2, hidden=(16, 8)), val_images=200
    )
    monkeypatch.setattr(recipe_module, "RUNS", tmp_path)
    model, progress, data, done = recipe_module.train(recipe, minutes=None)
    assert done
    scores = [e["val_neg_elbo"] for e in progress.epochs]
    assert len(scores) == 3 and all(np.isfinite(scores))
    assert data["selected_epoch"] == int(np.argmin(scores)) + 1
    assert (
        data["info"]["n_examples"]
        == recipe_module.image_data("mnist")[2]["n_examples"] - 200
    )
    assert "held out to choose the epoch" in data["info"]["validation"]
    # the returned model holds the best epoch's weights, not the last epoch's
    from aigc_course.torch import MODELS

    best = MODELS["vae"](latent_dim=2, hidden=(16, 8)).load(
        tmp_path / recipe.key / "best.pt"
    )
    for k, v in best.state_dict().items():
        assert torch.equal(v, model.state_dict()[k]), k
    # published: the card says which epoch, and the lab's one-line description too
    small = dataclasses.replace(recipe, n_test=20, iwae_k=20, n_samples=200)
    monkeypatch.setitem(recipe_module.RECIPES, "vae-mnist", small)
    assert recipe_module.run("vae-mnist", None, folder=tmp_path / "published") == 0
    card = pretrained.card("vae", "mnist", folder=tmp_path / "published")
    assert (
        card["selected_epoch"] == data["selected_epoch"]
        and card["final_train_loss"] is not None
    )
    assert f"the weights of epoch {data['selected_epoch']}" in pretrained.describe(
        "vae", "mnist", folder=tmp_path / "published"
    )


def test_pixelcnn_recipe_trains_dynamically_and_chooses_on_the_exact_nll(
    recipe_module, tmp_path, monkeypatch
):
    """The PixelCNN recipe trains on fresh Bernoulli draws (the protocol it is scored
    with) and chooses its epoch on the exact NLL of held-out training images."""
    base = recipe_module.RECIPES["pixelcnn-mnist"]
    assert base.val_images > 0 and base.config["binarization"] == "dynamic"
    recipe = dataclasses.replace(
        base, epochs=2, config=dict(base.config, hidden=8, n_layers=1)
    )
    monkeypatch.setattr(recipe_module, "RUNS", tmp_path)
    model, progress, data, done = recipe_module.train(recipe, minutes=None)
    assert done and model.binarization == "dynamic"
    scores = [e["val_nll"] for e in progress.epochs]
    assert len(scores) == 2 and all(0 < s < 784 * np.log(2) for s in scores)
    assert data["selected_epoch"] == int(np.argmin(scores)) + 1
    assert "lowest validation exact NLL" in data["info"]["validation"]


def test_gan_recipe_chooses_its_epoch_on_the_fd_of_held_out_images(
    recipe_module, tmp_path, monkeypatch
):
    """The CGAN recipe holds out training images (grey levels, not binarized) and
    publishes the epoch whose samples have the lowest classifier FD against them."""
    base = recipe_module.RECIPES["cgan-mnist"]
    assert base.val_images > 0 and recipe_module.validation_key("cgan") == "val_fd"
    recipe = dataclasses.replace(base, epochs=2)
    monkeypatch.setattr(recipe_module, "RUNS", tmp_path)
    monkeypatch.setattr(recipe_module, "VAL_SAMPLES", 200)
    model, progress, data, done = recipe_module.train(recipe, minutes=None)
    assert done
    scores = [e["val_fd"] for e in progress.epochs]
    assert len(scores) == 2 and all(0 < s < 1e4 for s in scores)
    assert data["selected_epoch"] == int(np.argmin(scores)) + 1
    assert "classifier FD" in data["info"]["validation"]
    # the score follows the samples: an untrained generator is much farther from the
    # held-out images than one trained for two epochs
    held = recipe_module.image_data("mnist")[0][0][:200]
    untrained = recipe_module.build(recipe)
    far = recipe_module.validation_score(recipe, untrained, held)[1]
    assert far > 2 * min(scores)
