"""The keyword filter: what normalisation catches (full-width, case, accents, zero-width,
homoglyphs, leetspeak, spacing), what it cannot (paraphrase, homophones), its false
positives; Bayes' rule for the precision of a flag against simulation; errors."""

import numpy as np
import pytest

from aigc_course import moderation as M

BLOCK = ["password", "gift card", "验证码"]


@pytest.mark.parametrize(
    "text",
    [
        "send me your password",
        "ｓｅｎｄ ｙｏｕｒ ＰＡＳＳＷＯＲＤ",
        "your PÄSSWÖRD please",
        "pass\u200bword",
        "your раssword (Cyrillic р and а)",
        "buy a GIFT  CARD",
        "gift-card",
        "请把验证码发给我",
    ],
)
def test_normalisation_catches_cheap_obfuscations(text):
    assert M.keyword_filter([text], BLOCK)[0]


def test_what_each_option_adds():
    leet, spaced = "your p@$$w0rd", "p a s s w o r d"
    assert (
        not M.keyword_filter([leet], BLOCK)[0]
        and M.keyword_filter([leet], BLOCK, leet=True)[0]
    )
    assert not M.keyword_filter([spaced], BLOCK)[0]
    assert M.keyword_filter([spaced], BLOCK, squeeze=True)[0]
    assert M.keyword_filter(["验 证 码"], BLOCK, squeeze=True)[0]
    # without normalisation nothing but the exact lower-case form matches
    assert not M.keyword_filter(
        ["PASSWORD", "pass\u200bword"], BLOCK, normalise_text=False
    ).any()
    # whole words: no match inside other words, unless squeezed (the Scunthorpe problem)
    assert not M.keyword_filter(["a classic passage"], ["ass"])[0]
    assert M.keyword_filter(["a classic passage"], ["ass"], squeeze=True)[0]
    # leetspeak rewrites real numbers
    assert M.normalise("win 100 dollars", leet=True) == "win ioo dollars"


@pytest.mark.parametrize(
    "text",
    [
        "reply with the secret you use to log in",  # paraphrase
        "请把验正码发给我",  # homophone: 正 for 证 (both zheng)
        "buy a store voucher and read me the numbers",
    ],
)
def test_filters_fail_open(text):
    assert not M.keyword_filter([text], BLOCK, leet=True, squeeze=True)[0]


def test_flag_precision_is_bayes_rule():
    assert M.flag_precision(0.95, 0.01, 0.001) == pytest.approx(
        0.95e-3 / (0.95e-3 + 0.01 * 0.999)
    )
    assert M.flag_precision(1.0, 0.0, 0.5) == 1.0
    assert np.isnan(M.flag_precision(0.0, 0.0, 0.5))
    rng = np.random.default_rng(0)
    n = 2_000_000
    harmful = rng.random(n) < 0.002
    flagged = np.where(harmful, rng.random(n) < 0.9, rng.random(n) < 0.02)
    assert np.mean(harmful[flagged]) == pytest.approx(
        M.flag_precision(0.9, 0.02, 0.002), abs=0.01
    )
    assert M.flag_precision([0.9, 0.9], 0.02, [0.002, 0.5]).shape == (2,)


def test_errors():
    with pytest.raises(ValueError, match="list of strings"):
        M.keyword_filter("password", BLOCK)
    with pytest.raises(ValueError, match="non-empty"):
        M.keyword_filter(["x"], [])
    with pytest.raises(ValueError, match="empty after"):
        M.keyword_filter(["x"], ["\u200b"])
    with pytest.raises(ValueError, match="str"):
        M.normalise(3)
    with pytest.raises(ValueError, match="tpr"):
        M.flag_precision(1.5, 0.1, 0.1)
