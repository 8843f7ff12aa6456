"""k-anonymity and l-diversity against brute force; the linkage attack on pseudonymised and
generalised releases; hash pseudonyms reversed by enumeration; secret sharing; errors."""

import numpy as np
import pytest

from aigc_course import anonymity as N


@pytest.fixture(scope="module")
def people():
    return N.synthetic_people(3000, seed=0)


def test_synthetic_people(people):
    assert set(people) == {"name", "zip", "birth", "sex", "diagnosis"}
    assert all(len(v) == 3000 for v in people.values())
    assert len(set(people["name"])) == 3000 and len(set(people["zip"])) == 20
    assert set(people["zip"] // 100) <= {201, 202, 203, 204}
    assert set(people["diagnosis"]) <= set(N.DIAGNOSES)
    again = N.synthetic_people(3000, seed=0)
    assert all(np.array_equal(again[k], people[k]) for k in people)


def test_class_sizes_k_and_l_against_brute_force():
    t = {
        "a": np.array([1, 1, 2, 2, 2, 3]),
        "b": np.array(["x", "x", "y", "y", "z", "z"]),
        "s": np.array([0, 1, 0, 0, 1, 1]),
    }
    assert N.class_sizes(t, ["a", "b"]).tolist() == [2, 2, 2, 2, 1, 1]
    assert N.class_sizes(t, "a").tolist() == [2, 2, 3, 3, 3, 1]
    assert N.k_anonymity(t, ["a", "b"]) == 1 and N.k_anonymity(t, ["b"]) == 2
    assert N.l_diversity(t, ["a", "b"], "s") == 1 and N.l_diversity(t, ["b"], "s") == 1
    rng = np.random.default_rng(0)
    t = {
        "a": rng.integers(0, 4, 200),
        "b": rng.integers(0, 3, 200),
        "s": rng.integers(0, 5, 200),
    }
    for q in (["a"], ["b"], ["a", "b"]):
        keys = list(zip(*(t[c] for c in q)))
        brute = [sum(k == j for j in keys) for k in keys]
        assert N.class_sizes(t, q).tolist() == brute
        groups = {k: {s for j, s in zip(keys, t["s"]) if j == k} for k in keys}
        assert N.l_diversity(t, q, "s") == min(len(g) for g in groups.values())


def test_linkage_attack(people):
    q = ["zip", "birth", "sex"]
    released = {k: people[k] for k in ("zip", "birth", "sex", "diagnosis")}
    released["id"] = N.pseudonym(people["name"], salt="secret")
    aux = {k: people[k][:300] for k in ("name", "zip", "birth", "sex")}
    r = N.linkage_attack(released, aux, q, "diagnosis")
    # with exact dates nearly everyone is singled out, and what is learned is true
    assert r["singled_out"].mean() > 0.95
    known = r["learned"] != None  # noqa: E711 (object array)
    assert np.all(r["learned"][known] == people["diagnosis"][:300][known])
    assert np.array_equal(r["matches"], N.class_sizes(released, q)[:300])
    # generalising to decade of birth and 3-digit ZIP makes a k-anonymous release
    gen = dict(
        released,
        zip=people["zip"] // 100,
        birth=people["birth"].astype("datetime64[Y]").astype(int) // 10,
    )
    gaux = dict(
        aux,
        zip=aux["zip"] // 100,
        birth=aux["birth"].astype("datetime64[Y]").astype(int) // 10,
    )
    assert N.k_anonymity(gen, q) >= 5
    g = N.linkage_attack(gen, gaux, q, "diagnosis")
    assert not g["singled_out"].any() and np.all(g["matches"] >= 5)
    # an auxiliary record absent from the release matches nothing
    none = N.linkage_attack(
        released,
        {"zip": np.array([0]), "birth": people["birth"][:1], "sex": np.array(["F"])},
        q,
        "diagnosis",
    )
    assert none["matches"].tolist() == [0] and none["learned"][0] is None


def test_homogeneity_leaks_without_singling_out():
    t = {
        "q": np.array([1, 1, 1, 2, 2]),
        "s": np.array(["HIV", "HIV", "HIV", "flu", "none"]),
    }
    r = N.linkage_attack(t, {"q": np.array([1, 2])}, ["q"], "s")
    assert N.k_anonymity(t, ["q"]) == 2 and N.l_diversity(t, ["q"], "s") == 1
    assert r["singled_out"].tolist() == [False, False]
    assert r["learned"].tolist() == ["HIV", None]


def test_unsalted_pseudonyms_of_a_small_space_are_reversed():
    days = np.arange(np.datetime64("1990-01-01"), np.datetime64("1992-01-01"))
    secret = days[[5, 400, 700]]
    lookup = dict(zip(N.pseudonym(days), days))
    assert [lookup[h] for h in N.pseudonym(secret)] == list(secret)
    salted = N.pseudonym(secret, salt="k3y")
    assert not set(salted) & set(lookup)
    assert len(N.pseudonym(["a"], length=20)[0]) == 20


def test_secret_sharing():
    v = np.array([52_000, 61_000, 75_000, 0, 2**32 - 1])
    s = N.secret_shares(v, 3, seed=0)
    assert s.shape == (3, 5) and np.all((0 <= s) & (s < 2**32))
    assert N.reconstruct(s).tolist() == v.tolist()
    # parties add their shares locally; the sum is all that is revealed
    assert N.reconstruct(s.sum(axis=1, keepdims=True))[0] == v.sum() % 2**32
    # any two shares are uniform, whatever the secret: same distribution for 0 and 75,000
    a = N.secret_shares(np.zeros(20000, np.int64), 3, seed=1)[:2].ravel()
    b = N.secret_shares(np.full(20000, 75_000), 3, seed=2)[:2].ravel()
    for x in (a, b):
        counts = np.bincount(x // 2**28, minlength=16)
        assert counts.min() > 0.85 * len(x) / 16
    for n_parties in (2, 5):
        assert (
            N.reconstruct(N.secret_shares(v, n_parties, seed=3)).tolist() == v.tolist()
        )


def test_errors(people):
    with pytest.raises(ValueError, match="dict of columns"):
        N.class_sizes([1, 2], ["a"])
    with pytest.raises(ValueError, match="equal length"):
        N.class_sizes({"a": np.arange(3), "b": np.arange(4)}, ["a"])
    with pytest.raises(ValueError, match="missing"):
        N.k_anonymity(people, ["postcode"])
    with pytest.raises(ValueError, match="integers"):
        N.secret_shares(np.array([-1]), 3)
    with pytest.raises(ValueError, match="n_parties"):
        N.secret_shares(np.array([1]), 1)
    with pytest.raises(ValueError, match="salt"):
        N.pseudonym(["a"], salt=3)
    with pytest.raises(ValueError, match="positive int"):
        N.synthetic_people(0)
