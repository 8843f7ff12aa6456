"""Data-parallel training in Keras 3 with TensorFlow's ``MirroredStrategy``, small enough for a CPU.

Run it in a fresh process (the devices must be set up before TensorFlow starts)::

    KERAS_BACKEND=tensorflow python -m aigc_course.keras.data_parallel --replicas 2 --compare

The TensorFlow counterpart of :mod:`aigc_course.torch.data_parallel`, on the same data
with the same model. One process drives several *replicas*: ``MirroredStrategy``

1. creates every variable built inside ``strategy.scope()`` once per device
   (a ``MirroredVariable``), with the same initial value,
2. splits each *global* batch between the replicas (``batch_size`` rows each),
3. sums the replicas' gradients (an *all-reduce*; Keras divides each replica's
   loss by the number of replicas, so the sum is the gradient of the global mean)
   and applies the same update to every copy.

The copies therefore stay identical (checked at the end), and with ``--compare``
the result is compared with one device trained on the same global batches. The
devices are the GPUs when there are at least ``--replicas`` of them; otherwise
the CPU is split into ``--replicas`` *logical* devices (they share the same
cores, so this shows the mechanics, not a speed-up).

``MirroredStrategy`` exists only on the TensorFlow backend. Keras 3's
backend-neutral ``keras.distribution`` API (``DataParallel``, ``ModelParallel``)
is implemented for the JAX backend; on the torch backend, use PyTorch's
DistributedDataParallel (:mod:`aigc_course.torch.data_parallel`). On any backend but
TensorFlow this script prints a note and exits.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # before Keras is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from ..data import ring_of_gaussians

__all__ = [
    "make_data",
    "make_model",
    "check_config",
    "configure_devices",
    "train",
    "replica_values",
    "replica_difference",
    "replica_losses",
    "main",
    "MODES",
    "BACKEND_NOTE",
]

# classes of the toy dataset: which of 8 Gaussians on a ring a point came from
MODES = 8
BACKEND_NOTE = (
    "tf.distribute.MirroredStrategy needs the TensorFlow backend (KERAS_BACKEND=tensorflow). "
    "On the JAX backend Keras 3 offers keras.distribution.DataParallel; on the torch backend "
    "use PyTorch's DistributedDataParallel (python -m aigc_course.torch.data_parallel under torchrun)."
)


def make_data(n: int = 4096, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(points float32 (n, 2), labels int64 (n,))``: noisy points from 8 Gaussians on a ring."""
    return ring_of_gaussians(n, modes=MODES, radius=2.0, std=0.5, seed=seed)


def make_model(seed: int = 0) -> keras.Sequential:
    """A small classifier 2 -> 64 -> 64 -> 8 (logits), the same weights for the same seed.

    Build it inside ``strategy.scope()`` to get one copy per replica.
    """
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(64, activation="tanh"),
            keras.layers.Dense(64, activation="tanh"),
            keras.layers.Dense(MODES),
        ]
    )


def check_config(
    n: int, batch_size: int, epochs: int, lr: float, replicas: int
) -> None:
    """Raise ``ValueError`` for settings that cannot run."""
    for name, value in (
        ("n", n),
        ("batch_size", batch_size),
        ("epochs", epochs),
        ("replicas", replicas),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")
    if not lr > 0:
        raise ValueError(f"lr: expected a positive number, got {lr!r}")
    if n < replicas * batch_size:
        raise ValueError(
            f"n={n} is too small for one global batch of {replicas} x {batch_size} "
            f"examples (n >= {replicas * batch_size})"
        )


def configure_devices(replicas: int = 2) -> list[str]:
    """Names of ``replicas`` devices for ``MirroredStrategy``: GPUs if enough, else logical CPUs.

    Splitting the CPU must happen before TensorFlow runs its first operation; if it
    is too late, a ``RuntimeError`` says so (start a fresh process).
    """
    import tensorflow as tf

    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ValueError(f"replicas: expected a positive int, got {replicas!r}")
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) >= replicas:
        return [f"/gpu:{i}" for i in range(replicas)]
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)]
        )
    except RuntimeError as err:  # TensorFlow already started
        have = len(tf.config.list_logical_devices("CPU"))
        if have < replicas:
            raise RuntimeError(
                f"TensorFlow is already running with {have} CPU device(s), and the CPU can only "
                f"be split into {replicas} logical devices before its first operation: run this "
                "in a fresh process (python -m aigc_course.keras.data_parallel)"
            ) from err
    return [f"/cpu:{i}" for i in range(replicas)]


def replica_values(variable) -> list[np.ndarray]:
    """The value of ``variable`` on each replica (one entry for an ordinary variable)."""
    value = getattr(variable, "value", variable)
    # a MirroredVariable has .values
    copies = getattr(value, "values", None) or (value,)
    return [keras.ops.convert_to_numpy(c) for c in copies]


def replica_difference(model) -> float:
    """Largest |copy on replica r - copy on replica 0| over all weights (0.0 = identical)."""
    diff = 0.0
    for v in model.weights:
        copies = replica_values(v)
        diff = max([diff] + [float(np.abs(c - copies[0]).max()) for c in copies])
    return diff


