"""Automatic checks for the course's coding exercises (framework-neutral, NumPy only).

A student writes a function in NumPy, PyTorch or Keras/TensorFlow and asks::

    from aigc_course.exercises import check

    def kl(mu, logvar):                      # PyTorch
        return -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=-1)

    check("vae_kl", kl, framework="torch")
    # ✅ vae_kl: correct on 9 inputs

:func:`check` runs the function on random inputs plus edge cases (a batch of
one, logits of magnitude 50 and more, T = 1, ties, ...) and compares it with a
reference written once in NumPy (float64). It prints either "correct" or the
first input where the outputs differ (shapes, a short view of the values, the
largest difference) and a hint aimed at the typical mistake it recognises
(a sign error, a mean instead of a sum, a missing 1/2, a transposed mask,
0 instead of -inf, ...). It returns ``True`` when every input passes, so a
notebook or a test can ``assert`` on it. An exception raised by the function is
caught and reported with the input that caused it; it is never re-raised, and
no output (a string, an object or complex array, ...) makes :func:`check` raise:
it is reported with a hint. A call that runs longer than ``time_limit`` seconds
(10 by default) is stopped and reported. A function that raises
``NotImplementedError`` (an exercise stub) is reported as "not implemented yet",
with the task.

:func:`choose` returns the student's function when it passes (silently) and a
worked solution otherwise, so that an exercise notebook runs from top to bottom
before every stub is filled in.

``framework`` decides what the function receives: NumPy float32 arrays
(``None`` or ``"numpy"``), ``torch.tensor`` (``"torch"``),
``keras.ops.convert_to_tensor`` (``"keras"``, on any Keras backend) or
``tf.constant`` (``"tensorflow"``). Integer arguments (``T`` of
``causal_mask``, ``k`` of ``top_k_filter``) are passed as Python ints. The
output may be any of those tensor types (a tensor that requires grad, one on a
GPU), a NumPy array or a Python number: it is converted to NumPy before the
comparison. No framework is imported unless asked for.

Outputs match when ``np.allclose(received, expected, rtol=1e-4, atol=1e-5)``
(float32 rounding passes, a real mistake does not; ``-inf`` must be ``-inf``);
a loss may come back as a 0-d tensor, a Python float or any size-1 array.

The exercises (:func:`list_exercises`; :func:`reference` returns the NumPy
solution, whose docstring states the exact rule):

* ``gan_discriminator_loss(real_logits, fake_logits)``
* ``gan_generator_loss(fake_logits)``
* ``vae_kl(mu, logvar)``
* ``reparameterize(mu, logvar, eps)``
* ``bernoulli_nll(logits, x)``
* ``causal_mask(T)``
* ``top_k_filter(logits, k)``
"""
from __future__ import annotations

import inspect
import signal
import textwrap
import threading
import traceback
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["check", "choose", "list_exercises", "reference"]

RTOL, ATOL = 1e-4, 1e-5          # float32 rounding passes, mistakes do not
TIME_LIMIT = 10.0                # seconds per call of the student's function
_FRAMEWORKS = {None: "numpy", "numpy": "numpy", "np": "numpy", "torch": "torch",
               "pytorch": "torch", "keras": "keras", "tensorflow": "tensorflow", "tf": "tensorflow"}


# --- references (shown in the book) -------------------------------------------
def softplus(x):
    """log(1 + e^x), computed without overflow: max(x, 0) + log(1 + e^-|x|)."""
    x = np.asarray(x, np.float64)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def gan_discriminator_loss(real_logits, fake_logits):
    """Discriminator loss from logits: mean BCE(real, 1) + mean BCE(fake, 0), a scalar.

    BCE(l, 1) = -log sigmoid(l) = softplus(-l) and BCE(l, 0) = -log(1 - sigmoid(l))
    = softplus(l). Each term is averaged over its own batch, then the two means
    are ADDED (not averaged), as in ``aigc_course.torch.gan.discriminator_loss``
    with ``label_smoothing=0``. At logits 0 the loss is 2 log 2.
    """
    return np.mean(softplus(-np.asarray(real_logits))) + np.mean(softplus(fake_logits))


def gan_generator_loss(fake_logits):
    """Non-saturating generator loss: -mean(log sigmoid(l)) = mean BCE(fake, 1), a scalar."""
    return np.mean(softplus(-np.asarray(fake_logits)))


def vae_kl(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) per example, shape (N,).

    -1/2 * sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j)), summed over the
    latent axis (the last one), not averaged, and not reduced over the batch.
    """
    mu, logvar = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
    return -0.5 * np.sum(1.0 + logvar - mu**2 - np.exp(logvar), axis=-1)


def reparameterize(mu, logvar, eps):
    """z = mu + sigma * eps with sigma = exp(logvar / 2), the standard deviation."""
    mu, logvar = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
    return mu + np.exp(0.5 * logvar) * np.asarray(eps, np.float64)


def bernoulli_nll(logits, x):
    """-log p(x | z) per example, shape (N,): BCE from logits, SUMMED over the pixels.

    x holds 0/1 pixels, logits are the decoder's raw scores; per pixel
    BCE(l, x) = -x log sigmoid(l) - (1 - x) log(1 - sigmoid(l)) = softplus(l) - x * l,
    stable for any l. Summed over every axis but the first (the batch axis), not
    averaged: log p(x | z) is a sum over independent pixels.
    """
    logits, x = np.asarray(logits, np.float64), np.asarray(x, np.float64)
    bce = softplus(logits) - x * logits
    return bce.reshape(len(bce), -1).sum(axis=1)


def causal_mask(T):
    """Boolean (T, T): entry [i, j] is True when position i may attend to j, i.e. j <= i.

    Row i is the query (the position being predicted from), column j the key;
    the diagonal is True (a position sees itself). This is the lower triangle.
    """
    return np.tril(np.ones((T, T), dtype=bool))


def top_k_filter(logits, k):
    """Keep the k largest logits on the last axis, set the others to -inf.

    Rule (as ``aigc_course.text.top_k_filter``): keep every logit >= the k-th
    largest value of its row, so logits tied with the k-th are all kept and a
    row may keep more than k. ``k`` is in [1, V]; ``k = V`` changes nothing.
    Works on one row (V,) and on a batch (B, V).
    """
    logits = np.asarray(logits, np.float64)
    kth = np.sort(logits, axis=-1)[..., -k, None]       # the k-th largest of each row
    return np.where(logits < kth, -np.inf, logits)
# --- end references -------------------------------------------------------------


# ----- the catalogue ------------------------------------------------------------------
@dataclass(frozen=True)
class _Case:
    label: str
    args: tuple            # float32 arrays (converted for the framework) and Python ints
    tag: str = "random"    # "random", or the edge case it is


@dataclass(frozen=True)
class _Mistake:
    """A typical mistake: the wrong formula (``impl``, NumPy, compared with what the
    student returned) or a predicate ``test(failure)`` on each failing input;
    ``only_tags``: the mistake shows only on inputs of these tags."""
    hint: str
    impl: Callable | None = None
    test: Callable | None = None
    only_tags: tuple = ()


@dataclass(frozen=True)
class _Exercise:
    name: str
    params: tuple
    reference: Callable
    cases: Callable            # (rng, trials) -> list of _Case
    output: str                # "scalar", "array" or "bool"
    task: str
    mistakes: tuple = ()
    nonfinite_hint: str = ""
    shape_hint: Callable | None = None       # (case, expected, got) -> str or None
    error_hint: Callable | None = None       # (case, exception) -> str or None


@dataclass
class _Failure:
    index: int
    case: _Case
    expected: np.ndarray
    got: np.ndarray | None = None
    raw_type: str = ""
    error: BaseException | None = None
    where: str = ""
    reason: str = ""


def _f32(a):
    return np.asarray(a, np.float32)


def _with_errstate(fn):
    def wrapped(*args):
        with np.errstate(all="ignore"):
            return fn(*args)
    return wrapped


# --- GAN losses
_STABLE = ("Numerically unstable for large logits: sigmoid(50) rounds to 1.0 in float32, so "
           "log(1 - sigmoid(50)) = log(0) = -inf (and clamping or adding an epsilon gives a wrong "
           "finite number instead). Never compute log(sigmoid(l)) in two steps: use "
           "-log sigmoid(l) = softplus(-l) and -log(1 - sigmoid(l)) = softplus(l) "
           "(F.softplus / F.logsigmoid, keras.ops.softplus / keras.ops.log_sigmoid), or a loss "
           "'with logits' (F.binary_cross_entropy_with_logits, "
           "keras.losses.binary_crossentropy(..., from_logits=True), "
           "tf.nn.sigmoid_cross_entropy_with_logits).")
_PROBS = ("You treated the logits as probabilities: the inputs are raw scores, any real number, "
          "not values in [0, 1]. Use a loss 'with logits': F.binary_cross_entropy_with_logits, "
          "keras.losses.binary_crossentropy(..., from_logits=True) (its default is "
          "from_logits=False), tf.nn.sigmoid_cross_entropy_with_logits; or softplus.")
_DOUBLE = ("You applied the sigmoid twice: a loss 'with logits' applies sigmoid itself, so give it "
           "the raw logits, not sigmoid(logits).")
_SUM = ("Sum instead of mean: average the binary cross-entropy over the batch (mean), so that the "
        "loss does not grow with the batch size.")


def _bce_on_probs(p, y):
    """What Keras's binary_crossentropy(from_logits=False) computes when p are logits."""
    p = np.clip(_f32(p), np.float32(1e-7), np.float32(1 - 1e-7))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(np.float32(1) - p), dtype=np.float64)


