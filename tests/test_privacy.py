"""aigc_course.privacy: the RDP accountant against Opacus, closed forms and quadrature."""

import math
import warnings

import numpy as np
import pytest

from aigc_course.privacy import (
    DEFAULT_ORDERS,
    compute_epsilon,
    dp_roc_bound,
    max_auc,
    noise_multiplier_for,
    rdp_subsampled_gaussian,
    rdp_to_epsilon,
)

SETTINGS = [  # (sigma, q, steps, delta)
    (1.1, 256 / 60000, 60 * 235, 1e-5),  # Abadi et al.'s MNIST setting
    (0.5, 0.01, 1000, 1e-5),
    (4.0, 0.1, 100, 1e-5),
    (0.8, 0.02, 500, 1e-6),
    (2.0, 0.004, 10000, 1e-5),
    (5.0, 1.0, 10, 1e-5),  # no subsampling
]


@pytest.mark.parametrize("sigma,q,steps,delta", SETTINGS)
def test_agrees_with_opacus(sigma, q, steps, delta):
    accountants = pytest.importorskip("opacus.accountants")
    acc = accountants.RDPAccountant()
    acc.history = [(sigma, q, steps)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = acc.get_epsilon(delta)
    ours = compute_epsilon(sigma, q, steps, delta)
    assert ours >= reference * (1 - 1e-6)  # integer orders only: never tighter
    assert ours == pytest.approx(reference, rel=0.03)


def test_noise_multiplier_matches_opacus():
    utils = pytest.importorskip("opacus.accountants.utils")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = utils.get_noise_multiplier(
            target_epsilon=3.0, target_delta=1e-5, sample_rate=0.01, steps=1000
        )
    ours = noise_multiplier_for(3.0, 0.01, 1000, 1e-5)
    assert ours == pytest.approx(reference, rel=0.03)
    assert compute_epsilon(ours, 0.01, 1000, 1e-5) <= 3.0
    assert compute_epsilon(ours - 0.01, 0.01, 1000, 1e-5) > 3.0


def test_gaussian_closed_form():
    orders = np.arange(2, 40)
    np.testing.assert_allclose(
        rdp_subsampled_gaussian(1.7, 1.0, orders), orders / (2 * 1.7**2)
    )
    # q -> 1 from below joins the closed form
    np.testing.assert_allclose(
        rdp_subsampled_gaussian(1.7, 1 - 1e-12, orders),
        orders / (2 * 1.7**2),
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "sigma,q,alpha", [(1.0, 0.05, 2), (0.8, 0.2, 5), (2.0, 0.5, 8)]
)
def test_integer_formula_against_quadrature(sigma, q, alpha):
    # A_alpha = E_{x ~ N(0, s^2)} [((1 - q) + q * N(x; 1, s^2) / N(x; 0, s^2))^alpha]
    x = np.linspace(-40, 40, 400_001)
    p0 = np.exp(-(x**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
    ratio = np.exp((2 * x - 1) / (2 * sigma**2))
    a = np.sum(p0 * ((1 - q) + q * ratio) ** alpha) * (x[1] - x[0])
    assert rdp_subsampled_gaussian(sigma, q, [alpha])[0] == pytest.approx(
        math.log(a) / (alpha - 1), rel=1e-6
    )


def test_monotone():
    eps_sigma = [compute_epsilon(s, 0.01, 500, 1e-5) for s in (0.6, 0.8, 1.0, 1.5, 3.0)]
    # more noise, less epsilon
    assert all(a > b for a, b in zip(eps_sigma, eps_sigma[1:]))
    eps_steps = [compute_epsilon(1.0, 0.01, t, 1e-5) for t in (10, 100, 1000, 5000)]
    # more steps, more epsilon
    assert all(a < b for a, b in zip(eps_steps, eps_steps[1:]))
    eps_q = [compute_epsilon(1.0, q, 500, 1e-5) for q in (0.001, 0.01, 0.1)]
    assert all(a < b for a, b in zip(eps_q, eps_q[1:]))  # bigger batches, more epsilon
    eps_delta = [compute_epsilon(1.0, 0.01, 500, d) for d in (1e-7, 1e-5, 1e-3)]
    # larger delta, less epsilon
    assert all(a > b for a, b in zip(eps_delta, eps_delta[1:]))


def test_edge_cases():
    assert compute_epsilon(1.0, 0.01, 0, 1e-5) == 0.0
    assert math.isinf(compute_epsilon(0.0, 0.01, 10, 1e-5))
    eps, order = rdp_to_epsilon(
        DEFAULT_ORDERS, 100 * rdp_subsampled_gaussian(1.0, 0.01), 1e-5
    )
    assert order in DEFAULT_ORDERS and eps == pytest.approx(
        compute_epsilon(1.0, 0.01, 100, 1e-5)
    )


@pytest.mark.parametrize("eps", [0.0, 0.3, 1.0, 3.0])
def test_max_auc(eps):
    # pure eps-DP: the best ROC is min(e^eps x, 1 - e^-eps (1 - x)) and its area is sigmoid(eps)
    assert max_auc(eps) == pytest.approx(1 / (1 + math.exp(-eps)))
    grid = np.linspace(0, 1, 100_001)
    bound = dp_roc_bound(grid, eps, 1e-3)
    area = np.sum(np.diff(grid) * (bound[1:] + bound[:-1]) / 2)  # trapezoid rule
    assert max_auc(eps, 1e-3) == pytest.approx(area, abs=1e-8)
    assert max_auc(eps, 1e-3) > max_auc(eps)


def test_roc_bound_shape():
    x = np.linspace(0, 1, 101)
    b = dp_roc_bound(x, 1.0, 1e-5)
    assert np.all(np.diff(b) >= 0) and np.all(b >= x) and b[-1] == 1.0
    np.testing.assert_allclose(dp_roc_bound(x, 0.0), x)  # eps = 0: no test beats chance
    assert max_auc(float("inf")) == 1.0


@pytest.mark.parametrize(
    "call",
    [
        lambda: max_auc(-1.0),
        lambda: max_auc(1.0, 1.0),
        lambda: dp_roc_bound([0.5, 1.5], 1.0),
        lambda: compute_epsilon(-1.0, 0.01, 10, 1e-5),
        lambda: compute_epsilon(1.0, 0.0, 10, 1e-5),
        lambda: compute_epsilon(1.0, 1.5, 10, 1e-5),
        lambda: compute_epsilon(1.0, 0.01, -3, 1e-5),
        lambda: compute_epsilon(1.0, 0.01, 2.5, 1e-5),
        lambda: compute_epsilon(1.0, 0.01, 10, 0.0),
        lambda: compute_epsilon(1.0, 0.01, 10, 1.0),
        lambda: rdp_subsampled_gaussian(1.0, 0.01, orders=[1.5, 3]),
        lambda: rdp_subsampled_gaussian("a", 0.01),
        lambda: rdp_to_epsilon([2, 3], [0.1], 1e-5),
        lambda: noise_multiplier_for(0.0, 0.01, 10, 1e-5),
        lambda: noise_multiplier_for(1e-9, 0.5, 10**6, 1e-5, max_sigma=10),
    ],
)
def test_bad_input(call):
    with pytest.raises(ValueError):
        call()


def test_plot_tradeoff_draws_the_measured_points_and_the_bound():
    import matplotlib

    from aigc_course import privacy as P

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = {8.0: {"ELBO": -200.0, "AUC": 0.55}, 1.0: {"ELBO": -400.0, "AUC": 0.51}}
    fig = P.plot_tradeoff(results, {"ELBO": -150.0, "AUC": 0.6}, delta=1e-5)
    ax1, ax2 = fig.axes
    x, y = ax1.lines[0].get_data()
    assert list(x) == [1.0, 8.0] and list(y) == [-400.0, -200.0]  # sorted by epsilon
    gx, gy = ax2.lines[1].get_data()
    assert np.allclose(gy, [P.max_auc(e, 1e-5) for e in gx]) and np.all(
        np.diff(gy) >= 0
    )
    plt.close(fig)
    with pytest.raises(ValueError, match="AUC"):
        P.plot_tradeoff({1.0: {"ELBO": 0.0}}, {"ELBO": 0.0, "AUC": 0.5}, delta=1e-5)
    with pytest.raises(ValueError, match="at least one"):
        P.plot_tradeoff({}, {"ELBO": 0.0, "AUC": 0.5}, delta=1e-5)
