"""The small shared trainer behind every PyTorch model's ``fit``.

Keras models get ``fit`` from Keras; PyTorch models get it from
:class:`GenerativeModel` below, so both read the same in a notebook::

    model = MODELS["gan"]()
    history = model.fit(images, epochs=20, batch_size=128)

A model only writes ``configure_optimizers`` and ``train_step``; this file
does the rest: device placement, batching, progress bar, history, callbacks
and atomic checkpoints that let training resume after a Colab disconnect.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import config


def get_device(prefer: str | None = None) -> torch.device:
    """``prefer`` if given, else the best available: cuda, then mps, then cpu."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
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

    def __init__(self):
        super().__init__()
        self.optimizers: dict[str, torch.optim.Optimizer] | None = None
        self.use_amp = False

    # ----- bookkeeping -------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def count_params(self) -> int:
        """Number of trainable parameters (Keras's count matches it)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def autocast(self):
        """Mixed precision (bfloat16) on CUDA when ``fit(amp=True)``; else a no-op."""
        if self.use_amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def save(self, path) -> None:
        """Save the weights (a state dict) atomically to ``path`` (``.pt``)."""
        atomic_save(self.state_dict(), path)

    def load(self, path):
        """Load weights saved by :meth:`save` (``weights_only=True``: no pickled code)."""
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.load_state_dict(state)
        return self

    # ----- to be written by each model ---------------------------------
    def configure_optimizers(self) -> dict:
        raise NotImplementedError

    def prepare(self, x, y=None) -> tuple:
        raise NotImplementedError

    def train_step(self, *batch) -> dict:
        raise NotImplementedError

    # ----- the training loop ---------------------------------------------
    def fit(self, x, y=None, epochs: int = 1, batch_size: int = 64, callbacks=(),
            checkpoint_dir=None, verbose=1, amp: bool = False,
            device=None, seed: int = 0) -> History:
        """Train for ``epochs`` epochs (in total, counting resumed ones).

        The whole dataset is moved to the device once and sliced into batches
        there (no DataLoader: MNIST fits in memory many times over).
        With ``checkpoint_dir``, the model, optimizers, history and RNG state
        are written atomically after every epoch, and a later call resumes
        from the last completed epoch. ``verbose`` as in Keras: 0 silent,
        1 a progress bar per epoch, 2 one line per epoch.
        """
        import time
        import warnings

        with warnings.catch_warnings():  # no "IProgress not found" where ipywidgets is missing
            warnings.simplefilter("ignore")
            from tqdm.auto import tqdm

        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs: expected a non-negative int, got {epochs!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        dev = get_device(device)
        self.to(dev)
        self.use_amp = bool(amp)
        if self.optimizers is None:
            self.optimizers = self.configure_optimizers()
        arrays = self.prepare(x) if y is None else self.prepare(x, y)
        data = [torch.as_tensor(a).to(dev) for a in arrays]
        n = len(data[0])

        history, start = History(), 0
        ckpt = Path(checkpoint_dir) / "last.pt" if checkpoint_dir else None
        if ckpt is not None and ckpt.exists():
            start, history = self._restore(ckpt)
            if verbose:
                print(f"Resumed from {ckpt} after epoch {start}.")

        steps = max(1, n // batch_size)  # drop the last incomplete batch
        for epoch in range(start, epochs):
            self.train()
            g = torch.Generator().manual_seed(seed + epoch)
            order = torch.randperm(n, generator=g).to(dev)
            sums: dict[str, float] = {}
            t0 = time.perf_counter()
            bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{epochs}",
                       disable=verbose != 1 and verbose is not True, leave=True)
            for i in bar:
                idx = order[i * batch_size:(i + 1) * batch_size]
                logs = self.train_step(*(d[idx] for d in data))
                for k, v in logs.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                bar.set_postfix({k: f"{s / (i + 1):.4f}" for k, s in sums.items()})
            logs = {k: s / steps for k, s in sums.items()}
            if verbose == 2:
                print(f"epoch {epoch + 1}/{epochs} - {time.perf_counter() - t0:.1f}s - "
                      + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()), flush=True)
            history.append(logs)
            if ckpt is not None:
                self._checkpoint(ckpt, epoch + 1, history)
            for cb in callbacks:
                cb.on_epoch_end(self, epoch, logs)
        self.eval()
        return history

    def _checkpoint(self, path: Path, epoch: int, history: History) -> None:
        atomic_save({
            "epoch": epoch,
            "model": self.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "history": history.history,
            "torch_rng": torch.get_rng_state(),
        }, path)

    def _restore(self, path: Path):
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.load_state_dict(state["model"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        torch.set_rng_state(state["torch_rng"])
        return int(state["epoch"]), History(state["history"])


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
