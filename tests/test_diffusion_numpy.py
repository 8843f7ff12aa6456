"""The NumPy half of DDPM: schedules, closed forms against brute force / Monte Carlo."""

import math

import numpy as np
import pytest

from aigc_course.diffusion import (
    NoiseSchedule,
    cosine_betas,
    ddpm_sample_numpy,
    gmm_eps_star,
    linear_betas,
    timestep_embedding,
)


@pytest.fixture
def sched():
    return NoiseSchedule(linear_betas(1000))


def test_linear_and_cosine_schedules():
    b = linear_betas(1000)
    assert b.dtype == np.float64 and b.shape == (1000,)
    assert b[0] == pytest.approx(1e-4) and b[-1] == pytest.approx(0.02)
    assert np.allclose(np.diff(b), (0.02 - 1e-4) / 999)
    c = cosine_betas(100, s=0.008)
    ab = np.cumprod(1 - c)
    f = lambda u: math.cos((u / 100 + 0.008) / 1.008 * math.pi / 2) ** 2
    for t in (0, 10, 50, 98):  # alpha_bar after step t+1 = f(t+1)/f(0)
        assert ab[t] == pytest.approx(f(t + 1) / f(0), rel=1e-9)
    assert c.max() <= 0.999 and c.min() > 0


def test_schedule_constants(sched):
    assert sched.T == 1000
    assert np.allclose(sched.alphas, 1 - sched.betas)
    assert np.isclose(sched.alpha_bars[3], np.prod(1 - sched.betas[:4]))
    assert (
        sched.alpha_bars_prev[0] == 1.0
        and sched.alpha_bars_prev[5] == sched.alpha_bars[4]
    )
    snr = sched.snr(np.arange(1000))
    assert np.all(np.diff(snr) < 0)  # signal-to-noise falls monotonically
    assert sched.alpha_bars[-1] < 1e-4  # x_T is almost pure noise


def test_q_sample_moments_by_monte_carlo(sched):
    rng = np.random.default_rng(0)
    n, t = 200_000, 300
    x0 = np.full((n, 1), 1.5)
    xt = sched.q_sample(x0, np.full(n, t), rng.standard_normal((n, 1)))
    ab = sched.alpha_bars[t]
    assert xt.mean() == pytest.approx(math.sqrt(ab) * 1.5, abs=0.01)
    assert xt.var() == pytest.approx(1 - ab, abs=0.01)


def test_q_sample_matches_iterated_one_step_noising():
    """alpha_bar, not alpha: running q(x_t | x_{t-1}) t times gives q(x_t | x_0)."""
    s = NoiseSchedule(linear_betas(50, 1e-3, 0.1))
    rng = np.random.default_rng(1)
    n, t = 100_000, 30
    x = np.full((n, 1), 2.0)
    for k in range(t + 1):  # steps 0..t
        x = math.sqrt(s.alphas[k]) * x + math.sqrt(s.betas[k]) * rng.standard_normal(
            (n, 1)
        )
    ref = s.q_sample(np.full((n, 1), 2.0), t, rng.standard_normal((n, 1)))
    assert x.mean() == pytest.approx(ref.mean(), abs=0.02)
    assert x.var() == pytest.approx(ref.var(), abs=0.02)
    wrong = math.sqrt(s.alphas[t]) * 2.0  # using alpha_t instead of alpha_bar_t
    assert abs(x.mean() - wrong) > 0.3


@pytest.mark.parametrize("t", [0, 1, 17, 999])
def test_posterior_against_gaussian_conditioning(sched, t):
    """q(x_{t-1}|x_t, x_0) from the joint Gaussian of (x_{t-1}, x_t) given x_0."""
    x0, xt = np.array([[0.7, -1.2]]), np.array([[0.1, 0.4]])
    ab_prev = 1.0 if t == 0 else sched.alpha_bars[t - 1]
    a, b = sched.alphas[t], sched.betas[t]
    c11 = 1 - ab_prev  # Var(x_{t-1} | x_0)
    c12 = math.sqrt(a) * c11  # Cov(x_{t-1}, x_t | x_0)
    c22 = a * c11 + b  # Var(x_t | x_0)
    mean_ref = math.sqrt(ab_prev) * x0 + c12 / c22 * (xt - math.sqrt(a * ab_prev) * x0)
    var_ref = c11 - c12**2 / c22
    mean, var = sched.posterior(x0, xt, np.array([t]))
    assert np.allclose(mean, mean_ref, atol=1e-12) and np.allclose(
        var, var_ref, atol=1e-12
    )
    assert var.shape == xt.shape


