"""GenerativeModel.evaluating (PyTorch): eval mode for the body, the previous mode back after it.

Every inference method of the zoo (sample, generate, logits, encode, elbo, ...) runs
under ``with self.evaluating():``; Keras passes ``training=False`` per call instead.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from aigc_course.torch import MODELS

TINY = {
    "gan": {"latent_dim": 8},
    "dcgan": {"latent_dim": 8, "channels": 8},
    "cgan": {"latent_dim": 8},
    "wgan_gp": {"latent_dim": 8, "channels": 8},
    "vae": {"latent_dim": 4},
    "conv_vae": {"latent_dim": 4, "channels": (8, 8)},
    "cvae": {"latent_dim": 4},
    "pixelcnn": {"hidden": 8, "n_layers": 1},
    "ddpm": {"timesteps": 10, "channels": (8, 8)},
    "char_rnn": {"vocab_size": 5, "embed_dim": 4, "hidden_size": 8, "num_layers": 1},
    "gpt": {"vocab_size": 5, "block_size": 8, "n_layer": 1, "n_head": 2, "n_embd": 8},
}

IMAGES = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28)).astype(np.uint8)
LABELS = np.array([0, 1, 2])
PROMPT = np.array([[1, 2, 3]])

# one call of every inference method that runs under evaluating()
CALLS = {
    "gan": [lambda m: m.sample(2, seed=0)],
    "dcgan": [lambda m: m.sample(2, seed=0)],
    "cgan": [lambda m: m.sample(2, seed=0)],
    "wgan_gp": [lambda m: m.sample(2, seed=0)],
    "vae": [
        lambda m: m.encode(IMAGES),
        lambda m: m.sample(2, seed=0),
        lambda m: m.elbo(IMAGES, seed=0),
    ],
    "conv_vae": [
        lambda m: m.encode(IMAGES),
        lambda m: m.iwae_bound(IMAGES, k=2, seed=0),
    ],
    "cvae": [
        lambda m: m.encode(IMAGES, LABELS),
        lambda m: m.sample(2, seed=0),
        lambda m: m.elbo(IMAGES, LABELS, seed=0),
    ],
    "pixelcnn": [lambda m: m.logits(IMAGES), lambda m: m.nll(IMAGES)],
    "ddpm": [
        lambda m: m.predict_noise(np.zeros((2, 28, 28), np.float32), 3),
        lambda m: m.sample(2, seed=0),
    ],
    "char_rnn": [lambda m: m.generate(PROMPT, 3, seed=0), lambda m: m.logits(PROMPT)],
    "gpt": [lambda m: m.generate(PROMPT, 3, seed=0), lambda m: m.logits(PROMPT)],
}


def modes(model):
    return {name: m.training for name, m in model.named_modules()}


@pytest.mark.parametrize("training", [True, False])
def test_evaluating_restores_the_mode_even_when_the_body_raises(training):
    model = MODELS["dcgan"](**TINY["dcgan"])
    model.train(training)
    before = modes(model)
    with pytest.raises(RuntimeError, match="inside"):
        with model.evaluating() as same:
            assert same is model
            # batch norm uses its running statistics
            assert not any(modes(model).values())
            raise RuntimeError("an error inside the body")
    assert modes(model) == before and model.training is training
    with model.evaluating():
        assert not model.training
    assert modes(model) == before


def test_a_method_that_raises_inside_evaluating_leaves_the_training_mode_alone():
    gpt = MODELS["gpt"](**TINY["gpt"])
    gpt.train()
    # raised by the sampler, in eval mode
    with pytest.raises(ValueError, match="max_new_tokens"):
        gpt.generate(PROMPT, -1)
    assert gpt.training and all(modes(gpt).values())


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("training", [True, False])
def test_inference_methods_leave_the_mode_as_it_was(name, training):
    assert set(CALLS) == set(MODELS)  # every model of the zoo is covered
    torch.manual_seed(0)
    model = MODELS[name](**TINY[name])
    model.train(training)
    original = model.eval
    for call in CALLS[name]:
        seen = []

        def recording_eval(seen=seen):
            seen.append(model.training)
            return original()

        model.eval = recording_eval
        try:
            call(model)
        finally:
            del model.eval
        assert seen, "the call did not go through evaluating()"
        assert model.training is training
