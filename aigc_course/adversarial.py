"""Adversarial examples, adversarial training and saliency maps, in NumPy (chapter 10).

Everything here works on the course's small ReLU classifier, the multilayer
perceptron of :mod:`aigc_course.evaluator` (784 -> 256 -> 128 -> 10 by default),
given as an :class:`~aigc_course.evaluator.Evaluator` or as its parameter dict
``{"w1": ..., "b1": ..., "w2": ..., ...}`` (any number of layers). Images are
``(N, 28, 28)`` floats in ``[0, 1]`` (or uint8 in ``[0, 255]``); the network sees
them scaled to ``[-1, 1]``, as the evaluator does, but every gradient and every
perturbation here is in **pixel units**, on the ``[0, 1]`` scale.

* :func:`input_gradient`: the gradient of the cross-entropy (or of one logit)
  with respect to the input pixels, by backpropagation written out by hand;
* :func:`fgsm`: the fast gradient sign method (Goodfellow et al., 2015), one step
  of size ``eps`` along the sign of that gradient; :func:`pgd`: projected gradient
  descent (Madry et al., 2018), many smaller steps kept inside the same
  ``L_inf`` ball of radius ``eps``;
* :func:`train_mlp`: trains the same network with Adam, either on clean images
  or on adversarial ones (adversarial training), with the attack recomputed on
  the current weights at every step;
* :func:`saliency` and :func:`deletion_curve`: a gradient explanation of a
  prediction (Simonyan et al., 2014) and a test of whether it points at the pixels
  the prediction actually depends on.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_labels, check_int, check_number
from .numpy_nn import MLP, Adam, minibatches, softmax, softmax_cross_entropy

__all__ = [
    "as_mlp",
    "logits",
    "predict",
    "accuracy",
    "input_gradient",
    "fgsm",
    "pgd",
    "init_mlp",
    "train_mlp",
    "saliency",
    "deletion_curve",
    "LAYERS",
]

#: the evaluator's layer widths, the default of :func:`train_mlp`
LAYERS = (784, 256, 128, 10)


# ----- input checks ----------------------------------------------------------------
def as_mlp(model) -> MLP:
    """The ReLU network (a :class:`~aigc_course.numpy_nn.MLP` sharing the arrays) of an
    Evaluator, of a ``{"w1", "b1", ...}`` dict, or an MLP itself."""
    if isinstance(model, MLP):
        return model
    params = getattr(model, "params", model)
    if not isinstance(params, dict) or "w1" not in params:
        raise ValueError(
            "model: expected an aigc_course.evaluator.Evaluator or a dict of "
            f"weights {{'w1', 'b1', 'w2', ...}}, got {type(model).__name__}"
        )
    net = MLP.from_dict(params, slope=0.0, name="model")
    if net.params[0].shape[0] != 784:
        raise ValueError(
            f"model: the first layer must take 784 pixels, got {net.params[0].shape[0]}"
        )
    return net


def _pixels(images, name: str = "images") -> np.ndarray:
    """Images as float (N, 28, 28) in [0, 1]; uint8 is divided by 255."""
    x = np.asarray(images)
    if x.ndim == 2 and x.shape == (28, 28):
        x = x[None]
    if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) == 0:
        raise ValueError(
            f"{name}: expected images shaped (N, 28, 28), got shape {x.shape}"
        )
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name}: expected uint8 or float images, got dtype {x.dtype}")
    if not np.all(np.isfinite(x)) or x.min() < -1e-6 or x.max() > 1 + 1e-6:
        raise ValueError(f"{name}: expected finite float pixels in [0, 1]")
    return x


def _eps(eps, name: str = "eps") -> float:
    return check_number(
        eps, name, 0, 1, expected="a perturbation size in [0, 1] (pixel units)"
    )


def _scaled(pixels):
    """The evaluator's input scaling: pixels in [0, 1] to x = 2 p - 1 in [-1, 1]."""
    return 2.0 * pixels - 1.0


def logits(model, images) -> np.ndarray:
    """The network's logits, float (N, 10), for images in [0, 1] (or uint8)."""
    x = _pixels(images).reshape(-1, 784)
    return as_mlp(model).forward(_scaled(x))[0]


def predict(model, images) -> np.ndarray:
    """Predicted classes, int64 (N,)."""
    return np.argmax(logits(model, images), axis=1).astype(np.int64)


