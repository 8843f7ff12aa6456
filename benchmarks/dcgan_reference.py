"""Our PyTorch trainer vs the reference loop of pytorch/examples' ``dcgan/main.py``.

Both train the *same* networks — the 64x64 DCGAN of Radford et al. (2016) with
ngf = ndf = 64 on one-channel MNIST digits resized to 64x64 — at the same batch
size, in the same Python environment, one after the other on the same machine:

* the reference: ``main.py`` run unmodified from a checkout of pytorch/examples
  (it needs torchvision); its per-iteration log lines are time-stamped as they
  arrive, so no line of it is changed;
* ours: :class:`aigc_course.torch.GAN`'s ``train_step`` and ``fit`` (data kept on
  the device, no DataLoader) with the same two networks swapped in.

    python benchmarks/dcgan_reference.py --examples PATH/TO/pytorch-examples \
        [--python PYTHON_WITH_TORCHVISION] [--batch-size 64] [--iters 40]

Prints both rates and their ratio and writes them to ``benchmarks/results/``.

For timing the two whole processes side by side with an outside harness (start-up,
data loading and the checkpoint written at the end of the epoch included), one epoch
each over the same N images:

    python benchmarks/dcgan_reference.py --prepare DIR --images 1280   # once
    python benchmarks/dcgan_reference.py --ours-epoch DIR              # ours
    python PATH/TO/pytorch-examples/dcgan/main.py --dataset mnist --dataroot DIR \
        --imageSize 64 --batchSize 64 --niter 1 --workers 2 --outf DIR/out --manualSeed 0
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LINE = re.compile(r"^\[(\d+)/(\d+)\]\[(\d+)/(\d+)\] Loss_D")


def write_mnist_raw(folder: Path, n_images: int | None = None) -> int:
    """The four MNIST files, decompressed, where torchvision's MNIST looks for them,
    and the training images as ``train.npy`` for our side (same images for both)."""
    sys.path.insert(0, str(ROOT))
    from aigc_course.data import load_mnist

    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x, y = load_mnist(split)
        if split == "train" and n_images:
            x, y = x[:n_images], y[:n_images]
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            (0x803).to_bytes(4, "big")
            + b"".join(int(s).to_bytes(4, "big") for s in x.shape)
            + x.tobytes()
        )
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            (0x801).to_bytes(4, "big")
            + len(y).to_bytes(4, "big")
            + y.astype("uint8").tobytes()
        )
    x, _ = load_mnist("train")
    x = x[:n_images] if n_images else x
    np.save(folder / "train.npy", x)
    return len(x)


def reference_rate(python, main_py, root, batch_size, iters, workers, warmup=5):
    """Iterations/s of the reference loop, from the arrival times of its log lines."""
    cmd = [
        python,
        "-u",
        str(main_py),
        "--dataset",
        "mnist",
        "--dataroot",
        str(root),
        "--imageSize",
        "64",
        "--batchSize",
        str(batch_size),
        "--niter",
        "1",
        "--workers",
        str(workers),
        "--outf",
        str(root / "out"),
        "--manualSeed",
        "0",
    ]
    proc = subprocess.Popen(
        cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    stamps = []
    try:
        for line in proc.stdout:
            if LINE.match(line):
                stamps.append(time.perf_counter())
                if len(stamps) >= iters + warmup:
                    break
    finally:
        proc.kill()
        proc.wait()
    if len(stamps) < warmup + 2:
        raise RuntimeError(
            f"the reference printed only {len(stamps)} iterations: {' '.join(cmd)}"
        )
    timed = stamps[warmup:]
    return (len(timed) - 1) / (timed[-1] - timed[0])


OURS = r'''
import sys, time, json
import numpy as np, torch
from torch import nn
sys.path.insert(0, ROOT)
from aigc_course.torch import GAN, set_seed

def dcgan64_generator(nz=100, ngf=64, nc=1):   # Radford et al. (2016), 64x64
    def up(cin, cout, stride=2, pad=1):
        return [nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
    return nn.Sequential(nn.Unflatten(1, (nz, 1, 1)), *up(nz, ngf * 8, 1, 0), *up(ngf * 8, ngf * 4),
                         *up(ngf * 4, ngf * 2), *up(ngf * 2, ngf),
                         nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())

def dcgan64_discriminator(ndf=64, nc=1):        # outputs a logit: BCE-with-logits replaces Sigmoid + BCELoss
    def down(cin, cout, bn=True):
        return [nn.Conv2d(cin, cout, 4, 2, 1, bias=False)] + ([nn.BatchNorm2d(cout)] if bn else []) + [nn.LeakyReLU(0.2, True)]
    return nn.Sequential(*down(nc, ndf, bn=False), *down(ndf, ndf * 2), *down(ndf * 2, ndf * 4),
                         *down(ndf * 4, ndf * 8), nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Flatten(0))

class DCGAN64(GAN):
    """Our GAN train_step and trainer, with the reference's 64x64 networks."""
    def build_networks(self):
        return dcgan64_generator(), dcgan64_discriminator()
    def prepare(self, x, y=None):
        x = super().prepare(x)[0]                      # (N, 1, 28, 28) in [-1, 1]
        return (torch.nn.functional.interpolate(torch.from_numpy(x), size=64, mode="bilinear").numpy(),)

