"""Exercise checks: correct solutions pass (NumPy, PyTorch), typical mistakes fail with their hint.

The Keras and TensorFlow solutions are in test_exercises_keras.py (marked keras).
"""

import subprocess
import sys

import numpy as np
import pytest

from aigc_course.exercises import check, choose, list_exercises, reference
from aigc_course.text import top_k_filter as text_top_k_filter

NAMES = [
    "gan_discriminator_loss",
    "gan_generator_loss",
    "vae_kl",
    "reparameterize",
    "bernoulli_nll",
    "causal_attention_mask",
    "top_k_filter",
]


# ----- NumPy solutions, written differently from the references ------------------------
def _np_topk(x, k):
    # k-th largest via partition
    kth = -np.partition(-x, k - 1, axis=-1)[..., k - 1 : k]
    return np.where(x >= kth, x, -np.inf)


NUMPY_OK = {
    "gan_discriminator_loss": lambda r, f: (
        np.mean(np.logaddexp(0, -r)) + np.mean(np.logaddexp(0, f))
    ),
    "gan_generator_loss": lambda f: np.mean(np.logaddexp(0.0, -f)),
    "vae_kl": lambda m, lv: 0.5 * np.sum(np.exp(lv) + m**2 - 1 - lv, axis=1),
    "reparameterize": lambda m, lv, e: m + np.sqrt(np.exp(lv)) * e,
    "bernoulli_nll": lambda l, x: np.sum(
        np.logaddexp(0, np.where(x > 0, -l, l)), axis=tuple(range(1, l.ndim))
    ),
    "causal_attention_mask": lambda T: np.arange(T)[:, None] >= np.arange(T)[None, :],
    "top_k_filter": _np_topk,
}


def _sig(x):
    return 1 / (1 + np.exp(-x))


def test_list_exercises_has_the_seven():
    assert list_exercises() == NAMES
    assert all(callable(reference(n)) and reference(n).__doc__ for n in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_numpy_solution_accepted(name, capsys):
    assert check(name, NUMPY_OK[name]) is True
    out = capsys.readouterr().out
    assert out.startswith(f"✅ {name}: correct on ") and "inputs" in out


def test_counts_edge_cases_and_trials(capsys):
    check("gan_discriminator_loss", NUMPY_OK["gan_discriminator_loss"], trials=0)
    check("gan_discriminator_loss", NUMPY_OK["gan_discriminator_loss"], trials=5)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "✅ gan_discriminator_loss: correct on 3 inputs",
        "✅ gan_discriminator_loss: correct on 8 inputs",
    ]


def test_same_seed_same_report(capsys):
    wrong = NUMPY_OK["vae_kl"]
    for _ in range(2):
        check("vae_kl", lambda m, lv: 2 * wrong(m, lv), seed=3)
    a, b = capsys.readouterr().out.split("❌")[1:]
    assert a == b


# ----- the references agree with the package and with independent formulas -------------
def test_reference_top_k_matches_text_module():
    rng = np.random.default_rng(0)
    f = reference("top_k_filter")
    for shape, k in [((7,), 3), ((4, 9), 2), ((3, 5), 5), ((2, 6), 1)]:
        for x in (rng.normal(size=shape), rng.integers(-2, 3, shape).astype(float)):
            np.testing.assert_array_equal(f(x, k), text_top_k_filter(x, k))
    # ties kept
    assert np.isfinite(f(np.array([1.0, 3.0, 2.0, 2.0, 0.0]), 2)).sum() == 3


def test_reference_kl_matches_univariate_formula():
    rng = np.random.default_rng(1)
    mu, logvar = rng.normal(size=(6, 4)), rng.uniform(-3, 2, (6, 4))
    sigma = np.exp(logvar / 2)
    # KL(N(mu, s^2) || N(0, 1))
    by_dim = np.log(1 / sigma) + (sigma**2 + mu**2) / 2 - 0.5
    np.testing.assert_allclose(
        reference("vae_kl")(mu, logvar), by_dim.sum(-1), rtol=1e-12
    )


