"""Keras 3 base class, mirroring :mod:`aigc_course.torch.core`.

Training uses Keras's own ``fit``. A GAN needs two optimizers in one
``train_step``, which Keras cannot express once for every backend: the losses
stay in ``keras.ops`` (backend-neutral) and only :func:`apply_gradients`, the
gradient step, is written per backend.

``GenerativeModel.fit`` adds what the PyTorch trainer has: batches in an order
that depends only on ``(seed, epoch)``, a guard that stops at the first NaN or
infinite loss (and puts back the last good weights), and verified atomic
checkpoints (:mod:`aigc_course.checkpoint`) that hold the weights, the optimizer
states, the random-generator states and the history, so that a resumed run
equals an uninterrupted one.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from .. import checkpoint, config
from .._checks import check_int, checked_init
from ..training import (
    TrainingDivergedError,
    amp_dtype,
    checkpoint_folder,
    divergence_message,
    epoch_order,
    non_finite,
    resume_changes,
)


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and the Keras backend."""
    config.set_seed(seed)
    keras.utils.set_random_seed(seed)


# --- apply_gradients (shown in the book) -------------------------------------
def apply_gradients(optimizer, loss_fn, variables):
    """Run ``loss_fn()``, then one ``optimizer`` step on ``variables``; return the loss.

    The only backend-specific code in the package: TensorFlow records the
    forward pass on a ``GradientTape``; PyTorch uses autograd. The gradients are
    those of ``optimizer.scale_loss(loss)``: the loss itself, unless ``fit(
    mixed_precision=...)`` chose float16 and wrapped the optimizer in a
    ``LossScaleOptimizer``, which scales the loss here and unscales the gradients
    (skipping a step whose gradients overflowed) in ``apply``.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
            scaled = optimizer.scale_loss(loss)  # inside the tape: it is differentiated
        grads = tape.gradient(scaled, variables)
        optimizer.apply(grads, variables)
        return loss
    if backend == "torch":
        import torch

        for v in variables:
            v.value.grad = None
        loss = loss_fn()
        optimizer.scale_loss(loss).backward()
        grads = [v.value.grad for v in variables]
        with torch.no_grad():
            optimizer.apply(grads, variables)
        return loss
    raise NotImplementedError(
        f"aigc_course's custom train steps support the tensorflow and torch backends, "
        f"not {backend!r}; set KERAS_BACKEND=tensorflow or torch"
    )


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
        f"input_gradients supports the tensorflow and torch backends, not {backend!r}"
    )


class GenerativeModel(keras.Model):
    """Base class of every Keras model in the zoo.

    Subclasses build their layers in ``__init__``, give ``compile`` default
    optimizers (:class:`SingleOptimizer` for a model trained by one) and write
    ``train_step``; ``fit`` compiles with those defaults if needed and adds
    checkpoint/resume (``checkpoint_dir``) and the divergence guard.
    ``save``, ``save_weights`` and ``load`` keep an integrity record next to
    the file (:mod:`aigc_course.checkpoint`).
    """

    #: the optimizer arguments of ``compile`` (a GAN has two)
    optimizer_names = ("optimizer",)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        checked_init(cls)  # constructor arguments checked before any layer is built

    def count_params(self) -> int:
        """Number of trainable parameters (the PyTorch count matches it)."""
        return int(sum(np.prod(v.shape) for v in self.trainable_weights))

    def prepare(self, x, y=None) -> tuple:
        raise NotImplementedError

    # ----- compile, and compile again after keras.models.load_model -----------
    def get_compile_config(self):
        """The optimizers ``compile`` was given, for ``keras.models.load_model``."""
        if not self.compiled:
            return None
        return {
            name: keras.optimizers.serialize(getattr(self, name))
            for name in self.optimizer_names
            if getattr(self, name, None) is not None
        }

    def compile_from_config(self, config):
        """Re-compile after ``keras.models.load_model`` (the saved optimizer states follow)."""
        config = config or {}
        self.compile(
            **{
                name: keras.optimizers.deserialize(config[name])
                for name in self.optimizer_names
                if isinstance(config.get(name), dict)
            }
        )

    def _optimizers(self) -> dict:
        return {
            name: getattr(self, name)
            for name in self.optimizer_names
            if isinstance(getattr(self, name, None), keras.optimizers.Optimizer)
        }

    # ----- state: weights, optimizers, random generators ------------------------
    def _seed_variables(self) -> list:
        """The states of the model's random generators (``model.variables`` minus its weights)."""
        weights = {id(v) for v in self.weights}
        return [v for v in self.variables if id(v) not in weights]

    def _non_finite_weight(self):
        """(name, first bad value) of the first weight with a NaN or inf, or None."""
        for v in self.weights:
            a = keras.ops.convert_to_numpy(v)
            if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
                return v.path, float(a[~np.isfinite(a)].flat[0])
        return None

    def _snapshot(self) -> dict:
        return {
            "weights": self.get_weights(),
            "optimizers": {
                k: [keras.ops.convert_to_numpy(v) for v in o.variables]
                for k, o in self._optimizers().items()
            },
            "seeds": [keras.ops.convert_to_numpy(v) for v in self._seed_variables()],
        }

    def _put_back(self, snapshot) -> None:
        self.set_weights(snapshot["weights"])
        for k, o in self._optimizers().items():
            for v, value in zip(o.variables, snapshot["optimizers"].get(k, [])):
                v.assign(value)
        for v, value in zip(self._seed_variables(), snapshot["seeds"]):
            v.assign(value)

    def _record_config(self) -> dict:
        return checkpoint.clean_config(self.get_config())

    # ----- training -------------------------------------------------------------
    def fit(
        self,
        x=None,
        y=None,
        epochs: int = 1,
        batch_size: int = 64,
        callbacks=(),
        checkpoint_dir=None,
        verbose="auto",
        seed: int = 0,
        mixed_precision=False,
        **kwargs,
    ):
        """Keras's ``fit`` with the same extras as the PyTorch trainer.

        Validates and scales the data like the PyTorch twin, compiles with the
        model's default optimizers when ``compile`` was not called, and shuffles
        with ``seed``: epoch e visits the examples in an order drawn from
        ``(seed, e)`` alone, dropping the last incomplete batch. With
        ``checkpoint_dir``, weights, optimizer and random-generator states and
        the history are saved after each epoch, and a later call resumes from
        there, exactly as if it had not been interrupted (with this call's
        learning rate, if it changed); the returned history covers every epoch.

        A NaN or infinite loss (or weight, checked after every epoch) stops
        training with :class:`~aigc_course.training.TrainingDivergedError`, naming
        the epoch and step; the model is put back at its last good weights and
        the checkpoint keeps the last good epoch.

        ``mixed_precision``: on a CUDA GPU, ``True`` or ``"auto"`` sets the dtype policy
        ``"mixed_float16"`` (with a ``LossScaleOptimizer``) below compute capability 8.0
        (a T4) and ``"mixed_bfloat16"`` from 8.0 on; ``"float16"`` / ``"bfloat16"`` force
        one. ``False`` (the default), and ``"auto"`` on a CPU, train in float32
        (:func:`aigc_course.training.amp_dtype`).
        """
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs: expected a non-negative int, got {epochs!r}")
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, int)
            or batch_size <= 0
        ):
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        seed = check_int(seed, "seed", minimum=0)
        if verbose not in ("auto", 0, 1, 2, True, False):
            raise ValueError(f"verbose: expected 'auto', 0, 1 or 2, got {verbose!r}")
        _check_fit_kwargs(kwargs)
        callbacks = list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, keras.callbacks.Callback):
                raise ValueError(
                    f"callbacks: expected keras.callbacks.Callback objects, got {cb!r}"
                )
        folder = checkpoint_folder(checkpoint_dir)
        dtype = amp_dtype(_gpu_capability(), mixed_precision)
        if dtype is not None:
            self._set_mixed_precision(dtype)
        if not self.compiled:
            self.compile()
        if dtype == "float16":
            self._wrap_loss_scale()
        arrays = self.prepare(x) if y is None else self.prepare(x, y)
        if len(arrays) > 2:
            raise ValueError(f"prepare() must return 1 or 2 arrays, got {len(arrays)}")
        n = len(arrays[0])

        ckpt = folder / "last.weights.h5" if folder is not None else None
        start, past = 0, {}
        if ckpt is not None and ckpt.exists():
            start, past = self._resume(ckpt, verbose)
            if verbose:
                print(f"Resumed from {config.display_path(ckpt)} after epoch {start}.")
        # drop the last incomplete batch, like the PyTorch trainer
        steps = max(1, n // batch_size)
        used = min(n, steps * batch_size)

        # every epoch's batches, in an order drawn from (seed, epoch) alone
        def batches():
            for epoch in range(start, epochs):
                order = epoch_order(n, seed, epoch)[:used]
                for i in range(steps):
                    idx = order[i * batch_size : (i + 1) * batch_size]
                    yield tuple(a[idx] for a in arrays)

        guard = _DivergenceGuard(epochs, steps, start, ckpt, past)
        extra = [guard] + ([_EpochCheckpoint(ckpt, past)] if ckpt is not None else [])
        if start >= epochs:  # nothing left to train
            history = keras.callbacks.History()
            history.set_model(self)
        else:
            history = super().fit(
                batches(),
                epochs=epochs,
                initial_epoch=start,
                steps_per_epoch=steps,
                callbacks=extra + callbacks,
                verbose=verbose,
                shuffle=False,
            )  # batches() shuffles
        new = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        keys = list(past) + [k for k in new if k not in past]
        history.history = {k: list(past.get(k, [])) + new.get(k, []) for k in keys}
        history.epoch = list(range(len(next(iter(history.history.values()), []))))
        return history

    def _set_mixed_precision(self, dtype: str) -> None:
        """The dtype policy ``mixed_<dtype>`` on every layer (weights stay float32)."""
        policy = keras.dtype_policies.get(f"mixed_{dtype}")
        for layer in self._flatten_layers(include_self=True, recursive=True):
            layer.dtype_policy = policy

    def _wrap_loss_scale(self) -> None:
        """float16: every optimizer inside a ``LossScaleOptimizer`` (once)."""
        for name, opt in self._optimizers().items():
            if not isinstance(opt, keras.optimizers.LossScaleOptimizer):
                setattr(self, name, keras.optimizers.LossScaleOptimizer(opt))

    def _restore_torch_rng(self) -> None:
        """Put back torch's generators as the checkpoint left them (torch backend only).

        Called at the first step of a resumed run, after Keras has created its data
        iterator (a torch DataLoader draws a seed from the global generator then, as
        the uninterrupted run did before its first epoch)."""
        pending = self.__dict__.get("_pending_rng")
        # plain attribute, not tracked by Keras
        object.__setattr__(self, "_pending_rng", None)
        if not pending or keras.backend.backend() != "torch":
            return
        import torch

        torch.set_rng_state(torch.tensor(pending["torch_rng"], dtype=torch.uint8))
        cuda = pending.get("cuda_rng")
        if (
            cuda
            and torch.cuda.is_available()
            and len(cuda) == torch.cuda.device_count()
        ):
            torch.cuda.set_rng_state_all(
                [torch.tensor(c, dtype=torch.uint8) for c in cuda]
            )

    def _write_checkpoint(self, path: Path, epoch: int, history: dict) -> None:
        seeds = [keras.ops.convert_to_numpy(v).tolist() for v in self._seed_variables()]
        extra = {"epoch": epoch, "history": history, "seed_states": seeds}
        if keras.backend.backend() == "torch":
            # on the torch backend, a Dropout layer without a seed draws from torch's own
            # generators, which no Keras variable holds
            import torch

            extra["torch_rng"] = torch.get_rng_state().tolist()
            if torch.cuda.is_available():
                extra["cuda_rng"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
        checkpoint.write(
            path,
            lambda tmp: keras.Model.save_weights(self, str(tmp)),
            model=type(self).__name__,
            framework="keras",
            config=self._record_config(),
            kind="training",
            extra=extra,
        )

    def _resume(self, path: Path, verbose=0):
        entry = checkpoint.verify(
            path,
            model=type(self).__name__,
            framework="keras",
            config=self._record_config(),
            require_record=True,
        )
        extra = entry.get("extra") or {}
        if entry.get("kind") != "training" or "epoch" not in extra:
            raise checkpoint.CheckpointError(
                f"{path} is not a training checkpoint written by fit(checkpoint_dir=...)"
            )
        # this call's learning rates win over the checkpoint's (a new lr after a divergence)
        rates = {
            k: float(keras.ops.convert_to_numpy(o.learning_rate))
            for k, o in self._optimizers().items()
            if not isinstance(
                getattr(o, "_learning_rate", None),
                keras.optimizers.schedules.LearningRateSchedule,
            )
        }
        try:
            keras.Model.load_weights(self, str(path))
        except Exception as err:
            raise checkpoint.read_error(path, err) from None
        seeds = extra.get("seed_states", [])
        variables = self._seed_variables()
        if len(seeds) != len(variables):
            raise checkpoint.CheckpointError(
                f"{path}: {len(seeds)} random-generator states, this model has {len(variables)}"
            )
        for v, value in zip(variables, seeds):
            v.assign(np.asarray(value, dtype=keras.backend.standardize_dtype(v.dtype)))
        object.__setattr__(
            self,
            "_pending_rng",
            {k: extra[k] for k in ("torch_rng", "cuda_rng") if k in extra},
        )
        changed = []
        for k, o in self._optimizers().items():
            if k in rates:
                old = float(keras.ops.convert_to_numpy(o.learning_rate))
                if old != rates[k]:
                    changed.append(
                        f"{k} learning rate: {old:g} in the file, {rates[k]:g} now"
                    )
                    o.learning_rate = rates[k]
        changed = (
            resume_changes(entry.get("config", {}), self._record_config()) or changed
        )
        if changed and verbose:
            print(
                f"Resuming {config.display_path(path)} with new training settings (used from now on): "
                + "; ".join(changed)
            )
        history = {
            k: [float(v) for v in vals]
            for k, vals in (extra.get("history") or {}).items()
        }
        return int(extra["epoch"]), history

    # ----- saving and loading, with an integrity record -------------------------
    def save(self, filepath, overwrite=True, **kwargs):
        """Keras's ``save`` (``.keras``), written atomically with an integrity record.

        Non-finite weights are refused (a ValueError): a good file is never
        replaced by a diverged model. ``keras.models.load_model`` reads the file
        as usual; :meth:`load` also verifies it.
        """
        if not isinstance(filepath, (str, Path)):
            return super().save(filepath, overwrite=overwrite, **kwargs)
        self._check_before_saving(filepath, overwrite)
        checkpoint.write(
            filepath,
            lambda tmp: keras.Model.save(self, str(tmp), overwrite=True, **kwargs),
            model=type(self).__name__,
            framework="keras",
            config=self._record_config(),
        )

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Keras's ``save_weights`` (``.weights.h5``), atomic and with an integrity record."""
        if max_shard_size is not None or not isinstance(filepath, (str, Path)):
            return super().save_weights(
                filepath, overwrite=overwrite, max_shard_size=max_shard_size
            )
        self._check_before_saving(filepath, overwrite)
        checkpoint.write(
            filepath,
            lambda tmp: keras.Model.save_weights(self, str(tmp)),
            model=type(self).__name__,
            framework="keras",
            config=self._record_config(),
        )

    def _check_before_saving(self, filepath, overwrite):
        if not overwrite and Path(filepath).exists():
            raise FileExistsError(
                f"{filepath} exists; pass overwrite=True to replace it"
            )
        bad = self._non_finite_weight()
        if bad is not None:
            raise ValueError(
                f"not saved: the weights are not finite ({bad[0]} holds {bad[1]}); "
                f"{filepath} is left as it was"
            )

    def load(self, path):
        """Load weights saved with ``save(path)`` (``.keras``) or ``save_weights`` (``.weights.h5``).

        The file is checked against its record first: a changed byte, or a model
        built with other hyperparameters (``n_head``, ``latent_dim``, ...), is a
        :class:`~aigc_course.checkpoint.CheckpointError` naming the file.
        """
        checkpoint.verify(
            path,
            model=type(self).__name__,
            framework="keras",
            config=self._record_config(),
        )
        try:
            self.load_weights(str(path))
        except Exception as err:
            raise checkpoint.read_error(path, err) from None
        return self


class SingleOptimizer:
    """Mixin of the models trained by one optimizer (VAE, CharRNN, GPT, PixelCNN, DDPM):
    ``compile(optimizer=None)`` defaults to ``Adam(self.lr)`` and builds the optimizer's
    state for every trainable weight at once (so that ``fit`` can resume it from a
    checkpoint before the first step). Listed first: ``class VAE(SingleOptimizer,
    GenerativeModel)``. The GANs, with two optimizers, write their own ``compile``."""

    def compile(self, optimizer=None, **kwargs):
        super().compile(optimizer=optimizer or keras.optimizers.Adam(self.lr), **kwargs)
        self.optimizer.build(self.trainable_variables)


def _gpu_capability():
    """The CUDA compute capability (major, minor) of the backend's first GPU, or None."""
    backend = keras.backend.backend()
    try:
        if backend == "torch":
            import torch

            return (
                tuple(torch.cuda.get_device_capability())
                if torch.cuda.is_available()
                else None
            )
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                cc = tf.config.experimental.get_device_details(gpus[0]).get(
                    "compute_capability"
                )
                return tuple(cc) if cc else None
    except (RuntimeError, ValueError, AttributeError):
        return None
    return None


_NOT_FIT_ARGS = {
    "validation_split": "validation_split / validation_data: not supported: the training losses "
    "of a generative model are not a validation score (a GAN's loss says "
    "little about its samples). Evaluate held-out data after fit instead: "
    "model.elbo(x_val) for a VAE, model.nll(x_val) for a PixelCNN, "
    "model.denoising_loss(x_val) for a DDPM, aigc_course.metrics for samples",
    "shuffle": "shuffle: not an argument here: fit always shuffles, in an order set by seed",
    "steps_per_epoch": "steps_per_epoch: not an argument here: an epoch is len(x) // batch_size "
    "steps (the last incomplete batch is dropped)",
    "initial_epoch": "initial_epoch: not an argument here: with checkpoint_dir, fit resumes after "
    "the last saved epoch by itself",
}


def _check_fit_kwargs(kwargs: dict) -> None:
    for key in kwargs:
        if key.startswith("validation_"):
            raise ValueError(_NOT_FIT_ARGS["validation_split"])
        if key in _NOT_FIT_ARGS:
            raise ValueError(_NOT_FIT_ARGS[key])
    if kwargs:
        raise ValueError(
            f"fit: unexpected argument(s) {', '.join(sorted(kwargs))}; expected x, y, "
            "epochs, batch_size, callbacks, checkpoint_dir, verbose, seed, "
            "mixed_precision"
        )


class _DivergenceGuard(keras.callbacks.Callback):
    """Stops ``fit`` at the first non-finite loss (or weights at the end of an epoch),
    after putting the model back at its last good weights (kept in memory)."""

    def __init__(self, epochs, steps, start, ckpt, past):
        super().__init__()
        self.epochs, self.steps, self.ckpt = epochs, steps, ckpt
        self.good, self.good_epoch, self.epoch = None, None, start
        # finished epochs, for the error
        self.history = {k: list(v) for k, v in past.items()}

    def on_train_begin(self, logs=None):
        if self.model._non_finite_weight() is None:
            self.good, self.good_epoch = self.model._snapshot(), self.epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        bad = non_finite(logs or {})
        if bad:
            self._stop(batch, bad)

    def on_epoch_end(self, epoch, logs=None):
        bad = self.model._non_finite_weight()
        if bad is not None:
            self._stop(None, {f"weight {bad[0]}": bad[1]})
        self.good, self.good_epoch = self.model._snapshot(), epoch + 1
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(float(v))

    def _stop(self, step, bad):
        model = self.model
        if self.good is not None:
            model._put_back(self.good)
        opts = model._optimizers()
        lr = None
        if opts:
            try:
                lr = float(
                    keras.ops.convert_to_numpy(next(iter(opts.values())).learning_rate)
                )
            except (TypeError, ValueError):
                lr = None
        model.stop_training = True
        raise TrainingDivergedError(
            divergence_message(
                epoch=self.epoch,
                epochs=self.epochs,
                step=step,
                steps=self.steps,
                bad=bad,
                lr=lr,
                restored_epoch=self.good_epoch if self.good is not None else None,
                checkpoint=self.ckpt,
                framework="keras",
            ),
            epoch=self.epoch + 1,
            step=None if step is None else step + 1,
            history=self.history,
        )


class _EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch, the verified checkpoint of :meth:`GenerativeModel._write_checkpoint`
    (runs after the guard, so non-finite weights never reach it)."""

    def __init__(self, path, past):
        super().__init__()
        self.path = path
        self.history = {k: list(v) for k, v in past.items()}

    def on_train_batch_begin(self, batch, logs=None):
        self.model._restore_torch_rng()  # once, at the first step after resuming

    def on_epoch_end(self, epoch, logs=None):
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(float(v))
        self.model._write_checkpoint(self.path, epoch + 1, self.history)


class SampleGrid(keras.callbacks.Callback):
    """Show a grid of ``n`` samples every ``every`` epochs (fixed noise: ``seed``)."""

    def __init__(self, every: int = 5, n: int = 64, seed: int = 0):
        super().__init__()
        self.every, self.n, self.seed = every, n, seed

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            from ..plotting import show_sample_grid

            show_sample_grid(self.model.sample(self.n, seed=self.seed), epoch + 1)
