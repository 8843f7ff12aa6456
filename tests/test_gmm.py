"""The NumPy Gaussian mixture: EM against known parameters, SciPy densities, monotonicity, errors."""

import itertools

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from aigc_course.gmm import GaussianMixture, gaussian_log_pdf, logsumexp

WEIGHTS = np.array([0.5, 0.3, 0.2])
MEANS = np.array([[0.0, 0.0], [6.0, 6.0], [-6.0, 5.0]])
COVS = np.array(
    [[[1.0, 0.0], [0.0, 1.0]], [[2.0, 0.8], [0.8, 1.0]], [[0.5, -0.2], [-0.2, 0.4]]]
)


@pytest.fixture(scope="module")
def true_model():
    return GaussianMixture.from_params(WEIGHTS, MEANS, COVS)


@pytest.fixture(scope="module")
def data(true_model):
    return true_model.sample(4000, seed=1)


def match(fitted_means, true_means):
    """The permutation of the fitted components that best matches the true ones."""
    k = len(true_means)
    return min(
        itertools.permutations(range(k)),
        key=lambda p: np.sum((fitted_means[list(p)] - true_means) ** 2),
    )


def test_recovers_known_parameters(data):
    x, _ = data
    gmm = GaussianMixture(3, seed=0)
    gmm.fit(x, max_iter=300, tol=1e-10)
    perm = list(match(gmm.means_, MEANS))
    assert gmm.converged_
    np.testing.assert_allclose(gmm.weights_[perm], WEIGHTS, atol=0.03)
    np.testing.assert_allclose(gmm.means_[perm], MEANS, atol=0.1)
    np.testing.assert_allclose(gmm.covariances_[perm], COVS, atol=0.15)


def test_fitted_likelihood_beats_truth_on_training_data(data, true_model):
    """The MLE maximises the training log-likelihood, so it is at least that of the true parameters."""
    x, _ = data
    gmm = GaussianMixture(3, seed=0)
    history = gmm.fit(x, max_iter=300, tol=1e-10)
    assert history[-1] >= true_model.score(x) - 1e-9
    assert history[-1] == pytest.approx(gmm.score(x), abs=1e-12)
    assert history[-1] > history[0] + 0.1


@pytest.mark.parametrize("covariance", ["full", "diag"])
@pytest.mark.parametrize("reg_covar", [0.0, 1e-6])
def test_log_likelihood_never_decreases(covariance, reg_covar):
    rng = np.random.default_rng(3)
    # overlapping clusters and too many components: the slow, hard case for EM
    x = np.concatenate([rng.normal(0, 1, (300, 2)), rng.normal([1.5, 0], 1, (300, 2))])
    for seed in range(4):
        history = GaussianMixture(
            4, covariance=covariance, reg_covar=reg_covar, seed=seed
        ).fit(x, max_iter=200, tol=0)
        assert len(history) == 201
        assert np.diff(history).min() >= -1e-10, np.diff(history).min()
        assert history[-1] > history[0]


def test_one_component_is_the_closed_form_mle():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)) @ np.array(
        [[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 2.0]]
    )
    gmm = GaussianMixture(1, reg_covar=0.0)
    gmm.fit(x, tol=0.0, max_iter=3)
    np.testing.assert_allclose(gmm.means_[0], x.mean(0), atol=1e-12)
    np.testing.assert_allclose(
        gmm.covariances_[0], np.cov(x, rowvar=False, bias=True), atol=1e-12
    )
    np.testing.assert_allclose(gmm.weights_, [1.0])


def test_log_prob_matches_scipy_single_component():
    mean, cov = MEANS[1], COVS[1]
    gmm = GaussianMixture.from_params([1.0], mean[None], cov[None])
    x = np.random.default_rng(0).normal(size=(50, 2)) * 3
    np.testing.assert_allclose(
        gmm.log_prob(x), multivariate_normal(mean, cov).logpdf(x), rtol=1e-10
    )
    np.testing.assert_allclose(
        gaussian_log_pdf(x, mean, cov),
        multivariate_normal(mean, cov).logpdf(x),
        rtol=1e-10,
    )


def test_log_prob_and_responsibilities_match_scipy_mixture(true_model):
    x = np.random.default_rng(1).normal(size=(40, 2)) * 5
    dens = np.stack(
        [w * multivariate_normal(m, c).pdf(x) for w, m, c in zip(WEIGHTS, MEANS, COVS)],
        1,
    )
    np.testing.assert_allclose(true_model.log_prob(x), np.log(dens.sum(1)), rtol=1e-9)
    np.testing.assert_allclose(
        true_model.predict_proba(x), dens / dens.sum(1, keepdims=True), atol=1e-10
    )
    np.testing.assert_array_equal(true_model.predict(x), dens.argmax(1))


def test_log_prob_is_finite_far_away(true_model):
    x = np.array([[1e3, -1e3]])
    assert np.isfinite(true_model.log_prob(x)).all()
    np.testing.assert_allclose(true_model.predict_proba(x).sum(1), 1.0)