def _naive_log_sigmoid(x):
    """float32 log(sigmoid(x)) clamped at -100, like F.binary_cross_entropy on sigmoid(x)."""
    s = np.float32(1) / (np.float32(1) + np.exp(-_f32(x)))
    return np.maximum(np.log(s), -100.0), np.maximum(np.log(np.float32(1) - s), -100.0)


def _d_naive(r, f):
    return -np.mean(_naive_log_sigmoid(r)[0]) - np.mean(_naive_log_sigmoid(f)[1])


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def _scalar_shape_hint(case, expected, got):
    n = case.args[0].size
    if got.size == n:
        return ("Return a single number: you returned one loss per example; average over the "
                "batch with mean().")
    return ("Return a single number (a 0-d tensor or a float), the loss averaged over the batch.")


def _bce_error_hint(case, exc):
    if "between 0 and 1" in str(exc) or "0 <= " in str(exc):
        return ("binary_cross_entropy (and nn.BCELoss) expects probabilities; the inputs are "
                "logits. Use F.binary_cross_entropy_with_logits, or softplus.")
    return None


def _gan_d_cases(rng, trials):
    cases = []
    for t in range(trials):
        n = int(rng.integers(2, 65))
        shape = (n, 1) if t % 2 == 0 else (n,)
        cases.append(_Case(f"random batch {shape}", (_f32(rng.normal(1.0, 2.0, shape)),
                                                     _f32(rng.normal(-1.0, 2.0, shape)))))
    big = _f32([[50.0], [-50.0], [120.0], [-120.0], [0.5], [-2.0]])
    cases += [
        _Case("batch of 1", (_f32(rng.normal(0, 2, (1, 1))), _f32(rng.normal(0, 2, (1, 1)))),
              "batch1"),
        _Case("large-magnitude logits (+-50, +-120)", (big, big[::-1].copy()), "large"),
        _Case("all-zero logits (loss = 2 log 2)", (np.zeros((4, 1), np.float32),
                                                   np.zeros((4, 1), np.float32)), "zeros"),
    ]
    return cases


_GAN_D = _Exercise(
    name="gan_discriminator_loss", params=("real_logits", "fake_logits"),
    reference=gan_discriminator_loss, cases=_gan_d_cases, output="scalar",
    task="mean(BCE(real_logits, 1)) + mean(BCE(fake_logits, 0)), from logits: "
         "mean(softplus(-real)) + mean(softplus(fake))",
    mistakes=(
        _Mistake("Labels swapped: the discriminator must call the real samples 1 and the fakes 0. "
                 "BCE(l, 1) = -log sigmoid(l) = softplus(-l) goes with real_logits, "
                 "BCE(l, 0) = -log(1 - sigmoid(l)) = softplus(l) with fake_logits.",
                 impl=lambda r, f: np.mean(softplus(r)) + np.mean(softplus(-np.asarray(f)))),
        _Mistake(_SUM, impl=lambda r, f: np.sum(softplus(-np.asarray(r))) + np.sum(softplus(f))),
        _Mistake("Half the expected value: the loss is the SUM of the two means, "
                 "mean BCE(real, 1) + mean BCE(fake, 0), as in "
                 "aigc_course.torch.gan.discriminator_loss; do not average the two terms (or take "
                 "one mean over the real and fake logits concatenated).",
                 impl=lambda r, f: 0.5 * gan_discriminator_loss(r, f)),
        _Mistake("Only the real term: add the fake term mean BCE(fake_logits, 0) = "
                 "mean(softplus(fake_logits)).",
                 impl=lambda r, f: np.mean(softplus(-np.asarray(r)))),
        _Mistake("Only the fake term: add the real term mean BCE(real_logits, 1) = "
                 "mean(softplus(-real_logits)).",
                 impl=lambda r, f: np.mean(softplus(f))),
        _Mistake(_PROBS, impl=_with_errstate(lambda r, f: _bce_on_probs(r, 1) + _bce_on_probs(f, 0))),
        _Mistake(_DOUBLE, impl=lambda r, f: (np.mean(softplus(-_sigmoid(r)))
                                             + np.mean(softplus(_sigmoid(f))))),
        _Mistake(_STABLE, impl=_with_errstate(_d_naive)),
        _Mistake(_STABLE, only_tags=("large",)),
    ),
    nonfinite_hint=_STABLE, shape_hint=_scalar_shape_hint, error_hint=_bce_error_hint,
)


def _gan_g_cases(rng, trials):
    cases = []
    for t in range(trials):
        n = int(rng.integers(2, 65))
        shape = (n, 1) if t % 2 == 0 else (n,)
        cases.append(_Case(f"random batch {shape}", (_f32(rng.normal(-1.0, 2.0, shape)),)))
    cases += [
        _Case("batch of 1", (_f32(rng.normal(0, 2, (1, 1))),), "batch1"),
        _Case("large-magnitude logits (+-50, +-120)",
              (_f32([[50.0], [-50.0], [120.0], [-120.0], [0.5], [-2.0]]),), "large"),
        _Case("all-zero logits (loss = log 2)", (np.zeros((4, 1), np.float32),), "zeros"),
    ]
    return cases


