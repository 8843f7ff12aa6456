"""Markov-chain sampling and log-probabilities against frequencies and brute force; the
Bradley-Terry fit recovering known weights; the KL-regularised optimum against brute-force
enumeration of every sequence; REINFORCE approaching it from below; errors."""

import itertools

import numpy as np
import pytest
from scipy import special

from aigc_course import rlhf as R


@pytest.fixture(scope="module")
def chain():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(3), size=3)
    W = rng.normal(0, 1, (3, 3))
    return P, W


def test_sampling_and_log_prob(chain):
    P, _ = chain
    seqs = R.sample_markov(P, 20000, start=0, length=2, seed=1)
    assert seqs.shape == (20000, 2) and seqs.dtype == np.int64
    # frequencies of the first token and of pairs against the chain
    assert np.allclose(np.bincount(seqs[:, 0], minlength=3) / 20000, P[0], atol=0.015)
    lp = R.markov_log_prob(P, seqs, start=0)
    assert np.allclose(lp, np.log(P[0, seqs[:, 0]] * P[seqs[:, 0], seqs[:, 1]]))
    # position-dependent chains
    T3 = np.stack([P, P.T / P.T.sum(1, keepdims=True)])
    s3 = R.sample_markov(T3, 5, start=1, seed=0)
    assert s3.shape == (5, 2)
    assert np.allclose(
        R.markov_log_prob(T3, s3, 1),
        np.log(T3[0, 1, s3[:, 0]] * T3[1, s3[:, 0], s3[:, 1]]),
    )
    assert np.array_equal(
        R.sample_markov(P, 7, 0, 4, seed=3), R.sample_markov(P, 7, 0, 4, seed=3)
    )


def test_transition_counts_and_sequence_reward(chain):
    _, W = chain
    seqs = np.array([[1, 1, 2], [0, 2, 2]])
    f = R.transition_counts(seqs, start=0, vocab_size=3)
    assert f.shape == (2, 9) and f.sum(1).tolist() == [3, 3]
    assert f[0, 0 * 3 + 1] == 1 and f[0, 1 * 3 + 1] == 1 and f[0, 1 * 3 + 2] == 1
    assert np.allclose(R.sequence_reward(W, seqs, 0), f @ W.ravel())


def test_bradley_terry_recovers_the_weights():
    rng = np.random.default_rng(0)
    w_true = np.array([1.0, -2.0, 0.5])
    a, b = rng.normal(size=(20000, 3)), rng.normal(size=(20000, 3))
    prefs = (rng.random(20000) < special.expit((a - b) @ w_true)).astype(float)
    w = R.fit_bradley_terry(a, b, prefs, l2=0.0)
    assert np.allclose(w, w_true, atol=0.08)
    # a penalty shrinks it
    assert np.linalg.norm(R.fit_bradley_terry(a, b, prefs, l2=1.0)) < np.linalg.norm(w)


def _brute_force(P, W, beta, T, start):
    seqs = np.array(list(itertools.product(range(len(P)), repeat=T)))
    logp = R.markov_log_prob(P, seqs, start)
    r = R.sequence_reward(W, seqs, start)
    return seqs, logp, r, special.logsumexp(logp + r / beta)


@pytest.mark.parametrize("beta", [2.0, 0.5, 0.05])
def test_kl_optimum_against_enumeration(chain, beta):
    P, W = chain
    T, start = 4, 2
    trans, log_z = R.kl_optimum(P, W, beta, T, start)
    seqs, logp, r, log_z_brute = _brute_force(P, W, beta, T, start)
    assert trans.shape == (T, 3, 3) and np.allclose(trans.sum(2), 1)
    assert log_z == pytest.approx(log_z_brute, rel=1e-10)
    # pi*(y) = pi_ref(y) exp(r(y)/beta) / Z for every one of the 81 sequences
    assert np.allclose(R.markov_log_prob(trans, seqs, start), logp + r / beta - log_z)

    # its objective is beta log Z, and no other policy does better: the reference, or a
    # random perturbation of the optimum
    def objective(logq):
        q = np.exp(logq)
        return np.sum(q * r) - beta * np.sum(q * (logq - logp))

    assert objective(logp + r / beta - log_z) == pytest.approx(beta * log_z)
    rng = np.random.default_rng(0)
    for _ in range(5):
        logq = special.log_softmax(logp + r / beta + rng.normal(0, 0.3, len(r)))
        assert objective(logq) <= beta * log_z + 1e-12
    assert objective(logp) <= beta * log_z


def test_kl_optimum_is_stable_for_tiny_beta(chain):
    P, W = chain
    trans, log_z = R.kl_optimum(P, 100 * W, 1e-3, 30, 0)
    assert np.all(np.isfinite(trans)) and np.isfinite(log_z)


def test_reinforce_approaches_the_optimum_from_below(chain):
    P, W = chain
    beta, T = 0.5, 6
    _, log_z = R.kl_optimum(P, W, beta, T, 0)
    pol, hist = R.reinforce_kl(
        P, W, beta, T, 0, steps=150, batch_size=256, lr=0.05, seed=0
    )
    assert np.allclose(pol.sum(1), 1)
    late = np.mean(hist[-30:])
    start_value = np.mean(
        R.sequence_reward(W, R.sample_markov(P, 20000, 0, T, seed=5), 0)
    )
    assert start_value < late < beta * log_z + 0.05
    assert beta * log_z - late < 0.25 * (beta * log_z - start_value)


def test_errors(chain):
    P, W = chain
    with pytest.raises(ValueError, match="sum to 1"):
        R.sample_markov(P * 2, 3, 0, 2)
    with pytest.raises(ValueError, match="length"):
        R.sample_markov(P, 3, 0)
    with pytest.raises(ValueError, match="start"):
        R.sample_markov(P, 3, 5, 2)
    with pytest.raises(ValueError, match="beta"):
        R.kl_optimum(P, W, 0.0, 3, 0)
    with pytest.raises(ValueError, match="two"):
        R.kl_optimum(P, W[:2], 1.0, 3, 0)
    with pytest.raises(ValueError, match="prefs"):
        R.fit_bradley_terry(np.ones((3, 2)), np.ones((3, 2)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="seqs"):
        R.transition_counts(np.array([[0, 3]]), 0, 3)