def accuracy(model, images, labels) -> float:
    """Fraction of ``images`` classified as ``labels``."""
    out = logits(model, images)
    return float(
        np.mean(
            np.argmax(out, axis=1)
            == as_labels(labels, len(out), out.shape[1], "labels")
        )
    )


# --- input gradient (shown in the book)
def input_gradient(model, images, labels, of: str = "loss") -> np.ndarray:
    """Gradient with respect to the pixels (on the [0, 1] scale), shape (N, 28, 28).

    ``of="loss"``: of each image's own cross-entropy ``-log p(label | image)``
    (what an attacker increases); ``of="logit"``: of the logit of ``label`` (what a
    saliency map shows). Each row is the gradient of that image's own value, so
    the batch size does not scale it.
    """
    net = as_mlp(model)
    x = _pixels(images).reshape(-1, 784)
    y = as_labels(labels, len(x), net.params[-1].shape[0], "labels")
    out, cache = net.forward(_scaled(x))
    if of == "loss":
        g = softmax(out)
        g[np.arange(len(x)), y] -= 1.0  # d CE / d logits = p - onehot
    elif of == "logit":
        g = np.zeros_like(out)
        g[np.arange(len(x)), y] = 1.0
    else:
        raise ValueError(f"of: expected 'loss' or 'logit', got {of!r}")
    # backpropagation, down to the input
    _, dx = net.backward(cache, g, need_params=False)
    return (2.0 * dx).reshape(-1, 28, 28)  # x = 2 p - 1: d/dp = 2 d/dx


def fgsm(model, images, labels, eps: float) -> np.ndarray:
    """Fast gradient sign method: ``clip(x + eps * sign(grad_x loss), 0, 1)``."""
    x = _pixels(images)
    return np.clip(x + _eps(eps) * np.sign(input_gradient(model, x, labels)), 0.0, 1.0)


def pgd(
    model,
    images,
    labels,
    eps: float,
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    seed=0,
) -> np.ndarray:
    """Projected gradient descent: ``steps`` signed steps, each followed by a projection
    back onto ``|x' - x|_inf <= eps`` and onto [0, 1]. ``step_size`` defaults to
    ``2.5 * eps / steps``; ``random_start`` starts at a uniform point of the ball."""
    x = _pixels(images)
    eps = _eps(eps)
    steps = check_int(steps, "steps")
    alpha = 2.5 * eps / steps if step_size is None else _eps(step_size, "step_size")
    rng = np.random.default_rng(seed)
    x_adv = x + (
        rng.uniform(-eps, eps, x.shape).astype(x.dtype) if random_start else 0.0
    )
    x_adv = np.clip(x_adv, 0.0, 1.0)
    for _ in range(steps):
        x_adv = x_adv + alpha * np.sign(input_gradient(model, x_adv, labels))
        x_adv = np.clip(np.clip(x_adv, x - eps, x + eps), 0.0, 1.0)
    return x_adv


# --- end input gradient


# ----- training ------------------------------------------------------------------------
def init_mlp(layers=LAYERS, seed=0) -> dict:
    """An untrained MLP: He-normal weights, zero biases, float32 (the evaluator's initialisation)."""
    return _init(np.random.default_rng(seed), layers).as_dict()


def _init(rng, layers) -> MLP:
    widths = tuple(int(w) for w in layers)
    if len(widths) < 2 or widths[0] != 784 or min(widths) < 1:
        raise ValueError(
            f"layers: expected widths (784, ..., n_classes), got {tuple(layers)}"
        )
    return MLP(widths, rng, slope=0.0, dtype=np.float32)


def _ce_grads(net, x, y):
    """Mean cross-entropy of a batch of pixels and its gradients with respect to the parameters."""
    out, cache = net.forward(_scaled(x))
    loss, g = softmax_cross_entropy(out, y)
    return loss, net.backward(cache, g, need_input=False)[0]