_GAN_G = _Exercise(
    name="gan_generator_loss", params=("fake_logits",),
    reference=gan_generator_loss, cases=_gan_g_cases, output="scalar",
    task="the non-saturating loss -mean(log sigmoid(fake_logits)) = mean(softplus(-fake_logits))",
    mistakes=(
        _Mistake("That is the saturating loss mean(log(1 - D(G(z)))) of the original minimax game: "
                 "its gradient vanishes exactly when D confidently rejects the fakes (early in "
                 "training). Use the non-saturating loss -mean(log D(G(z))) = "
                 "-mean(log sigmoid(l)) = mean BCE(fake_logits, 1).",
                 impl=lambda f: -np.mean(softplus(f))),
        _Mistake("That is BCE with the fakes labelled 0, the discriminator's target. The generator "
                 "wants D to call its fakes real: label them 1, -mean(log sigmoid(l)).",
                 impl=lambda f: np.mean(softplus(f))),
        _Mistake("Sign error: the generator MINIMISES -log D(G(z)); you returned +mean(log "
                 "sigmoid(l)).", impl=lambda f: -gan_generator_loss(f)),
        _Mistake(_SUM, impl=lambda f: np.sum(softplus(-np.asarray(f)))),
        _Mistake(_PROBS, impl=_with_errstate(lambda f: _bce_on_probs(f, 1))),
        _Mistake(_DOUBLE, impl=lambda f: np.mean(softplus(-_sigmoid(f)))),
        _Mistake(_STABLE, impl=_with_errstate(lambda f: -np.mean(_naive_log_sigmoid(f)[0]))),
        _Mistake(_STABLE, only_tags=("large",)),
    ),
    nonfinite_hint=_STABLE, shape_hint=_scalar_shape_hint, error_hint=_bce_error_hint,
)


# --- VAE
def _kl_terms(mu, var, logv):
    """0.5 * sum(var + mu^2 - 1 - log var): the KL written with a (possibly wrong) variance."""
    return 0.5 * np.sum(var + np.asarray(mu, np.float64) ** 2 - 1.0 - logv, axis=-1)


def _vae_cases(rng, trials):
    cases = []
    for _ in range(trials):
        n, d = int(rng.integers(2, 33)), int(rng.integers(2, 17))
        while n == d:
            d = int(rng.integers(2, 17))
        cases.append(_Case(f"random (N, D) = ({n}, {d})",
                           (_f32(rng.normal(0, 1, (n, d))), _f32(rng.uniform(-3, 2, (n, d))))))
    cases += [
        _Case("batch of 1", (_f32(rng.normal(0, 1, (1, 4))), _f32(rng.uniform(-3, 2, (1, 4)))),
              "batch1"),
        _Case("square N = D = 3", (_f32(rng.normal(0, 1, (3, 3))), _f32(rng.uniform(-3, 2, (3, 3)))),
              "square"),
        _Case("one latent dimension", (_f32(rng.normal(0, 1, (5, 1))), _f32(rng.uniform(-3, 2, (5, 1)))),
              "d1"),
        _Case("the prior itself (mu = 0, logvar = 0: KL = 0)",
              (np.zeros((3, 4), np.float32), np.zeros((3, 4), np.float32)), "prior"),
    ]
    return cases


def _vae_shape_hint(case, expected, got):
    n, d = case.args[0].shape
    one_per = ("vae_kl returns one KL per example, shape (N,) = " f"{expected.shape}: sum over the "
               "latent axis only (axis=-1 / dim=-1) and keep the batch axis. (The mean over the "
               "batch belongs in the training loss, not here.)")
    if got.ndim == 0 or (got.size == 1 and n != 1):
        return "You returned a single number. " + one_per
    if got.shape == (n, 1):
        return "Shape (N, 1): sum without keepdims, so the result is (N,). " + one_per
    if got.shape == (d,):
        return "Shape (D,): you summed over the batch axis (axis 0). " + one_per
    if got.shape == (n, d):
        return "Shape (N, D): you did not sum over the latent dimensions. " + one_per
    return None


_VAE_KL = _Exercise(
    name="vae_kl", params=("mu", "logvar"),
    reference=vae_kl, cases=_vae_cases, output="array",
    task="-0.5 * sum(1 + logvar - mu**2 - exp(logvar), axis=-1), one value per example (N,)",
    mistakes=(
        _Mistake("Mean over the latent dimensions: the KL between diagonal Gaussians is a SUM over "
                 "dimensions (they are independent, so their KLs add). Use sum(..., axis=-1).",
                 impl=lambda m, lv: vae_kl(m, lv) / np.shape(m)[-1]),
        _Mistake("Twice the expected value: you forgot the 1/2 in "
                 "-0.5 * sum(1 + logvar - mu^2 - exp(logvar)).",
                 impl=lambda m, lv: 2 * vae_kl(m, lv)),
        _Mistake("logvar is log(sigma^2), not sigma: the variance is exp(logvar). You used "
                 "sigma = logvar.",
                 impl=_with_errstate(lambda m, lv: _kl_terms(m, np.float64(lv) ** 2,
                                                             np.log(np.float64(lv) ** 2)))),
        _Mistake("logvar is log(sigma^2), not the variance itself: the variance is exp(logvar) "
                 "(logvar can be negative; a variance cannot).",
                 impl=_with_errstate(lambda m, lv: _kl_terms(m, np.float64(lv),
                                                             np.log(np.float64(lv))))),
        _Mistake("logvar is log(sigma^2), not log(sigma): the variance is exp(logvar), "
                 "not exp(2 * logvar).",
                 impl=lambda m, lv: _kl_terms(m, np.exp(2 * np.float64(lv)), 2 * np.float64(lv))),
        _Mistake("The mu^2 term is missing: -0.5 * sum(1 + logvar - mu^2 - exp(logvar)).",
                 impl=lambda m, lv: vae_kl(np.zeros_like(m), lv)),
        _Mistake("Sign error: KL >= 0 always; the formula is -0.5 * sum(1 + logvar - mu^2 - "
                 "exp(logvar)), with the minus in front.", impl=lambda m, lv: -vae_kl(m, lv)),
        _Mistake("You summed over the batch axis (axis 0). " + "Sum over the latent axis, axis=-1.",
                 impl=lambda m, lv: -0.5 * np.sum(1.0 + np.float64(lv) - np.float64(m) ** 2
                                                  - np.exp(np.float64(lv)), axis=0)),
        _Mistake("You returned a single number (the batch mean). vae_kl returns one KL per "
                 "example, shape (N,): sum over the latent axis only and keep the batch axis.",
                 impl=lambda m, lv: np.mean(vae_kl(m, lv))),
        _Mistake("You returned a single number (the total over the batch). vae_kl returns one KL "
                 "per example, shape (N,): sum over the latent axis only and keep the batch axis.",
                 impl=lambda m, lv: np.sum(vae_kl(m, lv))),
    ),
    nonfinite_hint=("nan/inf in the KL: exp(logvar) is finite here, so look for a log or a sqrt of "
                    "logvar (it is a log-variance and may be negative)."),
    shape_hint=_vae_shape_hint,
)


def _reparam_cases(rng, trials):
    def triple(shape, lo=-3.0, hi=2.0):
        return (_f32(rng.normal(0, 1, shape)), _f32(rng.uniform(lo, hi, shape)),
                _f32(rng.normal(0, 1, shape)))
    cases = []
    for _ in range(trials):
        shape = (int(rng.integers(2, 33)), int(rng.integers(2, 17)))
        cases.append(_Case(f"random (N, D) = {shape}", triple(shape)))
    mu, lv, _ = triple((3, 4))
    cases += [
        _Case("batch of 1", triple((1, 4)), "batch1"),
        _Case("extreme logvar in [-20, 6]", triple((4, 5), -20.0, 6.0), "extreme"),
        _Case("eps = 0 (z = mu)", (mu, lv, np.zeros((3, 4), np.float32)), "eps0"),
    ]
    return cases


