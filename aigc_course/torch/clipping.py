"""Gradient clipping for GANs (PyTorch): gradient norms, clipping, and per-step schedules.

Mirrors :mod:`aigc_course.keras.clipping` name for name. The models of the zoo are
not changed: these helpers attach to an optimizer after the model is built, e.g.

    model = MODELS["dcgan"]()
    model.optimizers = model.configure_optimizers()          # or your own dict
    clip_d = GradientClipper(model.optimizers["d"], max_norm=1.0, norm_type=2.0)
    model.fit(images, epochs=3, callbacks=[clip_d])
    clip_d.before, clip_d.after                              # one norm per step

What PyTorch has built in, and what the Keras twin maps it to:

* ``torch.nn.utils.clip_grad_norm_(params, c, norm_type=2)``: rescale *all*
  gradients together so that their global L2 norm is at most ``c`` (Keras:
  ``Adam(global_clipnorm=c)``);
* ``clip_grad_norm_(params, c, norm_type=inf)``: the same with the infinity
  norm ``max |g|`` (no Keras option; :func:`clip_gradients` here);
* ``torch.nn.utils.clip_grad_value_(params, c)``: clamp every entry to
  ``[-c, c]``, which changes the gradient's direction (Keras: ``clipvalue=c``);
* per-tensor L2 clipping, Keras's ``clipnorm=c``, has no one-call twin:
  ``clip_grad_norm_`` on each parameter separately.
"""

from __future__ import annotations

import torch

from .._checks import check_max_norm, check_norm_type
from .core import Callback

__all__ = ["grad_norm", "clip_gradients", "GradientClipper", "step_per_batch"]


def _with_grads(parameters) -> list[torch.Tensor]:
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


# --- gradient clipping (shown in the book) -------------------------------------
def grad_norm(parameters, norm_type: float = 2.0) -> torch.Tensor:
    """The norm of all the gradients of ``parameters`` together, as if they were one vector.

    ``norm_type=2``: ``sqrt(sum of g^2)`` over every entry; ``norm_type=math.inf``:
    ``max |g|``. Parameters without a gradient are skipped (0 if none has one).
    """
    p = check_norm_type(norm_type)
    grads = [q.grad.detach() for q in _with_grads(parameters)]
    if not grads:
        return torch.tensor(0.0)
    per_tensor = torch.stack([torch.linalg.vector_norm(g, p) for g in grads])
    # the p-norm of the p-norms: one long vector
    return torch.linalg.vector_norm(per_tensor, p)


def clip_gradients(parameters, max_norm: float, norm_type: float = 2.0) -> torch.Tensor:
    """Rescale the gradients in place so that their joint norm is at most ``max_norm``.

    Every gradient is multiplied by the same factor ``min(1, max_norm / (norm + 1e-6))``,
    so the direction of the update is kept. Returns the norm *before* clipping.
    A thin, checked wrapper of ``torch.nn.utils.clip_grad_norm_``.
    """
    if not (isinstance(max_norm, (int, float)) and max_norm > 0):
        raise ValueError(f"max_norm: expected a positive number, got {max_norm!r}")
    p = check_norm_type(norm_type)
    params = _with_grads(parameters)
    if not params:
        return torch.tensor(0.0)
    return torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=p)


# --- end gradient clipping ---------------------------------------------------


class GradientClipper(Callback):
    """Measure (and optionally clip) the gradients of every step of ``optimizer``.

    Registers a hook that PyTorch calls just before each ``optimizer.step()``, so
    it works with any ``train_step`` without editing it. Per step it appends to

    * ``before``: the gradients' norm (``norm_type``) as computed by backward,
    * ``after``: their norm after clipping (equal to ``before`` if ``max_norm`` is None),
    * ``lr``: the learning rate of the step (of the first parameter group).

    It is a :class:`~aigc_course.torch.core.Callback` that does nothing at epoch
    ends, so it can be passed to ``fit(callbacks=...)`` like its Keras twin
    (which needs that). ``remove()`` detaches the hook.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        max_norm: float | None = None,
        norm_type: float = 2.0,
    ):
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ValueError(
                f"optimizer: expected a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer, self.max_norm, self.norm_type = (
            optimizer,
            check_max_norm(max_norm),
            check_norm_type(norm_type),
        )
        self.before: list[float] = []
        self.after: list[float] = []
        self.lr: list[float] = []
        self._handle = optimizer.register_step_pre_hook(self._hook)

    def _params(self):
        return [p for group in self.optimizer.param_groups for p in group["params"]]

    def _hook(self, optimizer, args, kwargs):
        params = self._params()
        if self.max_norm is None:
            norm = grad_norm(params, self.norm_type)
            after = norm
        else:
            norm = clip_gradients(params, self.max_norm, self.norm_type)
            after = grad_norm(params, self.norm_type)
        self.before.append(float(norm))
        self.after.append(float(after))
        self.lr.append(float(optimizer.param_groups[0]["lr"]))

    def remove(self) -> None:
        """Stop measuring and clipping."""
        self._handle.remove()


def step_per_batch(scheduler) -> torch.utils.hooks.RemovableHandle:
    """Advance a ``torch.optim.lr_scheduler`` after every step of its optimizer.

    The course's ``fit`` does not know about schedulers; this hook makes one
    follow the optimizer's own steps, like a Keras ``LearningRateSchedule``
    (which is evaluated at ``optimizer.iterations``). Returns the hook's handle.
    """
    if not isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler):
        raise ValueError(
            f"scheduler: expected a torch.optim.lr_scheduler, got {type(scheduler).__name__}"
        )
    return scheduler.optimizer.register_step_post_hook(lambda *_: scheduler.step())