def test_predict_x0_and_p_mean(sched):
    rng = np.random.default_rng(2)
    x0, eps = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    t = np.array([0, 5, 100, 500, 999])
    xt = sched.q_sample(x0, t, eps)
    assert np.allclose(sched.predict_x0(xt, t, eps), x0, atol=1e-8)
    # the DDPM mean is the posterior mean at the x_0 implied by the noise
    assert np.allclose(
        sched.p_mean(xt, t, eps), sched.posterior(x0, xt, t)[0], atol=1e-8
    )


def test_eps_star_against_binned_monte_carlo():
    """1-D mixture: E[eps | x_t] by averaging eps over narrow bins of x_t."""
    s = NoiseSchedule(linear_betas(100, 1e-3, 0.1))
    rng = np.random.default_rng(3)
    means, w, std = (
        np.array([[-2.0], [1.0]]),
        np.array([0.3, 0.7]),
        np.array([0.3, 0.5]),
    )
    n, t = 2_000_000, 20
    k = rng.choice(2, size=n, p=w)
    x0 = means[k] + std[k, None] * rng.standard_normal((n, 1))
    eps = rng.standard_normal((n, 1))
    xt = s.q_sample(x0, t, eps)
    for c in (-1.5, -0.5, 0.3, 1.0):
        m = np.abs(xt[:, 0] - c) < 0.02
        ref = gmm_eps_star(np.array([[c]]), t, s, means, w, std)[0, 0]
        assert eps[m, 0].mean() == pytest.approx(ref, abs=0.03), c


def test_eps_star_is_orthogonal_to_functions_of_xt(sched):
    """The conditional mean leaves a residual uncorrelated with any g(x_t); a shifted guess does not."""
    rng = np.random.default_rng(4)
    means, w = (
        np.array([[-2.0, 0.0], [2.0, 1.0], [0.0, -2.0]]),
        np.array([0.2, 0.5, 0.3]),
    )
    n = 200_000
    k = rng.choice(3, size=n, p=w)
    x0 = means[k] + 0.2 * rng.standard_normal((n, 2))
    t = rng.integers(0, 1000, n)
    eps = rng.standard_normal((n, 2))
    xt = sched.q_sample(x0, t, eps)
    star = gmm_eps_star(xt, t, sched, means, w, 0.2)
    for g in (xt[:, :1], np.tanh(xt), np.ones((n, 1))):
        assert np.abs(((eps - star) * g).mean(0)).max() < 0.01
    mse = ((eps - star) ** 2).mean()
    assert mse < ((eps - 0.9 * star) ** 2).mean() and mse < 1.0


def test_sampler_with_exact_eps_recovers_the_mixture(sched):
    means, w, std = np.array([[-2.0, 0.0], [2.0, 0.0]]), np.array([0.3, 0.7]), 0.1
    eps_fn = lambda xt, t: gmm_eps_star(xt, t, sched, means, w, std)
    x, snaps = ddpm_sample_numpy(eps_fn, sched, (2000, 2), rng=0, keep=[999, 500, -1])
    right = x[:, 0] > 0
    assert right.mean() == pytest.approx(0.7, abs=0.04)
    assert np.allclose(x[right].mean(0), [2.0, 0.0], atol=0.03)
    assert np.allclose(x[~right].mean(0), [-2.0, 0.0], atol=0.03)
    assert np.allclose(x[right].std(0), std, rtol=0.15)
    assert set(snaps) == {999, 500, -1} and np.array_equal(snaps[-1], x)
    assert snaps[999].std() == pytest.approx(1.0, abs=0.05)  # x_T ~ N(0, I)
    again = ddpm_sample_numpy(eps_fn, sched, (2000, 2), rng=0)
    assert np.array_equal(again, x)  # seeded


