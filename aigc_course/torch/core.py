"""The small shared trainer behind every PyTorch model's ``fit``.

Keras models get ``fit`` from Keras; PyTorch models get it from
:class:`GenerativeModel` below, so both read the same in a notebook::

    model = MODELS["gan"]()
    history = model.fit(images, epochs=20, batch_size=128)

A model only writes ``configure_optimizers`` and ``train_step``; this file
does the rest: device placement, batching, progress bar, history, callbacks,
mixed precision (``amp``: float16 with a gradient scaler on GPUs older than
compute capability 8.0 such as the T4, bfloat16 on newer ones), losses summed on
the device and read back every ``log_every`` steps (not every step),
a guard that stops at the first NaN or infinite loss (and puts back the last
good weights), and verified atomic checkpoints (:mod:`aigc_course.checkpoint`)
that let training resume after a Colab disconnect.
"""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import checkpoint, config
from .._checks import check_int, checked_init
from ..training import (
    DEFAULT_LOG_EVERY,
    TrainingDivergedError,
    amp_dtype,
    checkpoint_folder,
    divergence_message,
    non_finite,
    resume_changes,
)


def get_device(prefer: str | None = None) -> torch.device:
    """``prefer`` if given, else the best available: cuda, then mps, then cpu."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if (
        getattr(torch.backends, "mps", None) is not None
        and torch.backends.mps.is_available()
    ):
        return torch.device("mps")
    return torch.device("cpu")


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (all devices)."""
    config.set_seed(seed)
    torch.manual_seed(seed)


def atomic_save(obj, path) -> None:
    """``torch.save`` to a temporary file, then rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class History:
    """Per-epoch metrics, shaped like Keras's ``History`` (``.history[name]``)."""

    def __init__(self, history: dict | None = None):
        self.history = {k: list(v) for k, v in (history or {}).items()}
        self.epoch = list(range(len(next(iter(self.history.values()), []))))

    def append(self, logs: dict) -> None:
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))
        self.epoch.append(len(self.epoch))


class Callback:
    """Base class; override ``on_epoch_end(model, epoch, logs)`` (epoch counts from 0)."""

    def on_epoch_end(self, model, epoch: int, logs: dict) -> None:  # pragma: no cover
        pass