def train_mlp(
    images,
    labels,
    epochs: int,
    *,
    attack: str | None = None,
    eps: float = 0.1,
    adv_weight: float = 1.0,
    pgd_steps: int = 3,
    layers=LAYERS,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
) -> tuple[dict, list[float]]:
    """Train the MLP with Adam; returns ``(params, mean training loss per epoch)``.

    ``attack=None`` is ordinary training (the evaluator's recipe). With
    ``attack="fgsm"`` or ``"pgd"`` each minibatch is attacked with the *current*
    weights (FGSM from a random start inside the ball, as in Wong et al., 2020;
    or PGD with ``pgd_steps`` steps) and the loss is
    ``(1 - adv_weight) * CE(clean) + adv_weight * CE(adversarial)``:
    ``adv_weight=0.5`` is the mixture of Goodfellow et al. (2015), ``1.0`` the
    min-max training of Madry et al. (2018). Deterministic for a given seed.
    """
    x = _pixels(images).reshape(-1, 784).astype(np.float32)
    y = as_labels(labels, len(x), int(layers[-1]), "labels")
    if attack not in (None, "fgsm", "pgd"):
        raise ValueError(f"attack: expected None, 'fgsm' or 'pgd', got {attack!r}")
    eps = _eps(eps)
    adv_weight = check_number(
        adv_weight, "adv_weight", 0, 1, expected="a weight in [0, 1]"
    )
    epochs, batch_size = (
        check_int(epochs, "epochs"),
        check_int(batch_size, "batch_size"),
    )
    rng = np.random.default_rng(seed)
    net = _init(rng, layers)  # checks the widths
    opt = Adam(net.params, lr, betas=(0.9, 0.999), fold_bias_correction=True)
    history = []
    for _ in range(epochs):
        total = 0.0
        for idx in minibatches(len(x), batch_size, rng):
            xb, yb = x[idx], y[idx]
            loss, grads = (
                _ce_grads(net, xb, yb)
                if adv_weight < 1 or attack is None
                else (0.0, None)
            )
            if attack is not None and adv_weight > 0:
                imgs = xb.reshape(-1, 28, 28)
                if attack == "fgsm":  # FGSM from a random start, step 1.25 eps
                    start = np.clip(
                        imgs + rng.uniform(-eps, eps, imgs.shape).astype(np.float32),
                        0,
                        1,
                    )
                    step = start + 1.25 * eps * np.sign(input_gradient(net, start, yb))
                    xa = np.clip(np.clip(step, imgs - eps, imgs + eps), 0, 1)
                else:
                    xa = pgd(
                        net,
                        imgs,
                        yb,
                        eps,
                        steps=pgd_steps,
                        seed=int(rng.integers(2**31)),
                    )
                adv_loss, adv_grads = _ce_grads(
                    net, xa.reshape(-1, 784).astype(np.float32), yb
                )
                if grads is None:
                    loss, grads = adv_loss, adv_grads
                else:
                    loss = (1 - adv_weight) * loss + adv_weight * adv_loss
                    grads = [
                        (1 - adv_weight) * g + adv_weight * a
                        for g, a in zip(grads, adv_grads)
                    ]
            total += loss * len(idx)
            opt.step(grads)
        history.append(total / len(x))
    return net.as_dict(), history


# ----- explanations -----------------------------------------------------------------------
def saliency(model, images, labels=None) -> np.ndarray:
    """|d logit / d pixel| for the class ``labels`` (default: the predicted class), (N, 28, 28)."""
    x = _pixels(images)
    y = predict(model, x) if labels is None else labels
    return np.abs(input_gradient(model, x, y, of="logit"))


def deletion_curve(
    model, images, labels, scores, fractions, fill: float = 0.0
) -> np.ndarray:
    """Mean probability of ``labels`` after deleting the highest-scoring pixels.

    For each fraction ``f`` in ``fractions``, the ``round(f * 784)`` pixels of each
    image with the largest ``scores`` (same shape as the images) are set to
    ``fill`` and the model's probability of the label is averaged over the
    images. A faithful explanation makes this curve fall faster than a random
    order of the pixels does (the "deletion" test of Petsiuk et al., 2018).
    """
    x = _pixels(images).reshape(-1, 784)
    s = np.asarray(scores, dtype=np.float64).reshape(len(x), -1)
    if s.shape != x.shape:
        raise ValueError(
            f"scores: expected one score per pixel, shape {(len(x), 28, 28)}, got {np.shape(scores)}"
        )
    y = as_labels(labels, len(x), as_mlp(model).params[-1].shape[0], "labels")
    rank = np.argsort(-s, axis=1, kind="stable")
    out = []
    for f in np.asarray(fractions, dtype=np.float64):
        if not 0 <= f <= 1:
            raise ValueError(f"fractions: expected values in [0, 1], got {f}")
        k = int(round(f * 784))
        xd = x.copy()
        np.put_along_axis(xd, rank[:, :k], fill, axis=1)
        p = softmax(logits(model, xd.reshape(-1, 28, 28)))
        out.append(float(np.mean(p[np.arange(len(x)), y])))
    return np.array(out)