def replica_losses(strategy, model, x, y) -> list[tuple[int, float]]:
    """Split one global batch ``(x, y)`` the way training does; each replica's (size, mean loss)."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(len(x))
    xb, yb = next(iter(strategy.experimental_distribute_dataset(dataset)))

    def loss_on_this_replica(xr, yr):  # runs once per replica, on that replica's rows
        losses = keras.losses.sparse_categorical_crossentropy(
            yr, model(xr), from_logits=True
        )
        return keras.ops.mean(losses)

    losses = strategy.experimental_local_results(
        strategy.run(loss_on_this_replica, args=(xb, yb))
    )
    sizes = [int(t.shape[0]) for t in strategy.experimental_local_results(xb)]
    return [(s, float(v)) for s, v in zip(sizes, losses)]


def train(
    strategy,
    n: int = 4096,
    batch_size: int = 64,
    epochs: int = 2,
    lr: float = 0.1,
    seed: int = 0,
    verbose: bool = True,
) -> dict:
    """Train under ``strategy`` with global batch ``replicas * batch_size``.

    The rows are shuffled by NumPy (one permutation per epoch, the same for every
    strategy), so that two strategies see exactly the same global batches.
    """
    replicas = strategy.num_replicas_in_sync
    check_config(n, batch_size, epochs, lr, replicas)
    x, y = make_data(n, seed)
    global_batch = replicas * batch_size
    rng = np.random.default_rng(seed)
    # --- mirrored (shown in the book) -----------------------------------------
    with strategy.scope():  # variables created here are mirrored
        model = make_model(seed)
        model.compile(
            optimizer=keras.optimizers.SGD(lr, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    history = []
    for epoch in range(epochs):
        order = rng.permutation(n)[: (n // global_batch) * global_batch]
        h = model.fit(
            x[order],
            y[order],
            batch_size=global_batch,
            epochs=1,
            shuffle=False,
            verbose=0,
        )  # each global batch is split between replicas
        # --- end mirrored -----------------------------------------------------
        history.append(h.history["loss"][0])
        if verbose:
            print(
                f"epoch {epoch + 1}/{epochs}: mean loss {history[-1]:.4f}", flush=True
            )
    accuracy = float(np.mean(np.argmax(keras.ops.convert_to_numpy(model(x)), 1) == y))
    return {
        "model": model,
        "loss": np.array(history),
        "accuracy": accuracy,
        "x": x,
        "y": y,
        "global_batch": global_batch,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--examples", type=int, default=4096, help="dataset size")
    parser.add_argument(
        "--batch-size", type=int, default=64, help="batch size PER REPLICA"
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also train on one device with the same global batches and compare",
    )
    parser.add_argument(
        "--save", default=None, help="save the weights to this .npz file"
    )
    args = parser.parse_args(argv)

    if keras.backend.backend() != "tensorflow":
        print(f"Skipped on the {keras.backend.backend()} backend. {BACKEND_NOTE}")
        return 0
    import tensorflow as tf

    check_config(args.examples, args.batch_size, args.epochs, args.lr, args.replicas)
    devices = configure_devices(args.replicas)
    strategy = tf.distribute.MirroredStrategy(devices)
    kind = (
        "GPUs" if devices[0].startswith("/gpu") else "logical devices sharing one CPU"
    )
    print(
        f"MirroredStrategy: {strategy.num_replicas_in_sync} replicas on {', '.join(devices)} "
        f"({kind}); global batch {args.replicas * args.batch_size} = {args.replicas} x "
        f"{args.batch_size}",
        flush=True,
    )
    t0 = time.perf_counter()
    out = train(
        strategy, args.examples, args.batch_size, args.epochs, args.lr, args.seed
    )
    seconds = time.perf_counter() - t0
    model = out["model"]
    first = slice(0, out["global_batch"])
    split = replica_losses(strategy, model, out["x"][first], out["y"][first])
    print(
        "one global batch, split between the replicas: "
        + "; ".join(
            f"replica {r} gets {size} examples, loss {loss:.4f}"
            for r, (size, loss) in enumerate(split)
        )
    )
    print(
        f"{args.epochs} epochs in {seconds:.1f} s; training accuracy {out['accuracy']:.3f}"
    )
    diff = replica_difference(model)
    print(
        f"max |copy on replica r - copy on replica 0| over all weights: {diff:.3g}",
        flush=True,
    )
    if diff > 1e-6:
        raise RuntimeError(f"the replicas' weights differ by {diff:.3g}")
    saved = {
        f"replicas_{i}": np.stack(replica_values(v))
        for i, v in enumerate(model.weights)
    }
    saved["loss"] = out["loss"]
    if args.compare:
        single = train(
            tf.distribute.OneDeviceStrategy(devices[0]),
            args.examples,
            args.replicas * args.batch_size,
            args.epochs,
            args.lr,
            args.seed,
            verbose=False,
        )
        gap = max(
            float(np.abs(replica_values(a)[0] - replica_values(b)[0]).max())
            for a, b in zip(model.weights, single["model"].weights)
        )
        print(
            f"one device, same global batches: final loss {single['loss'][-1]:.4f}; "
            f"max |weights (mirrored) - weights (one device)|: {gap:.2g}"
        )
        saved.update(
            {
                f"single_{i}": replica_values(v)[0]
                for i, v in enumerate(single["model"].weights)
            }
        )
    if args.save:
        np.savez(args.save, **saved)
    return 0


if __name__ == "__main__":
    sys.exit(main())
