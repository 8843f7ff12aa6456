"""Membership-inference metrics against brute force and scikit-learn; the watermark's null
distribution, detection, robustness and wrong key; the memorising KDE against SciPy; errors."""

import math

import numpy as np
import pytest
from scipy import fft, stats

from aigc_course import security as S


# ----- membership-inference metrics ------------------------------------------------
def brute_roc(pos, neg):
    """ROC points by trying every threshold, straight from the definition."""
    pts = {(0.0, 0.0)}
    for t in np.concatenate([pos, neg, [np.inf]]):
        pts.add((float(np.mean(neg >= t)), float(np.mean(pos >= t))))
    return sorted(pts)


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(0)
    pos = np.round(rng.normal(0.8, 1.0, 300), 1)  # rounding makes ties
    neg = np.round(rng.normal(0.0, 1.0, 400), 1)
    return pos, neg


def test_roc_curve_matches_brute_force(scores):
    pos, neg = scores
    fpr, tpr, thr = S.roc_curve(pos, neg)
    assert (fpr[0], tpr[0], thr[0]) == (0.0, 0.0, np.inf)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert (
        np.all(np.diff(fpr) >= 0)
        and np.all(np.diff(tpr) >= 0)
        and np.all(np.diff(thr) < 0)
    )
    assert sorted(zip(fpr.tolist(), tpr.tolist())) == brute_roc(pos, neg)


def test_roc_auc_pairwise_trapezoid_and_sklearn(scores):
    pos, neg = scores
    diff = pos[:, None] - neg[None, :]
    pairwise = np.mean(diff > 0) + 0.5 * np.mean(diff == 0)
    auc = S.roc_auc(pos, neg)
    assert auc == pytest.approx(pairwise, abs=1e-12)
    fpr, tpr, _ = S.roc_curve(pos, neg)
    assert auc == pytest.approx(
        np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2), abs=1e-12
    )
    # the binormal model: AUC = Phi(0.8 / sqrt(2)) in the limit
    assert auc == pytest.approx(stats.norm.cdf(0.8 / math.sqrt(2)), abs=0.05)
    sk = pytest.importorskip("sklearn.metrics")
    y = np.r_[np.ones(pos.size), np.zeros(neg.size)]
    s = np.r_[pos, neg]
    assert auc == pytest.approx(sk.roc_auc_score(y, s), abs=1e-12)
    f2, t2, _ = sk.roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(f2, fpr) and np.allclose(t2, tpr)


def test_tpr_at_fpr_and_advantage(scores):
    pos, neg = scores
    fpr, tpr, _ = S.roc_curve(pos, neg)
    for target in (0.0, 0.01, 0.1, 0.5, 1.0):
        brute = max(
            float(np.mean(pos >= t))
            for t in np.r_[pos, neg, np.inf]
            if np.mean(neg >= t) <= target
        )
        assert S.tpr_at_fpr(pos, neg, fpr=target) == pytest.approx(brute)
    adv = max(float(np.mean(pos >= t) - np.mean(neg >= t)) for t in np.r_[pos, neg])
    assert S.advantage(pos, neg) == pytest.approx(adv)
    # binormal: max TPR - FPR = 2 Phi(0.4) - 1 (threshold halfway), up to sampling error
    assert S.advantage(pos, neg) == pytest.approx(2 * stats.norm.cdf(0.4) - 1, abs=0.08)