def test_reference_losses_match_naive_formulas_on_moderate_logits():
    rng = np.random.default_rng(2)
    r, f = rng.normal(size=(8, 1)), rng.normal(size=(8, 1))
    naive_d = -np.mean(np.log(_sig(r))) - np.mean(np.log(1 - _sig(f)))
    assert reference("gan_discriminator_loss")(r, f) == pytest.approx(
        naive_d, rel=1e-12
    )
    assert reference("gan_generator_loss")(f) == pytest.approx(
        -np.mean(np.log(_sig(f))), rel=1e-12
    )
    assert reference("gan_discriminator_loss")(
        np.zeros(3), np.zeros(3)
    ) == pytest.approx(2 * np.log(2))
    assert reference("gan_generator_loss")(np.array([-1000.0])) == pytest.approx(1000.0)


def test_references_match_the_torch_package():
    torch = pytest.importorskip("torch")
    from aigc_course.torch.gan import discriminator_loss, generator_loss
    from aigc_course.torch.vae import gaussian_kl
    from aigc_course.torch.vae import reparameterize as torch_reparam

    rng = np.random.default_rng(3)
    r, f = rng.normal(0, 30, (16, 1)), rng.normal(0, 30, (16, 1))  # large logits too
    t = torch.from_numpy
    assert float(discriminator_loss(t(r), t(f))) == pytest.approx(
        reference("gan_discriminator_loss")(r, f), rel=1e-10
    )
    assert float(generator_loss(t(f))) == pytest.approx(
        reference("gan_generator_loss")(f), rel=1e-10
    )
    mu, lv, eps = (rng.normal(size=(5, 3)) for _ in range(3))
    np.testing.assert_allclose(
        gaussian_kl(t(mu), t(lv)).numpy(), reference("vae_kl")(mu, lv)
    )
    np.testing.assert_allclose(
        torch_reparam(t(mu), t(lv), t(eps)).numpy(),
        reference("reparameterize")(mu, lv, eps),
    )
    from aigc_course.torch.vae import bernoulli_nll

    logits, x = (
        rng.normal(0, 30, (4, 1, 5, 5)),
        (rng.random((4, 1, 5, 5)) < 0.5).astype(float),
    )
    np.testing.assert_allclose(
        bernoulli_nll(t(logits), t(x)).numpy(),
        reference("bernoulli_nll")(logits, x),
        rtol=1e-10,
    )


def test_reference_bernoulli_nll_is_minus_log_likelihood():
    rng = np.random.default_rng(4)
    logits, x = rng.normal(0, 2, (6, 10)), (rng.random((6, 10)) < 0.3).astype(float)
    p = _sig(logits)  # moderate logits: the naive form is exact
    log_lik = np.sum(np.log(np.where(x == 1, p, 1 - p)), axis=1)
    np.testing.assert_allclose(
        reference("bernoulli_nll")(logits, x), -log_lik, rtol=1e-10
    )
    from aigc_course.likelihood import bernoulli_nll_np

    np.testing.assert_allclose(
        reference("bernoulli_nll")(logits, x), bernoulli_nll_np(logits, x)
    )


# ----- PyTorch solutions ----------------------------------------------------------------
def _torch_ok():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional

    def topk_in_place(x, k):  # nanoGPT style, modifies its input in place
        v, _ = torch.topk(x, k)
        x[x < v[..., [-1]]] = -float("inf")
        return x

    return torch, {
        "gan_discriminator_loss": lambda r, f: (
            F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
            + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
        ),
        "gan_generator_loss": lambda f: -F.logsigmoid(f).mean(),
        "vae_kl": lambda m, lv: -0.5 * torch.sum(1 + lv - m.pow(2) - lv.exp(), dim=-1),
        "reparameterize": lambda m, lv, e: m + torch.exp(0.5 * lv) * e,
        "bernoulli_nll": lambda l, x: (
            F.binary_cross_entropy_with_logits(l, x, reduction="none").flatten(1).sum(1)
        ),
        "causal_attention_mask": lambda T: torch.tril(
            torch.ones(T, T, dtype=torch.bool)
        ),
        "top_k_filter": topk_in_place,
    }


@pytest.mark.parametrize("name", NAMES)
def test_torch_solution_accepted(name, capsys):
    _, sols = _torch_ok()
    assert check(name, sols[name], framework="torch") is True
    assert capsys.readouterr().out.startswith(f"✅ {name}: correct")


