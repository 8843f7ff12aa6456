"""A keyword content filter and the text normalisation in front of it (chapter 10).

A sketch of the first line of content moderation (内容审核): flag a text when it
contains a blocked term. It is meant to be *attacked* in the book, so it is
deliberately simple:

* :func:`normalise` undoes the cheap obfuscations: Unicode compatibility forms
  (full-width letters, ligatures), upper case, accents and other combining marks,
  invisible characters (zero-width spaces), look-alike letters from other scripts
  (:data:`HOMOGLYPHS`, e.g. Cyrillic "а" for Latin "a") and, optionally, digits and
  symbols used as letters (:data:`LEET`, "p@$$w0rd");
* :func:`keyword_filter` matches a block list either on whole words or, with
  ``squeeze=True``, on the text with every separator removed (which also catches
  "p a s s w o r d", and also flags innocent words that contain a blocked
  string: the "Scunthorpe problem");
* :func:`flag_precision` is Bayes' rule for the share of flagged items that are
  really harmful, given the filter's true- and false-positive rates and the base
  rate of harmful items.

Whatever the normaliser does not know (a paraphrase, a homophone, a new
spelling) passes: a block list *fails open*.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

__all__ = [
    "HOMOGLYPHS",
    "LEET",
    "INVISIBLE",
    "normalise",
    "keyword_filter",
    "flag_precision",
]

#: look-alike characters from other scripts -> the Latin letter they imitate (a small sample
#: of Unicode's confusables list: Cyrillic and Greek letters that render like Latin ones)
HOMOGLYPHS = {
    "а": "a",
    "е": "e",
    "о": "o",
    "р": "p",
    "с": "c",
    "у": "y",
    "х": "x",
    "і": "i",
    "ј": "j",
    "ѕ": "s",
    "ԁ": "d",
    "ԛ": "q",
    "ԝ": "w",
    "һ": "h",
    "к": "k",
    "ο": "o",
    "α": "a",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ε": "e",
}
#: digits and symbols written for letters ("leetspeak"); lossy: "1" may have meant "l"
LEET = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "@": "a",
    "$": "s",
    "!": "i",
}
#: characters that render as nothing: zero-width space, (non-)joiners, word joiner, BOM, soft hyphen
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"

_INVISIBLE_RE = re.compile(f"[{INVISIBLE}]")
_SEPARATORS = re.compile(r"[\W_]+", re.UNICODE)


def _text(text, name: str = "text") -> str:
    if not isinstance(text, str):
        raise ValueError(f"{name}: expected a str, got {type(text).__name__}")
    return text


# --- normalise (shown in the book)
def normalise(text: str, leet: bool = False) -> str:
    """Undo cheap obfuscations: NFKC, case, combining marks, invisible characters, homoglyphs.

    With ``leet=True`` digits and symbols that stand for letters are mapped too
    (which also rewrites real numbers: "100" becomes "ioo").
    """
    text = unicodedata.normalize("NFKC", _text(text)).casefold()  # "ｐａｓｓ" -> "pass"
    text = _INVISIBLE_RE.sub("", text)  # "pass\u200bword" -> "password"
    text = "".join(
        c
        for c in unicodedata.normalize("NFD", text)  # "pässwörd" -> "password"
        if not unicodedata.combining(c)
    )
    table = {**HOMOGLYPHS, **(LEET if leet else {})}
    return "".join(table.get(c, c) for c in text)  # "раssword" (Cyrillic) -> "password"


def keyword_filter(
    texts,
    blocklist,
    *,
    normalise_text: bool = True,
    leet: bool = False,
    squeeze: bool = False,
) -> np.ndarray:
    """Bool (N,): does each text contain a blocked term?

    Terms and texts are normalised the same way (unless ``normalise_text=False``).
    By default a term must appear as whole words, bounded by anything but a Latin
    letter or a digit (``"pass word"`` does not match ``"password"``, nor does
    ``"passwords"``; Chinese, written without spaces, matches anywhere); with ``squeeze=True`` every separator is removed from both
    and a term matches anywhere, even inside another word.
    """
    if isinstance(texts, str):
        raise ValueError(
            "texts: expected a list of strings, got one str (wrap it in a list)"
        )
    if isinstance(blocklist, str) or not len(blocklist):
        raise ValueError("blocklist: expected a non-empty list of terms")

    def prep(t):
        t = normalise(t, leet=leet) if normalise_text else _text(t)
        return _SEPARATORS.sub("" if squeeze else " ", t).strip()

    terms = [prep(_text(b, "blocklist term")) for b in blocklist]
    if not all(terms):
        raise ValueError("blocklist: a term is empty after normalisation")
    if squeeze:
        return np.array([any(term in prep(t) for term in terms) for t in texts], bool)
    patterns = [
        re.compile(r"(?<![a-zA-Z0-9])" + re.escape(term) + r"(?![a-zA-Z0-9])")
        for term in terms
    ]
    return np.array([any(p.search(prep(t)) for p in patterns) for t in texts], bool)


# --- end normalise


def flag_precision(tpr, fpr, base_rate):
    """Share of flagged items that are harmful: ``tpr * pi / (tpr * pi + fpr * (1 - pi))``."""
    tpr, fpr, pi = (np.asarray(v, dtype=np.float64) for v in (tpr, fpr, base_rate))
    for v, name in ((tpr, "tpr"), (fpr, "fpr"), (pi, "base_rate")):
        if np.any((v < 0) | (v > 1)) or not np.all(np.isfinite(v)):
            raise ValueError(f"{name}: expected rates in [0, 1]")
    flagged = tpr * pi + fpr * (1 - pi)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(
            flagged > 0, tpr * pi / np.where(flagged > 0, flagged, 1), np.nan
        )
    return float(out) if out.ndim == 0 else out
