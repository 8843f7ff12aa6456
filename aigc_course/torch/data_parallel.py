"""Data-parallel training with PyTorch's DistributedDataParallel (DDP), small enough for a CPU.

Run it as several processes on one machine with ``torchrun``::

    torchrun --standalone --nproc_per_node 2 -m aigc_course.torch.data_parallel --epochs 2

``torchrun`` starts the processes (one *rank* each) and tells every one of them
its ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``. Every rank

1. builds the same model from the same seed (and DDP copies rank 0's weights
   to the others anyway),
2. trains on its own shard of an in-memory dataset (``DistributedSampler``
   hands out the indices: rank r gets every world_size-th index of a shared
   random permutation),
3. lets DDP average the gradients over all ranks during ``backward()``
   (an *all-reduce*), so that every rank applies the same update.

The replicas' weights therefore stay identical, which the script checks at the
end, and ``world_size`` processes with batch ``b`` each take the same steps as
one process with batch ``world_size * b``. The communication backend is
"nccl" when every process can have a GPU of its own and "gloo" (CPU) otherwise.
Without ``torchrun`` the script runs as one process (world size 1).

``--no-ddp`` trains each replica on its shard *without* averaging the gradients
(the bug of forgetting the DDP wrapper): the replicas drift apart.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DistributedSampler, TensorDataset

from ..data import ring_of_gaussians

__all__ = [
    "make_data",
    "make_model",
    "check_config",
    "setup",
    "train",
    "replica_difference",
    "main",
    "MODES",
]

# classes of the toy dataset: which of 8 Gaussians on a ring a point came from
MODES = 8


def make_data(n: int = 4096, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(points float32 (n, 2), labels int64 (n,))``: noisy points from 8 Gaussians on a ring.

    Every rank builds the whole (small) dataset in memory from the same seed; the
    sampler decides which rows each rank trains on.
    """
    return ring_of_gaussians(n, modes=MODES, radius=2.0, std=0.5, seed=seed)


