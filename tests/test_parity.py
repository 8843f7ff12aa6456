"""The two halves of the zoo mirror each other: same keys, arguments, defaults, parameter counts.

Marked `keras`, so it runs in both Keras processes (TensorFlow and PyTorch backends);
it imports PyTorch too, which a test may do (a notebook never loads both).
"""

import inspect

import numpy as np
import pytest

pytestmark = pytest.mark.keras
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from aigc_course import keras as K
from aigc_course import torch as T

REQUIRED = {
    "gan",
    "dcgan",
    "cgan",
    "wgan_gp",
    "vae",
    "conv_vae",
    "cvae",
    "char_rnn",
    "gpt",
    "pixelcnn",
    "ddpm",
}
TEXT = {"char_rnn", "gpt"}
# sampling runs T network calls: keep the contract test fast
SMALL = {"ddpm": {"timesteps": 10}}


def build(models, key):
    return models[key](65) if key in TEXT else models[key](**SMALL.get(key, {}))


def public_signature(cls):
    params = inspect.signature(cls.__init__).parameters.values()
    return [
        (p.name, p.default)
        for p in params
        if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]


def test_same_keys_in_both_frameworks():
    assert set(T.MODELS) == set(K.MODELS)
    missing = REQUIRED - set(T.MODELS)
    assert not missing, f"models not implemented yet: {sorted(missing)}"


@pytest.mark.parametrize("key", sorted(REQUIRED))
def test_same_class_name_arguments_and_defaults(key):
    if key not in T.MODELS:
        pytest.fail(f"{key} missing")
    assert T.MODELS[key].__name__ == K.MODELS[key].__name__
    assert public_signature(T.MODELS[key]) == public_signature(K.MODELS[key])


@pytest.mark.parametrize("key", sorted(REQUIRED))
def test_same_parameter_count(key):
    if key not in T.MODELS:
        pytest.fail(f"{key} missing")
    t, k = build(T.MODELS, key), build(K.MODELS, key)
    assert t.count_params() == k.count_params() > 0


@pytest.mark.parametrize("key", sorted(REQUIRED - TEXT))
def test_same_sampling_contract(key):
    if key not in T.MODELS:
        pytest.fail(f"{key} missing")
    for models in (T.MODELS, K.MODELS):
        model = build(models, key)
        n = 2 if key == "pixelcnn" else 3
        s = model.sample(n, seed=5)
        assert s.shape == (n, 28, 28) and s.dtype == np.float32
        assert 0.0 <= s.min() and s.max() <= 1.0
        assert np.array_equal(s, model.sample(n, seed=5))
