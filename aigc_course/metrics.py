"""Evaluation metrics for generative models, framework-neutral (NumPy in, NumPy out).

Three families of measures, because a generative model can fail in three ways:

* **sample quality and diversity**, measured on features of samples:
  :func:`frechet_distance` (the formula behind FID), :func:`precision_recall`
  (Kynkäänniemi et al., 2019), :func:`classifier_score` (the formula behind the
  Inception Score) and :func:`mode_coverage` (how many classes the samples hit);
  for 2-D toy data with known modes, :func:`mode_counts`, :func:`modes_covered`
  and :func:`high_quality_fraction`;
* **reconstruction fidelity**, image against its own reference: :func:`psnr` and
  :func:`ssim` (the definitions of scikit-image);
* **likelihood**, in the units papers report: :func:`nats_to_bits_per_dim`,
  :func:`bits_per_dim_to_nats`, :func:`perplexity`, :func:`bits_per_char`.

Features come from any network; :mod:`aigc_course.evaluator` trains a small
MNIST / Fashion-MNIST classifier for them. :func:`inception_fid` computes the
published FID protocol when ``torchmetrics`` and the Inception weights are
available (online), and returns ``None`` otherwise.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math

import numpy as np

from ._checks import check_int, check_number, check_vectors, drop_channel_axis
from .config import is_offline
from .likelihood import nats_to_bits_per_dim

try:  # optional: BLAS threads add little on these matrix sizes and stall a busy CPU
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

__all__ = [
    "gaussian_stats",
    "frechet_distance_from_stats",
    "frechet_distance",
    "knn_radii",
    "in_manifold",
    "precision_recall",
    "nearest_neighbours",
    "classifier_score",
    "mode_coverage",
    "mode_counts",
    "modes_covered",
    "high_quality_fraction",
    "psnr",
    "ssim",
    "nats_to_bits_per_dim",
    "bits_per_dim_to_nats",
    "perplexity",
    "bits_per_char",
    "inception_fid",
]


def _one_blas_thread():
    """Context: BLAS on one thread (no-op without threadpoolctl)."""
    return (
        threadpool_limits(1, "blas") if threadpool_limits else contextlib.nullcontext()
    )


# ----- input checks -------------------------------------------------------------
def _features(x, name: str, min_rows: int = 1) -> np.ndarray:
    """A finite float64 feature matrix (N, d) with N >= ``min_rows``."""
    return check_vectors(
        x, name=name, min_rows=min_rows, what="samples", dtype=np.float64
    )


def _same_dim(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{name_a} and {name_b}: expected the same feature dimension, got {a.shape[1]} and {b.shape[1]}"
        )


# ----- Fréchet distance ---------------------------------------------------------
def gaussian_stats(feats) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of a feature set (N, d), N >= 2.

    The covariance is the unbiased sample covariance (divided by N - 1), as in
    the reference FID code (``np.cov(feats, rowvar=False)``).
    """
    x = _features(feats, "feats", min_rows=2)
    with _one_blas_thread():
        return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def _psd_sqrt(m: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix (eigenvalues < 0 -> 0)."""
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance_from_stats(mu_a, cov_a, mu_b, cov_b) -> float:
    """Fréchet distance between N(mu_a, cov_a) and N(mu_b, cov_b); see :func:`frechet_distance`."""
    arrays = {}
    for name, arr in (
        ("mu_a", mu_a),
        ("mu_b", mu_b),
        ("cov_a", cov_a),
        ("cov_b", cov_b),
    ):
        arr = np.asarray(arr)
        if arr.dtype == bool or not (
            np.issubdtype(arr.dtype, np.floating)
            or np.issubdtype(arr.dtype, np.integer)
        ):
            raise ValueError(f"{name}: expected real numbers, got dtype {arr.dtype}")
        arrays[name] = arr.astype(np.float64)
    mu_a, mu_b, cov_a, cov_b = arrays.values()
    d = mu_a.shape[0] if mu_a.ndim == 1 else -1
    for name, arr, shape in [
        ("mu_b", mu_b, (d,)),
        ("cov_a", cov_a, (d, d)),
        ("cov_b", cov_b, (d, d)),
    ]:
        if d < 1 or arr.shape != shape:
            raise ValueError(
                f"{name}: expected shape {shape} to match mu_a {mu_a.shape}, got {arr.shape}"
            )
    for name, arr in arrays.items():
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: contains NaN or infinite values")
    for name, cov in (("cov_a", cov_a), ("cov_b", cov_b)):
        scale = max(1.0, float(np.max(np.abs(cov))))
        if not np.allclose(cov, cov.T, rtol=1e-6, atol=1e-9 * scale):
            raise ValueError(f"{name}: expected a symmetric covariance matrix")
        low = float(np.linalg.eigvalsh(cov).min())
        if low < -1e-6 * scale:
            raise ValueError(
                f"{name}: expected a positive semi-definite covariance matrix, got an "
                f"eigenvalue of {low:.4g} (a covariance has none below 0)"
            )
    # --- Fréchet distance (shown in the book)
    # d^2 = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)
    with _one_blas_thread():
        sqrt_a = _psd_sqrt(cov_a)
        middle = sqrt_a @ cov_b @ sqrt_a  # symmetric PSD, same spectrum as S_a S_b
        eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    tr_sqrt = np.sum(np.sqrt(np.clip(eig, 0.0, None)))  # Tr (S_a S_b)^1/2
    dist = (
        np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * tr_sqrt
    )
    # --- end Fréchet distance
    return float(max(dist, 0.0))


def frechet_distance(feats_a, feats_b) -> float:
    """Fréchet (2-Wasserstein) distance between Gaussians fitted to two feature sets.

    ``feats_a`` (N_a, d) and ``feats_b`` (N_b, d), each with at least 2 rows. With
    the means ``mu`` and sample covariances ``S`` of the two sets::

        FD = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)

    (``Tr (S_a^1/2 S_b S_a^1/2)^1/2 = Tr (S_a S_b)^1/2``, the form usually printed).
    The matrix square roots come from symmetric eigendecompositions, which stay
    real and stable when the covariances are singular (N <= d). On Inception
    features of 10,000 vs 10,000 images this is FID (Heusel et al., 2017); on
    other features it is *not* comparable with published FID numbers. Like FID,
    it is biased upward for small N: compare values computed with the same N.
    """
    a = _features(feats_a, "feats_a", min_rows=2)
    b = _features(feats_b, "feats_b", min_rows=2)
    _same_dim(a, b, "feats_a", "feats_b")
    return frechet_distance_from_stats(*gaussian_stats(a), *gaussian_stats(b))


# ----- precision and recall -----------------------------------------------------
def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (len(a), len(b)), clipped at 0."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.clip(d, 0.0, None)


def nearest_neighbours(
    queries, reference, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Index of, and Euclidean distance to, the nearest row of ``reference`` for each query.

    Images are flattened, so ``queries`` (n, ...) and ``reference`` (m, ...) may be
    image batches of the same size. The memorisation check of chapters 6, 7 and 10:
    samples much closer to a training image than new data is are near-copies.
    Distances use |q - r|^2 = |q|^2 + |r|^2 - 2 q.r in float64, ``chunk`` queries at a time.
    """

    def flat(x):
        x = np.asarray(x)
        return x.reshape(len(x), -1) if x.ndim > 2 else x

    q, r = _features(flat(queries), "queries"), _features(flat(reference), "reference")
    _same_dim(q, r, "queries", "reference")
    chunk = check_int(chunk, "chunk")
    idx, dist = np.empty(len(q), np.int64), np.empty(len(q))
    with _one_blas_thread():
        for s in range(0, len(q), chunk):
            d2 = _sq_dists(q[s : s + chunk], r)
            idx[s : s + chunk] = d2.argmin(axis=1)
            dist[s : s + chunk] = np.sqrt(d2[np.arange(len(d2)), idx[s : s + chunk]])
    return idx, dist