def test_diag_covariances_are_diagonal(data):
    x, _ = data
    gmm = GaussianMixture(3, covariance="diag", seed=0)
    gmm.fit(x)
    off = gmm.covariances_ * (1 - np.eye(2))
    assert np.all(off == 0)
    assert gmm.n_parameters == 2 + 3 * 2 + 3 * 2


def test_n_parameters_full(true_model):
    assert true_model.n_parameters == 2 + 3 * 2 + 3 * 3


def test_sampling_moments_and_frequencies(true_model):
    x, k = true_model.sample(200_000, seed=0)
    assert x.shape == (200_000, 2) and k.dtype == np.int64
    freq = np.bincount(k, minlength=3) / len(k)
    np.testing.assert_allclose(freq, WEIGHTS, atol=0.005)
    mean = WEIGHTS @ MEANS
    second = sum(w * (c + np.outer(m, m)) for w, m, c in zip(WEIGHTS, MEANS, COVS))
    np.testing.assert_allclose(x.mean(0), mean, atol=0.05)
    np.testing.assert_allclose(
        np.cov(x, rowvar=False), second - np.outer(mean, mean), rtol=0.02
    )
    for j in range(3):
        np.testing.assert_allclose(np.cov(x[k == j], rowvar=False), COVS[j], atol=0.05)


def test_sampling_is_reproducible(true_model):
    a, ka = true_model.sample(10, seed=5)
    b, kb = true_model.sample(10, seed=5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ka, kb)
    assert not np.array_equal(a, true_model.sample(10, seed=6)[0])


def test_fit_is_reproducible_and_accepts_init_means(data):
    x, _ = data
    h1 = GaussianMixture(3, seed=4).fit(x)
    h2 = GaussianMixture(3, seed=4).fit(x)
    np.testing.assert_array_equal(h1, h2)
    gmm = GaussianMixture(3)
    gmm.fit(x, init_means=MEANS + 0.5)
    np.testing.assert_allclose(gmm.means_, MEANS, atol=0.1)


def test_logsumexp():
    a = np.array([[1000.0, 1000.0], [-np.inf, 0.0], [-np.inf, -np.inf]])
    out = logsumexp(a, axis=1)
    np.testing.assert_allclose(out[:2], [1000 + np.log(2), 0.0])
    assert out[2] == -np.inf


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_components=0),
        dict(n_components=1.5),
        dict(n_components=True),
        dict(n_components=2, covariance="tied"),
        dict(n_components=2, reg_covar=-1.0),
    ],
)
def test_bad_constructor_arguments(kwargs):
    with pytest.raises(ValueError):
        GaussianMixture(**kwargs)


@pytest.mark.parametrize(
    "x",
    [
        np.zeros(10),
        np.zeros((0, 2)),
        np.array([[0.0, np.nan]] * 5),
        np.array([["a", "b"]] * 5),
        np.zeros((1, 2)),
    ],
)
def test_bad_training_data(x):
    with pytest.raises(ValueError):
        GaussianMixture(2).fit(x)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(max_iter=0),
        dict(tol=-1.0),
        dict(init_means=np.zeros((3, 2))),
        dict(init_means=np.zeros((2, 3))),
    ],
)
def test_bad_fit_arguments(kwargs, data):
    with pytest.raises(ValueError):
        GaussianMixture(2).fit(data[0], **kwargs)


def test_use_before_fit_and_wrong_dimension(true_model):
    gmm = GaussianMixture(2)
    for method in (gmm.log_prob, gmm.predict_proba):
        with pytest.raises(ValueError, match="fit"):
            method(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="fit"):
        gmm.sample(3)
    with pytest.raises(ValueError, match=r"points shaped \(N, 2\)"):
        true_model.log_prob(np.zeros((3, 3)))
    with pytest.raises(ValueError):
        true_model.sample(0)


@pytest.mark.parametrize(
    "args",
    [
        ([0.5, 0.6], MEANS[:2], COVS[:2]),  # weights do not sum to 1
        ([-0.5, 1.5], MEANS[:2], COVS[:2]),  # negative weight
        ([0.5, 0.5], MEANS, COVS[:2]),  # wrong number of means
        ([0.5, 0.5], MEANS[:2], COVS[:1]),  # wrong number of covariances
        # not positive definite
        ([1.0], MEANS[:1], np.array([[[1.0, 2.0], [2.0, 1.0]]])),
        ([1.0], MEANS[:1], np.array([[[1.0, 0.5], [0.0, 1.0]]])),  # not symmetric
    ],
)
def test_bad_params(args):
    with pytest.raises(ValueError):
        GaussianMixture.from_params(*args)


def test_gaussian_log_pdf_rejects_indefinite_covariance():
    with pytest.raises(ValueError, match="positive definite"):
        gaussian_log_pdf(
            np.zeros((2, 2)), np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]])
        )