def test_torch_outputs_that_require_grad_or_are_python_floats():
    torch, _ = _torch_ok()
    w = torch.ones((), requires_grad=True)
    assert check(
        "vae_kl",
        lambda m, lv: w * -0.5 * torch.sum(1 + lv - m**2 - lv.exp(), -1),
        "torch",
    )
    assert check(
        "gan_generator_loss",
        lambda f: float(torch.nn.functional.softplus(-f).mean()),
        "torch",
    )
    assert check(
        "gan_generator_loss",
        lambda f: torch.nn.functional.softplus(-f).mean()[None],
        "torch",
    )  # a size-1 loss is fine
    assert check(
        "causal_attention_mask",
        lambda T: np.tril(np.ones((T, T), bool)).tolist(),
        "torch",
    )


# ----- typical mistakes: rejected, with their hint ---------------------------------------
def _sp(x):
    return np.logaddexp(0, x)


def _keras_like_bce(p, y):  # keras binary_crossentropy(from_logits=False) on logits
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def _exactly_k(x, k):  # the k largest by index: ties with the k-th dropped
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    out = np.full_like(x, -np.inf)
    np.put_along_axis(out, idx, np.take_along_axis(x, idx, -1), -1)
    return out


def _kth(x, k):
    return np.sort(x, axis=-1)[..., -k, None]


