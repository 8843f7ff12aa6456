"""The course's neural network in NumPy, with every gradient written by hand.

One multilayer perceptron (:class:`MLP`: its forward pass, and its backward pass
written out layer by layer), one optimiser (:class:`Adam`) and the few functions
around them (:func:`softplus`, :func:`sigmoid`, :func:`softmax`,
:func:`softmax_cross_entropy`). Everything here is meant to be *read*; the tests
check each hand-written gradient against finite differences.

* :mod:`aigc_course.toy_gan` trains two LeakyReLU MLPs (float64) against each other;
* :mod:`aigc_course.evaluator` trains a ReLU MLP (``slope=0``, float32) as the
  domain classifier, and :mod:`aigc_course.adversarial` attacks, explains and
  retrains that same network;
* the concept notebooks build a NumPy VAE and a toy CLIP from the same pieces.

    net = MLP([2, 64, 64, 1], np.random.default_rng(0))
    opt = Adam(net.params, lr=1e-3)
    out, cache = net.forward(x)
    grads, _ = net.backward(cache, dloss_dout)
    opt.step(grads)
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "MLP",
    "Adam",
    "minibatches",
    "softplus",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
    "SLOPE",
]

SLOPE = 0.2  # the default negative slope of the LeakyReLU


def softplus(t):
    """log(1 + e^t) without overflow (in the input's float precision)."""
    return np.logaddexp(0.0, t)


def sigmoid(t):
    """1 / (1 + e^-t) without overflow (in the input's float precision)."""
    return np.exp(-np.logaddexp(0.0, -t))


def softmax(logits, axis: int = -1) -> np.ndarray:
    """exp(l) / sum exp(l) along ``axis``, the maximum subtracted first (-inf entries get 0).

    Float input keeps its precision (float32 stays float32); anything else is float64.
    """
    z = np.asarray(logits)
    if not np.issubdtype(z.dtype, np.floating):
        z = z.astype(np.float64)
    z = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_cross_entropy(logits, labels) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) (N, C) against int ``labels`` (N,), and its
    gradient with respect to the logits: (softmax(logits) - onehot(labels)) / N."""
    p = softmax(logits, axis=1)
    rows = np.arange(len(p))
    loss = -float(np.mean(np.log(p[rows, labels] + 1e-12)))
    p[rows, labels] -= 1.0
    return loss, p / len(p)


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of minibatches: the indices of a random permutation of ``range(n)``
    (one ``rng.permutation`` draw), cut into batches of ``batch_size`` (the last may be smaller)."""
    order = rng.permutation(n)
    return [order[s : s + batch_size] for s in range(0, n, batch_size)]


