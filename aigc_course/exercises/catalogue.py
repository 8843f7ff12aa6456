"""The catalogue of exercises: their inputs, the tolerance, and the typical mistakes.

For each exercise (:class:`Exercise`): the reference solution
(:mod:`aigc_course.exercises.references`), the inputs it is checked on
(random ones plus edge cases: a batch of one, logits of magnitude 50 and more,
T = 1, ties, ...), what the output is, and the catalogue of typical mistakes
(:class:`Mistake`), each with the hint :func:`~aigc_course.exercises.check` prints
when the student's output matches it. Adding an exercise means adding one entry
to :data:`EXERCISES` (see CONTRIBUTING.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..numpy_nn import sigmoid, softplus
from .references import (
    bernoulli_nll,
    causal_attention_mask,
    gan_discriminator_loss,
    gan_generator_loss,
    reparameterize,
    top_k_filter,
    vae_kl,
)

RTOL, ATOL = 1e-4, 1e-5  # float32 rounding passes, mistakes do not


@dataclass(frozen=True)
class Case:
    label: str
    args: tuple  # float32 arrays (converted for the framework) and Python ints
    tag: str = "random"  # "random", or the edge case it is


@dataclass(frozen=True)
class Mistake:
    """A typical mistake: the wrong formula (``impl``, NumPy, compared with what the
    student returned) or a predicate ``test(failure)`` on each failing input;
    ``only_tags``: the mistake shows only on inputs of these tags."""

    hint: str
    impl: Callable | None = None
    test: Callable | None = None
    only_tags: tuple = ()


@dataclass(frozen=True)
class Exercise:
    name: str
    params: tuple
    reference: Callable
    cases: Callable  # (rng, trials) -> list of Case
    output: str  # "scalar", "array" or "bool"
    task: str
    mistakes: tuple = ()
    nonfinite_hint: str = ""
    shape_hint: Callable | None = None  # (case, expected, got) -> str or None
    error_hint: Callable | None = None  # (case, exception) -> str or None


def _f32(a):
    return np.asarray(a, np.float32)


def _with_errstate(fn):
    def wrapped(*args):
        with np.errstate(all="ignore"):
            return fn(*args)

    return wrapped


# --- GAN losses
_STABLE = (
    "Numerically unstable for large logits: sigmoid(50) rounds to 1.0 in float32, so "
    "log(1 - sigmoid(50)) = log(0) = -inf (and clamping or adding an epsilon gives a wrong "
    "finite number instead). Never compute log(sigmoid(l)) in two steps: use "
    "-log sigmoid(l) = softplus(-l) and -log(1 - sigmoid(l)) = softplus(l) "
    "(F.softplus / F.logsigmoid, keras.ops.softplus / keras.ops.log_sigmoid), or a loss "
    "'with logits' (F.binary_cross_entropy_with_logits, "
    "keras.losses.binary_crossentropy(..., from_logits=True), "
    "tf.nn.sigmoid_cross_entropy_with_logits)."
)
_PROBS = (
    "You treated the logits as probabilities: the inputs are raw scores, any real number, "
    "not values in [0, 1]. Use a loss 'with logits': F.binary_cross_entropy_with_logits, "
    "keras.losses.binary_crossentropy(..., from_logits=True) (its default is "
    "from_logits=False), tf.nn.sigmoid_cross_entropy_with_logits; or softplus."
)
_DOUBLE = (
    "You applied the sigmoid twice: a loss 'with logits' applies sigmoid itself, so give it "
    "the raw logits, not sigmoid(logits)."
)
_SUM = (
    "Sum instead of mean: average the binary cross-entropy over the batch (mean), so that the "
    "loss does not grow with the batch size."
)


def _bce_on_probs(p, y):
    """What Keras's binary_crossentropy(from_logits=False) computes when p are logits."""
    p = np.clip(_f32(p), np.float32(1e-7), np.float32(1 - 1e-7))
    return -np.mean(
        y * np.log(p) + (1 - y) * np.log(np.float32(1) - p), dtype=np.float64
    )