def test_respaced_sampler(sched):
    short, ts = sched.respace(50)
    assert ts[0] == 0 and ts[-1] == 999 and len(ts) == 50
    assert np.allclose(short.alpha_bars, sched.alpha_bars[ts])
    means, w = np.array([[-2.0, 0.0], [2.0, 0.0]]), np.array([0.5, 0.5])
    seen = []

    def eps_fn(xt, t):
        seen.append(int(t[0]))
        return gmm_eps_star(xt, t, sched, means, w, 0.1)

    x = ddpm_sample_numpy(eps_fn, sched, (1000, 2), rng=1, steps=50)
    assert seen == list(ts[::-1])  # the network sees the original steps
    assert np.abs(np.abs(x[:, 0]) - 2.0).mean() < 0.15


def test_timestep_embedding():
    e = timestep_embedding(np.array([0, 3]), 8)
    assert e.shape == (2, 8)
    assert np.allclose(e[0], [0, 0, 0, 0, 1, 1, 1, 1])
    assert e[1, 0] == pytest.approx(math.sin(3.0)) and e[1, 5] == pytest.approx(
        math.cos(3 * 0.1)
    )


def test_value_errors(sched):
    with pytest.raises(ValueError, match="T"):
        linear_betas(0)
    with pytest.raises(ValueError, match="beta_1"):
        linear_betas(10, 0.1, 0.01)
    with pytest.raises(ValueError, match="s"):
        cosine_betas(10, s=-1)
    with pytest.raises(ValueError, match="betas"):
        NoiseSchedule([0.1, 1.0])
    with pytest.raises(ValueError, match="betas"):
        NoiseSchedule(np.zeros((2, 2)) + 0.1)
    with pytest.raises(ValueError, match=r"\[0, 1000\)"):
        sched.q_sample(np.zeros((2, 1)), np.array([0, 1000]), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="integer"):
        sched.q_sample(np.zeros((2, 1)), np.array([0.5, 1.0]), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="one per example"):
        sched.q_sample(np.zeros((2, 1)), np.array([1, 2, 3]), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="eps"):
        sched.q_sample(np.zeros((2, 1)), 3, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="steps"):
        sched.respace(0)
    with pytest.raises(ValueError, match="weights"):
        gmm_eps_star(np.zeros((2, 2)), 0, sched, np.zeros((2, 2)), [0.5, 0.6], 0.1)
    with pytest.raises(ValueError, match="means"):
        gmm_eps_star(np.zeros((2, 2)), 0, sched, np.zeros((2, 3)), [0.5, 0.5], 0.1)
    with pytest.raises(ValueError, match="std"):
        gmm_eps_star(np.zeros((2, 2)), 0, sched, np.zeros((2, 2)), [0.5, 0.5], 0.0)
    with pytest.raises(ValueError, match="dim"):
        timestep_embedding([1], 3)


def test_sampler_without_noise_is_the_deterministic_mean_chain(sched):
    """add_noise=False (the tutorial bug) = x_T, then p_mean at every step, nothing else."""
    means, w, std = np.array([[-2.0, 0.0], [2.0, 0.0]]), np.array([0.3, 0.7]), 0.1
    eps_fn = lambda xt, t: gmm_eps_star(xt, t, sched, means, w, std)
    x = ddpm_sample_numpy(eps_fn, sched, (500, 2), rng=3, add_noise=False)
    chain = np.random.default_rng(3).standard_normal((500, 2))
    for t in range(sched.T - 1, -1, -1):
        chain = sched.p_mean(chain, t, eps_fn(chain, np.full(500, t)))
    assert np.allclose(x, chain)
    noisy = ddpm_sample_numpy(eps_fn, sched, (500, 2), rng=3)
    assert x[:, 1].std() < 0.5 * noisy[:, 1].std()  # the bug shrinks the spread
