"""Time every model of one framework: training steps/s and sampling throughput.

Run through ``benchmarks/run.py``, which starts one process per framework/backend
(PyTorch, Keras on TensorFlow, Keras on PyTorch) and prints one table:

    python benchmarks/bench.py --framework torch --out results.json
    KERAS_BACKEND=torch python benchmarks/bench.py --framework keras --out r.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

IMAGE_MODELS = {
    "gan",
    "dcgan",
    "cgan",
    "wgan_gp",
    "vae",
    "conv_vae",
    "cvae",
    "pixelcnn",
    "ddpm",
}
# Models whose sampler runs the network many times per image: time fewer images.
# 784 passes per image; 1,000 denoising steps
SLOW_SAMPLERS = {"pixelcnn": 16, "ddpm": 16}
TEXT_MODELS = {"char_rnn", "gpt"}
VOCAB, BLOCK = 65, 128  # tiny-shakespeare's character vocabulary, nanoGPT's block size


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f" ({os.cpu_count()} cores)"
    except OSError:
        pass
    return (platform.processor() or platform.machine()) + f" ({os.cpu_count()} cores)"


def make_data(key: str, n: int, rng):
    if key in TEXT_MODELS:
        return (rng.integers(0, VOCAB, size=(n, BLOCK + 1)).astype(np.int64),)
    x = (rng.random((n, 28, 28)) * 255).astype(np.uint8)
    if key in ("cgan", "cvae"):
        return x, rng.integers(0, 10, size=n).astype(np.int64)
    return (x,)


def build(models, key):
    return models[key](VOCAB) if key in TEXT_MODELS else models[key]()


def time_sampling(model, key, n):
    t = time.perf_counter()
    if key in TEXT_MODELS:
        model.generate(np.zeros((1, 1), np.int64), max_new_tokens=n, seed=0)
        unit = "tokens/s"
    else:
        model.sample(n, seed=0)
        unit = "images/s"
    return n / (time.perf_counter() - t), unit


def bench(framework: str, keys, batch_size: int, steps: int, sample_n: int):
    rng = np.random.default_rng(0)
    if framework == "torch":
        import torch

        from aigc_course.torch import MODELS, get_device

        device = str(get_device())
        name = torch.cuda.get_device_name() if device == "cuda" else cpu_name()
        fw = f"pytorch {torch.__version__}"
        kw = dict(verbose=False)
    else:
        import keras

        from aigc_course.keras import MODELS

        device = keras.backend.backend()
        name = cpu_name()
        fw = f"keras {keras.__version__} ({keras.backend.backend()})"
        kw = dict(verbose=0)
    rows = []
    for key in keys:
        if key not in MODELS:
            continue
        model = build(MODELS, key)
        data = make_data(key, batch_size * steps, rng)
        model.fit(
            *[d[: batch_size * 2] for d in data], epochs=1, batch_size=batch_size, **kw
        )  # warm-up
        t = time.perf_counter()
        model.fit(*data, epochs=1, batch_size=batch_size, **kw)
        steps_per_s = steps / (time.perf_counter() - t)
        n = max(1, sample_n // SLOW_SAMPLERS.get(key, 1))
        throughput, unit = time_sampling(model, key, n)
        rows.append(
            dict(
                framework=fw,
                device=device,
                hardware=name,
                model=key,
                params=int(model.count_params()),
                batch_size=batch_size,
                steps_per_s=round(steps_per_s, 2),
                sampling=round(throughput, 1),
                sampling_unit=unit,
            )
        )
        print(
            f"{fw:32s} {key:10s} {rows[-1]['params']:>10,d} params "
            f"{steps_per_s:8.2f} steps/s  {throughput:10.1f} {unit}",
            flush=True,
        )
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--framework", choices=["torch", "keras"], required=True)
    p.add_argument("--models", default="all")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--sample-n", type=int, default=64)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    keys = (
        sorted(IMAGE_MODELS | TEXT_MODELS) if a.models == "all" else a.models.split(",")
    )
    rows = bench(a.framework, keys, a.batch_size, a.steps, a.sample_n)
    with open(a.out, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