class MLP:
    """``x -> [Linear -> LeakyReLU] * (len(sizes) - 2) -> Linear``, ``params = [W1, b1, W2, b2, ...]``.

    ``slope`` is the LeakyReLU's negative slope; ``slope=0`` makes it a ReLU.
    Weights are He-initialised from ``rng`` (normal with variance 2 / fan-in, in
    the order W1, W2, ...), biases are zero; ``dtype`` is their precision.
    """

    def __init__(
        self, sizes, rng: np.random.Generator, slope: float = SLOPE, dtype=np.float64
    ):
        self.slope = slope
        self.params = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            # He initialisation: keeps the activations' scale roughly constant across layers
            w = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
            self.params += [w.astype(dtype, copy=False), np.zeros(n_out, dtype)]

    @classmethod
    def from_dict(cls, params: dict, slope: float = SLOPE, name: str = "params") -> MLP:
        """The MLP whose layers are ``params["w1"], params["b1"], params["w2"], ...`` (the
        arrays themselves, not copies: an optimiser stepping ``net.params`` updates them)."""
        net = cls.__new__(cls)
        net.slope, net.params, i = slope, [], 1
        while f"w{i}" in params:
            w, b = np.asarray(params[f"w{i}"]), np.asarray(params.get(f"b{i}"))
            if w.ndim != 2 or b.shape != (w.shape[1],):
                raise ValueError(
                    f"{name}: layer {i} has weights {w.shape} and biases {b.shape}; "
                    "expected (n_in, n_out) and (n_out,)"
                )
            if net.params and net.params[-2].shape[1] != w.shape[0]:
                raise ValueError(
                    f"{name}: layer {i} takes {w.shape[0]} inputs but layer {i - 1} "
                    f"gives {net.params[-2].shape[1]}"
                )
            net.params += [w, b]
            i += 1
        if not net.params:
            raise ValueError(
                f"{name}: expected weights 'w1', 'b1', 'w2', ..., got keys {sorted(params)}"
            )
        return net

    def as_dict(self) -> dict:
        """``{"w1": W1, "b1": b1, "w2": ...}``: the same arrays, named as :meth:`from_dict` reads them."""
        return {f"{'wb'[i % 2]}{i // 2 + 1}": p for i, p in enumerate(self.params)}

    def activation(self, a):
        """LeakyReLU: ``a`` where a > 0, else ``slope * a`` (the ReLU max(a, 0) for slope 0)."""
        return (
            np.maximum(a, 0.0)
            if self.slope == 0
            else np.where(a > 0, a, self.slope * a)
        )

    def forward(self, x):
        """The output, and the cache (input and pre-activation of each layer) for ``backward``."""
        n_layers, cache, h = len(self.params) // 2, [], x
        for i in range(n_layers):
            a = h @ self.params[2 * i] + self.params[2 * i + 1]  # a = h W + b
            cache.append((h, a))
            h = self.activation(a) if i < n_layers - 1 else a
        return h, cache

    def backward(
        self, cache, grad_out, need_params: bool = True, need_input: bool = True
    ):
        """Given dL/d(output), return (dL/d(each param), dL/d(input)): the chain rule, layer by layer.

        Each step uses the forward pass's cache: a layer's input h and pre-activation a.
        ``need_params=False`` skips the parameters' gradients (a list of None), and
        ``need_input=False`` the input's (None).
        """
        grads, g = [None] * len(self.params), grad_out
        for i in reversed(range(len(cache))):
            h, a = cache[i]
            if i < len(cache) - 1:
                # dL/da = dL/dout * LeakyReLU'(a)
                g = np.where(a > 0, g, self.slope * g)
            if need_params:
                grads[2 * i] = h.T @ g  # dL/dW = h^T dL/da
                grads[2 * i + 1] = g.sum(axis=0)  # dL/db = sum over the batch
            if i > 0 or need_input:
                g = g @ self.params[2 * i].T  # dL/dh = dL/da W^T
        return grads, g if need_input else None


class Adam:
    """Adam (Kingma & Ba, 2015); updates the arrays in ``params`` in place.

    With g the gradient at step t: m <- b1 m + (1 - b1) g and v <- b2 v + (1 - b2) g^2,
    the running means of g and g^2; then (Algorithm 1 of the paper)
    ``p -= lr * m_hat / (sqrt(v_hat) + eps)`` with the bias corrections
    m_hat = m / (1 - b1^t) and v_hat = v / (1 - b2^t).

    ``fold_bias_correction=True`` takes the paper's cheaper order of computation
    (end of its section 2), the corrections folded into the step size:
    ``p -= lr_t * m / (sqrt(v) + eps)`` with lr_t = lr sqrt(1 - b2^t) / (1 - b1^t), as
    Keras does; the two differ only in where eps enters. The evaluator is trained
    this way (its cached weights depend on it).
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        fold_bias_correction: bool = False,
    ):
        self.params, self.lr, (self.b1, self.b2), self.eps = params, lr, betas, eps
        self.fold_bias_correction = fold_bias_correction
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g  # running mean of g
            v *= self.b2
            v += (1 - self.b2) * g * g  # running mean of g^2
            if self.fold_bias_correction:
                lr_t = p.dtype.type(
                    self.lr * math.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
                )
                p -= lr_t * m / (np.sqrt(v) + self.eps)
            else:
                m_hat, v_hat = m / (1 - self.b1**self.t), v / (1 - self.b2**self.t)
                p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