def _knn_radii_sq(x: np.ndarray, k: int, chunk: int) -> np.ndarray:
    """Squared distance from each row of x to its k-th nearest *other* row."""
    out = np.empty(len(x))
    for s in range(0, len(x), chunk):
        d = _sq_dists(x[s : s + chunk], x)
        # the point itself: exactly 0
        d[np.arange(len(d)), np.arange(s, s + len(d))] = 0.0
        # index 0 is the point itself
        out[s : s + chunk] = np.partition(d, k, axis=1)[:, k]
    return out


def knn_radii(feats, k: int = 3, chunk: int = 1024) -> np.ndarray:
    """Distance from each row of ``feats`` (N, d) to its k-th nearest neighbour among the others, (N,).

    The radii of the k-NN balls whose union approximates the manifold of a feature set
    (Kynkäänniemi et al., 2019). Needs N > k.
    """
    k, chunk = check_int(k, "k"), check_int(chunk, "chunk")
    x = _features(feats, "feats", min_rows=k + 1)
    with _one_blas_thread():
        return np.sqrt(_knn_radii_sq(x, k, chunk))


def in_manifold(queries, feats, radii, chunk: int = 1024) -> np.ndarray:
    """Boolean (M,): is each query (M, d) within ``radii[i]`` of at least one ``feats[i]`` (N, d)?

    With ``radii = knn_radii(feats, k)`` this tests membership of the k-NN manifold
    of ``feats``. A point on a ball's boundary counts as inside (``<=``, as in the
    reference code).
    """
    chunk = check_int(chunk, "chunk")
    q, c = _features(queries, "queries"), _features(feats, "feats")
    _same_dim(c, q, "feats", "queries")
    r = np.asarray(radii, np.float64)
    if r.shape != (len(c),) or not np.all(r >= 0):
        raise ValueError(
            f"radii: expected {len(c)} non-negative radii (one per row of feats), got shape {r.shape}"
        )
    r_sq = r * r
    out = np.empty(len(q), dtype=bool)
    with _one_blas_thread():
        for s in range(0, len(q), chunk):
            out[s : s + chunk] = np.any(
                _sq_dists(q[s : s + chunk], c) <= r_sq[None, :], axis=1
            )
    return out