def _naive_log_sigmoid(x):
    """float32 log(sigmoid(x)) clamped at -100, like F.binary_cross_entropy on sigmoid(x)."""
    s = np.float32(1) / (np.float32(1) + np.exp(-_f32(x)))
    return np.maximum(np.log(s), -100.0), np.maximum(np.log(np.float32(1) - s), -100.0)


def _d_naive(r, f):
    return -np.mean(_naive_log_sigmoid(r)[0]) - np.mean(_naive_log_sigmoid(f)[1])


def _scalar_shape_hint(case, expected, got):
    n = case.args[0].size
    if got.size == n:
        return "Return a single number: you returned one loss per example; average over the batch with mean()."
    return "Return a single number (a 0-d tensor or a float), the loss averaged over the batch."


def _bce_error_hint(case, exc):
    if "between 0 and 1" in str(exc) or "0 <= " in str(exc):
        return (
            "binary_cross_entropy (and nn.BCELoss) expects probabilities; the inputs are "
            "logits. Use F.binary_cross_entropy_with_logits, or softplus."
        )
    return None


def _logit_cases(rng, trials, means, zero_loss):
    """Batches of logits, one per mean in ``means``: random ones, then the edge cases."""
    cases = []
    for t in range(trials):
        n = int(rng.integers(2, 65))
        shape = (n, 1) if t % 2 == 0 else (n,)
        cases.append(
            Case(
                f"random batch {shape}",
                tuple(_f32(rng.normal(m, 2.0, shape)) for m in means),
            )
        )
    big = _f32([[50.0], [-50.0], [120.0], [-120.0], [0.5], [-2.0]])
    cases += [
        Case(
            "batch of 1", tuple(_f32(rng.normal(0, 2, (1, 1))) for _ in means), "batch1"
        ),
        Case(
            "large-magnitude logits (+-50, +-120)",
            (big, big[::-1].copy())[: len(means)],
            "large",
        ),
        Case(
            f"all-zero logits (loss = {zero_loss})",
            tuple(np.zeros((4, 1), np.float32) for _ in means),
            "zeros",
        ),
    ]
    return cases


def _gan_d_cases(rng, trials):
    return _logit_cases(rng, trials, means=(1.0, -1.0), zero_loss="2 log 2")


_GAN_D = Exercise(
    name="gan_discriminator_loss",
    params=("real_logits", "fake_logits"),
    reference=gan_discriminator_loss,
    cases=_gan_d_cases,
    output="scalar",
    task="mean(BCE(real_logits, 1)) + mean(BCE(fake_logits, 0)), from logits: "
    "mean(softplus(-real)) + mean(softplus(fake))",
    mistakes=(
        Mistake(
            "Labels swapped: the discriminator must call the real samples 1 and the fakes 0. "
            "BCE(l, 1) = -log sigmoid(l) = softplus(-l) goes with real_logits, "
            "BCE(l, 0) = -log(1 - sigmoid(l)) = softplus(l) with fake_logits.",
            impl=lambda r, f: np.mean(softplus(r)) + np.mean(softplus(-np.asarray(f))),
        ),
        Mistake(
            _SUM,
            impl=lambda r, f: np.sum(softplus(-np.asarray(r))) + np.sum(softplus(f)),
        ),
        Mistake(
            "Half the expected value: the loss is the SUM of the two means, "
            "mean BCE(real, 1) + mean BCE(fake, 0), as in "
            "aigc_course.torch.gan.discriminator_loss; do not average the two terms (or take "
            "one mean over the real and fake logits concatenated).",
            impl=lambda r, f: 0.5 * gan_discriminator_loss(r, f),
        ),
        Mistake(
            "Only the real term: add the fake term mean BCE(fake_logits, 0) = mean(softplus(fake_logits)).",
            impl=lambda r, f: np.mean(softplus(-np.asarray(r))),
        ),
        Mistake(
            "Only the fake term: add the real term mean BCE(real_logits, 1) = mean(softplus(-real_logits)).",
            impl=lambda r, f: np.mean(softplus(f)),
        ),
        Mistake(
            _PROBS,
            impl=_with_errstate(lambda r, f: _bce_on_probs(r, 1) + _bce_on_probs(f, 0)),
        ),
        Mistake(
            _DOUBLE,
            impl=lambda r, f: (
                np.mean(softplus(-sigmoid(r))) + np.mean(softplus(sigmoid(f)))
            ),
        ),
        Mistake(_STABLE, impl=_with_errstate(_d_naive)),
        Mistake(_STABLE, only_tags=("large",)),
    ),
    nonfinite_hint=_STABLE,
    shape_hint=_scalar_shape_hint,
    error_hint=_bce_error_hint,
)


