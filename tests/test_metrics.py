"""aigc_course.metrics against closed forms, hand counts, SciPy and scikit-image."""

import importlib.util
import math

import numpy as np
import pytest

from aigc_course import likelihood
from aigc_course import metrics as M


def _rng(seed=0):
    return np.random.default_rng(seed)


# ----- Fréchet distance ---------------------------------------------------------
def _fd_scipy(a, b):
    """The reference FID formula with scipy.linalg.sqrtm, as in the original FID code."""
    linalg = pytest.importorskip("scipy.linalg")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = (
        np.atleast_2d(np.cov(a, rowvar=False)),
        np.atleast_2d(np.cov(b, rowvar=False)),
    )
    covmean = linalg.sqrtm(s_a @ s_b).real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a + s_b - 2 * covmean))


@pytest.mark.parametrize("d", [1, 5, 32])
def test_frechet_distance_matches_scipy_sqrtm(d):
    rng = _rng(d)
    a = rng.standard_normal((400, d))
    b = rng.standard_normal((300, d)) @ rng.standard_normal((d, d)) * 0.5 + 0.3
    assert M.frechet_distance(a, b) == pytest.approx(
        _fd_scipy(a, b), rel=1e-8, abs=1e-9
    )
    assert M.frechet_distance(a, b) == pytest.approx(M.frechet_distance(b, a), rel=1e-9)


def test_frechet_distance_closed_forms():
    rng = _rng(1)
    a = rng.standard_normal((500, 10)) @ rng.standard_normal((10, 10))
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    shift = np.arange(10.0)
    assert M.frechet_distance(a, a + shift) == pytest.approx(np.sum(shift**2), rel=1e-9)
    # 1-D Gaussians: (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2, here with exact sample moments
    x = rng.standard_normal((1000, 1))
    x = (x - x.mean()) / x.std(ddof=1)
    assert M.frechet_distance(2 + 3 * x, -1 + 0.5 * x) == pytest.approx(
        9 + 2.5**2, rel=1e-9
    )
    # commuting (diagonal) covariances: sum of (sqrt(s_a) - sqrt(s_b))^2 over the axes
    mu, cov_a, cov_b = np.zeros(3), np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 4.0, 1.0])
    assert M.frechet_distance_from_stats(mu, cov_a, mu + 1, cov_b) == pytest.approx(
        3 + 1 + 0 + 4
    )


def test_frechet_distance_singular_covariances_stay_finite():
    rng = _rng(2)
    a, b = rng.standard_normal((5, 50)), rng.standard_normal((8, 50))  # N < d: singular
    fd = M.frechet_distance(a, b)
    assert np.isfinite(fd) and fd > 0
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_bad_input():
    a = np.zeros((10, 4))
    with pytest.raises(ValueError, match=r"\(N, d\)"):
        M.frechet_distance(np.zeros(10), a)
    with pytest.raises(ValueError, match="at least 2 samples"):
        M.frechet_distance(np.zeros((1, 4)), a)
    with pytest.raises(ValueError, match="same feature dimension"):
        M.frechet_distance(a, np.zeros((10, 5)))
    with pytest.raises(ValueError, match="NaN"):
        M.frechet_distance(np.full((10, 4), np.nan), a)
    with pytest.raises(ValueError, match="shape"):
        M.frechet_distance_from_stats(np.zeros(3), np.eye(3), np.zeros(3), np.eye(4))


# ----- precision and recall -----------------------------------------------------
def _line(*xs):
    return np.array(xs, dtype=float)[:, None]


def test_precision_recall_hand_computed():
    real = _line(0, 1, 2, 3)  # k=1: every real radius is 1
    # fakes [0, 0.25, 0.5]: radii 0.25; all within 1 of a real point; only real 0 is covered
    assert M.precision_recall(real, _line(0, 0.25, 0.5), k=1) == {
        "precision": 1.0,
        "recall": 0.25,
    }
    # an outlier fake: 10 lies on no real ball; but its radius 9.5 swallows every real point
    assert M.precision_recall(real, _line(0.5, 10), k=1) == {
        "precision": 0.5,
        "recall": 1.0,
    }
    # on the boundary counts as inside: 4 is exactly 1 from real 3 (whose radius is 1)
    assert M.precision_recall(real, _line(4, 5), k=1)["precision"] == 0.5
    # k=2: real radii 2, 1, 1, 2 -> 5 is 2 from 3 (radius 2): inside; 5.5 is not
    assert M.precision_recall(real, _line(5, 5.5, 6), k=2)[
        "precision"
    ] == pytest.approx(1 / 3)