class GenerativeModel(nn.Module):
    """Base class of every PyTorch model in the zoo.

    Subclasses implement ``configure_optimizers() -> dict[str, Optimizer]``,
    ``prepare(x, y) -> tuple of arrays`` (validation) and
    ``train_step(*batch) -> dict[str, Tensor]``.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # constructor arguments checked, and recorded for get_config()
        checked_init(cls)

    def __init__(self):
        super().__init__()
        self.optimizers: dict[str, torch.optim.Optimizer] | None = None
        self.use_amp = False
        # "float16", "bfloat16" or None, set by fit(amp=...)
        self.amp_dtype: str | None = None
        self.scaler: torch.amp.GradScaler | None = None  # float16 only

    def get_config(self) -> dict:
        """The constructor arguments of this model (as Keras's ``get_config``): what a
        checkpoint records, and what ``type(model)(**model.get_config())`` rebuilds."""
        return dict(self.__dict__.get("_aigc_config", {}))

    # ----- bookkeeping -------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def count_params(self) -> int:
        """Number of trainable parameters (Keras's count matches it)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def autocast(self):
        """The forward pass under mixed precision when ``fit(amp=...)`` chose it (see
        :func:`aigc_course.training.amp_dtype`); else a no-op."""
        if self.amp_dtype is not None and self.device.type in ("cuda", "cpu"):
            return torch.autocast(
                self.device.type, dtype=getattr(torch, self.amp_dtype)
            )
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def evaluating(self):
        """``with model.evaluating(): ...`` runs the body in eval mode (batch norm with its
        running statistics, no dropout) and then puts back the mode the model was in,
        training or not, even when the body raises."""
        was_training = self.training
        self.eval()
        try:
            yield self
        finally:
            self.train(was_training)

    def backward(self, loss) -> None:
        """``loss.backward()``; under float16 mixed precision the loss is scaled first
        (``GradScaler.scale``), so that small gradients do not underflow to zero."""
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def optimizer_step(self, optimizer) -> None:
        """``optimizer.step()``; under float16 mixed precision through the GradScaler:
        the gradients are unscaled first (so a clipping hook, e.g.
        :class:`~aigc_course.torch.clipping.GradientClipper`, sees the true gradients),
        the step is skipped if they hold an inf or NaN (the scale is then halved; this
        is normal and is not a divergence), and the scale is updated."""
        if self.scaler is None:
            optimizer.step()
        else:
            self.scaler.step(optimizer)
            self.scaler.update()

    def save(self, path) -> None:
        """Save the weights (a state dict) atomically to ``path`` (``.pt``).

        Next to it, ``<path>.json`` records the SHA-256 of the file and the model's
        configuration (:mod:`aigc_course.checkpoint`); :meth:`load` checks both.
        Non-finite weights are refused (a ValueError), so a good file is never
        replaced by a diverged model.
        """
        bad = self._non_finite_weight()
        if bad is not None:
            raise ValueError(
                f"not saved: the weights are not finite ({bad[0]} holds {bad[1]}); {path} is left as it was"
            )
        checkpoint.write(
            path,
            lambda tmp: torch.save(self.state_dict(), tmp),
            model=type(self).__name__,
            framework="torch",
            config=self.get_config(),
        )

    def load(self, path):
        """Load weights saved by :meth:`save` (or the model of a ``fit`` checkpoint).

        The file is checked against its record first: a changed byte, or a model
        built with other hyperparameters (``n_head``, ``latent_dim``, ...), is a
        :class:`~aigc_course.checkpoint.CheckpointError` naming the file. No pickled
        code is run (``weights_only=True``).
        """
        checkpoint.verify(
            path, model=type(self).__name__, framework="torch", config=self.get_config()
        )
        state = self._read(path)
        if isinstance(state, dict) and {"epoch", "model", "optimizers"} <= set(state):
            state = state["model"]  # a training checkpoint of fit(checkpoint_dir=...)
        try:
            self.load_state_dict(state)
        except (RuntimeError, KeyError, TypeError, AttributeError) as err:
            raise checkpoint.CheckpointError(
                f"{path} does not fit this {type(self).__name__}: {err}"
            ) from None
        return self

    def _read(self, path):
        try:
            return torch.load(path, map_location=self.device, weights_only=True)
        except Exception as err:
            # EOFError(''), zip reader errors, unpickling errors ...
            raise checkpoint.read_error(path, err) from None

    def _non_finite_weight(self):
        """(name, first bad value) of the first parameter or buffer with a NaN or inf, or None."""
        for name, t in self.state_dict().items():
            if torch.is_tensor(t) and t.is_floating_point():
                bad = ~torch.isfinite(t)
                if bool(bad.any()):
                    return name, float(t[bad].flatten()[0])
        return None

    def _snapshot(self):
        """A copy of the weights and optimizer states, to go back to after a divergence."""
        return {
            "model": {k: v.detach().clone() for k, v in self.state_dict().items()},
            "optimizers": {
                k: copy.deepcopy(o.state_dict()) for k, o in self.optimizers.items()
            },
            "scaler": None
            if self.scaler is None
            else copy.deepcopy(self.scaler.state_dict()),
        }

    def _put_back(self, snapshot) -> None:
        self.load_state_dict(snapshot["model"])
        for k, o in self.optimizers.items():
            o.load_state_dict(snapshot["optimizers"][k])
        if self.scaler is not None and snapshot.get("scaler"):
            self.scaler.load_state_dict(snapshot["scaler"])

    def _set_precision(self, amp, dev: torch.device) -> None:
        """Choose the mixed precision of ``fit(amp=...)`` for ``dev`` (and its GradScaler)."""
        capability = (
            torch.cuda.get_device_capability(dev) if dev.type == "cuda" else None
        )
        dtype = amp_dtype(capability, amp)
        if dtype is not None and dev.type not in ("cuda", "cpu"):
            dtype = None  # no autocast on Apple MPS: float32, as before
        self.amp_dtype, self.use_amp = dtype, dtype is not None
        if dtype == "float16":
            if self.scaler is None or not self.scaler.is_enabled():
                self.scaler = torch.amp.GradScaler(dev.type)
        else:
            self.scaler = None

    # ----- to be written by each model ---------------------------------
    def configure_optimizers(self) -> dict:
        raise NotImplementedError

    def prepare(self, x, y=None) -> tuple:
        raise NotImplementedError

    def train_step(self, *batch) -> dict:
        raise NotImplementedError

    # ----- the training loop ---------------------------------------------
    def fit(
        self,
        x,
        y=None,
        epochs: int = 1,
        batch_size: int = 64,
        callbacks=(),
        checkpoint_dir=None,
        verbose=1,
        amp: bool | str = False,
        device=None,
        seed: int = 0,
        log_every: int = DEFAULT_LOG_EVERY,
    ) -> History:
        """Train for ``epochs`` epochs (in total, counting resumed ones).

        The whole dataset is moved to the device once and sliced into batches
        there (no DataLoader: MNIST fits in memory many times over).
        With ``checkpoint_dir``, the model, optimizers, history and RNG state
        are written atomically after every epoch, and a later call resumes
        from the last completed epoch (with this call's learning rate, if it
        changed). ``verbose`` as in Keras: 0 silent, 1 a progress bar per
        epoch, 2 one line per epoch.

        ``amp``: mixed precision on a CUDA GPU. ``True`` or ``"auto"``: float16 with a
        gradient scaler below compute capability 8.0 (a T4), bfloat16 from 8.0 on (an
        A100, an L4); ``"float16"`` or ``"bfloat16"`` to force one; ``False`` (the
        default) trains in float32. On a CPU ``True`` changes nothing (see
        :func:`aigc_course.training.amp_dtype`).

        The losses are summed on the device; they are read back (one wait for the
        GPU) every ``log_every`` steps for the progress bar and at the end of every
        epoch, not at every step.

        A NaN or infinite loss (or weight, checked after every epoch) stops
        training with :class:`~aigc_course.training.TrainingDivergedError`, naming
        the epoch and step; the model is put back at its last good weights and
        the checkpoint keeps the last good epoch.
        """
        import time
        import warnings

        # no "IProgress not found" where ipywidgets is missing
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from tqdm.auto import tqdm

        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs: expected a non-negative int, got {epochs!r}")
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, int)
            or batch_size <= 0
        ):
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        seed = check_int(seed, "seed", minimum=0)
        if verbose not in (0, 1, 2, True, False):
            raise ValueError(f"verbose: expected 0, 1 or 2, got {verbose!r}")
        log_every = check_int(log_every, "log_every", minimum=1)
        amp_dtype((8, 0), amp)  # a bad amp is a ValueError before anything moves
        callbacks = list(callbacks)
        for cb in callbacks:
            if not callable(getattr(cb, "on_epoch_end", None)):
                raise ValueError(
                    f"callbacks: expected objects with an on_epoch_end(model, epoch, "
                    f"logs) method (aigc_course.torch.Callback), got {cb!r}"
                )
        folder = checkpoint_folder(checkpoint_dir)
        dev = get_device(device)
        self.to(dev)
        self._set_precision(amp, dev)
        if self.optimizers is None:
            self.optimizers = self.configure_optimizers()
        arrays = self.prepare(x) if y is None else self.prepare(x, y)
        data = [torch.as_tensor(a).to(dev) for a in arrays]
        n = len(data[0])

        history, start = History(), 0
        ckpt = folder / "last.pt" if folder is not None else None
        if ckpt is not None and ckpt.exists():
            start, history = self._restore(ckpt, verbose)
            if verbose:
                print(f"Resumed from {config.display_path(ckpt)} after epoch {start}.")

        steps = max(1, n // batch_size)  # drop the last incomplete batch
        good, good_epoch = (
            (self._snapshot(), start)
            if self._non_finite_weight() is None
            else (None, None)
        )

        def diverged(epoch, step, bad):
            if good is not None:
                self._put_back(good)
            lr = (
                self.optimizers[next(iter(self.optimizers))].param_groups[0].get("lr")
                if self.optimizers
                else None
            )
            raise TrainingDivergedError(
                divergence_message(
                    epoch=epoch,
                    epochs=epochs,
                    step=step,
                    steps=steps,
                    bad=bad,
                    lr=lr,
                    restored_epoch=good_epoch,
                    checkpoint=ckpt,
                    framework="torch",
                ),
                epoch=epoch + 1,
                step=None if step is None else step + 1,
                history=history,
            )

        for epoch in range(start, epochs):
            self.train()
            g = torch.Generator().manual_seed(seed + epoch)
            order = torch.randperm(n, generator=g).to(dev)
            sums: dict[str, float] = {}
            # the losses of the steps not yet read back, on the device
            window: list[dict] = []
            t0 = time.perf_counter()
            bar = tqdm(
                range(steps),
                desc=f"epoch {epoch + 1}/{epochs}",
                disable=verbose != 1 and verbose is not True,
                leave=True,
            )
            for i in bar:
                idx = order[i * batch_size : (i + 1) * batch_size]
                window.append(self.train_step(*(d[idx] for d in data)))
                if len(window) < log_every and i + 1 < steps:
                    continue
                first = i + 1 - len(window)
                for j, values in enumerate(_read_back(window)):
                    bad = non_finite(values)
                    # --- the divergence guard (the exact step, found on read-back)
                    if bad:
                        bar.close()
                        diverged(epoch, first + j, bad)
                    for k, v in values.items():
                        sums[k] = sums.get(k, 0.0) + v
                window = []
                bar.set_postfix({k: f"{s / (i + 1):.4f}" for k, s in sums.items()})
            logs = {k: s / steps for k, s in sums.items()}
            bad_weight = self._non_finite_weight()
            if bad_weight is not None:
                diverged(epoch, None, {f"weight {bad_weight[0]}": bad_weight[1]})
            if verbose == 2:
                print(
                    f"epoch {epoch + 1}/{epochs} - {time.perf_counter() - t0:.1f}s - "
                    + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()),
                    flush=True,
                )
            history.append(logs)
            if ckpt is not None:
                self._checkpoint(ckpt, epoch + 1, history)
            good, good_epoch = self._snapshot(), epoch + 1
            for cb in callbacks:
                cb.on_epoch_end(self, epoch, logs)
        self.eval()
        return history

    def _checkpoint(self, path: Path, epoch: int, history: History) -> None:
        state = {
            "epoch": epoch,
            "model": self.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "history": history.history,
            "torch_rng": torch.get_rng_state(),
        }
        # float16: the loss scale, so that resuming stays exact
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        if torch.cuda.is_available():  # torch.randn on a GPU draws from these
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        checkpoint.write(
            path,
            lambda tmp: torch.save(state, tmp),
            model=type(self).__name__,
            framework="torch",
            config=self.get_config(),
            kind="training",
            extra={"epoch": epoch},
        )

    def _restore(self, path: Path, verbose=0):
        entry = checkpoint.verify(
            path, model=type(self).__name__, framework="torch", config=self.get_config()
        )
        state = self._read(path)
        if not isinstance(state, dict) or not {
            "epoch",
            "model",
            "optimizers",
            "history",
            "torch_rng",
        } <= set(state):
            raise checkpoint.CheckpointError(
                f"{path} is not a training checkpoint written by fit(checkpoint_dir=...)"
            )
        # the settings of this call (a new learning rate after a divergence) win over the
        # checkpoint's: remember them, restore the optimizer states, put them back
        settings = {
            k: [
                {
                    key: v
                    for key, v in group.items()
                    if key != "params" and not torch.is_tensor(v)
                }
                for group in o.param_groups
            ]
            for k, o in self.optimizers.items()
        }
        try:
            self.load_state_dict(state["model"])
            for k, o in self.optimizers.items():
                o.load_state_dict(state["optimizers"][k])
        except (RuntimeError, KeyError, ValueError, TypeError) as err:
            raise checkpoint.CheckpointError(
                f"{path} does not fit this {type(self).__name__}: {err}"
            ) from None
        changed = []
        for k, o in self.optimizers.items():
            for group, mine in zip(o.param_groups, settings[k]):
                for key, value in mine.items():
                    if key in group and group[key] != value:
                        changed.append(
                            f"optimizer {k!r} {key}: {group[key]!r} in the file, {value!r} now"
                        )
                        group[key] = value
        changed = (
            resume_changes(entry["config"], self.get_config()) if entry else []
        ) or changed
        if changed and verbose:
            print(
                f"Resuming {config.display_path(path)} with new training settings (used from now on): "
                + "; ".join(changed)
            )
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["torch_rng"])
        cuda = state.get("cuda_rng")
        if (
            cuda is not None
            and torch.cuda.is_available()
            and len(cuda) == torch.cuda.device_count()
        ):
            torch.cuda.set_rng_state_all(cuda)
        return int(state["epoch"]), History(state["history"])


