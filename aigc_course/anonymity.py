"""Pseudonymisation, k-anonymity and the linkage attack, on a small invented table (chapter 10).

A table is a dict of equally long 1-D NumPy arrays, one per column. The
functions answer the questions a data protection review asks of a release:

* :func:`synthetic_people`: an invented population (nobody in it exists) with a
  name, ZIP code, date of birth, sex and a diagnosis;
* :func:`pseudonym`: a (salted) SHA-256 pseudonym of each value; without a secret
  salt a pseudonym of a small space (a date, a 6-digit number) is reversed by
  hashing every candidate;
* :func:`class_sizes`, :func:`k_anonymity`, :func:`l_diversity`: how many records
  share each record's quasi-identifiers (准标识符), the smallest such group
  (Sweeney, 2002), and the fewest distinct sensitive values in any group
  (Machanavajjhala et al., 2007);
* :func:`linkage_attack`: join a released table with an auxiliary table that has
  names, on the quasi-identifiers; count who is singled out and whose sensitive
  value is learned for certain;
* :func:`secret_shares` / :func:`reconstruct`: additive secret sharing, the
  simplest secure computation: parties learn a sum and nothing else about the
  inputs, which shows what encryption-style protection can and cannot hide.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ._checks import check_int

__all__ = [
    "synthetic_people",
    "pseudonym",
    "class_sizes",
    "k_anonymity",
    "l_diversity",
    "linkage_attack",
    "secret_shares",
    "reconstruct",
    "DIAGNOSES",
]

#: the invented sensitive attribute and its frequencies in :func:`synthetic_people`
DIAGNOSES = {
    "none": 0.55,
    "asthma": 0.15,
    "diabetes": 0.12,
    "hypertension": 0.12,
    "HIV": 0.03,
    "cancer": 0.03,
}


def _table(table, name: str = "table") -> int:
    """Number of rows of a dict-of-columns table (all columns 1-D and equally long)."""
    if not isinstance(table, dict) or not table:
        raise ValueError(
            f"{name}: expected a dict of columns (1-D arrays), got {type(table).__name__}"
        )
    lengths = {k: np.shape(v) for k, v in table.items()}
    if (
        any(len(s) != 1 for s in lengths.values())
        or len({s[0] for s in lengths.values()}) != 1
    ):
        raise ValueError(
            f"{name}: expected 1-D columns of equal length, got shapes {lengths}"
        )
    return next(iter(lengths.values()))[0]


def _columns(table, columns, name: str = "table") -> list:
    if isinstance(columns, str):
        columns = [columns]
    missing = [c for c in columns if c not in table]
    if missing or not columns:
        raise ValueError(
            f"{name}: expected columns {list(columns)}, missing {missing} (has {sorted(table)})"
        )
    return list(columns)


def _keys(table, columns) -> list[tuple]:
    cols = [np.asarray(table[c]).tolist() for c in columns]
    return list(zip(*cols))


def synthetic_people(n: int, seed=0, n_zip: int = 20, years=(1950, 2005)) -> dict:
    """An invented population of ``n`` people (their names are serial numbers).

    ZIP codes are ``n_zip`` five-digit codes sharing few three-digit prefixes,
    birth dates uniform over ``years``, sex "F" or "M", and a diagnosis drawn from
    :data:`DIAGNOSES`, independently of everything else.
    """
    n = check_int(n, "n")
    rng = np.random.default_rng(seed)
    # five-digit codes under four three-digit prefixes (201..204); distinct two-digit suffixes
    zips = 100 * rng.integers(201, 205, n_zip) + rng.choice(100, n_zip, replace=False)
    start, end = np.datetime64(f"{years[0]}-01-01"), np.datetime64(f"{years[1]}-01-01")
    days = (end - start).astype(int)
    names, probs = list(DIAGNOSES), np.array(list(DIAGNOSES.values()))
    return {
        "name": np.array([f"person {i:05d}" for i in range(n)]),
        "zip": zips[rng.integers(0, n_zip, n)],
        "birth": start + rng.integers(0, days, n).astype("timedelta64[D]"),
        "sex": rng.choice(np.array(["F", "M"]), n),
        "diagnosis": np.array(names)[rng.choice(len(names), n, p=probs / probs.sum())],
    }


def pseudonym(values, salt: str = "", length: int = 12) -> np.ndarray:
    """First ``length`` hex digits of SHA-256(salt + str(value)), for each value."""
    if not isinstance(salt, str):
        raise ValueError(f"salt: expected a str, got {type(salt).__name__}")
    return np.array(
        [
            hashlib.sha256((salt + str(v)).encode()).hexdigest()[:length]
            for v in np.asarray(values).tolist()
        ]
    )


# --- k-anonymity (shown in the book)
def class_sizes(table, quasi) -> np.ndarray:
    """For each record, how many records share its quasi-identifiers (its equivalence class)."""
    _table(table)
    keys = _keys(table, _columns(table, quasi))
    counts: dict = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    return np.array([counts[k] for k in keys])


def k_anonymity(table, quasi) -> int:
    """The k of the table: the size of its smallest equivalence class."""
    return int(class_sizes(table, quasi).min())


def l_diversity(table, quasi, sensitive: str) -> int:
    """The fewest distinct values of ``sensitive`` found in any equivalence class."""
    _table(table)
    groups: dict = {}
    for k, s in zip(
        _keys(table, _columns(table, quasi)),
        np.asarray(table[_columns(table, sensitive)[0]]).tolist(),
    ):
        groups.setdefault(k, set()).add(s)
    return min(len(v) for v in groups.values())


def linkage_attack(released, auxiliary, quasi, sensitive: str) -> dict:
    """Join ``auxiliary`` (who, with their quasi-identifiers) to ``released`` on ``quasi``.

    Returns arrays over the auxiliary records: ``matches`` (how many released
    records fit), ``singled_out`` (exactly one fits) and ``learned`` (the
    sensitive value if every fitting record has the same one, else ``None``:
    the attacker then knows it for certain even without singling anyone out).
    """
    _table(released, "released")
    _table(auxiliary, "auxiliary")
    quasi = _columns(released, quasi, "released")
    _columns(auxiliary, quasi, "auxiliary")
    values: dict = {}
    for k, s in zip(
        _keys(released, quasi),
        np.asarray(released[_columns(released, sensitive)[0]]).tolist(),
    ):
        values.setdefault(k, []).append(s)
    found = [values.get(k, []) for k in _keys(auxiliary, quasi)]
    matches = np.array([len(v) for v in found])
    learned = np.array(
        [v[0] if v and len(set(v)) == 1 else None for v in found], dtype=object
    )
    return {"matches": matches, "singled_out": matches == 1, "learned": learned}


# --- end k-anonymity


def secret_shares(values, n_parties: int, seed=0, modulus: int = 2**32) -> np.ndarray:
    """Split each non-negative integer into ``n_parties`` random shares that sum to it mod ``modulus``.

    Returns int64 (n_parties, len(values)). Any ``n_parties - 1`` shares are
    uniformly random, whatever the values: each share alone reveals nothing.
    """
    v = np.asarray(values)
    if (
        v.ndim != 1
        or not np.issubdtype(v.dtype, np.integer)
        or np.any(v < 0)
        or np.any(v >= modulus)
    ):
        raise ValueError(f"values: expected a 1-D array of integers in [0, {modulus})")
    n_parties = check_int(n_parties, "n_parties", minimum=2)
    modulus = check_int(modulus, "modulus", 2, 2**32, expected="an int in [2, 2**32]")
    rng = np.random.default_rng(seed)
    shares = rng.integers(0, modulus, (n_parties - 1, len(v)), dtype=np.int64)
    last = (v.astype(np.int64) - shares.sum(axis=0) % modulus) % modulus
    return np.vstack([shares, last[None]])


def reconstruct(shares, modulus: int = 2**32) -> np.ndarray:
    """The values behind ``shares`` (sum over parties, mod ``modulus``)."""
    s = np.asarray(shares, dtype=np.int64)
    if s.ndim < 1 or len(s) < 2:
        raise ValueError("shares: expected shares of at least two parties along axis 0")
    return np.sum(s % modulus, axis=0) % modulus