def _reparam_shape_hint(case, expected, got):
    return (f"z has the shape of mu, {expected.shape}: mu + exp(0.5 * logvar) * eps is elementwise, "
            "with no sum or mean.")


_REPARAM = _Exercise(
    name="reparameterize", params=("mu", "logvar", "eps"),
    reference=reparameterize, cases=_reparam_cases, output="array",
    task="mu + exp(0.5 * logvar) * eps, elementwise",
    mistakes=(
        _Mistake("exp(logvar) is the variance sigma^2; z needs the standard deviation "
                 "sigma = exp(0.5 * logvar) = sqrt(exp(logvar)).",
                 impl=lambda m, lv, e: np.float64(m) + np.exp(np.float64(lv)) * e),
        _Mistake("logvar is log(sigma^2), not sigma: sigma = exp(0.5 * logvar).",
                 impl=lambda m, lv, e: np.float64(m) + np.float64(lv) * e),
        _Mistake("logvar is log(sigma^2), not the variance: sigma = exp(0.5 * logvar), not "
                 "sqrt(logvar) (logvar may be negative).",
                 impl=_with_errstate(lambda m, lv, e: np.float64(m) + np.sqrt(np.float64(lv)) * e)),
        _Mistake("Sign in the exponent: sigma = exp(+0.5 * logvar).",
                 impl=lambda m, lv, e: np.float64(m) + np.exp(-0.5 * np.float64(lv)) * e),
        _Mistake("You forgot to add mu: z = mu + sigma * eps.",
                 impl=lambda m, lv, e: np.exp(0.5 * np.float64(lv)) * e),
        _Mistake("The noise is not scaled: z = mu + sigma * eps with sigma = exp(0.5 * logvar).",
                 impl=lambda m, lv, e: np.float64(m) + e),
    ),
    nonfinite_hint="nan/inf in z: is there a log or a sqrt of logvar? sigma = exp(0.5 * logvar).",
    shape_hint=_reparam_shape_hint,
)


# --- VAE reconstruction term
def _bnll_cases(rng, trials):
    def pair(shape, scale=3.0):
        return (_f32(rng.normal(0, scale, shape)), _f32(rng.random(shape) < 0.4))
    cases = []
    for t in range(trials):
        n, d = int(rng.integers(2, 17)), int(rng.integers(5, 40))
        while n == d:
            d = int(rng.integers(5, 40))
        cases.append(_Case(f"random (N, D) = ({n}, {d})", pair((n, d))))
    x_big = _f32([[1, 0, 1, 0, 1, 1], [0, 1, 0, 1, 0, 0]])
    l_big = _f32([[50, -50, 120, -120, 0.5, -2.0], [50, -50, 120, -120, 0.5, -2.0]])
    cases += [
        _Case("images (N, 1, 4, 4), channels first (PyTorch)", pair((3, 1, 4, 4)), "image"),
        _Case("images (N, 4, 4, 1), channels last (Keras)", pair((3, 4, 4, 1)), "image"),
        _Case("batch of 1", pair((1, 9)), "batch1"),
        _Case("square N = D = 5", pair((5, 5)), "square"),
        _Case("large-magnitude logits (+-50, +-120)", (l_big, x_big), "large"),
    ]
    return cases


def _bnll_shape_hint(case, expected, got):
    logits = case.args[0]
    one_per = (f"bernoulli_nll returns one value per example, shape (N,) = {expected.shape}: sum "
               "over every axis but the first (x.flatten(1).sum(1) in PyTorch, "
               "keras.ops.sum(bce, axis=tuple(range(1, ndim))) in Keras). The mean over the batch "
               "belongs in the training loss, not here.")
    if got.size == 1 and expected.size != 1:
        return "You returned a single number. " + one_per
    if got.shape == logits.shape:
        return "You returned one value per pixel. " + one_per
    if logits.ndim > 2 and got.shape[:1] == expected.shape and got.ndim > 1:
        return "You summed over the last axis only. " + one_per
    return one_per


