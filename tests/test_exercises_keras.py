"""Exercise checks with Keras 3 solutions (keras.ops) on either backend, and tf.nn ones on TF.

Run once per backend: KERAS_BACKEND=tensorflow and KERAS_BACKEND=torch.
"""

import os

import pytest

pytestmark = pytest.mark.keras
keras = pytest.importorskip("keras")
from keras import ops

from aigc_course.exercises import check

NAMES = [
    "gan_discriminator_loss",
    "gan_generator_loss",
    "vae_kl",
    "reparameterize",
    "bernoulli_nll",
    "causal_attention_mask",
    "top_k_filter",
]
bce = keras.losses.binary_crossentropy


def _keras_topk(x, k):
    kth = ops.top_k(x, k)[0][..., -1:]  # the k-th largest of each row
    return ops.where(x < kth, float("-inf"), x)


KERAS_OK = {
    "gan_discriminator_loss": lambda r, f: (
        ops.mean(bce(ops.ones_like(r), r, from_logits=True))
        + ops.mean(bce(ops.zeros_like(f), f, from_logits=True))
    ),
    "gan_generator_loss": lambda f: -ops.mean(ops.log_sigmoid(f)),
    "vae_kl": lambda m, lv: (
        -0.5 * ops.sum(1 + lv - ops.square(m) - ops.exp(lv), axis=-1)
    ),
    "reparameterize": lambda m, lv, e: m + ops.exp(0.5 * lv) * e,
    "bernoulli_nll": lambda l, x: ops.sum(
        ops.softplus(l) - x * l, axis=tuple(range(1, len(ops.shape(l))))
    ),
    "causal_attention_mask": lambda T: ops.tril(ops.ones((T, T))) > 0,
    "top_k_filter": _keras_topk,
}


def test_backend_is_the_one_requested():
    wanted = os.environ.get("KERAS_BACKEND")
    if wanted:
        assert keras.backend.backend() == wanted


@pytest.mark.parametrize("name", NAMES)
def test_keras_solution_accepted(name, capsys):
    assert check(name, KERAS_OK[name], framework="keras") is True
    assert capsys.readouterr().out.startswith(f"✅ {name}: correct on ")


def test_other_keras_forms_accepted():
    assert check(
        "gan_discriminator_loss",
        lambda r, f: ops.mean(ops.softplus(-r)) + ops.mean(ops.softplus(f)),
        "keras",
    )
    assert check(
        "causal_attention_mask",
        lambda T: ops.arange(T)[:, None] >= ops.arange(T)[None, :],
        "keras",
    )
    assert check(
        "bernoulli_nll",  # a trailing axis makes binary_crossentropy elementwise
        lambda l, x: ops.sum(
            ops.reshape(
                bce(x[..., None], l[..., None], from_logits=True), (ops.shape(l)[0], -1)
            ),
            axis=1,
        ),
        "keras",
    )
    assert check(
        "gan_generator_loss",  # a Keras Variable as the output
        lambda f: keras.Variable(ops.mean(ops.softplus(-f))),
        "keras",
    )


def test_keras_mistakes_rejected_with_their_hints(capsys):
    cases = [
        (
            # from_logits forgotten: the default treats them as probabilities
            "gan_discriminator_loss",
            lambda r, f: (
                ops.mean(bce(ops.ones_like(r), r)) + ops.mean(bce(ops.zeros_like(f), f))
            ),
            "treated the logits as probabilities",
        ),
        (
            "gan_generator_loss",
            lambda f: ops.mean(ops.log(1 - ops.sigmoid(f))),
            "saturating",
        ),
        (
            "vae_kl",
            lambda m, lv: -0.5 * ops.mean(1 + lv - ops.square(m) - ops.exp(lv)),
            "single number",
        ),
        ("reparameterize", lambda m, lv, e: m + ops.exp(lv) * e, "is the variance"),
        (
            "bernoulli_nll",  # binary_crossentropy averages over the last axis
            lambda l, x: bce(x, l, from_logits=True),
            "Mean over the pixels",
        ),
        ("causal_attention_mask", lambda T: ops.tril(ops.ones((T, T))), "wrong dtype"),
        (
            "top_k_filter",
            lambda x, k: ops.where(x < ops.top_k(x, k)[0][..., -1:], 0.0, x),
            "to 0",
        ),
    ]
    for name, fn, hint in cases:
        assert check(name, fn, framework="keras") is False
        out = capsys.readouterr().out
        assert out.startswith(f"❌ {name}") and hint in " ".join(out.split()), out


def test_exception_in_keras_fn_is_reported(capsys):
    assert check("vae_kl", lambda m, lv: ops.sum(m, axis=5), framework="keras") is False
    out = capsys.readouterr().out
    assert "raised" in out and "mu " in out and "hint:" in out


def test_tensorflow_native_solutions_accepted():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.nn solutions run with the TensorFlow backend")
    tf = pytest.importorskip("tensorflow")
    xent = tf.nn.sigmoid_cross_entropy_with_logits
    sols = {
        "gan_discriminator_loss": lambda r, f: (
            tf.reduce_mean(xent(tf.ones_like(r), r))
            + tf.reduce_mean(xent(tf.zeros_like(f), f))
        ),
        "gan_generator_loss": lambda f: tf.reduce_mean(xent(tf.ones_like(f), f)),
        "vae_kl": lambda m, lv: (
            -0.5 * tf.reduce_sum(1 + lv - m**2 - tf.exp(lv), axis=-1)
        ),
        "reparameterize": lambda m, lv, e: m + tf.exp(0.5 * lv) * e,
        "bernoulli_nll": lambda l, x: tf.reduce_sum(
            tf.reshape(xent(x, l), (tf.shape(l)[0], -1)), 1
        ),
        "causal_attention_mask": lambda T: (
            tf.linalg.band_part(tf.ones((T, T)), -1, 0) > 0
        ),
        "top_k_filter": lambda x, k: tf.where(
            x < tf.math.top_k(x, k).values[..., -1:], float("-inf"), x
        ),
    }
    for name in NAMES:
        assert check(name, sols[name], framework="tensorflow"), name
    assert not check(
        "causal_attention_mask",
        lambda T: tf.linalg.band_part(tf.ones((T, T)), 0, -1) > 0,
        framework="tensorflow",
    )
    assert check(
        "gan_generator_loss",
        lambda f: tf.Variable(tf.reduce_mean(tf.nn.softplus(-f))),
        framework="tensorflow",
    )