def precision_recall(
    real_feats, fake_feats, k: int = 3, chunk: int = 1024, real_radii=None
) -> dict:
    """Improved precision and recall of Kynkäänniemi et al. (2019), k-NN manifolds.

    Each feature set approximates its manifold by the union of balls around its
    points, the radius of a ball being the distance to the point's k-th nearest
    neighbour in the same set (the point itself not counted). Then

    * ``precision``: the fraction of *fake* points inside the real manifold
      (quality: do samples look like data?);
    * ``recall``: the fraction of *real* points inside the fake manifold
      (diversity: is the data covered by samples?).

    A point on a ball's boundary counts as inside (``<=``, as in the reference
    code). Both sets need more than ``k`` rows. Returns ``dict(precision=float,
    recall=float)``. Distances are computed ``chunk`` rows at a time;
    ``real_radii``, if given, must be ``knn_radii(real_feats, k)`` (to reuse it).
    """
    k = check_int(k, "k")
    real = _features(real_feats, "real_feats", min_rows=k + 1)
    fake = _features(fake_feats, "fake_feats", min_rows=k + 1)
    _same_dim(real, fake, "real_feats", "fake_feats")
    # --- precision and recall (shown in the book)
    if real_radii is None:
        real_radii = knn_radii(real, k, chunk)  # the real manifold: balls around reals
    fake_radii = knn_radii(fake, k, chunk)  # the fake manifold: balls around fakes
    # fakes on the real manifold
    precision = in_manifold(fake, real, real_radii, chunk).mean()
    # reals covered by the fakes
    recall = in_manifold(real, fake, fake_radii, chunk).mean()
    # --- end precision and recall
    return {"precision": float(precision), "recall": float(recall)}