def _read_back(window: list[dict]) -> list[dict]:
    """The losses of several steps (dicts of 0-d tensors on the device), as Python floats:
    one transfer, so one wait for the GPU, for the whole window."""
    keys = [list(values) for values in window]
    flat = [
        v.detach().reshape(()).to(torch.float64)
        if torch.is_tensor(v)
        else torch.tensor(float(v), dtype=torch.float64)
        for values in window
        for v in values.values()
    ]
    if not flat:
        return [{} for _ in window]
    devices = {t.device for t in flat}
    if len(devices) > 1:
        flat = [t.cpu() for t in flat]
    host = torch.stack(flat).tolist()
    out, pos = [], 0
    for names in keys:
        out.append(dict(zip(names, host[pos : pos + len(names)])))
        pos += len(names)
    return out


class SampleGrid(Callback):
    """Show a grid of ``n`` samples every ``every`` epochs (fixed noise: ``seed``)."""

    def __init__(self, every: int = 5, n: int = 64, seed: int = 0):
        self.every, self.n, self.seed = every, n, seed

    def on_epoch_end(self, model, epoch, logs):
        if (epoch + 1) % self.every == 0:
            from ..plotting import show_sample_grid

            show_sample_grid(model.sample(self.n, seed=self.seed), epoch + 1)


def np_to_torch_images(x: np.ndarray) -> np.ndarray:
    """(N, 28, 28) -> (N, 1, 28, 28): PyTorch's channels-first layout."""
    return x[:, None, :, :]
