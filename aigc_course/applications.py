"""Small, checkable pieces of four application scenarios of chapter 9 (NumPy and the standard library).

* **games**: :func:`level_playable` decides whether a generated side-scrolling
  level, given as a height map, can be crossed by a player with a limited jump,
  the "test" of generate-and-test procedural content generation;
* **advertising**: :func:`simulate_ad_test` shows generated ad variants to
  simulated users, either in a fixed equal split (an A/B/n test) or with
  Thompson sampling (a Bayesian multi-armed bandit), many campaigns at once;
* **education**: :func:`quadratic_exercise` writes an exercise from its answer
  (answer first, so the key is right by construction) and :func:`check_roots`
  grades an answer by substituting it, exactly, instead of comparing strings.
"""

from __future__ import annotations

import re
from collections import deque
from fractions import Fraction

import numpy as np

from ._checks import check_int

__all__ = [
    "level_playable",
    "simulate_ad_test",
    "quadratic_exercise",
    "parse_numbers",
    "check_roots",
]


# --- playable (shown in the book)
def level_playable(heights, jump_height: int = 3, jump_length: int = 4) -> bool:
    """Can a player walk from the first column to the last?

    ``heights[c]`` is the height of the ground in column ``c`` (0: a pit). From a
    column of height ``h`` the player reaches column ``c + d``, ``1 <= d <=
    jump_length``, if it has ground, is at most ``jump_height`` higher, and no
    column on the way rises above ``h + jump_height`` (it would block the jump).
    Dropping down any distance is allowed. Breadth-first search over columns.
    """
    h = np.asarray(heights)
    if (
        h.ndim != 1
        or len(h) < 2
        or not np.issubdtype(h.dtype, np.integer)
        or h.min() < 0
    ):
        raise ValueError(
            f"heights: expected a 1-D array of at least 2 non-negative ints, got {h!r:.60}"
        )
    up, far = (
        check_int(jump_height, "jump_height", minimum=0),
        check_int(jump_length, "jump_length"),
    )
    if h[0] == 0:
        return False
    seen, queue = {0}, deque([0])
    while queue:
        c = queue.popleft()
        if c == len(h) - 1:
            return True
        for d in range(1, far + 1):
            n = c + d
            if n >= len(h) or h[c + 1 : n].max(initial=0) > h[c] + up:
                break  # off the map, or a wall in the way
            if h[n] > 0 and h[n] <= h[c] + up and n not in seen:
                seen.add(n)
                queue.append(n)
    return False


# --- end playable


def simulate_ad_test(
    ctr,
    impressions: int,
    policy: str = "thompson",
    batch: int = 100,
    campaigns: int = 200,
    seed=0,
) -> dict:
    """Show ``len(ctr)`` ad variants ``impressions`` times in each of ``campaigns`` campaigns.

    Each impression of variant ``k`` is clicked with probability ``ctr[k]``.
    ``policy="uniform"``: every batch is split equally between the variants (an
    A/B/n test). ``policy="thompson"``: each impression of a batch goes to the
    variant with the largest draw from its Beta(1 + clicks, 1 + misses)
    posterior (Thompson sampling), and the posteriors are updated after each
    batch. Returns ``shows`` and ``clicks``, int arrays (campaigns, variants).
    """
    p = np.asarray(ctr, dtype=np.float64)
    if p.ndim != 1 or len(p) < 2 or np.any((p < 0) | (p > 1)):
        raise ValueError("ctr: expected at least two click-through rates in [0, 1]")
    n, batch = check_int(impressions, "impressions"), check_int(batch, "batch")
    runs = check_int(campaigns, "campaigns")
    if policy not in ("thompson", "uniform"):
        raise ValueError(f"policy: expected 'thompson' or 'uniform', got {policy!r}")
    rng = np.random.default_rng(seed)
    K = len(p)
    shows, clicks = np.zeros((runs, K), np.int64), np.zeros((runs, K), np.int64)
    done = 0
    while done < n:
        m = min(batch, n - done)
        if policy == "uniform":
            alloc = np.tile(
                np.bincount(np.arange(done, done + m) % K, minlength=K), (runs, 1)
            )
        else:
            draws = rng.beta(
                1 + clicks[:, None, :],
                1 + shows[:, None, :] - clicks[:, None, :],
                size=(runs, m, K),
            )
            choice = draws.argmax(axis=2)
            alloc = np.stack([np.bincount(c, minlength=K) for c in choice])
        shows += alloc
        clicks += rng.binomial(alloc, p)
        done += m
    return {"shows": shows, "clicks": clicks}


def quadratic_exercise(
    rng, max_root: int = 9
) -> tuple[str, tuple[int, int, int], tuple[int, int]]:
    """An exercise "Solve a x^2 + b x + c = 0" built from its integer roots.

    Returns ``(text, (a, b, c), (r1, r2))``. The roots are drawn first and the
    coefficients come from expanding ``a (x - r1) (x - r2)``, so the answer key
    cannot be wrong.
    """
    max_root = check_int(max_root, "max_root")
    rng = np.random.default_rng(rng)
    r1, r2 = (int(v) for v in rng.integers(-max_root, max_root + 1, 2))
    a = int(rng.choice([1, 1, 2, 3, -1]))
    b, c = -a * (r1 + r2), a * r1 * r2

    def term(coef, var):
        if coef == 0:
            return ""
        sign = " - " if coef < 0 else " + "
        mag = "" if abs(coef) == 1 and var else str(abs(coef))
        return sign + mag + var

    lead = ("-" if a < 0 else "") + ("" if abs(a) == 1 else str(abs(a))) + "x²"
    return f"Solve {lead}{term(b, 'x')}{term(c, '')} = 0.", (a, b, c), (r1, r2)


_NUMBER = re.compile(r"[-+]?\d+(?:\s*/\s*\d+|\.\d+)?")


def parse_numbers(answer: str) -> list[Fraction]:
    """Every number written in ``answer`` ("x = 3 or x = -1/2", "3, -0.5"), as exact fractions."""
    if not isinstance(answer, str):
        raise ValueError(f"answer: expected a str, got {type(answer).__name__}")
    return [
        Fraction(s.replace(" ", "")) for s in _NUMBER.findall(answer.replace("−", "-"))
    ]


def check_roots(coeffs, answer: str) -> bool:
    """Does ``answer`` list exactly the distinct roots of ``a x^2 + b x + c`` (rational roots)?

    Every number in the answer must make the polynomial exactly 0, and together
    they must be as many as its distinct roots (1 or 2); order, spacing, "x ="
    and equivalent forms (0.5, 1/2) do not matter.
    """
    a, b, c = (Fraction(int(v)) for v in coeffs)
    if a == 0:
        raise ValueError("coeffs: expected a quadratic, a != 0")
    xs = set(parse_numbers(answer))
    n_roots = 1 if b * b - 4 * a * c == 0 else 2
    return len(xs) == n_roots and all(a * x * x + b * x + c == 0 for x in xs)