def _bnll_mean(l, x):
    return bernoulli_nll(l, x) / (np.asarray(l).size // len(l))


def _bnll_probs(l, x):
    """Per-pixel BCE on the logits as if they were probabilities, clipped in float32 like Keras."""
    p = np.clip(_f32(l), np.float32(1e-7), np.float32(1 - 1e-7))
    x = np.asarray(x, np.float64)
    b = -(x * np.log(p) + (1 - x) * np.log(np.float32(1) - p))
    return b.reshape(len(b), -1).sum(1)


def _bnll_naive(l, x):
    log_s, log_1ms = _naive_log_sigmoid(l)
    x = np.asarray(x, np.float64)
    b = -(x * log_s + (1 - x) * log_1ms)
    return b.reshape(len(b), -1).sum(1)


_BNLL_STABLE = ("Numerically unstable for large logits: sigmoid(50) rounds to 1.0 in float32, so "
                "log(1 - sigmoid(50)) = log(0). Compute BCE from the logits: "
                "F.binary_cross_entropy_with_logits(logits, x, reduction='none') in PyTorch, "
                "keras.ops.softplus(logits) - x * logits (or keras.losses.binary_crossentropy with "
                "from_logits=True) in Keras.")

_BNLL = _Exercise(
    name="bernoulli_nll", params=("logits", "x"),
    reference=bernoulli_nll, cases=_bnll_cases, output="array",
    task="sum over all axes but the first of softplus(logits) - x * logits, one value per example (N,)",
    mistakes=(
        _Mistake("Mean over the pixels instead of the sum. log p(x | z) is a SUM over the pixels; "
                 "averaging divides the reconstruction term by 784 while the KL stays a sum, so "
                 "the KL wins and the VAE ignores z (posterior collapse). Note: "
                 "F.binary_cross_entropy_with_logits averages unless reduction='none', and "
                 "keras.losses.binary_crossentropy averages over the last axis.",
                 impl=_bnll_mean),
        _Mistake("Arguments swapped: the logits are the prediction and x the target. PyTorch: "
                 "F.binary_cross_entropy_with_logits(logits, x); Keras: "
                 "keras.losses.binary_crossentropy(x, logits, from_logits=True) (y_true first).",
                 impl=lambda l, x: bernoulli_nll(x, l)),
        _Mistake("Targets flipped: the pixel is on (x = 1) with probability sigmoid(logits); you "
                 "used 1 - x as the target.", impl=lambda l, x: bernoulli_nll(l, 1 - np.asarray(x))),
        _Mistake("Sign error: a negative log-likelihood of binary pixels is >= 0; you returned "
                 "log p(x | z) instead of -log p(x | z).", impl=lambda l, x: -bernoulli_nll(l, x)),
        _Mistake("You treated the logits as probabilities: they are raw scores, any real number. "
                 "Use a BCE 'with logits' (from_logits=True in Keras), or softplus(l) - x * l.",
                 impl=_with_errstate(_bnll_probs)),
        _Mistake(_BNLL_STABLE, impl=_with_errstate(_bnll_naive)),
        _Mistake(_BNLL_STABLE, only_tags=("large",)),
    ),
    nonfinite_hint=_BNLL_STABLE, shape_hint=_bnll_shape_hint, error_hint=_bce_error_hint,
)


# --- autoregressive
def _mask_cases(rng, trials):
    pool = rng.permutation(np.arange(3, 17))
    cases = [_Case(f"T = {int(t)}", (int(t),)) for t in pool[:trials]]
    cases += [_Case("T = 1", (1,), "T1"), _Case("T = 2", (2,), "T2")]
    return cases


def _additive(got, expected):
    if got.dtype == bool or got.shape != expected.shape:
        return False
    with np.errstate(all="ignore"):
        g = got.astype(np.float64)
    return bool(np.all(np.where(expected, g == 0, g == -np.inf)))


def _non_bool(got, expected):
    if got.dtype == bool or got.shape != expected.shape:
        return False
    with np.errstate(all="ignore"):
        return bool(np.array_equal(got.astype(np.float64), expected.astype(np.float64)))


_NON_BOOL = ("Right pattern, wrong dtype ({dtype}): return a boolean mask (dtype bool), e.g. "
             "np.tril(np.ones((T, T), dtype=bool)), torch.tril(torch.ones(T, T, dtype=torch.bool)) "
             "or keras.ops.tril(keras.ops.ones((T, T))) > 0. masked_fill and where select with "
             "booleans; a 0/1 float mask is not one.")

_CAUSAL = _Exercise(
    name="causal_mask", params=("T",),
    reference=causal_mask, cases=_mask_cases, output="bool",
    task="boolean (T, T), mask[i, j] = True where j <= i (the lower triangle, diagonal included)",
    mistakes=(
        _Mistake("This is the mask of the FUTURE positions (True where j > i), the ones to hide, "
                 "e.g. what masked_fill(mask, -inf) takes. The check asks for the allowed "
                 "positions, True where j <= i: invert it (~mask) or use tril.",
                 impl=lambda T: np.triu(np.ones((T, T), bool), 1)),
        _Mistake("Transposed: True where j >= i (the upper triangle). Row i is the query position, "
                 "column j the key position, and position i may look at j <= i: the lower "
                 "triangle, tril (np.tril, torch.tril, keras.ops.tril).",
                 impl=lambda T: np.triu(np.ones((T, T), bool))),
        _Mistake("Strict: the diagonal must be True, a position may attend to itself (j <= i, not "
                 "j < i). With tril keep the main diagonal (diagonal=0 / k=0, the default), not -1.",
                 impl=lambda T: np.tril(np.ones((T, T), bool), -1)),
        _Mistake("Nothing is masked: position i must not attend to the later positions j > i.",
                 impl=lambda T: np.ones((T, T), bool)),
        _Mistake("That is an additive mask (0 where allowed, -inf where not) that one adds to the "
                 "attention scores. This exercise asks for the boolean mask: True where j <= i.",
                 test=lambda f: _additive(f.got, f.expected)),
        _Mistake(_NON_BOOL, test=lambda f: _non_bool(f.got, f.expected)),
    ),
    shape_hint=lambda case, expected, got: (
        f"Return a 2-D (T, T) mask, here {expected.shape}; no batch or head axes "
        "(they broadcast later)."),
)


def _top_k_cases(rng, trials):
    cases = []
    for t in range(trials):
        v = int(rng.integers(5, 31))
        k = int(rng.integers(1, v))
        shape = (int(rng.integers(2, 5)), v) if t % 2 == 0 else (v,)
        if t % 4 >= 2:   # integer-valued logits: ties are likely
            x = _f32(rng.integers(-3, 4, shape))
            cases.append(_Case(f"integer logits {shape} (ties likely), k = {k}", (x, k), "ties"))
        else:
            cases.append(_Case(f"random logits {shape}, k = {k}", (_f32(rng.normal(0, 2, shape)), k)))
    x2 = _f32(rng.normal(0, 2, (3, 6)))
    cases += [
        _Case("k = V = 6 (nothing filtered)", (x2, 6), "kV"),
        _Case("k = 1 (greedy)", (_f32(rng.normal(0, 2, (2, 7))), 1), "k1"),
        _Case("ties with the k-th largest, k = 2", (_f32([1.0, 3.0, 2.0, 2.0, 0.0]), 2), "ties"),
        _Case("ties with the k-th largest in a batch, k = 3",
              (_f32([[0.5, 2.0, 1.0, 1.0, 1.0, -1.0], [4.0, 3.0, 2.0, 1.0, 0.0, 2.0]]), 3), "ties"),
    ]
    return cases


def _rowwise(x):
    return np.atleast_2d(np.asarray(x))


def _exactly_k_dropped_ties(f):
    x, k = f.case.args
    got, exp = f.got, f.expected
    if got.shape != exp.shape or k >= x.shape[-1]:
        return False
    with np.errstate(all="ignore"):
        g = got.astype(np.float64)
    kept = np.isfinite(_rowwise(g))
    want = np.isfinite(_rowwise(exp))
    same_values = np.array_equal(np.where(kept, _rowwise(g), 0.0), np.where(kept, _rowwise(exp), 0.0))
    return bool(same_values and np.all(kept.sum(-1) == k) and np.all(kept <= want)
                and np.any(want.sum(-1) > k))


def _large_negative(f):
    got, exp = f.got, f.expected
    if got.shape != exp.shape:
        return False
    with np.errstate(all="ignore"):
        g = got.astype(np.float64)
    dropped = ~np.isfinite(exp)
    return bool(np.any(dropped) and np.all(np.isfinite(g[dropped])) and np.all(g[dropped] <= -1e4)
                and np.allclose(g[~dropped], exp[~dropped], rtol=RTOL, atol=ATOL))


def _top_k_shape_hint(case, expected, got):
    x, k = case.args
    if got.shape[-1:] == (k,) and got.shape[:-1] == x.shape[:-1]:
        return ("You returned only the top-k values (what torch.topk / keras.ops.top_k give). "
                "Return an array shaped like logits, with the logits outside the top k set to "
                "-inf: compare logits with the k-th largest value.")
    return f"Return an array shaped like logits, {x.shape}."


def _top_k_error_hint(case, exc):
    x, k = case.args
    if k == x.shape[-1]:
        return ("This input has k equal to the vocabulary size V: then nothing is filtered. The "
                "k-th largest is sorted[..., -k] (for k = V the smallest), and topk(x, k) accepts "
                "k = V.")
    return None


def _top_k_axis0(x, k):
    x = np.asarray(x, np.float64)
    return np.where(x < np.sort(x, axis=0)[-k], -np.inf, x)


def _top_k_kplus1(x, k):
    x = np.asarray(x, np.float64)
    if k + 1 > x.shape[-1]:
        return x
    return top_k_filter(x, k + 1)


_TOP_K = _Exercise(
    name="top_k_filter", params=("logits", "k"),
    reference=top_k_filter, cases=_top_k_cases, output="array",
    task="logits < (k-th largest of the row) -> -inf, along the last axis (ties with the k-th kept)",
    mistakes=(
        _Mistake("You set the filtered logits to 0, but a logit of 0 still gets probability "
                 "e^0 / Z > 0 after the softmax. Use -inf (float('-inf')): exp(-inf) = 0, so those "
                 "tokens can never be sampled.",
                 impl=lambda x, k: np.where(np.float64(x) < np.sort(np.float64(x), -1)[..., -k, None],
                                            0.0, np.float64(x))),
        _Mistake("Almost: use -inf (float('-inf')) rather than a large negative number, so that the "
                 "filtered tokens get probability exactly 0 (a finite value can overflow in "
                 "float16 or be outvoted by very negative logits).", test=_large_negative),
        _Mistake("Off by one: you kept k + 1 logits. The k-th largest is "
                 "np.sort(x, axis=-1)[..., -k] (or torch.topk(x, k).values[..., -1:]); set only the "
                 "logits strictly below it to -inf.", impl=_top_k_kplus1),
        _Mistake("Off by one: you also removed the k-th largest itself. Keep every logit >= the "
                 "k-th largest value: set to -inf where logits < kth (strictly), not <=.",
                 impl=lambda x, k: np.where(np.float64(x) <= np.sort(np.float64(x), -1)[..., -k, None],
                                            -np.inf, np.float64(x))),
        _Mistake("You kept the k SMALLEST logits; keep the k largest (sort ascending and take "
                 "[..., -k], or topk).",
                 impl=lambda x, k: np.where(np.float64(x) > np.sort(np.float64(x), -1)[..., k - 1, None],
                                            -np.inf, np.float64(x))),
        _Mistake("Ties: some logits are equal to the k-th largest and you kept only k of them. The "
                 "rule (as in aigc_course.text.top_k_filter): keep every logit >= the k-th largest "
                 "value, so all ties with it are kept (compare with the k-th value instead of "
                 "keeping the indices returned by topk).", test=_exactly_k_dropped_ties,
                 only_tags=("ties",)),
        _Mistake("Wrong axis: filter each row along the LAST axis (the vocabulary), not axis 0.",
                 impl=_with_errstate(_top_k_axis0)),
        _Mistake("Nothing was filtered: set the logits below the k-th largest to -inf.",
                 impl=lambda x, k: np.asarray(x, np.float64)),
    ),
    nonfinite_hint="nan in the output: -inf appears only where a logit is dropped.",
    shape_hint=_top_k_shape_hint, error_hint=_top_k_error_hint,
)

_EXERCISES = {ex.name: ex for ex in (_GAN_D, _GAN_G, _VAE_KL, _REPARAM, _BNLL, _CAUSAL,
                                        _TOP_K)}


# ----- public API ------------------------------------------------------------------------
def list_exercises() -> list:
    """Names of the exercises :func:`check` knows, in course order."""
    return list(_EXERCISES)


def reference(name: str) -> Callable:
    """The NumPy reference solution of exercise ``name`` (its docstring states the rule)."""
    return _get(name).reference


def check(name: str, fn: Callable, framework=None, trials: int = 5, seed: int = 0,
          time_limit=TIME_LIMIT) -> bool:
    """Run ``fn`` on ``trials`` random inputs plus the edge cases and compare with the reference.

    Prints "✅ name: correct on N inputs", or the first input where ``fn`` is wrong
    (or raised), expected vs received, and a hint. Returns True when all inputs pass.
    ``framework``: None or "numpy" (fn gets float32 arrays), "torch", "keras" or
    "tensorflow" (fn gets tensors of that kind); the output may be of any kind.
    ``time_limit``: seconds one call may take (None: no limit); a slower call is
    stopped and reported. Never raises because of what ``fn`` does or returns.
    """
    ex = _get(name)
    if not callable(fn):
        raise ValueError(f"fn: expected a function, got {type(fn).__name__}")
    key = framework.lower() if isinstance(framework, str) else framework
    if not (key is None or isinstance(key, str)) or key not in _FRAMEWORKS:
        raise ValueError(f"framework: expected None, 'numpy', 'torch', 'keras' or 'tensorflow', "
                         f"got {framework!r}")
    fw = _FRAMEWORKS[key]
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 0:
        raise ValueError(f"trials: expected an int >= 0, got {trials!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed: expected an int, got {seed!r}")
    if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(
            time_limit, (int, float, np.integer, np.floating)) or not 0 < time_limit < 1e6):
        raise ValueError(f"time_limit: expected None or a positive number of seconds, "
                         f"got {time_limit!r}")
    convert = _converter(fw)
    cases = ex.cases(np.random.default_rng(int(seed)), int(trials))
    call = _timed(fn, time_limit)

    failures = []
    for i, c in enumerate(cases):
        f = _run_case(ex, call, convert, i, c)
        if f is not None:
            failures.append(f)
            if isinstance(f.error, _TimeLimit):
                _report_slow(ex, fw, cases, f, time_limit)
                return False
    if not failures:
        print(f"✅ {ex.name}: correct on {len(cases)} inputs")
        return True
    first = failures[0]
    if len(failures) == len(cases) and all(isinstance(f.error, NotImplementedError)
                                           for f in failures):
        print(f"⏳ {ex.name}: not implemented yet (your function raised NotImplementedError).\n"
              + "\n".join(textwrap.wrap(f"to do: {ex.task}", 100, initial_indent="   ",
                                         subsequent_indent="     "))
              + "\n   Replace the `raise NotImplementedError` line with your code and run the "
              "cell again.")
        return False
    try:
        hints = _hints(ex, call, convert, fw, failures)
    except Exception:  # never let a strange output break the report
        hints = []
    try:
        _report(ex, fw, cases, failures, first, hints)
    except Exception as e:
        print(f"❌ {ex.name}: wrong on {len(failures)} of {len(cases)} inputs "
              f"(first: input {first.index + 1}, {first.case.label}): {first.reason} "
              f"[the detailed report failed: {type(e).__name__}: {e}]")
    return False