WRONG = [
    # GAN discriminator
    (
        "gan_discriminator_loss",
        lambda r, f: np.mean(_sp(r)) + np.mean(_sp(-f)),
        "Labels swapped",
    ),
    (
        "gan_discriminator_loss",
        lambda r, f: np.sum(_sp(-r)) + np.sum(_sp(f)),
        "Sum instead of mean",
    ),
    (
        "gan_discriminator_loss",
        lambda r, f: np.mean(np.concatenate([_sp(-r), _sp(f)])),
        "SUM of the two means",
    ),
    (
        "gan_discriminator_loss",
        lambda r, f: -np.mean(np.log(_sig(r))) - np.mean(np.log(1 - _sig(f))),
        "Numerically unstable",
    ),
    (
        "gan_discriminator_loss",
        lambda r, f: (
            -np.mean(np.log(_sig(r) + 1e-7)) - np.mean(np.log(1 - _sig(f) + 1e-7))
        ),
        "Numerically unstable",
    ),
    (
        "gan_discriminator_loss",
        lambda r, f: _keras_like_bce(r, 1) + _keras_like_bce(f, 0),
        "treated the logits as probabilities",
    ),
    (
        "gan_discriminator_loss",
        lambda r, f: np.mean(_sp(-_sig(r))) + np.mean(_sp(_sig(f))),
        "sigmoid twice",
    ),
    (
        "gan_discriminator_loss",
        lambda r, f: -np.mean(_sp(-r)) - np.mean(_sp(f)),
        "Sign error",
    ),
    ("gan_discriminator_loss", lambda r, f: _sp(-r) + _sp(f), "one loss per example"),
    ("gan_discriminator_loss", lambda r, f: np.mean(_sp(-r)), "Only the real term"),
    # GAN generator
    ("gan_generator_loss", lambda f: np.mean(np.log(1 - _sig(f))), "saturating loss"),
    ("gan_generator_loss", lambda f: np.mean(_sp(f)), "labelled 0"),
    ("gan_generator_loss", lambda f: np.mean(np.log(_sig(f))), "Sign error"),
    ("gan_generator_loss", lambda f: np.sum(_sp(-f)), "Sum instead of mean"),
    ("gan_generator_loss", lambda f: -np.mean(np.log(_sig(f))), "Numerically unstable"),
    ("gan_generator_loss", lambda f: _keras_like_bce(f, 1), "as probabilities"),
    # VAE KL
    (
        "vae_kl",
        lambda m, lv: 0.5 * np.mean(np.exp(lv) + m**2 - 1 - lv, -1),
        "Mean over the latent",
    ),
    ("vae_kl", lambda m, lv: np.sum(np.exp(lv) + m**2 - 1 - lv, -1), "forgot the 1/2"),
    (
        "vae_kl",
        lambda m, lv: 0.5 * np.sum(lv**2 + m**2 - 1 - np.log(lv**2), -1),
        "not sigma",
    ),
    (
        "vae_kl",
        lambda m, lv: 0.5 * np.sum(lv + m**2 - 1 - np.log(lv), -1),
        "not the variance",
    ),
    (
        "vae_kl",
        lambda m, lv: 0.5 * np.sum(np.exp(2 * lv) + m**2 - 1 - 2 * lv, -1),
        "not log(sigma)",
    ),
    (
        "vae_kl",
        lambda m, lv: 0.5 * np.sum(np.exp(lv) - 1 - lv, -1),
        "mu^2 term is missing",
    ),
    (
        "vae_kl",
        lambda m, lv: -0.5 * np.sum(np.exp(lv) + m**2 - 1 - lv, -1),
        "Sign error",
    ),
    (
        "vae_kl",
        lambda m, lv: 0.5 * np.mean(np.sum(np.exp(lv) + m**2 - 1 - lv, -1)),
        "single number",
    ),
    ("vae_kl", lambda m, lv: 0.5 * np.sum(np.exp(lv) + m**2 - 1 - lv), "single number"),
    (
        "vae_kl",
        lambda m, lv: 0.5 * np.sum(np.exp(lv) + m**2 - 1 - lv, -1, keepdims=True),
        "without keepdims",
    ),
    ("vae_kl", lambda m, lv: 0.5 * np.sum(np.exp(lv) + m**2 - 1 - lv, 0), "batch axis"),
    ("vae_kl", lambda m, lv: 0.5 * (np.exp(lv) + m**2 - 1 - lv), "did not sum"),
    (
        "vae_kl",
        lambda m, lv: (0.5 * np.sum(np.exp(lv) + m**2 - 1 - lv, -1)).astype(np.float16),
        "Almost",
    ),
    # reparameterization
    ("reparameterize", lambda m, lv, e: m + np.exp(lv) * e, "is the variance"),
    ("reparameterize", lambda m, lv, e: m + lv * e, "not sigma"),
    ("reparameterize", lambda m, lv, e: m + np.sqrt(lv) * e, "not sqrt(logvar)"),
    ("reparameterize", lambda m, lv, e: np.exp(0.5 * lv) * e, "forgot to add mu"),
    (
        "reparameterize",
        lambda m, lv, e: m + np.exp(0.5 * lv) * np.random.standard_normal(m.shape),
        "different outputs for the same input",
    ),
    (
        "reparameterize",
        lambda m, lv, e: np.sum(m + np.exp(0.5 * lv) * e, -1),
        "elementwise",
    ),
    # Bernoulli reconstruction term
    (
        "bernoulli_nll",
        lambda l, x: np.mean(_sp(l) - x * l, axis=tuple(range(1, l.ndim))),
        "Mean over the pixels",
    ),
    (
        "bernoulli_nll",
        lambda l, x: np.sum(_sp(x) - x * l, axis=tuple(range(1, l.ndim))),
        "Arguments swapped",
    ),
    (
        "bernoulli_nll",
        lambda l, x: np.sum(_sp(l) - (1 - x) * l, axis=tuple(range(1, l.ndim))),
        "Targets flipped",
    ),
    (
        "bernoulli_nll",
        lambda l, x: -np.sum(_sp(l) - x * l, axis=tuple(range(1, l.ndim))),
        "Sign error",
    ),
    (
        "bernoulli_nll",
        lambda l, x: np.sum(
            -(
                x * np.log(np.clip(l, 1e-7, 1 - 1e-7))
                + (1 - x) * np.log(1 - np.clip(l, 1e-7, 1 - 1e-7))
            ),
            axis=tuple(range(1, l.ndim)),
        ),
        "as probabilities",
    ),
    (
        "bernoulli_nll",
        lambda l, x: (
            -np.sum(
                x * np.log(_sig(l)) + (1 - x) * np.log(1 - _sig(l)),
                axis=tuple(range(1, l.ndim)),
            )
        ),
        "Numerically unstable",
    ),
    ("bernoulli_nll", lambda l, x: np.sum(_sp(l) - x * l), "single number"),
    ("bernoulli_nll", lambda l, x: np.sum(_sp(l) - x * l, axis=-1), "last axis only"),
    ("bernoulli_nll", lambda l, x: _sp(l) - x * l, "one value per pixel"),
    # causal mask
    ("causal_attention_mask", lambda T: np.triu(np.ones((T, T), bool)), "Transposed"),
    (
        "causal_attention_mask",
        lambda T: np.triu(np.ones((T, T), bool), 1),
        "FUTURE positions",
    ),
    ("causal_attention_mask", lambda T: np.tril(np.ones((T, T), bool), -1), "Strict"),
    ("causal_attention_mask", lambda T: np.tril(np.ones((T, T))), "wrong dtype"),
    (
        "causal_attention_mask",
        lambda T: np.where(np.tril(np.ones((T, T), bool)), 0.0, -np.inf),
        "additive mask",
    ),
    ("causal_attention_mask", lambda T: np.ones((T, T), bool), "Nothing is masked"),
    (
        "causal_attention_mask",
        lambda T: np.tril(np.ones((1, 1, T, T), bool)),
        "2-D (T, T)",
    ),
    # top-k
    ("top_k_filter", lambda x, k: np.where(x < _kth(x, k), 0.0, x), "to 0"),
    (
        "top_k_filter",
        lambda x, k: np.where(x < _kth(x, k), -1e9, x),
        "large negative number",
    ),
    (
        "top_k_filter",
        lambda x, k: np.where(x < np.sort(x, -1)[..., -k - 1, None], -np.inf, x),
        "kept k + 1",
    ),
    (
        "top_k_filter",
        lambda x, k: np.where(x <= _kth(x, k), -np.inf, x),
        "k-th largest itself",
    ),
    (
        "top_k_filter",
        lambda x, k: np.where(x > np.sort(x, -1)[..., k - 1, None], -np.inf, x),
        "SMALLEST",
    ),
    ("top_k_filter", _exactly_k, "Ties"),
    (
        "top_k_filter",
        lambda x, k: np.where(x < np.sort(x, 0)[-k], -np.inf, x),
        "Wrong axis",
    ),
    ("top_k_filter", lambda x, k: np.sort(x, -1)[..., -k:], "only the top-k values"),
    ("top_k_filter", lambda x, k: x, "Nothing was filtered"),
]