def make_model(seed: int = 0) -> nn.Sequential:
    """A small classifier 2 -> 64 -> 64 -> 8; the same weights on every rank for the same seed."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, MODES)
    )


def check_config(
    n: int, batch_size: int, epochs: int, lr: float, world_size: int
) -> None:
    """Raise ``ValueError`` for settings that cannot run."""
    for name, value in (("n", n), ("batch_size", batch_size), ("epochs", epochs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")
    if not lr > 0:
        raise ValueError(f"lr: expected a positive number, got {lr!r}")
    if n < world_size * batch_size:
        raise ValueError(
            f"n={n} is too small: each of the {world_size} processes needs at least "
            f"one batch of {batch_size} examples (n >= {world_size * batch_size})"
        )


def setup(backend: str = "auto") -> tuple[int, int, int, torch.device, str]:
    """Join the process group: ``(rank, local_rank, world_size, device, backend)``.

    Under ``torchrun`` the environment says who we are; otherwise we are the only
    process (an in-memory store, world size 1).
    """
    if backend not in ("auto", "gloo", "nccl"):
        raise ValueError(f"backend: expected 'auto', 'gloo' or 'nccl', got {backend!r}")
    launched = "RANK" in os.environ
    rank = int(os.environ.get("RANK", 0))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    if backend == "auto":  # NCCL needs one GPU per process
        enough_gpus = (
            torch.cuda.is_available() and torch.cuda.device_count() >= local_world
        )
        backend = "nccl" if enough_gpus else "gloo"
    device = (
        torch.device("cuda", local_rank) if backend == "nccl" else torch.device("cpu")
    )
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if launched:
        # reads MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
        dist.init_process_group(backend)
    else:
        dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    return rank, local_rank, world_size, device, backend


def _in_rank_order(rank: int, world_size: int, text: str) -> None:
    """Print ``text`` from every rank, rank 0 first (a barrier between ranks)."""
    for r in range(world_size):
        if r == rank:
            print(text, flush=True)
        dist.barrier()


def replica_difference(model: nn.Module) -> float:
    """Largest |w_rank - w_rank0| over all weights and ranks (all-gathered; 0.0 = identical)."""
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    copies = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(copies, flat)
    return max(float((c - copies[0]).abs().max()) for c in copies)


def train(
    rank: int,
    world_size: int,
    device: torch.device,
    n: int = 4096,
    batch_size: int = 64,
    epochs: int = 2,
    lr: float = 0.1,
    seed: int = 0,
    ddp: bool = True,
    log_every: int = 8,
) -> dict:
    """Train on this rank's shard; returns the model and every rank's loss per step.

    Rank 0 prints the losses of every rank every ``log_every`` steps.

    Must run inside an initialised process group (see :func:`setup`).
    """
    check_config(n, batch_size, epochs, lr, world_size)
    x_np, y_np = make_data(n, seed)
    x, y = torch.from_numpy(x_np).to(device), torch.from_numpy(y_np).to(device)
    # --- ddp (shown in the book) ----------------------------------------------
    model = make_model(seed).to(device)
    # copies rank 0's weights to every rank, then all-reduces the gradients in backward()
    if ddp:
        model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    # Which rows this rank trains on: a permutation shared by all ranks (seed + epoch),
    # of which rank r takes positions r, r + world_size, r + 2 * world_size, ...
    sampler = DistributedSampler(
        TensorDataset(x, y),
        num_replicas=world_size,
        rank=rank,
        shuffle=True,
        seed=seed,
        drop_last=True,
    )
    steps = len(sampler) // batch_size
    local_losses = []  # this rank's loss at every step
    for epoch in range(epochs):
        sampler.set_epoch(epoch)  # a new permutation every epoch
        shard = torch.tensor(list(sampler), device=device)
        for i in range(steps):
            # the data stays on the device
            idx = shard[i * batch_size : (i + 1) * batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])  # mean over this rank's batch
            opt.zero_grad(set_to_none=True)
            loss.backward()  # DDP: gradients averaged over ranks here
            opt.step()  # the same update on every rank
            local_losses.append(loss.detach())
    # --- end ddp ------------------------------------------------------------------
    # every rank's losses, gathered once at the end (a collective per step would slow us down)
    mine = torch.stack(local_losses)
    every = [torch.empty_like(mine) for _ in range(world_size)]
    dist.all_gather(every, mine)
    losses = torch.stack(every, dim=1).cpu().numpy()  # (steps, world_size)
    if rank == 0:
        total = len(losses)
        for step in range(1, total + 1):
            if step % log_every == 0 or step in (1, total):
                per_rank = "  ".join(f"{v:.4f}" for v in losses[step - 1])
                print(
                    f"step {step:4d}  loss per rank: {per_rank}  (mean {losses[step - 1].mean():.4f})",
                    flush=True,
                )
    net = model.module if ddp else model
    with torch.no_grad():
        accuracy = float((net(x).argmax(1) == y).float().mean())
    return {
        "model": net,
        "losses": losses,
        "accuracy": accuracy,
        "steps_per_epoch": steps,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--examples", type=int, default=4096, help="dataset size (all ranks together)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=64, help="batch size PER PROCESS"
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--log-every", type=int, default=8, help="print losses every N steps"
    )
    parser.add_argument("--backend", default="auto", choices=("auto", "gloo", "nccl"))
    parser.add_argument(
        "--no-ddp",
        action="store_true",
        help="the bug: train each replica alone, gradients never averaged",
    )
    parser.add_argument(
        "--save",
        default=None,
        help="save each rank's final weights and the losses to this path; "
        "'{rank}' in it is replaced by the rank",
    )
    args = parser.parse_args(argv)

    rank, local_rank, world_size, device, backend = setup(args.backend)
    try:
        check_config(args.examples, args.batch_size, args.epochs, args.lr, world_size)
        _in_rank_order(
            rank,
            world_size,
            f"[rank {rank}/{world_size}] backend {backend}, device {device}, "
            f"{args.examples // world_size} of {args.examples} examples, batch {args.batch_size} "
            f"(global batch {world_size * args.batch_size})",
        )
        t0 = time.perf_counter()
        out = train(
            rank,
            world_size,
            device,
            n=args.examples,
            batch_size=args.batch_size,
            epochs=args.epochs,
            lr=args.lr,
            seed=args.seed,
            ddp=not args.no_ddp,
            log_every=args.log_every,
        )
        seconds = time.perf_counter() - t0
        diff = replica_difference(out["model"])
        if args.save:
            path = args.save.replace("{rank}", str(rank))
            if rank == 0 or "{rank}" in args.save:
                torch.save(
                    {
                        "state_dict": {
                            k: v.cpu() for k, v in out["model"].state_dict().items()
                        },
                        "losses": torch.from_numpy(out["losses"]),
                        "world_size": world_size,
                        "rank": rank,
                        "accuracy": out["accuracy"],
                    },
                    path,
                )
        if rank == 0:
            print(
                f"{args.epochs} epochs x {out['steps_per_epoch']} steps in {seconds:.1f} s; "
                f"training accuracy {out['accuracy']:.3f}"
            )
            print(
                f"max |weights of rank r - weights of rank 0| over all ranks: {diff:.3g}",
                flush=True,
            )
        if not args.no_ddp and diff > 1e-6:
            raise RuntimeError(
                f"the replicas' weights differ by {diff:.3g} although DDP averaged the gradients"
            )
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
