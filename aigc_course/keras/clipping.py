"""Gradient clipping for GANs (Keras 3): gradient norms and clipping.

Mirrors :mod:`aigc_course.torch.clipping` name for name. The models of the zoo are
not changed: these helpers attach to an optimizer after ``compile``, e.g.

    model = MODELS["dcgan"]()
    model.compile()                                          # or compile(d_optimizer=...)
    clip_d = GradientClipper(model.d_optimizer, max_norm=1.0, norm_type=2.0)
    model.fit(images, epochs=3, callbacks=[clip_d])          # the callback reads the norms
    clip_d.before, clip_d.after                              # one norm per step

What Keras has built in (arguments of every optimizer), and the PyTorch twins:

* ``global_clipnorm=c``: rescale *all* gradients together so that their global
  L2 norm is at most ``c`` (PyTorch: ``clip_grad_norm_(params, c, norm_type=2)``);
* ``clipnorm=c``: the same for each variable's gradient *separately* (PyTorch:
  ``clip_grad_norm_`` called on each parameter);
* ``clipvalue=c``: clamp every entry to ``[-c, c]``, which changes the gradient's
  direction (PyTorch: ``clip_grad_value_(params, c)``);
* rescaling by the infinity norm ``max |g|`` (PyTorch's ``clip_grad_norm_(...,
  norm_type=inf)``) has no Keras option: :func:`clip_gradients` here.

Learning-rate schedules need no helper: pass a
``keras.optimizers.schedules.LearningRateSchedule`` as the optimizer's
``learning_rate``; Keras evaluates it at ``optimizer.iterations`` on every step.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from .._checks import check_max_norm, check_norm_type

__all__ = ["grad_norm", "clip_gradients", "GradientClipper"]


def _dense(grads) -> list:
    if grads is None or not isinstance(grads, (list, tuple)):
        raise ValueError(
            f"grads: expected a list of gradient tensors, got {type(grads).__name__}"
        )
    return [ops.convert_to_tensor(g) for g in grads if g is not None]


# --- gradient clipping (shown in the book) -------------------------------------
def grad_norm(grads, norm_type: float = 2.0):
    """The norm of a list of gradients together, as if they were one vector (a scalar tensor).

    ``norm_type=2``: ``sqrt(sum of g^2)`` over every entry; ``norm_type=math.inf``:
    ``max |g|``. ``None`` entries (variables without a gradient) are skipped.
    """
    p = check_norm_type(norm_type)
    grads = _dense(grads)
    if not grads:
        return ops.convert_to_tensor(0.0)
    if p == math.inf:
        return ops.max(ops.stack([ops.max(ops.abs(g)) for g in grads]))
    total = ops.sum(ops.stack([ops.sum(ops.abs(g) ** p) for g in grads]))
    return total ** (1.0 / p)


def clip_gradients(grads, max_norm: float, norm_type: float = 2.0):
    """Rescale a list of gradients so that their joint norm is at most ``max_norm``.

    Every gradient is multiplied by the same factor ``min(1, max_norm / (norm + 1e-6))``
    (PyTorch's ``clip_grad_norm_`` formula), so the direction of the update is kept.
    Returns ``(clipped_grads, norm_before_clipping)``; tensors cannot be changed
    in place, hence the new list.
    """
    if not (isinstance(max_norm, (int, float)) and max_norm > 0):
        raise ValueError(f"max_norm: expected a positive number, got {max_norm!r}")
    norm = grad_norm(grads, norm_type)
    scale = ops.minimum(1.0, max_norm / (norm + 1e-6))
    return [
        None if g is None else ops.convert_to_tensor(g) * ops.cast(scale, g.dtype)
        for g in grads
    ], norm


# --- end gradient clipping ---------------------------------------------------


class GradientClipper(keras.callbacks.Callback):
    """Measure (and optionally clip) the gradients of every step of ``optimizer``.

    It wraps ``optimizer.apply``, the call every custom ``train_step`` of the course
    makes (through :func:`~aigc_course.keras.core.apply_gradients`), so it works
    without editing the model. Per step it appends to

    * ``before``: the gradients' norm (``norm_type``) as computed by the backend,
    * ``after``: their norm after clipping (equal to ``before`` if ``max_norm`` is None),
    * ``lr``: the learning rate of the step.

    **Pass it to** ``fit(callbacks=[...])``: on the TensorFlow backend the training
    step runs as a compiled graph, where Python cannot append to a list; the
    norms are written to Keras variables inside the graph and this callback
    copies them into the lists after every batch. If the optimizer steps several
    times in one batch (the WGAN-GP critic, ``n_critic`` times), only the batch's last
    step is recorded; the PyTorch twin records every step. ``remove()`` unwraps the
    optimizer.
    """

    def __init__(
        self, optimizer, max_norm: float | None = None, norm_type: float = 2.0
    ):
        super().__init__()
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise ValueError(
                f"optimizer: expected a keras.optimizers.Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer, self.max_norm, self.norm_type = (
            optimizer,
            check_max_norm(max_norm),
            check_norm_type(norm_type),
        )
        self.before: list[float] = []
        self.after: list[float] = []
        self.lr: list[float] = []
        self._last = {
            k: keras.Variable(
                0.0, trainable=False, dtype="float32", name=f"clipper_{k}"
            )
            for k in ("before", "after", "lr")
        }
        self._steps = keras.Variable(
            0, trainable=False, dtype="int64", name="clipper_steps"
        )
        self._seen = 0
        self._original_apply = optimizer.apply
        optimizer.apply = self._apply

    def _apply(self, grads, trainable_variables=None):
        grads = list(grads)
        if self.max_norm is None:
            norm = after = grad_norm(grads, self.norm_type)
        else:
            grads, norm = clip_gradients(grads, self.max_norm, self.norm_type)
            after = grad_norm(grads, self.norm_type)
        self._last["before"].assign(ops.cast(norm, "float32"))
        self._last["after"].assign(ops.cast(after, "float32"))
        self._last["lr"].assign(ops.cast(self.optimizer.learning_rate, "float32"))
        self._steps.assign_add(1)
        return self._original_apply(grads, trainable_variables)

    def on_train_batch_end(self, batch, logs=None):
        steps = int(ops.convert_to_numpy(self._steps))
        if steps > self._seen:  # the optimizer stepped during this batch
            self._seen = steps
            for k, values in (
                ("before", self.before),
                ("after", self.after),
                ("lr", self.lr),
            ):
                values.append(float(ops.convert_to_numpy(self._last[k])))

    def remove(self) -> None:
        """Stop measuring and clipping: give the optimizer back its own ``apply``."""
        self.optimizer.apply = self._original_apply