@pytest.mark.parametrize("name, fn, hint", WRONG, ids=[f"{n}-{h}" for n, _, h in WRONG])
def test_typical_mistake_rejected_with_its_hint(name, fn, hint, capsys):
    with np.errstate(all="ignore"):
        assert check(name, fn) is False
    out = capsys.readouterr().out
    assert out.startswith(f"❌ {name}: wrong on ")
    assert "expected" in out and "hint:" in out
    flat = " ".join(out.split())  # hints are wrapped over several lines
    # in the hints themselves, not in the echo of the student's source line
    assert hint in flat.split(" hint: ", 1)[1], out


def test_report_shows_input_shapes_and_the_difference(capsys):
    check("vae_kl", lambda m, lv: 0.25 * np.sum(np.exp(lv) + m**2 - 1 - lv, -1))
    out = capsys.readouterr().out
    assert "mu        float32 (" in out and "logvar    float32 (" in out
    assert "received  float32 (" in out and "max abs diff" in out
    assert "constant factor of 0.5" in " ".join(out.split())


def test_torch_mistakes_rejected_with_their_hints(capsys):
    torch, _ = _torch_ok()
    F = torch.nn.functional

    def scatter_topk(x, k):  # keeps exactly k: drops ties with the k-th
        v, i = torch.topk(x, k)
        return torch.full_like(x, -float("inf")).scatter(-1, i, v)

    cases = [
        (
            "gan_discriminator_loss",
            lambda r, f: (
                F.binary_cross_entropy(torch.sigmoid(r), torch.ones_like(r))
                + F.binary_cross_entropy(torch.sigmoid(f), torch.zeros_like(f))
            ),
            "Numerically unstable",
        ),
        (
            "gan_discriminator_loss",
            lambda r, f: (
                F.binary_cross_entropy(r, torch.ones_like(r))
                + F.binary_cross_entropy(f, torch.zeros_like(f))
            ),
            "expects probabilities",
        ),
        (
            "gan_generator_loss",
            lambda f: torch.log(1 - torch.sigmoid(f)).mean(),
            "saturating",
        ),
        (
            "reparameterize",
            lambda m, lv, e: m + torch.exp(0.5 * lv) * torch.randn_like(m),
            "different outputs",
        ),
        (
            "causal_attention_mask",
            lambda T: torch.tril(torch.ones(T, T)),
            "wrong dtype",
        ),
        (
            "causal_attention_mask",
            lambda T: torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1),
            "FUTURE",
        ),
        ("top_k_filter", scatter_topk, "Ties"),
    ]
    for name, fn, hint in cases:
        assert check(name, fn, framework="torch") is False
        assert hint in " ".join(capsys.readouterr().out.split()), name


