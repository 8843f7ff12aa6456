"""Security and privacy of generative models, framework-neutral (NumPy in, NumPy out).

Two toolkits for chapter 10:

* **membership inference** (成员推断): an attack gives every candidate record a
  score, higher meaning "more likely in the training set". :func:`roc_curve`,
  :func:`roc_auc`, :func:`tpr_at_fpr` and :func:`advantage` evaluate such scores
  on known members and non-members. The advantage ``max(TPR - FPR)`` is the
  membership advantage of Yeom et al. (2018); the true-positive rate at a low
  false-positive rate is what Carlini et al. (2022) recommend reporting.
  :func:`gaussian_kde_logpdf` and :func:`nearest_neighbour_distance` give a toy
  generative model that can memorise, and a way to spot copies of training data.
* **invisible watermarks** (水印): :func:`embed_watermark` adds a keyed
  pseudo-random +-1 pattern to a band of 2-D DCT coefficients (spread spectrum,
  Cox et al., 1997); :func:`detect_watermark` correlates an image with the
  pattern and returns a z-score that is approximately standard normal for any
  image that does not carry the mark, so a threshold ``tau`` has a false-positive
  rate of ``1 - Phi(tau)`` (:func:`z_to_p_value`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft as _fft
from scipy import special as _special

from ._checks import check_int, check_number, check_vectors

__all__ = [
    "roc_curve",
    "roc_auc",
    "tpr_at_fpr",
    "advantage",
    "gaussian_kde_logpdf",
    "nearest_neighbour_distance",
    "watermark_band",
    "watermark_pattern",
    "embed_watermark",
    "detect_watermark",
    "z_to_p_value",
]


# ----- input checks -------------------------------------------------------------
def _scores(x, name: str) -> np.ndarray:
    """A non-empty, finite 1-D float64 score vector."""
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of scores, got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name}: expected at least one score, got an empty array")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"{name}: expected numbers, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: expected finite scores, got NaN or inf")
    return x


# ----- membership inference: evaluation (shown in the book) ---------------------
def roc_curve(scores_members, scores_nonmembers):
    """ROC curve of a membership-inference attack.

    The attack says "member" when ``score >= threshold``. Returns
    ``(fpr, tpr, thresholds)``: one point per distinct score, from the strictest
    threshold (``+inf``: nobody is accused, the point (0, 0)) to the most lenient
    (everybody is accused, the point (1, 1)). ``tpr`` is the fraction of members
    flagged, ``fpr`` the fraction of non-members flagged.
    """
    pos = _scores(scores_members, "scores_members")
    neg = _scores(scores_nonmembers, "scores_nonmembers")
    thresholds = np.unique(np.concatenate([pos, neg]))[::-1]  # descending
    # number of scores >= t, for every threshold t
    tp = pos.size - np.searchsorted(np.sort(pos), thresholds, side="left")
    fp = neg.size - np.searchsorted(np.sort(neg), thresholds, side="left")
    tpr = np.concatenate([[0.0], tp / pos.size])
    fpr = np.concatenate([[0.0], fp / neg.size])
    return fpr, tpr, np.concatenate([[np.inf], thresholds])


def roc_auc(scores_members, scores_nonmembers) -> float:
    """Area under the ROC curve: P(member score > non-member score), ties count 1/2.

    0.5 is a coin flip; 1.0 separates members from non-members perfectly.
    """
    pos = _scores(scores_members, "scores_members")
    neg = np.sort(_scores(scores_nonmembers, "scores_nonmembers"))
    below = np.searchsorted(neg, pos, side="left")  # non-members strictly lower
    ties = np.searchsorted(neg, pos, side="right") - below  # non-members equal
    return float((below.sum() + 0.5 * ties.sum()) / (pos.size * neg.size))


def tpr_at_fpr(scores_members, scores_nonmembers, fpr: float = 0.01) -> float:
    """The largest true-positive rate among thresholds whose false-positive rate is <= ``fpr``.

    An attack that flags 1% of the population falsely but finds some members
    with certainty is dangerous even when its AUC is close to 0.5.
    """
    fpr = check_number(fpr, "fpr", 0, 1)
    f, t, _ = roc_curve(scores_members, scores_nonmembers)
    return float(t[f <= fpr + 1e-12].max())


def advantage(scores_members, scores_nonmembers) -> float:
    """Membership advantage ``max over thresholds of TPR - FPR`` (Yeom et al., 2018).

    0 means the attack does no better than guessing; 1 means it is always right.
    For an (epsilon, 0)-differentially private training algorithm the expected
    advantage is at most ``exp(epsilon) - 1``.
    """
    f, t, _ = roc_curve(scores_members, scores_nonmembers)
    return float(np.max(t - f))


# --- end membership inference


# ----- a model that can memorise ------------------------------------------------
def _matrix(x, name: str, d: int | None = None) -> np.ndarray:
    """Finite float64 samples (N, d); a 1-D array is one column when ``d == 1``."""
    x = np.asarray(x)
    return check_vectors(
        x[:, None] if x.ndim == 1 and d == 1 else x,
        d,
        name,
        what="samples",
        dtype=np.float64,
    )


def gaussian_kde_logpdf(x, train, bandwidth: float) -> np.ndarray:
    """Log-density of an isotropic Gaussian kernel density estimate fitted to ``train``.

    ``p(x) = 1/N sum_i N(x; train_i, bandwidth^2 I)``. A narrow bandwidth puts a
    spike on every training point: the model memorises (its samples are
    near-copies of training points, and members get much higher likelihood than
    non-members). ``x`` is (M, d), ``train`` (N, d); returns (M,) log-densities.
    """
    train = _matrix(train, "train")
    x = _matrix(x, "x", d=train.shape[1])
    bandwidth = check_number(
        bandwidth, "bandwidth", low=0, low_open=True, expected="a positive number"
    )
    d = train.shape[1]
    sq = np.sum(x**2, 1)[:, None] - 2.0 * x @ train.T + np.sum(train**2, 1)[None, :]
    sq = np.maximum(sq, 0.0)
    log_k = (
        -0.5 * sq / bandwidth**2
        - d * math.log(bandwidth)
        - 0.5 * d * math.log(2 * math.pi)
    )
    m = log_k.max(axis=1, keepdims=True)
    return m[:, 0] + np.log(np.mean(np.exp(log_k - m), axis=1))


def nearest_neighbour_distance(samples, train, batch_size: int = 1024):
    """Euclidean distance from each sample to its nearest training point, and that point's index.

    A distance near zero means the model reproduced a training example: the
    check Carlini et al. (2023) and Somepalli et al. (2023) run on diffusion
    models. ``samples`` (M, d) and ``train`` (N, d); images may be passed as
    (M, H, W) and are flattened. Returns ``(distances, indices)``, both (M,).
    """
    s = np.asarray(samples)
    t = np.asarray(train)
    s = s.reshape(s.shape[0], -1) if s.ndim > 2 else s
    t = t.reshape(t.shape[0], -1) if t.ndim > 2 else t
    train = _matrix(t, "train")
    samples = _matrix(s, "samples", d=train.shape[1])
    t2 = np.sum(train**2, 1)
    dist = np.empty(samples.shape[0])
    idx = np.empty(samples.shape[0], dtype=np.int64)
    for a in range(0, samples.shape[0], batch_size):
        b = samples[a : a + batch_size]
        sq = np.maximum(np.sum(b**2, 1)[:, None] - 2.0 * b @ train.T + t2[None, :], 0.0)
        j = np.argmin(sq, axis=1)
        idx[a : a + batch_size] = j
        dist[a : a + batch_size] = np.sqrt(sq[np.arange(len(b)), j])
    return dist, idx


# ----- spread-spectrum watermark ------------------------------------------------
def _images(x, name: str, unit_range: bool) -> tuple[np.ndarray, bool]:
    """Float64 images shaped (N, H, W); ``single`` tells whether one (H, W) image was given."""
    x = np.asarray(x)
    shape = x.shape
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3 or x.shape[0] == 0 or min(x.shape[1:]) < 4:
        raise ValueError(
            f"{name}: expected grayscale images shaped (N, H, W) or one image (H, W), "
            f"with H, W >= 4, got shape {shape}"
        )
    if x.dtype == np.uint8:
        return x.astype(np.float64) / 255.0, single
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name}: expected dtype uint8 or float, got {x.dtype}")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: expected finite pixel values, got NaN or inf")
    if unit_range and (x.min() < -1e-6 or x.max() > 1 + 1e-6):
        raise ValueError(
            f"{name}: expected float images in [0, 1] (or uint8), "
            f"got values in [{x.min():.3g}, {x.max():.3g}]"
        )
    return x, single


def _band(band) -> tuple[int, int]:
    try:
        lo, hi = (int(band[0]), int(band[1]))
        ok = len(band) == 2 and 1 <= lo < hi
    except (TypeError, ValueError, IndexError):
        ok = False
    if not ok:
        raise ValueError(f"band: expected (lo, hi) with 1 <= lo < hi, got {band!r}")
    return lo, hi


def watermark_band(shape, band=(20, 56)) -> np.ndarray:
    """Boolean mask of the DCT coefficients ``(u, v)`` with ``lo <= u + v < hi``.

    The default ``(20, 56)`` keeps the high frequencies of a 28x28 image
    (``u + v`` runs from 0 to 54), where digits and clothes have little energy,
    so the image itself interferes little with the mark.

    The DC coefficient (0, 0), the mean brightness, is never in the band, so
    adding a constant to an image does not change the detector's statistic.
    """
    lo, hi = _band(band)
    h, w = (int(shape[0]), int(shape[1]))
    u, v = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    mask = (u + v >= lo) & (u + v < hi)
    if not mask.any():
        raise ValueError(
            f"band: {band!r} selects no DCT coefficient of a {h}x{w} image"
        )
    return mask


def watermark_pattern(shape, key: int, band=(20, 56)) -> np.ndarray:
    """The secret pattern: +-1 on the band's DCT coefficients, 0 elsewhere (shape (H, W))."""
    mask = watermark_band(shape, band)
    key = check_int(
        key, "key", minimum=0, expected="a non-negative int (the secret seed)"
    )
    rng = np.random.default_rng([key, int(shape[0]), int(shape[1])])
    signs = rng.choice(np.array([-1.0, 1.0]), size=mask.shape)
    return np.where(mask, signs, 0.0)