# ----- class-probability scores -------------------------------------------------
def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y), with 0 * log(anything) = 0."""
    out = np.zeros(np.broadcast_shapes(x.shape, y.shape))
    x, y = np.broadcast_arrays(x, y)
    nz = x > 0
    out[nz] = x[nz] * np.log(y[nz])
    return out


def classifier_score(probs) -> float:
    """The Inception-Score formula, exp(E_x KL(p(y|x) || p(y))), from class probabilities.

    ``probs`` (N, C): each row a classifier's p(y|x) for one sample (rows must
    sum to 1 within 1e-3; they are renormalised). p(y) is the mean row. The
    score lies in [1, C]: it is C when every sample is classified with certainty
    and all classes are equally frequent, and 1 when every row is the same.
    Computed on one split (the original Inception Score averages 10 splits of
    5,000 Inception predictions; with another classifier the number is not
    comparable with published Inception Scores).
    """
    p = _features(probs, "probs")
    if p.shape[1] < 2:
        raise ValueError(
            f"probs: expected at least 2 classes (columns), got shape {p.shape}"
        )
    if p.min() < 0:
        raise ValueError(
            f"probs: expected probabilities >= 0, got a minimum of {p.min():.3g}"
        )
    sums = p.sum(axis=1)
    if np.abs(sums - 1).max() > 1e-3:
        raise ValueError(
            "probs: expected rows that sum to 1 (class probabilities, e.g. a softmax), "
            f"got row sums in [{sums.min():.4g}, {sums.max():.4g}]"
        )
    p = p / sums[:, None]
    p_y = p.mean(axis=0, keepdims=True)
    kl = (_xlogy(p, p) - _xlogy(p, p_y)).sum(axis=1)  # KL(p(y|x) || p(y)) per sample
    return float(np.exp(kl.mean()))


def mode_coverage(pred_labels, num_classes: int, min_count: int = 1) -> dict:
    """How evenly predicted class labels cover ``num_classes`` classes: the mode-collapse detector.

    Returns ``dict(modes_hit=int, kl_to_uniform=float, counts=int64 array (num_classes,))``:

    * ``counts``: how many samples were assigned to each class;
    * ``modes_hit``: classes with at least ``min_count`` samples;
    * ``kl_to_uniform``: KL(p_hat || uniform) in nats, with p_hat = counts / N,
      i.e. log C - H(p_hat). It is 0 for perfectly balanced classes and log C
      for a total collapse onto one class. Empty classes contribute 0 (the
      convention 0 log 0 = 0), so this direction of the KL stays finite; the
      reverse, KL(uniform || p_hat), would be infinite as soon as one class is
      empty and could not rank collapsed generators.

    "Uniform" is the right target for MNIST and Fashion-MNIST, whose classes are
    (nearly) balanced; for other data compare with the real class frequencies.
    """
    num_classes = check_int(num_classes, "num_classes")
    min_count = check_int(min_count, "min_count")
    y = np.asarray(pred_labels)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(
            f"pred_labels: expected a non-empty 1-D array of class labels, got shape {y.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"pred_labels: expected integer labels, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(
            f"pred_labels: expected labels in [0, {num_classes}), got [{y.min()}, {y.max()}]"
        )
    counts = np.bincount(y, minlength=num_classes).astype(np.int64)
    p_hat = counts / counts.sum()
    # sum p log(p / (1/C)), 0 log 0 = 0
    kl = float(np.sum(_xlogy(p_hat, p_hat * num_classes)))
    return {
        "modes_hit": int(np.sum(counts >= min_count)),
        "kl_to_uniform": max(kl, 0.0),
        "counts": counts,
    }


# --- mode coverage of 2-D samples around known centres (toy data: rings and grids of Gaussians)
def _distances(samples, centers) -> np.ndarray:
    """Distances (N, K) between 2-D ``samples`` (N, 2) and ``centers`` (K, 2)."""
    samples = check_vectors(samples, 2, "samples", dtype=np.float64)
    centers = check_vectors(centers, 2, "centers", what="centres", dtype=np.float64)
    return np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)


def mode_counts(samples, centers, radius) -> np.ndarray:
    """How many ``samples`` lie within ``radius`` of each of the ``centers`` (K, 2); shape (K,)."""
    dist = _distances(samples, centers)
    radius = check_number(
        radius, "radius", low=0, low_open=True, expected="a positive number"
    )
    return (dist <= radius).sum(axis=0)


def modes_covered(samples, centers, radius, min_count=1) -> int:
    """Number of modes with at least ``min_count`` samples within ``radius`` of their centre."""
    min_count = check_int(min_count, "min_count")
    return int((mode_counts(samples, centers, radius) >= min_count).sum())


def high_quality_fraction(samples, centers, radius) -> float:
    """Fraction of samples within ``radius`` of some centre (the rest fall between modes)."""
    return float((_distances(samples, centers).min(axis=1) <= radius).mean())


# ----- PSNR and SSIM ------------------------------------------------------------
def _image_pair(a, b, data_range) -> tuple[np.ndarray, np.ndarray, bool, float]:
    """Two images or batches as float64 (N, H, W), broadcast; and whether the input was a batch."""
    arrays = []
    for name, x in (("a", a), ("b", b)):
        x = drop_channel_axis(np.asarray(x))
        if x.ndim not in (2, 3) or x.size == 0:
            raise ValueError(
                f"{name}: expected a grayscale image (H, W) or a batch (N, H, W) "
                f"(a channel axis of 1 is allowed), got shape {x.shape}"
            )
        if not (
            np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)
        ):
            raise ValueError(f"{name}: expected numbers, got dtype {x.dtype}")
        arrays.append(x.astype(np.float64))
    x, y = arrays
    batch = x.ndim == 3 or y.ndim == 3
    x, y = (v[None] if v.ndim == 2 else v for v in (x, y))
    if x.shape[1:] != y.shape[1:] or (len(x) != len(y) and 1 not in (len(x), len(y))):
        raise ValueError(
            f"a and b: expected images of the same size (a single image may be compared "
            f"with a batch), got shapes {np.shape(a)} and {np.shape(b)}"
        )
    x, y = np.broadcast_arrays(x, y)
    data_range = check_number(
        data_range, "data_range", low=0, low_open=True, expected="a positive number"
    )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("a, b: contain NaN or infinite values")
    spread = max(x.max(), y.max()) - min(x.min(), y.min())
    if spread > data_range * (1 + 1e-6):
        raise ValueError(
            f"a, b: values span {spread:.4g}, more than data_range={data_range}; pass "
            "data_range=255 for uint8 images, 1.0 for floats in [0, 1]"
        )
    return x, y, batch, float(data_range)


def psnr(a, b, data_range: float = 1.0):
    """Peak signal-to-noise ratio in dB, 10 log10(data_range^2 / MSE(a, b)).

    The definition of scikit-image's ``peak_signal_noise_ratio``. ``a``, ``b``:
    images (H, W) or batches (N, H, W) (one image against a batch is broadcast);
    a single pair gives a float, a batch an array (N,) with one PSNR per image.
    Identical images give ``inf``. Values must span at most ``data_range``
    (1.0 for floats in [0, 1], 255 for uint8).
    """
    x, y, batch, r = _image_pair(a, b, data_range)
    mse = ((x - y) ** 2).mean(axis=(1, 2))
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(r**2 / mse)
    return out if batch else float(out[0])


def _box_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Mean over every w x w window lying inside each image of x (N, H, W) -> (N, H-w+1, W-w+1)."""
    c = np.pad(np.cumsum(np.cumsum(x, axis=1), axis=2), ((0, 0), (1, 0), (1, 0)))
    return (c[:, w:, w:] - c[:, :-w, w:] - c[:, w:, :-w] + c[:, :-w, :-w]) / (w * w)


