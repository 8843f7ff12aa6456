"""Keras 3 base class, mirroring :mod:`aigc_course.torch.core`.

Training uses Keras's own ``fit``. A GAN needs two optimizers in one
``train_step``, which Keras cannot express once for every backend: the losses
stay in ``keras.ops`` (backend-neutral) and only :func:`apply_gradients`, the
gradient step, is written per backend.
"""
from __future__ import annotations

import keras
import numpy as np

from .. import config


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and the Keras backend."""
    config.set_seed(seed)
    keras.utils.set_random_seed(seed)


# --- apply_gradients (shown in the book) -------------------------------------
def apply_gradients(optimizer, loss_fn, variables):
    """Run ``loss_fn()``, then one ``optimizer`` step on ``variables``; return the loss.

    The only backend-specific code in the package: TensorFlow records the
    forward pass on a ``GradientTape``; PyTorch uses autograd.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        grads = tape.gradient(loss, variables)
        optimizer.apply(grads, variables)
        return loss
    if backend == "torch":
        import torch

        for v in variables:
            v.value.grad = None
        loss = loss_fn()
        loss.backward()
        grads = [v.value.grad for v in variables]
        with torch.no_grad():
            optimizer.apply(grads, variables)
        return loss
    raise NotImplementedError(
        f"aigc_course's custom train steps support the tensorflow and torch backends, "
        f"not {backend!r}; set KERAS_BACKEND=tensorflow or torch")
# --- end apply_gradients -------------------------------------------------------


def input_gradients(fn, x):
    """d fn(x).sum() / dx, kept differentiable (for the WGAN-GP gradient penalty).

    The graph of the gradient itself is kept, so that a loss built on it can be
    differentiated again with respect to ``fn``'s weights, e.g. inside
    :func:`apply_gradients`. TensorFlow: a tape nested in ``apply_gradients``'s
    tape, watching ``x``; PyTorch: ``torch.autograd.grad(create_graph=True)``.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = keras.ops.sum(fn(x))
        return tape.gradient(y, x)
    if backend == "torch":
        import torch

        x = keras.ops.convert_to_tensor(x)
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        (grads,) = torch.autograd.grad(keras.ops.sum(fn(x)), x, create_graph=True)
        return grads
    raise NotImplementedError(
        f"input_gradients supports the tensorflow and torch backends, not {backend!r}")


class GenerativeModel(keras.Model):
    """Base class of every Keras model in the zoo.

    Subclasses build their layers in ``__init__``, set ``default_optimizers()``
    and write ``train_step``; ``fit`` compiles with those defaults if needed
    and adds checkpoint/resume (``checkpoint_dir``) via ``BackupAndRestore``.
    """

    def count_params(self) -> int:
        """Number of trainable parameters (the PyTorch count matches it)."""
        return int(sum(np.prod(v.shape) for v in self.trainable_weights))

    def prepare(self, x, y=None) -> tuple:
        raise NotImplementedError

    def fit(self, x=None, y=None, epochs: int = 1, batch_size: int = 64, callbacks=(),
            checkpoint_dir=None, verbose="auto", **kwargs):
        """Keras's ``fit`` with the same extras as the PyTorch trainer.

        Validates and scales the data like the PyTorch twin, compiles with the
        model's default optimizers when ``compile`` was not called, and with
        ``checkpoint_dir`` backs up after each epoch so that a later call resumes.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs: expected a non-negative int, got {epochs!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        if not self.compiled:
            self.compile()
        arrays = self.prepare(x) if y is None else self.prepare(x, y)
        n = len(arrays[0])
        callbacks = list(callbacks)
        if checkpoint_dir is not None:
            callbacks.append(keras.callbacks.BackupAndRestore(
                str(checkpoint_dir), delete_checkpoint=False))
        if len(arrays) > 2:
            raise ValueError(f"prepare() must return 1 or 2 arrays, got {len(arrays)}")
        # drop the last incomplete batch, like the PyTorch trainer (Keras would otherwise
        # run out of data with steps_per_epoch and silently skip steps)
        steps = max(1, n // batch_size)
        keep = np.sort(np.random.default_rng(n).permutation(n)[:steps * batch_size]) \
            if n >= batch_size else np.arange(n)
        arrays = [a[keep] for a in arrays]
        x_in, y_in = arrays[0], (arrays[1] if len(arrays) == 2 else None)
        return super().fit(x_in, y_in, epochs=epochs, batch_size=batch_size,
                           steps_per_epoch=steps, callbacks=callbacks,
                           verbose=verbose, shuffle=True, **kwargs)

    def load(self, path):
        """Load weights saved with ``save(path)`` (``.keras``) or ``save_weights`` (``.weights.h5``)."""
        self.load_weights(str(path))
        return self


class SampleGrid(keras.callbacks.Callback):
    """Show a grid of ``n`` samples every ``every`` epochs (fixed noise: ``seed``)."""

    def __init__(self, every: int = 5, n: int = 64, seed: int = 0):
        super().__init__()
        self.every, self.n, self.seed = every, n, seed

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            from ..plotting import show_sample_grid

            show_sample_grid(self.model.sample(self.n, seed=self.seed), epoch + 1)