def test_perfect_and_useless_attacks():
    assert S.roc_auc([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert S.advantage([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert S.tpr_at_fpr([2.0, 3.0], [0.0, 1.0], fpr=0.0) == 1.0
    assert S.roc_auc([1.0, 1.0], [1.0]) == 0.5
    assert S.advantage([1.0], [1.0]) == 0.0
    assert S.roc_auc([0.0], [1.0]) == 0.0


@pytest.mark.parametrize("bad", [[], [[1.0, 2.0]], [np.nan], ["a"], 3.0])
def test_score_errors(bad):
    with pytest.raises(ValueError, match="scores_members"):
        S.roc_auc(bad, [0.0])
    with pytest.raises(ValueError, match="scores_nonmembers"):
        S.roc_curve([0.0], bad)


@pytest.mark.parametrize("fpr", [-0.1, 1.5, "0.1", True])
def test_fpr_errors(fpr):
    with pytest.raises(ValueError, match="fpr"):
        S.tpr_at_fpr([1.0], [0.0], fpr=fpr)


# ----- the memorising model ---------------------------------------------------------
def test_kde_matches_scipy():
    rng = np.random.default_rng(1)
    train, x = rng.normal(size=(50, 2)), rng.normal(size=(7, 2))
    h = 0.3
    ref = np.log(
        [
            np.mean(
                [stats.multivariate_normal.pdf(xi, t, h**2 * np.eye(2)) for t in train]
            )
            for xi in x
        ]
    )
    assert np.allclose(S.gaussian_kde_logpdf(x, train, h), ref, atol=1e-10)
    # far away from every point: log-sum-exp keeps it finite
    assert np.isfinite(
        S.gaussian_kde_logpdf(np.array([[100.0, 100.0]]), train, 0.01)
    ).all()


def test_narrow_kde_memorises():
    rng = np.random.default_rng(2)
    train, test = rng.normal(size=(100, 2)), rng.normal(size=(100, 2))
    narrow = S.roc_auc(
        S.gaussian_kde_logpdf(train, train, 0.02),
        S.gaussian_kde_logpdf(test, train, 0.02),
    )
    wide = S.roc_auc(
        S.gaussian_kde_logpdf(train, train, 1.0),
        S.gaussian_kde_logpdf(test, train, 1.0),
    )
    assert narrow > 0.95 and abs(wide - 0.5) < 0.15


def test_nearest_neighbour_distance():
    rng = np.random.default_rng(3)
    train = rng.normal(size=(30, 4, 4))
    s = rng.normal(size=(9, 4, 4))
    s[2] = train[17]
    d, i = S.nearest_neighbour_distance(s, train, batch_size=4)
    ref = np.linalg.norm(s.reshape(9, 1, -1) - train.reshape(1, 30, -1), axis=2)
    assert np.allclose(d, ref.min(1), atol=1e-6) and np.array_equal(i, ref.argmin(1))
    assert d[2] < 1e-6 and i[2] == 17


def test_memorisation_errors():
    with pytest.raises(ValueError, match="bandwidth"):
        S.gaussian_kde_logpdf(np.zeros((1, 2)), np.zeros((3, 2)), 0.0)
    with pytest.raises(ValueError, match=r"x: expected samples shaped \(N, 2\)"):
        S.gaussian_kde_logpdf(np.zeros((1, 3)), np.zeros((3, 2)), 1.0)
    with pytest.raises(ValueError, match="train"):
        S.nearest_neighbour_distance(np.zeros((1, 2)), np.zeros((0, 2)))


# ----- watermark ------------------------------------------------------------------
@pytest.fixture(scope="module")
def images():
    """Smooth random 'images' in [0, 1]: low-pass noise, like natural images."""
    rng = np.random.default_rng(4)
    c = (
        rng.normal(size=(400, 28, 28))
        / (1.0 + np.add.outer(np.arange(28), np.arange(28))) ** 1.5
    )
    x = fft.idctn(c, axes=(1, 2), norm="ortho")
    x = (x - x.min()) / (x.max() - x.min())
    return 0.1 + 0.8 * x


def test_dct_is_orthonormal_and_pattern_is_keyed():
    p = S.watermark_pattern((28, 28), key=5)
    mask = S.watermark_band((28, 28))
    assert (
        set(np.unique(p[mask])) == {-1.0, 1.0}
        and np.all(p[~mask] == 0)
        and not mask[0, 0]
    )
    assert np.array_equal(p, S.watermark_pattern((28, 28), key=5))
    q = S.watermark_pattern((28, 28), key=6)
    assert abs(np.sum(p * q)) < 4 * math.sqrt(mask.sum())  # nearly orthogonal
    x = np.random.default_rng(0).random((28, 28))
    assert np.allclose(
        S.embed_watermark(x, 5, 0.01, clip=False) - x, fft.idctn(0.01 * p, norm="ortho")
    )


def test_null_distribution_over_keys_is_standard_normal(images):
    """Unmarked image, random key: z has mean 0, variance 1, and P(z > 2.33) ~ 1%."""
    z = np.array([S.detect_watermark(images[0], k) for k in range(3000)])
    assert abs(z.mean()) < 0.1 and abs(z.var() - 1.0) < 0.1
    fp = np.mean(z > stats.norm.ppf(0.99))
    assert abs(fp - 0.01) < 3 * math.sqrt(0.01 * 0.99 / z.size) + 0.003


def test_detects_marked_images_and_not_unmarked_or_wrong_key(images):
    tau = stats.norm.ppf(1 - 1e-3)
    marked = S.embed_watermark(images, key=11)
    z_marked = S.detect_watermark(marked, 11)
    z_clean = S.detect_watermark(images, 11)
    z_wrong = S.detect_watermark(marked, 12)
    assert np.mean(z_marked > tau) > 0.99
    assert np.mean(z_clean > tau) < 0.01 and np.mean(z_wrong > tau) < 0.01
    # the formula: z ~ strength * n / sqrt(|c|^2 + strength^2 n) (no clipping here)
    n = S.watermark_band((28, 28)).sum()
    c = fft.dctn(images, axes=(1, 2), norm="ortho")[:, S.watermark_band((28, 28))]
    pred = 0.04 * n / np.sqrt(np.sum(c**2, 1) + 0.04**2 * n)
    assert np.median(np.abs(z_marked - pred)) < 1.5
    # invisible-ish: RMS pixel change = strength * sqrt(n / 784)
    rms = np.sqrt(np.mean((marked - images) ** 2))
    assert rms == pytest.approx(0.04 * math.sqrt(n / 784), rel=0.02)
    assert 0.0 <= marked.min() and marked.max() <= 1.0


def test_robust_to_noise_brightness_contrast_not_to_shift(images):
    marked = S.embed_watermark(images, key=11)
    z = S.detect_watermark(marked, 11)
    assert np.allclose(S.detect_watermark(marked + 0.05, 11), z)  # brightness
    assert np.allclose(S.detect_watermark(0.7 * marked, 11), z)  # contrast
    noisy = marked + np.random.default_rng(0).normal(0, 0.02, marked.shape)
    assert np.mean(S.detect_watermark(noisy, 11) > 3) > 0.9
    assert np.mean(S.detect_watermark(noisy, 11)) < np.mean(z)  # but it costs
    shifted = np.roll(marked, 1, axis=2)
    # a 1-pixel shift breaks it
    assert np.mean(S.detect_watermark(shifted, 11) > 3) < 0.05


def test_single_image_uint8_and_p_value(images):
    img = (images[0] * 255).astype(np.uint8)
    m = S.embed_watermark(img, 3)
    assert m.shape == (28, 28) and isinstance(S.detect_watermark(m, 3), float)
    assert S.z_to_p_value(0.0) == pytest.approx(0.5)
    assert np.allclose(S.z_to_p_value(np.array([1.0, 3.0])), stats.norm.sf([1.0, 3.0]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(images=np.zeros((2, 3, 3))), "images"),
        (dict(images=np.zeros((2, 8, 8, 3))), "images"),
        (dict(images=np.full((8, 8), 2.0)), r"\[0, 1\]"),
        (dict(images=np.zeros((8, 8), dtype=np.int32)), "dtype"),
        (dict(key=-1), "key"),
        (dict(key=1.5), "key"),
        (dict(strength=0.0), "strength"),
        (dict(band=(5, 5)), "band"),
        (dict(band=(0, 5)), "band"),
        (dict(band=(60, 80)), "band"),
    ],
)
def test_watermark_errors(kwargs, match):
    args = dict(images=np.zeros((2, 28, 28)), key=1) | kwargs
    with pytest.raises(ValueError, match=match):
        S.embed_watermark(**args)