def ssim(a, b, data_range: float = 1.0, win_size: int = 7):
    """Mean structural similarity (SSIM), as scikit-image's ``structural_similarity`` defines it.

    Its defaults: a ``win_size`` x ``win_size`` uniform window (7 x 7), K1 = 0.01,
    K2 = 0.03, sample (co)variances (divided by win_size^2 - 1), and the mean of
    the SSIM map over the windows that lie wholly inside the image. For windows
    with means ``mu``, variances ``s2`` and covariance ``s_ab``::

        SSIM = (2 mu_a mu_b + C1)(2 s_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(s2_a + s2_b + C2)),
        C1 = (K1 * data_range)^2, C2 = (K2 * data_range)^2.

    ``a``, ``b``: images (H, W) or batches (N, H, W), as for :func:`psnr`; a batch
    gives one SSIM per image, array (N,). 1 means identical.
    """
    x, y, batch, r = _image_pair(a, b, data_range)
    w = check_int(win_size, "win_size")
    if w < 3 or w % 2 == 0 or w > min(x.shape[1:]):
        raise ValueError(
            f"win_size: expected an odd int >= 3 and no larger than the image side "
            f"{min(x.shape[1:])}, got {w}"
        )
    k1, k2 = 0.01, 0.03
    c1, c2 = (k1 * r) ** 2, (k2 * r) ** 2
    cov_norm = w * w / (w * w - 1.0)  # sample covariance
    mx, my = _box_mean(x, w), _box_mean(y, w)
    vx = cov_norm * (_box_mean(x * x, w) - mx * mx)
    vy = cov_norm * (_box_mean(y * y, w) - my * my)
    vxy = cov_norm * (_box_mean(x * y, w) - mx * my)
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    out = s.mean(axis=(1, 2))
    return out if batch else float(out[0])