def test_precision_recall_matches_brute_force():
    rng = _rng(3)
    real, fake = rng.standard_normal((120, 3)), rng.standard_normal((90, 3)) * 1.5 + 0.5

    def manifold(points, queries, k):
        d = np.linalg.norm(points[:, None] - points[None], axis=-1)
        radii = np.sort(d, axis=1)[:, k]  # column 0 is the point itself
        dq = np.linalg.norm(queries[:, None] - points[None], axis=-1)
        return (dq <= radii[None]).any(axis=1).mean()

    for k in (1, 3, 5):
        got = M.precision_recall(real, fake, k=k, chunk=17)
        assert got["precision"] == pytest.approx(manifold(real, fake, k))
        assert got["recall"] == pytest.approx(manifold(fake, real, k))
        assert got == M.precision_recall(real, fake, k=k)
        assert got == M.precision_recall(
            real, fake, k=k, real_radii=M.knn_radii(real, k)
        )


def test_precision_recall_separates_quality_from_diversity():
    rng = _rng(4)
    real = rng.standard_normal((500, 2))
    collapsed = 0.1 * rng.standard_normal((500, 2))  # good samples, little diversity
    same = rng.standard_normal((500, 2))
    pr_c, pr_s = M.precision_recall(real, collapsed), M.precision_recall(real, same)
    assert pr_c["precision"] > 0.95 and pr_c["recall"] < 0.2
    assert pr_s["precision"] > 0.8 and pr_s["recall"] > 0.8


def test_precision_recall_bad_input():
    with pytest.raises(ValueError, match="at least 4 samples"):
        M.precision_recall(np.zeros((3, 2)), np.zeros((10, 2)), k=3)
    with pytest.raises(ValueError, match="positive int"):
        M.precision_recall(np.zeros((10, 2)), np.zeros((10, 2)), k=0)
    with pytest.raises(ValueError, match="same feature dimension"):
        M.precision_recall(np.zeros((10, 2)), np.zeros((10, 3)))
    with pytest.raises(ValueError, match="radii"):
        M.in_manifold(np.zeros((2, 2)), np.zeros((10, 2)), np.ones(9))


# ----- classifier score and mode coverage ---------------------------------------
def test_classifier_score_limits_and_formula():
    c = 7
    assert M.classifier_score(np.eye(c)[np.arange(70) % c]) == pytest.approx(c)
    assert M.classifier_score(np.tile([0.2, 0.3, 0.5], (40, 1))) == pytest.approx(1.0)
    p = np.array([[0.9, 0.1], [0.2, 0.8]])  # by hand: p(y) = (0.55, 0.45)
    kl = [
        0.9 * math.log(0.9 / 0.55) + 0.1 * math.log(0.1 / 0.45),
        0.2 * math.log(0.2 / 0.55) + 0.8 * math.log(0.8 / 0.45),
    ]
    assert M.classifier_score(p) == pytest.approx(math.exp(np.mean(kl)))
    with pytest.raises(ValueError, match="sum to 1"):
        M.classifier_score(np.full((4, 3), 0.5))
    with pytest.raises(ValueError, match=">= 0"):
        M.classifier_score(np.array([[1.5, -0.5], [0.5, 0.5]]))


