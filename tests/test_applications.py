"""Level playability against hand-made cases and a brute-force search; the ad-test simulation
(equal split, Thompson sampling concentrating on the best variant); exercises built from
their answers and graded by substitution; errors."""

import numpy as np
import pytest

from aigc_course import applications as P


@pytest.mark.parametrize(
    "heights, ok",
    [
        ([2, 2, 2, 2], True),
        ([2, 0, 0, 0, 2], True),  # a gap of 3: jump length 4
        ([2, 0, 0, 0, 0, 2], False),  # a gap of 4
        ([2, 5, 2], True),  # up 3
        ([2, 6, 2], False),  # up 4
        ([6, 2, 2], True),  # dropping is free
        ([2, 2, 6, 2, 2], False),  # a wall blocks every jump over it
        ([0, 2, 2], False),  # starts in a pit
        ([2, 0, 5, 0, 0, 2], True),  # up across a gap, then a long jump down
    ],
)
def test_level_playable_cases(heights, ok):
    assert P.level_playable(np.array(heights)) is ok


def _brute(h, up, far):
    """Reachability by repeated relaxation, straight from the rules."""
    reach = np.zeros(len(h), bool)
    reach[0] = h[0] > 0
    for _ in range(len(h)):
        for c in np.flatnonzero(reach):
            for d in range(1, far + 1):
                n = c + d
                if n >= len(h) or (d > 1 and h[c + 1 : n].max() > h[c] + up):
                    break
                if 0 < h[n] <= h[c] + up:
                    reach[n] = True
    return bool(reach[-1])


def test_level_playable_against_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(300):
        h = rng.integers(0, 6, rng.integers(2, 15))
        up, far = int(rng.integers(1, 4)), int(rng.integers(1, 5))
        assert P.level_playable(h, up, far) == _brute(h, up, far)


def test_simulate_ad_test():
    ctr = [0.02, 0.03, 0.05]
    u = P.simulate_ad_test(ctr, 3000, "uniform", batch=100, campaigns=50, seed=0)
    t = P.simulate_ad_test(ctr, 3000, "thompson", batch=100, campaigns=50, seed=0)
    for r in (u, t):
        assert r["shows"].shape == (50, 3) and np.all(r["shows"].sum(1) == 3000)
        assert np.all(r["clicks"] <= r["shows"])
    assert np.all(u["shows"] == 1000)
    # the click rate of the uniform split estimates the mean CTR
    assert u["clicks"].sum() / u["shows"].sum() == pytest.approx(
        np.mean(ctr), abs=0.003
    )
    # Thompson sampling shows the best variant most and earns more clicks
    assert t["shows"][:, 2].mean() > 1500 and t["clicks"].sum() > u["clicks"].sum()
    again = P.simulate_ad_test(ctr, 3000, "thompson", batch=100, campaigns=50, seed=0)
    assert np.array_equal(again["shows"], t["shows"])


def test_exercises_and_grading():
    rng = np.random.default_rng(0)
    for _ in range(200):
        text, (a, b, c), (r1, r2) = P.quadratic_exercise(rng)
        assert text.startswith("Solve ") and text.endswith(" = 0.")
        for r in (r1, r2):
            assert a * r * r + b * r + c == 0
        assert P.check_roots((a, b, c), f"x = {r2} or x = {r1}")
        assert not P.check_roots((a, b, c), f"x = {r1 + r2 + 20}")
        if r1 != r2:
            assert not P.check_roots((a, b, c), f"x = {r1}")  # one root missing
    assert P.parse_numbers("x = 3 or x = −1/2, 0.25") == [
        3,
        P.Fraction(-1, 2),
        P.Fraction(1, 4),
    ]
    assert P.check_roots((2, -1, -1), "x = 1, x = -0.5") and P.check_roots(
        (2, -1, -1), "-1/2 and 1"
    )
    assert P.check_roots((1, -4, 4), "2") and not P.check_roots((1, -4, 4), "2, 3")
    text, coeffs, _ = P.quadratic_exercise(np.random.default_rng(3))
    assert "x²" in text


def test_errors():
    with pytest.raises(ValueError, match="heights"):
        P.level_playable(np.array([2]))
    with pytest.raises(ValueError, match="heights"):
        P.level_playable(np.array([2.0, 1.0]))
    with pytest.raises(ValueError, match="ctr"):
        P.simulate_ad_test([0.1], 10)
    with pytest.raises(ValueError, match="policy"):
        P.simulate_ad_test([0.1, 0.2], 10, policy="greedy")
    with pytest.raises(ValueError, match="quadratic"):
        P.check_roots((0, 1, 1), "1")
    with pytest.raises(ValueError, match="str"):
        P.parse_numbers(3)