# ----- exceptions are reported, not raised -----------------------------------------------
def test_exception_in_fn_is_reported_with_its_input(capsys):
    def broken(mu, logvar):
        return undefined_name + mu  # noqa: F821

    assert check("vae_kl", broken) is False
    out = capsys.readouterr().out
    assert "raised NameError" in out and "undefined_name" in out and "at line" in out
    assert "mu        float32 (" in out and "expected" in out and "hint:" in out


def test_error_at_k_equal_vocabulary_size_gets_its_hint(capsys):
    def no_full_k(x, k):
        if k >= x.shape[-1]:
            raise IndexError("index out of range")
        return _np_topk(x, k)

    assert check("top_k_filter", no_full_k) is False
    assert "vocabulary size" in capsys.readouterr().out


def test_torch_function_checked_as_numpy_suggests_the_framework(capsys):
    torch, sols = _torch_ok()
    assert check("vae_kl", sols["vae_kl"]) is False
    assert "framework='torch'" in capsys.readouterr().out


def test_missing_return_and_tuple_output(capsys):
    assert check("gan_generator_loss", lambda f: None) is False
    assert "forget `return`" in capsys.readouterr().out
    assert (
        check(
            "gan_discriminator_loss", lambda r, f: (np.mean(_sp(-r)), np.mean(_sp(f)))
        )
        is False
    )
    assert "Return a single number" in capsys.readouterr().out


def test_not_implemented_stub_is_reported_as_a_to_do(capsys):
    def stub(logits, x):
        raise NotImplementedError("your code here")

    assert check("bernoulli_nll", stub) is False
    out = capsys.readouterr().out
    assert out.startswith("⏳ bernoulli_nll: not implemented yet") and "to do:" in out
    assert "❌" not in out

    def partly(logits, x):  # implemented for some inputs only: a real failure
        if logits.ndim > 2:
            raise NotImplementedError("images")
        return NUMPY_OK["bernoulli_nll"](logits, x)

    assert check("bernoulli_nll", partly) is False
    assert capsys.readouterr().out.startswith("❌ bernoulli_nll: wrong on 2 of ")


def test_choose_returns_the_students_function_only_when_it_passes(capsys):
    def stub(mu, logvar):
        raise NotImplementedError

    def solution(mu, logvar):
        return NUMPY_OK["vae_kl"](mu, logvar)

    assert choose("vae_kl", stub, solution) is solution
    assert capsys.readouterr().out == (
        "vae_kl: your function is not implemented yet, using the worked solution\n"
    )
    wrong = lambda m, lv: 2 * solution(m, lv)
    assert choose("vae_kl", wrong, solution) is solution
    assert "does not pass check(), using the worked solution" in capsys.readouterr().out
    assert choose("vae_kl", NUMPY_OK["vae_kl"], solution) is NUMPY_OK["vae_kl"]
    out = capsys.readouterr().out
    assert "❌" not in out and out.strip().endswith("vae_kl: using your function")
    torch, sols = _torch_ok()
    assert (
        choose("vae_kl", sols["vae_kl"], solution, framework="torch") is sols["vae_kl"]
    )
    with pytest.raises(ValueError, match="solution"):
        choose("vae_kl", stub, None)


# ----- bad arguments ------------------------------------------------------------------------
def test_unknown_name_raises_value_error_listing_known():
    with pytest.raises(ValueError, match="known exercises: gan_discriminator_loss"):
        check("gan_loss", lambda x: x)
    with pytest.raises(ValueError, match="top_k_filter"):
        reference("nope")


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"framework": "jax"}, "framework"),
        ({"trials": -1}, "trials"),
        ({"trials": 1.5}, "trials"),
        ({"seed": "0"}, "seed"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        check("vae_kl", NUMPY_OK["vae_kl"], **kwargs)
    with pytest.raises(ValueError, match="fn"):
        check("vae_kl", 3)


def test_no_framework_is_imported_for_numpy_checks():
    code = (
        "import sys, numpy as np; from aigc_course.exercises import check; "
        "assert check('causal_attention_mask', lambda T: np.tril(np.ones((T, T), bool))); "
        "bad = [m for m in ('torch', 'tensorflow', 'keras', 'jax') if m in sys.modules]; "
        "assert not bad, bad"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