def test_mode_coverage():
    out = M.mode_coverage(np.arange(50) % 10, 10)
    assert out["modes_hit"] == 10 and out["kl_to_uniform"] == pytest.approx(
        0.0, abs=1e-12
    )
    collapsed = M.mode_coverage(np.full(50, 3), 10)
    assert collapsed["modes_hit"] == 1 and collapsed["kl_to_uniform"] == pytest.approx(
        math.log(10)
    )
    half = M.mode_coverage(np.array([0, 1, 0, 1]), 4)  # two empty classes: finite KL
    assert half["kl_to_uniform"] == pytest.approx(math.log(2))
    np.testing.assert_array_equal(half["counts"], [2, 2, 0, 0])
    assert half["counts"].dtype == np.int64
    assert M.mode_coverage(np.array([0, 0, 0, 1]), 2, min_count=2)["modes_hit"] == 1
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
        M.mode_coverage(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="integer"):
        M.mode_coverage(np.array([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match="1-D"):
        M.mode_coverage(np.zeros((2, 2), int), 3)


RING = 2.0 * np.stack(
    [np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1
)


def test_mode_counts_modes_covered_high_quality_fraction():
    samples = np.concatenate(
        [
            np.repeat(RING[:1], 30, 0) + 0.01,  # 30 on mode 0
            np.repeat(RING[3:4], 5, 0),  # 5 on mode 3
            np.zeros((15, 2)),
        ]
    )  # 15 in the middle
    counts = M.mode_counts(samples, RING, radius=0.15)
    np.testing.assert_array_equal(counts, [30, 0, 0, 5, 0, 0, 0, 0])
    assert M.modes_covered(samples, RING, 0.15) == 2
    assert M.modes_covered(samples, RING, 0.15, min_count=10) == 1
    assert M.high_quality_fraction(samples, RING, 0.15) == pytest.approx(35 / 50)
    rng = _rng(0)
    ring = RING[rng.integers(0, 8, 2000)] + 0.05 * rng.standard_normal((2000, 2))
    assert M.modes_covered(ring, RING, 0.15, min_count=20) == 8
    with pytest.raises(ValueError, match="radius"):
        M.modes_covered(samples, RING, 0.0)
    with pytest.raises(ValueError, match="samples"):
        M.modes_covered(samples[:, :1], RING, 0.15)
    with pytest.raises(ValueError, match="centers"):
        M.high_quality_fraction(samples, RING[:, :1], 0.15)


# ----- PSNR and SSIM against scikit-image ---------------------------------------
@pytest.fixture(scope="module")
def skm():
    return pytest.importorskip(
        "skimage.metrics", reason="scikit-image (a dev dependency) is not installed"
    )


def _pair(seed=5, n=4, shape=(28, 28)):
    rng = _rng(seed)
    a = rng.random((n, *shape))
    return a, np.clip(a + 0.15 * rng.standard_normal(a.shape), 0, 1)


def test_psnr_ssim_match_skimage_on_batches(skm):
    a, b = _pair()
    want_p = [skm.peak_signal_noise_ratio(x, y, data_range=1.0) for x, y in zip(a, b)]
    want_s = [skm.structural_similarity(x, y, data_range=1.0) for x, y in zip(a, b)]
    np.testing.assert_allclose(M.psnr(a, b), want_p, rtol=1e-10)
    np.testing.assert_allclose(M.ssim(a, b), want_s, rtol=1e-9, atol=1e-12)
    assert M.ssim(a, b).shape == (4,) and isinstance(M.ssim(a[0], b[0]), float)
    assert M.ssim(a[0], b[0]) == pytest.approx(want_s[0], rel=1e-9)
    assert M.psnr(a[0], b[0]) == pytest.approx(want_p[0], rel=1e-10)


@pytest.mark.parametrize(
    "win_size, shape", [(3, (20, 17)), (7, (7, 9)), (11, (32, 32))]
)
def test_ssim_window_and_shapes_match_skimage(skm, win_size, shape):
    a, b = _pair(seed=win_size, n=2, shape=shape)
    want = [
        skm.structural_similarity(x, y, data_range=1.0, win_size=win_size)
        for x, y in zip(a, b)
    ]
    np.testing.assert_allclose(
        M.ssim(a, b, win_size=win_size), want, rtol=1e-9, atol=1e-12
    )


def test_psnr_ssim_uint8_and_broadcast(skm):
    a, b = _pair(seed=6)
    a8, b8 = (np.round(a * 255).astype(np.uint8), np.round(b * 255).astype(np.uint8))
    np.testing.assert_allclose(
        M.ssim(a8, b8, data_range=255),
        [skm.structural_similarity(x, y) for x, y in zip(a8, b8)],
        rtol=1e-9,
    )
    np.testing.assert_allclose(
        M.psnr(a8, b8, data_range=255),
        [skm.peak_signal_noise_ratio(x, y) for x, y in zip(a8, b8)],
        rtol=1e-10,
    )
    # one vs many
    np.testing.assert_allclose(M.psnr(a[0], b), [M.psnr(a[0], y) for y in b])
    # channel axes
    np.testing.assert_allclose(M.ssim(a[:, None], b[..., None]), M.ssim(a, b))


def test_psnr_ssim_identical_and_bad_input():
    a, _ = _pair()
    assert M.psnr(a[0], a[0]) == np.inf
    np.testing.assert_allclose(M.ssim(a, a), 1.0)
    with pytest.raises(ValueError, match="data_range"):
        # forgot data_range=255
        M.psnr(np.zeros((8, 8), np.uint8), np.full((8, 8), 200, np.uint8))
    with pytest.raises(ValueError, match="same size"):
        M.ssim(a, a[:, :20])
    with pytest.raises(ValueError, match="same size"):
        M.psnr(a[:3], a[:2])
    with pytest.raises(ValueError, match="odd"):
        M.ssim(a, a, win_size=4)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        M.psnr(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="positive number"):
        M.psnr(a, a, data_range=0)


# ----- likelihood units ---------------------------------------------------------
def test_likelihood_units():
    # re-exported, not copied
    assert M.nats_to_bits_per_dim is likelihood.nats_to_bits_per_dim
    nats = np.array([80.0, 100.0])
    np.testing.assert_allclose(
        M.bits_per_dim_to_nats(M.nats_to_bits_per_dim(nats)), nats
    )
    assert float(M.nats_to_bits_per_dim(784 * math.log(2))) == pytest.approx(1.0)
    assert float(M.bits_per_dim_to_nats(1.0, dims=3)) == pytest.approx(3 * math.log(2))
    assert float(M.perplexity(math.log(10))) == pytest.approx(10.0)
    assert float(M.bits_per_char(math.log(2))) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positive int"):
        M.bits_per_dim_to_nats(1.0, dims=0)


# ----- inception_fid: offline and not-installed paths ---------------------------
def _images(n=8):
    return np.zeros((n, 28, 28), np.uint8)


def test_inception_fid_without_packages_returns_none(monkeypatch, capsys):
    real_find = importlib.util.find_spec
    monkeypatch.setattr(
        M.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torchmetrics" else real_find(name, *a),
    )
    assert M.inception_fid(_images(), _images()) is None
    assert "torchmetrics" in capsys.readouterr().out


def test_inception_fid_offline_returns_none(monkeypatch, capsys):
    # "installed"
    monkeypatch.setattr(M.importlib.util, "find_spec", lambda name, *a: object())
    monkeypatch.setenv("AIGC_COURSE_OFFLINE", "1")
    assert M.inception_fid(_images(), _images()) is None
    assert "AIGC_COURSE_OFFLINE" in capsys.readouterr().out


def test_inception_fid_validates_images():
    with pytest.raises(ValueError, match="real_images"):
        M.inception_fid(np.zeros((4, 32, 32)), _images())


# ----- nearest neighbours (memorisation checks) -----------------------------------
def test_nearest_neighbours_matches_brute_force_on_images():
    from aigc_course.metrics import nearest_neighbours

    rng = np.random.default_rng(0)
    reference = rng.random((300, 28, 28)).astype(np.float32)
    queries = np.concatenate(
        [reference[[5, 77]] + 1e-3, rng.random((40, 28, 28), np.float32)]
    )
    idx, dist = nearest_neighbours(queries, reference, chunk=7)
    brute = np.linalg.norm(
        queries.reshape(len(queries), 1, -1) - reference.reshape(1, 300, -1), axis=2
    )
    assert np.array_equal(idx, brute.argmin(axis=1))
    assert np.allclose(dist, brute.min(axis=1), atol=1e-6)
    assert idx[0] == 5 and idx[1] == 77 and dist[0] < 0.03  # near-copies are found


def test_nearest_neighbours_bad_input():
    from aigc_course.metrics import nearest_neighbours

    with pytest.raises(ValueError, match="same feature dimension"):
        nearest_neighbours(np.zeros((2, 3)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="chunk"):
        nearest_neighbours(np.zeros((2, 3)), np.zeros((4, 3)), chunk=0)
    with pytest.raises(ValueError, match="NaN"):
        nearest_neighbours(np.full((2, 3), np.nan), np.zeros((4, 3)))


def test_samples_by_class_rows_and_padding():
    from aigc_course.plotting import samples_by_class

    images = np.arange(6, dtype=np.float32)[:, None, None] * np.ones(
        (6, 2, 2), np.float32
    )
    predicted = np.array([1, 0, 1, 1, 0, 1])
    grid = samples_by_class(images[..., None], predicted, per_class=3, num_classes=3)
    assert grid.shape == (9, 2, 2)
    assert [g[0, 0] for g in grid] == [
        1,
        4,
        0,
        0,
        2,
        3,
        0,
        0,
        0,
    ]  # class 0: images 1, 4; class 1: 0, 2, 3; class 2 none
    with pytest.raises(ValueError, match="one label per image"):
        samples_by_class(images, predicted[:3])
    with pytest.raises(ValueError, match="per_class"):
        samples_by_class(images, predicted, per_class=0)