def _gan_g_cases(rng, trials):
    return _logit_cases(rng, trials, means=(-1.0,), zero_loss="log 2")


_GAN_G = Exercise(
    name="gan_generator_loss",
    params=("fake_logits",),
    reference=gan_generator_loss,
    cases=_gan_g_cases,
    output="scalar",
    task="the non-saturating loss -mean(log sigmoid(fake_logits)) = mean(softplus(-fake_logits))",
    mistakes=(
        Mistake(
            "That is the saturating loss mean(log(1 - D(G(z)))) of the original minimax game: "
            "its gradient vanishes exactly when D confidently rejects the fakes (early in "
            "training). Use the non-saturating loss -mean(log D(G(z))) = "
            "-mean(log sigmoid(l)) = mean BCE(fake_logits, 1).",
            impl=lambda f: -np.mean(softplus(f)),
        ),
        Mistake(
            "That is BCE with the fakes labelled 0, the discriminator's target. The generator "
            "wants D to call its fakes real: label them 1, -mean(log sigmoid(l)).",
            impl=lambda f: np.mean(softplus(f)),
        ),
        Mistake(
            "Sign error: the generator MINIMISES -log D(G(z)); you returned +mean(log sigmoid(l)).",
            impl=lambda f: -gan_generator_loss(f),
        ),
        Mistake(_SUM, impl=lambda f: np.sum(softplus(-np.asarray(f)))),
        Mistake(_PROBS, impl=_with_errstate(lambda f: _bce_on_probs(f, 1))),
        Mistake(_DOUBLE, impl=lambda f: np.mean(softplus(-sigmoid(f)))),
        Mistake(
            _STABLE, impl=_with_errstate(lambda f: -np.mean(_naive_log_sigmoid(f)[0]))
        ),
        Mistake(_STABLE, only_tags=("large",)),
    ),
    nonfinite_hint=_STABLE,
    shape_hint=_scalar_shape_hint,
    error_hint=_bce_error_hint,
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
        cases.append(
            Case(
                f"random (N, D) = ({n}, {d})",
                (_f32(rng.normal(0, 1, (n, d))), _f32(rng.uniform(-3, 2, (n, d)))),
            )
        )
    cases += [
        Case(
            "batch of 1",
            (_f32(rng.normal(0, 1, (1, 4))), _f32(rng.uniform(-3, 2, (1, 4)))),
            "batch1",
        ),
        Case(
            "square N = D = 3",
            (_f32(rng.normal(0, 1, (3, 3))), _f32(rng.uniform(-3, 2, (3, 3)))),
            "square",
        ),
        Case(
            "one latent dimension",
            (_f32(rng.normal(0, 1, (5, 1))), _f32(rng.uniform(-3, 2, (5, 1)))),
            "d1",
        ),
        Case(
            "the prior itself (mu = 0, logvar = 0: KL = 0)",
            (np.zeros((3, 4), np.float32), np.zeros((3, 4), np.float32)),
            "prior",
        ),
    ]
    return cases


def _vae_shape_hint(case, expected, got):
    n, d = case.args[0].shape
    one_per = (
        "vae_kl returns one KL per example, shape (N,) = "
        f"{expected.shape}: sum over the "
        "latent axis only (axis=-1 / dim=-1) and keep the batch axis. (The mean over the "
        "batch belongs in the training loss, not here.)"
    )
    if got.ndim == 0 or (got.size == 1 and n != 1):
        return "You returned a single number. " + one_per
    if got.shape == (n, 1):
        return "Shape (N, 1): sum without keepdims, so the result is (N,). " + one_per
    if got.shape == (d,):
        return "Shape (D,): you summed over the batch axis (axis 0). " + one_per
    if got.shape == (n, d):
        return "Shape (N, D): you did not sum over the latent dimensions. " + one_per
    return None


_VAE_KL = Exercise(
    name="vae_kl",
    params=("mu", "logvar"),
    reference=vae_kl,
    cases=_vae_cases,
    output="array",
    task="-0.5 * sum(1 + logvar - mu**2 - exp(logvar), axis=-1), one value per example (N,)",
    mistakes=(
        Mistake(
            "Mean over the latent dimensions: the KL between diagonal Gaussians is a SUM over "
            "dimensions (they are independent, so their KLs add). Use sum(..., axis=-1).",
            impl=lambda m, lv: vae_kl(m, lv) / np.shape(m)[-1],
        ),
        Mistake(
            "Twice the expected value: you forgot the 1/2 in -0.5 * sum(1 + logvar - mu^2 - exp(logvar)).",
            impl=lambda m, lv: 2 * vae_kl(m, lv),
        ),
        Mistake(
            "logvar is log(sigma^2), not sigma: the variance is exp(logvar). You used sigma = logvar.",
            impl=_with_errstate(
                lambda m, lv: _kl_terms(
                    m, np.float64(lv) ** 2, np.log(np.float64(lv) ** 2)
                )
            ),
        ),
        Mistake(
            "logvar is log(sigma^2), not the variance itself: the variance is exp(logvar) "
            "(logvar can be negative; a variance cannot).",
            impl=_with_errstate(
                lambda m, lv: _kl_terms(m, np.float64(lv), np.log(np.float64(lv)))
            ),
        ),
        Mistake(
            "logvar is log(sigma^2), not log(sigma): the variance is exp(logvar), not exp(2 * logvar).",
            impl=lambda m, lv: _kl_terms(
                m, np.exp(2 * np.float64(lv)), 2 * np.float64(lv)
            ),
        ),
        Mistake(
            "The mu^2 term is missing: -0.5 * sum(1 + logvar - mu^2 - exp(logvar)).",
            impl=lambda m, lv: vae_kl(np.zeros_like(m), lv),
        ),
        Mistake(
            "Sign error: KL >= 0 always; the formula is -0.5 * sum(1 + logvar - mu^2 - "
            "exp(logvar)), with the minus in front.",
            impl=lambda m, lv: -vae_kl(m, lv),
        ),
        Mistake(
            "You summed over the batch axis (axis 0). "
            + "Sum over the latent axis, axis=-1.",
            impl=lambda m, lv: (
                -0.5
                * np.sum(
                    1.0 + np.float64(lv) - np.float64(m) ** 2 - np.exp(np.float64(lv)),
                    axis=0,
                )
            ),
        ),
        Mistake(
            "You returned a single number (the batch mean). vae_kl returns one KL per "
            "example, shape (N,): sum over the latent axis only and keep the batch axis.",
            impl=lambda m, lv: np.mean(vae_kl(m, lv)),
        ),
        Mistake(
            "You returned a single number (the total over the batch). vae_kl returns one KL "
            "per example, shape (N,): sum over the latent axis only and keep the batch axis.",
            impl=lambda m, lv: np.sum(vae_kl(m, lv)),
        ),
    ),
    nonfinite_hint=(
        "nan/inf in the KL: exp(logvar) is finite here, so look for a log or a sqrt of "
        "logvar (it is a log-variance and may be negative)."
    ),
    shape_hint=_vae_shape_hint,
)


def _reparam_cases(rng, trials):
    def triple(shape, lo=-3.0, hi=2.0):
        return (
            _f32(rng.normal(0, 1, shape)),
            _f32(rng.uniform(lo, hi, shape)),
            _f32(rng.normal(0, 1, shape)),
        )

    cases = []
    for _ in range(trials):
        shape = (int(rng.integers(2, 33)), int(rng.integers(2, 17)))
        cases.append(Case(f"random (N, D) = {shape}", triple(shape)))
    mu, lv, _ = triple((3, 4))
    cases += [
        Case("batch of 1", triple((1, 4)), "batch1"),
        Case("extreme logvar in [-20, 6]", triple((4, 5), -20.0, 6.0), "extreme"),
        Case("eps = 0 (z = mu)", (mu, lv, np.zeros((3, 4), np.float32)), "eps0"),
    ]
    return cases


def _reparam_shape_hint(case, expected, got):
    return (
        f"z has the shape of mu, {expected.shape}: mu + exp(0.5 * logvar) * eps is elementwise, "
        "with no sum or mean."
    )


_REPARAM = Exercise(
    name="reparameterize",
    params=("mu", "logvar", "eps"),
    reference=reparameterize,
    cases=_reparam_cases,
    output="array",
    task="mu + exp(0.5 * logvar) * eps, elementwise",
    mistakes=(
        Mistake(
            "exp(logvar) is the variance sigma^2; z needs the standard deviation "
            "sigma = exp(0.5 * logvar) = sqrt(exp(logvar)).",
            impl=lambda m, lv, e: np.float64(m) + np.exp(np.float64(lv)) * e,
        ),
        Mistake(
            "logvar is log(sigma^2), not sigma: sigma = exp(0.5 * logvar).",
            impl=lambda m, lv, e: np.float64(m) + np.float64(lv) * e,
        ),
        Mistake(
            "logvar is log(sigma^2), not the variance: sigma = exp(0.5 * logvar), not "
            "sqrt(logvar) (logvar may be negative).",
            impl=_with_errstate(
                lambda m, lv, e: np.float64(m) + np.sqrt(np.float64(lv)) * e
            ),
        ),
        Mistake(
            "Sign in the exponent: sigma = exp(+0.5 * logvar).",
            impl=lambda m, lv, e: np.float64(m) + np.exp(-0.5 * np.float64(lv)) * e,
        ),
        Mistake(
            "You forgot to add mu: z = mu + sigma * eps.",
            impl=lambda m, lv, e: np.exp(0.5 * np.float64(lv)) * e,
        ),
        Mistake(
            "The noise is not scaled: z = mu + sigma * eps with sigma = exp(0.5 * logvar).",
            impl=lambda m, lv, e: np.float64(m) + e,
        ),
    ),
    nonfinite_hint="nan/inf in z: is there a log or a sqrt of logvar? sigma = exp(0.5 * logvar).",
    shape_hint=_reparam_shape_hint,
)


# --- VAE reconstruction term
def _bnll_cases(rng, trials):
    def pair(shape, scale=3.0):
        return (_f32(rng.normal(0, scale, shape)), _f32(rng.random(shape) < 0.4))

    cases = []
    for _ in range(trials):
        n, d = int(rng.integers(2, 17)), int(rng.integers(5, 40))
        while n == d:
            d = int(rng.integers(5, 40))
        cases.append(Case(f"random (N, D) = ({n}, {d})", pair((n, d))))
    x_big = _f32([[1, 0, 1, 0, 1, 1], [0, 1, 0, 1, 0, 0]])
    l_big = _f32([[50, -50, 120, -120, 0.5, -2.0], [50, -50, 120, -120, 0.5, -2.0]])
    cases += [
        Case(
            "images (N, 1, 4, 4), channels first (PyTorch)", pair((3, 1, 4, 4)), "image"
        ),
        Case("images (N, 4, 4, 1), channels last (Keras)", pair((3, 4, 4, 1)), "image"),
        Case("batch of 1", pair((1, 9)), "batch1"),
        Case("square N = D = 5", pair((5, 5)), "square"),
        Case("large-magnitude logits (+-50, +-120)", (l_big, x_big), "large"),
    ]
    return cases


def _bnll_shape_hint(case, expected, got):
    logits = case.args[0]
    one_per = (
        f"bernoulli_nll returns one value per example, shape (N,) = {expected.shape}: sum "
        "over every axis but the first (x.flatten(1).sum(1) in PyTorch, "
        "keras.ops.sum(bce, axis=tuple(range(1, ndim))) in Keras). The mean over the batch "
        "belongs in the training loss, not here."
    )
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


_BNLL_STABLE = (
    "Numerically unstable for large logits: sigmoid(50) rounds to 1.0 in float32, so "
    "log(1 - sigmoid(50)) = log(0). Compute BCE from the logits: "
    "F.binary_cross_entropy_with_logits(logits, x, reduction='none') in PyTorch, "
    "keras.ops.softplus(logits) - x * logits (or keras.losses.binary_crossentropy with "
    "from_logits=True) in Keras."
)

_BNLL = Exercise(
    name="bernoulli_nll",
    params=("logits", "x"),
    reference=bernoulli_nll,
    cases=_bnll_cases,
    output="array",
    task="sum over all axes but the first of softplus(logits) - x * logits, one value per example (N,)",
    mistakes=(
        Mistake(
            "Mean over the pixels instead of the sum. log p(x | z) is a SUM over the pixels; "
            "averaging divides the reconstruction term by 784 while the KL stays a sum, so "
            "the KL wins and the VAE ignores z (posterior collapse). Note: "
            "F.binary_cross_entropy_with_logits averages unless reduction='none', and "
            "keras.losses.binary_crossentropy averages over the last axis.",
            impl=_bnll_mean,
        ),
        Mistake(
            "Arguments swapped: the logits are the prediction and x the target. PyTorch: "
            "F.binary_cross_entropy_with_logits(logits, x); Keras: "
            "keras.losses.binary_crossentropy(x, logits, from_logits=True) (y_true first).",
            impl=lambda l, x: bernoulli_nll(x, l),
        ),
        Mistake(
            "Targets flipped: the pixel is on (x = 1) with probability sigmoid(logits); you "
            "used 1 - x as the target.",
            impl=lambda l, x: bernoulli_nll(l, 1 - np.asarray(x)),
        ),
        Mistake(
            "Sign error: a negative log-likelihood of binary pixels is >= 0; you returned "
            "log p(x | z) instead of -log p(x | z).",
            impl=lambda l, x: -bernoulli_nll(l, x),
        ),
        Mistake(
            "You treated the logits as probabilities: they are raw scores, any real number. "
            "Use a BCE 'with logits' (from_logits=True in Keras), or softplus(l) - x * l.",
            impl=_with_errstate(_bnll_probs),
        ),
        Mistake(_BNLL_STABLE, impl=_with_errstate(_bnll_naive)),
        Mistake(_BNLL_STABLE, only_tags=("large",)),
    ),
    nonfinite_hint=_BNLL_STABLE,
    shape_hint=_bnll_shape_hint,
    error_hint=_bce_error_hint,
)


# --- autoregressive
def _mask_cases(rng, trials):
    pool = rng.permutation(np.arange(3, 17))
    cases = [Case(f"T = {int(t)}", (int(t),)) for t in pool[:trials]]
    cases += [Case("T = 1", (1,), "T1"), Case("T = 2", (2,), "T2")]
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


_NON_BOOL = (
    "Right pattern, wrong dtype ({dtype}): return a boolean mask (dtype bool), e.g. "
    "np.tril(np.ones((T, T), dtype=bool)), torch.tril(torch.ones(T, T, dtype=torch.bool)) "
    "or keras.ops.tril(keras.ops.ones((T, T))) > 0. masked_fill and where select with "
    "booleans; a 0/1 float mask is not one."
)

_CAUSAL = Exercise(
    name="causal_attention_mask",
    params=("T",),
    reference=causal_attention_mask,
    cases=_mask_cases,
    output="bool",
    task="boolean (T, T), mask[i, j] = True where j <= i (the lower triangle, diagonal included)",
    mistakes=(
        Mistake(
            "This is the mask of the FUTURE positions (True where j > i), the ones to hide, "
            "e.g. what masked_fill(mask, -inf) takes. The check asks for the allowed "
            "positions, True where j <= i: invert it (~mask) or use tril.",
            impl=lambda T: np.triu(np.ones((T, T), bool), 1),
        ),
        Mistake(
            "Transposed: True where j >= i (the upper triangle). Row i is the query position, "
            "column j the key position, and position i may look at j <= i: the lower "
            "triangle, tril (np.tril, torch.tril, keras.ops.tril).",
            impl=lambda T: np.triu(np.ones((T, T), bool)),
        ),
        Mistake(
            "Strict: the diagonal must be True, a position may attend to itself (j <= i, not "
            "j < i). With tril keep the main diagonal (diagonal=0 / k=0, the default), not -1.",
            impl=lambda T: np.tril(np.ones((T, T), bool), -1),
        ),
        Mistake(
            "Nothing is masked: position i must not attend to the later positions j > i.",
            impl=lambda T: np.ones((T, T), bool),
        ),
        Mistake(
            "That is an additive mask (0 where allowed, -inf where not) that one adds to the "
            "attention scores. This exercise asks for the boolean mask: True where j <= i.",
            test=lambda f: _additive(f.got, f.expected),
        ),
        Mistake(_NON_BOOL, test=lambda f: _non_bool(f.got, f.expected)),
    ),
    shape_hint=lambda case, expected, got: (
        f"Return a 2-D (T, T) mask, here {expected.shape}; no batch or head axes (they broadcast later)."
    ),
)


def _top_k_cases(rng, trials):
    cases = []
    for t in range(trials):
        v = int(rng.integers(5, 31))
        k = int(rng.integers(1, v))
        shape = (int(rng.integers(2, 5)), v) if t % 2 == 0 else (v,)
        if t % 4 >= 2:  # integer-valued logits: ties are likely
            x = _f32(rng.integers(-3, 4, shape))
            cases.append(
                Case(f"integer logits {shape} (ties likely), k = {k}", (x, k), "ties")
            )
        else:
            cases.append(
                Case(
                    f"random logits {shape}, k = {k}",
                    (_f32(rng.normal(0, 2, shape)), k),
                )
            )
    x2 = _f32(rng.normal(0, 2, (3, 6)))
    cases += [
        Case("k = V = 6 (nothing filtered)", (x2, 6), "kV"),
        Case("k = 1 (greedy)", (_f32(rng.normal(0, 2, (2, 7))), 1), "k1"),
        Case(
            "ties with the k-th largest, k = 2",
            (_f32([1.0, 3.0, 2.0, 2.0, 0.0]), 2),
            "ties",
        ),
        Case(
            "ties with the k-th largest in a batch, k = 3",
            (
                _f32([[0.5, 2.0, 1.0, 1.0, 1.0, -1.0], [4.0, 3.0, 2.0, 1.0, 0.0, 2.0]]),
                3,
            ),
            "ties",
        ),
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
    same_values = np.array_equal(
        np.where(kept, _rowwise(g), 0.0), np.where(kept, _rowwise(exp), 0.0)
    )
    return bool(
        same_values
        and np.all(kept.sum(-1) == k)
        and np.all(kept <= want)
        and np.any(want.sum(-1) > k)
    )


def _large_negative(f):
    got, exp = f.got, f.expected
    if got.shape != exp.shape:
        return False
    with np.errstate(all="ignore"):
        g = got.astype(np.float64)
    dropped = ~np.isfinite(exp)
    return bool(
        np.any(dropped)
        and np.all(np.isfinite(g[dropped]))
        and np.all(g[dropped] <= -1e4)
        and np.allclose(g[~dropped], exp[~dropped], rtol=RTOL, atol=ATOL)
    )


def _top_k_shape_hint(case, expected, got):
    x, k = case.args
    if got.shape[-1:] == (k,) and got.shape[:-1] == x.shape[:-1]:
        return (
            "You returned only the top-k values (what torch.topk / keras.ops.top_k give). "
            "Return an array shaped like logits, with the logits outside the top k set to "
            "-inf: compare logits with the k-th largest value."
        )
    return f"Return an array shaped like logits, {x.shape}."


def _top_k_error_hint(case, exc):
    x, k = case.args
    if k == x.shape[-1]:
        return (
            "This input has k equal to the vocabulary size V: then nothing is filtered. The "
            "k-th largest is sorted[..., -k] (for k = V the smallest), and topk(x, k) accepts "
            "k = V."
        )
    return None


def _top_k_axis0(x, k):
    x = np.asarray(x, np.float64)
    return np.where(x < np.sort(x, axis=0)[-k], -np.inf, x)


def _top_k_kplus1(x, k):
    x = np.asarray(x, np.float64)
    if k + 1 > x.shape[-1]:
        return x
    return top_k_filter(x, k + 1)


_TOP_K = Exercise(
    name="top_k_filter",
    params=("logits", "k"),
    reference=top_k_filter,
    cases=_top_k_cases,
    output="array",
    task="logits < (k-th largest of the row) -> -inf, along the last axis (ties with the k-th kept)",
    mistakes=(
        Mistake(
            "You set the filtered logits to 0, but a logit of 0 still gets probability "
            "e^0 / Z > 0 after the softmax. Use -inf (float('-inf')): exp(-inf) = 0, so those "
            "tokens can never be sampled.",
            impl=lambda x, k: np.where(
                np.float64(x) < np.sort(np.float64(x), -1)[..., -k, None],
                0.0,
                np.float64(x),
            ),
        ),
        Mistake(
            "Almost: use -inf (float('-inf')) rather than a large negative number, so that the "
            "filtered tokens get probability exactly 0 (a finite value can overflow in "
            "float16 or be outvoted by very negative logits).",
            test=_large_negative,
        ),
        Mistake(
            "Off by one: you kept k + 1 logits. The k-th largest is "
            "np.sort(x, axis=-1)[..., -k] (or torch.topk(x, k).values[..., -1:]); set only the "
            "logits strictly below it to -inf.",
            impl=_top_k_kplus1,
        ),
        Mistake(
            "Off by one: you also removed the k-th largest itself. Keep every logit >= the "
            "k-th largest value: set to -inf where logits < kth (strictly), not <=.",
            impl=lambda x, k: np.where(
                np.float64(x) <= np.sort(np.float64(x), -1)[..., -k, None],
                -np.inf,
                np.float64(x),
            ),
        ),
        Mistake(
            "You kept the k SMALLEST logits; keep the k largest (sort ascending and take "
            "[..., -k], or topk).",
            impl=lambda x, k: np.where(
                np.float64(x) > np.sort(np.float64(x), -1)[..., k - 1, None],
                -np.inf,
                np.float64(x),
            ),
        ),
        Mistake(
            "Ties: some logits are equal to the k-th largest and you kept only k of them. The "
            "rule (as in aigc_course.text.top_k_filter): keep every logit >= the k-th largest "
            "value, so all ties with it are kept (compare with the k-th value instead of "
            "keeping the indices returned by topk).",
            test=_exactly_k_dropped_ties,
            only_tags=("ties",),
        ),
        Mistake(
            "Wrong axis: filter each row along the LAST axis (the vocabulary), not axis 0.",
            impl=_with_errstate(_top_k_axis0),
        ),
        Mistake(
            "Nothing was filtered: set the logits below the k-th largest to -inf.",
            impl=lambda x, k: np.asarray(x, np.float64),
        ),
    ),
    nonfinite_hint="nan in the output: -inf appears only where a logit is dropped.",
    shape_hint=_top_k_shape_hint,
    error_hint=_top_k_error_hint,
)

EXERCISES = {
    ex.name: ex for ex in (_GAN_D, _GAN_G, _VAE_KL, _REPARAM, _BNLL, _CAUSAL, _TOP_K)
}