set_seed(0)
images = np.load(DATA)
model = DCGAN64()
if ITERS == 0:  # one whole epoch, no warm-up: the process is timed from outside
    model.fit(images, epochs=1, batch_size=BATCH, verbose=False)
    print(json.dumps({"iterations": len(images) // BATCH}))
    raise SystemExit(0)
n = BATCH * (ITERS + 5)
model.fit(images[: BATCH * 5], epochs=1, batch_size=BATCH, verbose=False)   # warm-up
t = time.perf_counter()
model.fit(images[:n], epochs=1, batch_size=BATCH, verbose=False)
rate = (n // BATCH) / (time.perf_counter() - t)
print(json.dumps({"rate": rate, "params": model.count_params(), "torch": torch.__version__,
                  "threads": torch.get_num_threads()}))
'''


def our_rate(python, batch_size, iters, data):
    code = (
        OURS.replace("ROOT", repr(str(ROOT)))
        .replace("DATA", repr(str(data)))
        .replace("BATCH", str(batch_size))
        .replace("ITERS", str(iters))
    )
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"our side failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", help="a checkout of pytorch/examples")
    p.add_argument(
        "--prepare",
        metavar="DIR",
        help="only write the MNIST files (and train.npy) into DIR",
    )
    p.add_argument(
        "--images",
        type=int,
        default=None,
        help="with --prepare: the first N training images",
    )
    p.add_argument(
        "--ours-epoch",
        metavar="DIR",
        help="only train ours for one epoch on DIR/train.npy",
    )
    p.add_argument(
        "--python", default=sys.executable, help="a Python with torch and torchvision"
    )
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--iters", type=int, default=40)
    p.add_argument(
        "--workers", type=int, default=2, help="DataLoader workers of the reference"
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="alternating runs of each; medians reported",
    )
    p.add_argument("--out", default=None)
    a = p.parse_args()
    if a.prepare:
        print(
            f"{write_mnist_raw(Path(a.prepare), a.images)} training images in {a.prepare}"
        )
        return
    if a.ours_epoch:
        print(our_rate(a.python, a.batch_size, 0, Path(a.ours_epoch) / "train.npy"))
        return
    if not a.examples:
        p.error("--examples is required (a checkout of pytorch/examples)")
    main_py = Path(a.examples) / "dcgan" / "main.py"
    refs, ours_runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        n_train = write_mnist_raw(Path(tmp))
        # alternate, so that a change in machine load hits both sides
        for _ in range(a.rounds):
            refs.append(
                reference_rate(
                    a.python, main_py, Path(tmp), a.batch_size, a.iters, a.workers
                )
            )
            ours_runs.append(
                our_rate(a.python, a.batch_size, a.iters, Path(tmp) / "train.npy")
            )
    ref = float(np.median(refs))
    ours = dict(ours_runs[0], rate=float(np.median([o["rate"] for o in ours_runs])))
    result = {
        "batch_size": a.batch_size,
        "iterations_timed": a.iters,
        "train_images": n_train,
        "rounds": a.rounds,
        "reference_runs": [round(r, 3) for r in refs],
        "ours_runs": [round(o["rate"], 3) for o in ours_runs],
        "reference_it_per_s": round(ref, 3),
        "ours_it_per_s": round(ours["rate"], 3),
        "ratio_ours_over_reference": round(ours["rate"] / ref, 3),
        "params": ours["params"],
        "torch": ours["torch"],
        "threads": ours["threads"],
        "cpu_count": os.cpu_count(),
        "reference_workers": a.workers,
    }
    print(json.dumps(result, indent=1))
    out = Path(a.out) if a.out else HERE / "results" / "dcgan_reference_cpu.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