def choose(name: str, mine: Callable, solution: Callable, framework=None,
           time_limit=TIME_LIMIT) -> Callable:
    """``mine`` if it passes :func:`check` (run silently), else ``solution``, saying which.

    An exercise notebook assembles its pieces with this, so that it runs from top
    to bottom (and in CI) while some stubs still raise ``NotImplementedError``;
    as soon as the student's function is correct, it is the one used.
    """
    import contextlib
    import io

    if not callable(solution):
        raise ValueError(f"solution: expected a function, got {type(solution).__name__}")
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        ok = check(name, mine, framework=framework, time_limit=time_limit)
    if ok:
        print(f"{name}: using your function")
        return mine
    why = "is not implemented yet" if report.getvalue().startswith("⏳") else "does not pass check()"
    print(f"{name}: your function {why}, using the worked solution")
    return solution


# ----- machinery ----------------------------------------------------------------------------
class _TimeLimit(BaseException):
    """Raised inside a student's function that runs too long (a BaseException, so that
    an ``except Exception`` in the student's code does not swallow it)."""


def _timed(fn, limit):
    """``fn`` wrapped so that a call longer than ``limit`` seconds raises :class:`_TimeLimit`.

    In the main thread (a notebook cell) a SIGALRM timer interrupts the function;
    elsewhere (or without SIGALRM, e.g. on Windows) it runs in a daemon thread
    that is abandoned when the limit passes.
    """
    if limit is None:
        return fn
    limit = float(limit)

    def with_signal(*args):
        def handler(signum, frame):
            raise _TimeLimit()
        old_handler = signal.signal(signal.SIGALRM, handler)
        old_timer = signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            return fn(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
            if old_timer[0] > 0:  # someone else's timer: give it back
                signal.setitimer(signal.ITIMER_REAL, *old_timer)

    def with_thread(*args):
        out = {}

        def run():
            try:
                out["value"] = fn(*args)
            except BaseException as e:  # handed over to the caller below
                out["error"] = e
        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(limit)
        if t.is_alive():
            raise _TimeLimit()
        if "error" in out:
            raise out["error"]
        return out["value"]

    def call(*args):
        main = threading.current_thread() is threading.main_thread()
        if main and hasattr(signal, "setitimer"):
            return with_signal(*args)
        return with_thread(*args)
    call.__wrapped__ = fn
    return call


def _report_slow(ex, fw, cases, f, limit):
    lines = [f"⏱ {ex.name}: your function did not return within {limit:g} s on input "
             f"{f.index + 1} of {len(cases)} ({f.case.label}), {fw} inputs; it was stopped."]
    w = max(map(len, ex.params)) + 2
    try:
        for pname, a in zip(ex.params, f.case.args):
            lines += _describe(pname, a, w)
    except Exception:
        pass
    lines.append("   hint: an endless loop (a while loop whose condition never changes), or far "
                 "more work than the task needs (a Python loop over every element of a large "
                 "array)? check(..., time_limit=...) sets the limit, in seconds.")
    print("\n".join(lines))


def _get(name) -> _Exercise:
    if not isinstance(name, str) or name not in _EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; known exercises: {', '.join(_EXERCISES)}")
    return _EXERCISES[name]


def _converter(fw):
    """float32 array -> what ``fn`` receives (a fresh copy each call: fn may work in place)."""
    if fw == "numpy":
        return lambda a: np.array(a, copy=True)
    try:
        if fw == "torch":
            import torch
            return lambda a: torch.tensor(np.array(a, copy=True))
        if fw == "keras":
            import keras
            return lambda a: keras.ops.convert_to_tensor(np.array(a, copy=True))
        import tensorflow as tf
        return lambda a: tf.constant(np.array(a, copy=True))
    except ImportError as e:
        raise ImportError(f"framework={fw!r} needs {fw} installed ({e})") from e


def _to_numpy(x) -> np.ndarray:
    """A torch / TensorFlow / Keras / JAX tensor, NumPy array or Python number -> NumPy."""
    if x is None:
        raise TypeError("your function returned None: did you forget `return`?")
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (tuple, list)):
        return np.asarray([_to_numpy(v) for v in x])
    if type(x).__name__ == "KerasTensor":
        raise TypeError("your function returned a symbolic KerasTensor; compute on the tensors "
                        "you are given (keras.ops...), outside a keras.Input / Model graph")
    if type(x).__module__.split(".")[0] == "torch" and hasattr(x, "detach"):
        x = x.detach()
        if str(x.dtype) in ("torch.bfloat16",):
            x = x.float()
        return x.cpu().numpy()
    if hasattr(x, "numpy") and callable(x.numpy):       # TF EagerTensor, tf / keras Variable
        return np.asarray(x.numpy())
    out = np.asarray(x)
    if out.dtype == object:
        raise TypeError(f"could not turn the returned {type(x).__name__} into an array")
    return out