# --- watermark (shown in the book)
def embed_watermark(
    images, key: int, strength: float = 0.04, band=(20, 56), clip: bool = True
):
    """Add ``strength * pattern`` to the orthonormal 2-D DCT of each image.

    ``images``: floats in [0, 1] (or uint8), shaped (N, H, W) or (H, W).
    ``strength`` is in pixel units: the pixel-domain change has RMS
    ``strength * sqrt(n_band / (H * W))``. Returns float images in [0, 1]
    (clipped when ``clip``; clipping removes a little of the mark).
    """
    x, single = _images(images, "images", unit_range=True)
    strength = check_number(
        strength, "strength", low=0, low_open=True, expected="a positive number"
    )
    pattern = watermark_pattern(x.shape[1:], key, band)
    coeffs = _fft.dctn(x, axes=(1, 2), norm="ortho") + strength * pattern
    out = _fft.idctn(coeffs, axes=(1, 2), norm="ortho")
    if clip:
        out = np.clip(out, 0.0, 1.0)
    return out[0] if single else out


def detect_watermark(images, key: int, band=(20, 56)) -> np.ndarray:
    """z-score of the correlation between each image's DCT band and the keyed pattern.

    ``z = sum_k c_k p_k / sqrt(sum_k c_k^2)`` over the band's coefficients ``c_k``.
    For an image that does not carry the mark the signs ``p_k`` are independent
    of ``c_k``, so ``z`` has mean 0 and variance 1 (and is close to normal when the
    band is large): the false-positive rate at a threshold ``tau`` is
    ``1 - Phi(tau)``. A marked image adds ``strength * n_band`` to the numerator.
    ``z`` does not change when the image is multiplied by a positive factor or
    shifted by a constant (contrast and brightness), but it is lost when the
    image is shifted or cropped, which misaligns the DCT grid.
    Returns an array (N,), or a float for one (H, W) image.
    """
    x, single = _images(images, "images", unit_range=False)
    pattern = watermark_pattern(x.shape[1:], key, band)
    mask = pattern != 0
    c = _fft.dctn(x, axes=(1, 2), norm="ortho")[:, mask]  # (N, n_band)
    num = c @ pattern[mask]
    den = np.sqrt(np.sum(c**2, axis=1))
    z = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return float(z[0]) if single else z


# --- end watermark


def z_to_p_value(z):
    """One-sided p-value ``1 - Phi(z)``: the chance of a z-score this large without the mark."""
    z = np.asarray(z, dtype=np.float64)
    p = 0.5 * _special.erfc(z / math.sqrt(2.0))
    return float(p) if p.ndim == 0 else p