# ----- likelihood units ---------------------------------------------------------
def bits_per_dim_to_nats(bits_per_dim, dims: int = 784):
    """Bits per dimension -> negative log-likelihood in nats per example: bpd * dims * ln 2.

    The inverse of :func:`nats_to_bits_per_dim` (from :mod:`aigc_course.likelihood`).
    """
    dims = check_int(dims, "dims")
    return np.asarray(bits_per_dim, np.float64) * dims * math.log(2.0)


def perplexity(nats_per_token):
    """Perplexity exp(mean NLL per token in nats): the number of equally likely choices it is worth."""
    return np.exp(np.asarray(nats_per_token, np.float64))


def bits_per_char(nats_per_char):
    """Negative log-likelihood per character, nats -> bits: nats / ln 2."""
    return np.asarray(nats_per_char, np.float64) / math.log(2.0)


# ----- the published protocol, when it can be had --------------------------------


def inception_fid(real_images, fake_images, n: int = 10000, seed=0):
    """FID with the Inception-v3 network of the published protocol, or ``None`` if unavailable.

    Protocol (Heusel et al., 2017, as implemented by torch-fidelity, which
    torchmetrics uses): ``n`` real and ``n`` generated images (10,000 each, drawn
    at random with ``seed`` if more are given), grayscale tiled to 3 channels,
    converted to uint8 and resized by the network to 299 x 299, 2048-d pool
    features, then :func:`frechet_distance`. Fewer than ``n`` images give a
    higher (biased) FID: report the number used.

    Needs ``torchmetrics`` with ``torch-fidelity`` (``pip install torchmetrics
    torch-fidelity``) and an internet connection the first time, to download
    the Inception weights (e.g. on Colab). Neither is a dependency of this
    course. Offline (``AIGC_COURSE_OFFLINE=1``), without the packages, or when
    the weights cannot be downloaded, it prints why and returns ``None``. Runs on
    the GPU if PyTorch sees one (20,000 images through Inception-v3 take minutes
    on a CPU).
    Images: (N, 28, 28) or with a channel axis of 1, uint8 or floats in [0, 1].
    """
    from ._checks import as_image_batch, check_seed

    n = check_int(n, "n")
    seed = check_seed(seed)
    real = (as_image_batch(real_images, "real_images") + 1.0) / 2.0
    fake = (as_image_batch(fake_images, "fake_images") + 1.0) / 2.0
    missing = [
        m
        for m in ("torch", "torchmetrics", "torch_fidelity")
        if importlib.util.find_spec(m) is None
    ]
    if missing:
        print(
            "[aigc_course.metrics] inception_fid: not computed: the package(s) "
            f"{', '.join(missing)} are not installed (pip install torchmetrics torch-fidelity)."
        )
        return None
    if is_offline():
        print(
            "[aigc_course.metrics] inception_fid: not computed: downloads are off "
            "(AIGC_COURSE_OFFLINE=1) and the Inception weights must be downloaded."
        )
        return None
    rng = np.random.default_rng(seed)
    real = real[np.sort(rng.permutation(len(real))[:n])]
    fake = fake[np.sort(rng.permutation(len(fake))[:n])]
    try:
        import torch
        from torchmetrics.image.fid import FrechetInceptionDistance

        device = "cuda" if torch.cuda.is_available() else "cpu"
        fid = FrechetInceptionDistance(feature=2048, normalize=True).to(device)
        for images, is_real in ((real, True), (fake, False)):
            for s in range(0, len(images), 200):
                batch = torch.from_numpy(
                    np.repeat(images[s : s + 200, None], 3, axis=1)
                )  # gray -> RGB
                fid.update(batch.to(device), real=is_real)
        value = float(fid.compute())
    except Exception as err:
        print(
            f"[aigc_course.metrics] inception_fid: not computed: {type(err).__name__}: {err}"
        )
        return None
    print(
        f"[aigc_course.metrics] Inception FID on {len(real)} real vs {len(fake)} generated images"
    )
    return value