def _type_name(x) -> str:
    t = type(x)
    mod = t.__module__.split(".")[0]
    return t.__name__ if mod == "builtins" else f"{mod}.{t.__name__}"


def _run_case(ex, fn, convert, i, case):
    expected = np.asarray(ex.reference(*case.args))
    args = [convert(a) if isinstance(a, np.ndarray) else a for a in case.args]
    try:
        raw = fn(*args)
    except _TimeLimit as e:
        return _Failure(i, case, expected, error=e, reason="did not return in time")
    except (Exception, SystemExit) as e:  # the student's bug: report it, never raise
        return _Failure(i, case, expected, error=e, where=_where(getattr(fn, "__wrapped__", fn), e),
                        reason=f"raised {type(e).__name__}: {_short(str(e), 300)}")
    try:
        got = _to_numpy(raw)
    except Exception as e:
        return _Failure(i, case, expected, raw_type=_type_name(raw), error=e,
                        reason=f"output could not be read: {e}")
    reason = _compare(ex, expected, got)
    if reason:
        return _Failure(i, case, expected, got=got, raw_type=_type_name(raw), reason=reason)
    return None


def _where(fn, e) -> str:
    """The line of the student's code where the exception happened (or the deepest frame)."""
    frames = traceback.extract_tb(e.__traceback__)[1:]
    if not frames:
        return ""
    try:
        src = inspect.getsourcefile(fn)
    except TypeError:
        src = None
    mine = [f for f in frames if f.filename == src] or frames
    f = mine[-1]
    return f"line {f.lineno} in {f.name}: {f.line}" if f.line else f"line {f.lineno} in {f.name}"


def _shape_ok(ex, expected, got):
    if ex.output == "scalar":
        return got.size == 1
    return got.shape == expected.shape


def _as_float(a):
    with np.errstate(all="ignore"):
        return np.asarray(a).astype(np.float64)


def _numeric(a) -> bool:
    """Real numbers or booleans (what :func:`_compare` can compare)."""
    return np.asarray(a).dtype.kind in "biuf"


def _dtype_hint(got) -> str:
    kind, dtype = got.dtype.kind, got.dtype
    if kind in "US":
        what = f"text (dtype {dtype}), not numbers: did you return a formatted string or a str(...)?"
    elif kind == "O":
        what = (f"an object array (dtype {dtype}): values of mixed types or nested sequences of "
                "different lengths, not one array of numbers.")
    elif kind == "c":
        what = (f"complex numbers (dtype {dtype}): a square root or a power of a negative number, "
                "or np.emath / complex arithmetic somewhere?")
    else:
        what = f"values of dtype {dtype}, not numbers."
    return (f"Your function returned {what} Return real numbers: a float array or tensor "
            "(NumPy, torch, TensorFlow, Keras) or a Python float.")


def _compare(ex, expected, got):
    """None when ``got`` passes, else a short reason."""
    if not _shape_ok(ex, expected, got):
        return f"shape differs: expected {expected.shape}, received {got.shape}"
    if got.dtype.kind not in "biuf":
        return f"dtype {got.dtype} is not numeric"
    g = _as_float(got).reshape(expected.shape)
    e = expected.astype(np.float64)
    if ex.output == "bool":
        if not np.array_equal(g, e):
            return f"{int(np.sum(g != e))} of {e.size} entries differ"
        if got.dtype != bool:
            return f"values right but dtype is {got.dtype}, expected bool"
        return None
    if not np.allclose(g, e, rtol=RTOL, atol=ATOL):
        return "values differ"
    return None


def _matches(out, got) -> bool:
    """Does the student's output equal a mistake's output (loose tolerance, nan == nan)?"""
    out = np.asarray(out)
    if not (_numeric(out) and _numeric(got)):
        return False
    if got.size == 1 and out.size == 1:
        got, out = got.reshape(()), out.reshape(())
    if got.shape != out.shape:
        return False
    return bool(np.allclose(_as_float(got), _as_float(out), rtol=1e-3, atol=1e-4, equal_nan=True))


def _mistake_fits(m, f) -> bool:
    if m.only_tags and f.case.tag not in m.only_tags:
        return False
    if m.test is not None:
        return f.got is not None and bool(m.test(f))
    if m.impl is None:
        return True   # only_tags alone: "fails exactly on these inputs"
    if f.got is None:
        return False
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(m.impl(*f.case.args))
    except Exception:
        return False
    if _matches(out, f.expected.astype(np.float64)):   # the mistake is harmless on this input
        return False
    return _matches(out, f.got)


def _hints(ex, fn, convert, fw, failures):
    first = failures[0]
    hints = []
    if first.error is not None:
        return [_error_hint(ex, fw, first)]
    if first.got is not None and not _numeric(first.got):
        return [_dtype_hint(first.got)]
    # 1) the function draws its own randomness
    try:
        again = _to_numpy(fn(*[convert(a) if isinstance(a, np.ndarray) else a
                               for a in first.case.args]))
        if not _numeric(again):
            raise TypeError("not numeric")
        if again.shape != first.got.shape or not np.allclose(
                _as_float(again), _as_float(first.got), equal_nan=True):
            hints.append("Your function gives different outputs for the same input: do not draw "
                         "random numbers inside it (use the eps argument, not torch.randn_like / "
                         "keras.random.normal / np.random).")
    except (Exception, _TimeLimit, SystemExit):
        pass
    # 2) a catalogued mistake: one that fits every failing input, else the first one
    with_output = [f for f in failures if f.got is not None]
    found = None
    for m in ex.mistakes:
        if with_output and all(_mistake_fits(m, f) for f in with_output):
            found = m
            break
    if found is None:
        found = next((m for m in ex.mistakes if m.impl is not None or m.test is not None
                      if _mistake_fits(m, first)), None)
    if found is not None and not hints:
        hints.append(found.hint.replace("{dtype}", str(first.got.dtype)))
        if ex.output == "bool" and first.got.dtype != bool and found.test is None:
            hints.append(f"Also return dtype bool (you returned {first.got.dtype}).")
    if hints:
        return hints
    # 3) generic diagnoses
    got, exp = first.got, first.expected
    if not _shape_ok(ex, exp, got):
        hint = ex.shape_hint(first.case, exp, got) if ex.shape_hint else None
        return [hint or f"Expected shape {exp.shape}, received {got.shape}."]
    g, e = _as_float(got).reshape(exp.shape), exp.astype(np.float64)
    if np.any(~np.isfinite(g) & np.isfinite(e)):
        return [ex.nonfinite_hint or "nan/inf where the expected output is finite: a numerically "
                "unstable formula?"]
    finite = np.isfinite(g) & np.isfinite(e)
    if np.any(finite & (np.abs(e) > 1e-6)):
        if np.allclose(g[finite], -e[finite], rtol=1e-3, atol=1e-4):
            return ["Sign error: you returned minus the expected value."]
        r = float(np.sum(g[finite] * e[finite]) / np.sum(e[finite] ** 2))
        if abs(r - 1) > 1e-3 and np.allclose(g[finite], r * e[finite], rtol=1e-3, atol=1e-4):
            return [f"Off by a constant factor of {r:.4g}: a sum instead of a mean (or the other "
                    "way round), or a missing or extra factor?"]
        if np.allclose(g[finite], e[finite], rtol=1e-2, atol=1e-3):
            return ["Almost: the differences are small but larger than float32 rounding. Low "
                    "precision (float16 / bfloat16), or an epsilon added somewhere?"]
    return [f"No typical mistake recognised; compare with the formula: {ex.task}. "
            f"(help(aigc_course.exercises.reference({ex.name!r})) shows the rule.)"]


def _error_hint(ex, fw, f) -> str:
    e, msg = f.error, str(f.error)
    if "returned None" in msg:
        return "Your function returned None: did you forget `return`?"
    if f.raw_type:  # the output could not be converted
        return (f"Your function returned a {f.raw_type}; return one array or tensor "
                "(NumPy, torch, TensorFlow or Keras) or a Python number.")
    specific = ex.error_hint(f.case, e) if ex.error_hint else None
    if specific:
        return specific
    low = msg.lower()
    if fw == "numpy" and ("tensor" in low or "torch" in low or "numpy.ndarray" in low):
        return ("Your function received NumPy arrays (framework=None) but seems to expect tensors: "
                "call check(name, fn, framework='torch') (or 'keras' / 'tensorflow').")
    if fw != "numpy" and ("numpy" in low or "ndarray" in low):
        return (f"Your function received {fw} tensors (framework={fw!r}) but seems to expect NumPy "
                "arrays: call check(name, fn) without framework, or use the framework's ops.")
    if "dtype" in low or "scalar type" in low or "expected scalar" in low:
        return ("A dtype clash: the inputs are float32; create constants and new tensors as "
                "float32 too (e.g. torch.ones_like(x), keras.ops.ones_like(x)).")
    return (f"Your function raised on this input ({fw} inputs). Call it yourself on the input "
            "shown above to see the full traceback.")


def _short(s, n=80):
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 3] + "..."


def _num(v) -> str:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.4g}"


def _view(a) -> list:
    """A short view of an array: a few lines, values to 4 significant digits."""
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":  # text, objects, complex numbers: their repr, shortened
        flat = a.reshape(-1)
        shown = ", ".join(_short(repr(v.item() if hasattr(v, "item") else v), 30) for v in flat[:6])
        return ["[" + shown + (f", ... ({flat.size} values)]" if flat.size > 6 else "]")]
    if a.ndim == 0:
        return [str(bool(a)) if a.dtype == bool else _num(float(a))]
    if a.ndim == 2 and max(a.shape) <= 12 and a.dtype.kind in "biuf" and np.all((a == 0) | (a == 1)):
        return [" ".join("1" if v else "." for v in row) for row in a]   # a 0/1 (mask) matrix
    if a.ndim == 2 and a.shape[0] <= 4 and a.shape[1] <= 8:
        return ["[" + ", ".join(_num(float(v)) for v in row) + "]" for row in a]
    flat = a.reshape(-1)
    shown = ", ".join(_num(float(v)) for v in flat[:8])
    return ["[" + shown + (f", ... ({flat.size} values)]" if flat.size > 8 else "]")]


def _describe(label, a, width) -> list:
    pad = " " * 3
    if isinstance(a, (int, np.integer)) and not isinstance(a, bool):
        return [f"{pad}{label:<{width}}{int(a)}"]
    a = np.asarray(a)
    head = f"{pad}{label:<{width}}{a.dtype} {a.shape}"
    lines = _view(a)
    if len(lines) == 1 and len(head) + len(lines[0]) < 100:
        return [f"{head}  {lines[0]}"]
    return [head] + [f"{pad}{'':<{width}}  {line}" for line in lines]


def _diff_line(ex, exp, got) -> str:
    """Largest difference (where both are finite) and inf/nan disagreements, for float outputs."""
    if ex.output == "bool" or not _shape_ok(ex, exp, got) or got.dtype.kind not in "biuf":
        return ""
    g, e = _as_float(got).reshape(exp.shape), exp.astype(np.float64)
    with np.errstate(all="ignore"):
        both = np.isfinite(g) & np.isfinite(e)
        odd = int(np.sum(~both & ~((g == e) | (np.isnan(g) & np.isnan(e)))))
        d = np.where(both, np.abs(g - e), 0.0)
    parts = []
    if np.any(both) and d.max() > 0:
        idx = np.unravel_index(int(np.argmax(d)), d.shape)
        where = f" at index {tuple(int(i) for i in idx)}" if d.ndim else ""
        parts.append(f"max abs diff {d[idx]:.4g}{where}")
    elif np.any(both):
        parts.append("the finite entries agree")
    if odd:
        parts.append(f"{odd} of {e.size} entries differ in inf/nan")
    return "; ".join(parts)


def _report(ex, fw, cases, failures, first, hints):
    n, w = len(cases), max(map(len, ex.params + ("expected",))) + 2
    pad = "   " + " " * w
    lines = [f"❌ {ex.name}: wrong on {len(failures)} of {n} inputs. First: input "
             f"{first.index + 1} of {n} ({first.case.label}), {fw} inputs"]
    for pname, a in zip(ex.params, first.case.args):
        lines += _describe(pname, a, w)
    lines += _describe("expected", first.expected, w)
    if first.got is not None:
        lines += _describe("received", first.got, w)
        diff = _diff_line(ex, first.expected, first.got)
        lines.append(pad + (diff or first.reason))
    else:
        lines.append(f"   {'error':<{w}}{first.reason}")
        if first.where:
            lines.append(f"{pad}at {first.where}")
    for h in hints:
        lines += textwrap.wrap(h, 100, initial_indent="   hint: ", subsequent_indent=" " * 9)
    print("\n".join(lines))
