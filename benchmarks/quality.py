"""Train every image model of the zoo, then measure what it generates.

One framework per process (like ``bench.py``). For each model: train on the
dataset's training split (or a seeded subset of it), time the training, draw
samples and score them with the package's domain evaluator
(:func:`aigc_course.evaluator.load_evaluator`): classifier Fréchet distance,
precision / recall, classifier score, mode coverage. Where a likelihood is
defined it is measured on dynamically binarized test images: ELBO and IWAE
bound for the VAEs, exact NLL for PixelCNN, in nats and bits/dim.

Writes ``benchmarks/results/quality-<dataset>-<framework>.json``; the book's
results page (``notebooks/08_evaluation/results``) renders every such file.

    python benchmarks/quality.py --framework torch --dataset fashion_mnist
    KERAS_BACKEND=tensorflow python benchmarks/quality.py --framework keras --dataset mnist
    python benchmarks/quality.py --framework torch --preset full     # on a GPU
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench import cpu_name

IMAGE_MODELS = [
    "gan",
    "dcgan",
    "cgan",
    "wgan_gp",
    "vae",
    "conv_vae",
    "cvae",
    "pixelcnn",
    "ddpm",
]
CONDITIONAL = {"cgan", "cvae"}
LIKELIHOOD = {"vae", "conv_vae", "cvae", "pixelcnn"}
GANS = {"gan", "dcgan", "cgan", "wgan_gp"}

# Training budgets. "cpu": what a 2-core CPU finishes in minutes (the course's CI
# machine); "full": what a Colab-class GPU runs in about ten minutes per model.
PRESETS = {
    "cpu": dict(
        train_size=5000,
        epochs={
            "gan": 5,
            "dcgan": 2,
            "cgan": 5,
            "wgan_gp": 2,
            "vae": 5,
            "conv_vae": 3,
            "cvae": 5,
            "pixelcnn": 1,
            "ddpm": 5,
        },
        n_samples=2000,
        n_pixelcnn=64,
        test_size=500,
        iwae_k=200,
        # DDPM on a CPU: fewer samples, and 100 of the 1,000 steps (respaced)
        n_ddpm=500,
        ddpm_steps=100,
    ),
    "full": dict(
        train_size=None,
        epochs={
            "gan": 50,
            "dcgan": 20,
            "cgan": 50,
            "wgan_gp": 30,
            "vae": 100,
            "conv_vae": 50,
            "cvae": 100,
            "pixelcnn": 20,
            "ddpm": 30,
        },
        n_samples=10000,
        n_pixelcnn=1000,
        test_size=10000,
        iwae_k=5000,
        n_ddpm=10000,
        ddpm_steps=None,
    ),
}


def framework_info(framework: str):
    if framework == "torch":
        import torch

        from aigc_course.torch import MODELS, get_device, set_seed

        device = str(get_device())
        hardware = torch.cuda.get_device_name() if device == "cuda" else cpu_name()
        return (
            MODELS,
            set_seed,
            f"PyTorch {torch.__version__}",
            hardware,
            dict(verbose=0),
        )
    import keras

    from aigc_course.keras import MODELS, set_seed

    backend = keras.backend.backend()
    hardware = cpu_name()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            hardware = torch.cuda.get_device_name()
    return (
        MODELS,
        set_seed,
        f"Keras {keras.__version__} ({backend})",
        hardware,
        dict(verbose=0),
    )


def describe_source(source: str) -> str:
    """Where data came from, without this machine's paths (results are committed)."""
    if source.startswith("/usr/share/datasets/"):
        return (
            "Debian package dataset-" + source.split("/")[4] + f" ({Path(source).name})"
        )
    if source.startswith("/"):
        return f"local copy of {Path(source).parent.name}/{Path(source).name}"
    return source


def load(dataset: str, split: str):
    from aigc_course import data

    loader = {"mnist": data.load_mnist, "fashion_mnist": data.load_fashion_mnist}[
        dataset
    ]
    x, y = loader(split)
    return (
        x,
        y,
        describe_source(data.last_source(f"{dataset.replace('_', '-')}/{split}")),
    )


def sample(model, key: str, n: int, seed: int, ddpm_steps=None) -> np.ndarray:
    if key == "ddpm":
        return model.sample(n, seed=seed, steps=ddpm_steps)
    if key in CONDITIONAL:
        return model.sample(n, seed=seed, labels=np.arange(n) % 10)
    return model.sample(n, seed=seed)


def likelihood(
    model, key: str, x_bin: np.ndarray, y: np.ndarray, k: int, seed: int
) -> dict:
    """Mean negative bounds / NLL in nats per image and bits/dim (784 dims)."""
    from aigc_course.likelihood import nats_to_bits_per_dim

    out = {}
    if key == "pixelcnn":
        nll = float(np.mean(model.nll(x_bin)))
        out["nll_nats"] = nll
    else:
        extra = {"labels": y} if key in CONDITIONAL else {}
        out["neg_elbo_nats"] = float(-np.mean(model.elbo(x_bin, seed=seed, **extra)))
        out["neg_iwae_nats"] = float(
            -np.mean(model.iwae_bound(x_bin, k=k, seed=seed, **extra))
        )
        out["iwae_k"] = k
    for name in list(out):
        if name.endswith("_nats"):
            out[name.replace("_nats", "_bits_per_dim")] = float(
                nats_to_bits_per_dim(out[name])
            )
    return out


def run(framework: str, dataset: str, keys, preset: dict, seed: int = 0) -> dict:
    from aigc_course.data import binarize, random_subset
    from aigc_course.evaluator import load_evaluator

    MODELS, set_seed, fw, hardware, fit_kw = framework_info(framework)
    evaluator = load_evaluator(dataset)
    x_train, y_train, train_source = load(dataset, "train")
    if preset["train_size"]:
        x_train, y_train = random_subset(
            preset["train_size"], x_train, y_train, seed=seed
        )
    x_test, y_test, _ = load(dataset, "test")
    x_test, y_test = random_subset(preset["test_size"], x_test, y_test, seed=seed)
    # one fixed stochastic binarization
    x_test_bin = binarize(x_test, "dynamic", seed=seed)
    baseline = evaluator.real_baseline(n=preset["n_samples"])
    rows = []
    for key in keys:
        if key not in MODELS:
            print(f"skipping {key}: not in this framework's MODELS", flush=True)
            continue
        set_seed(seed)
        model = MODELS[key]()
        epochs = preset["epochs"][key]
        t0 = time.perf_counter()
        args = (x_train, y_train) if key in CONDITIONAL else (x_train,)
        model.fit(*args, epochs=epochs, batch_size=64, **fit_kw)
        train_s = time.perf_counter() - t0
        n = {"pixelcnn": preset["n_pixelcnn"], "ddpm": preset["n_ddpm"]}.get(
            key, preset["n_samples"]
        )
        t0 = time.perf_counter()
        samples = sample(model, key, n, seed=seed + 1, ddpm_steps=preset["ddpm_steps"])
        sample_s = time.perf_counter() - t0
        metrics = evaluator.evaluate(samples)
        row = dict(
            model=key,
            framework=fw,
            params=int(model.count_params()),
            epochs=epochs,
            train_images=len(x_train),
            train_seconds=round(train_s, 1),
            samples=n,
            sample_seconds=round(sample_s, 1),
            **(
                {"sampling_steps": preset["ddpm_steps"] or model.T}
                if key == "ddpm"
                else {}
            ),
            **{
                k: (float(v) if isinstance(v, (float, np.floating)) else v)
                for k, v in metrics.items()
                if not isinstance(v, np.ndarray)
            },
        )
        if key in LIKELIHOOD:
            row.update(
                likelihood(model, key, x_test_bin, y_test, preset["iwae_k"], seed)
            )
        rows.append(row)
        print(json.dumps(row), flush=True)
    clean = {
        k: (float(v) if isinstance(v, (float, np.floating)) else v)
        for k, v in baseline.items()
        if not isinstance(v, np.ndarray)
    }
    return dict(
        dataset=dataset,
        train_source=train_source,
        framework=fw,
        hardware=hardware,
        date=datetime.date.today().isoformat(),
        omp_num_threads=os.environ.get("OMP_NUM_THREADS", "default"),
        evaluator=dict(
            test_accuracy=float(evaluator.test_accuracy),
            train_source=evaluator.train_source,
        ),
        real_baseline=clean,
        preset=preset,
        test_images=len(x_test),
        test_binarization="dynamic (one fixed Bernoulli draw, seed 0)",
        rows=rows,
    )


TEXT_MODELS = ["char_rnn", "gpt"]
TEXT_PRESETS = {
    # windows of BLOCK + 1 characters; nanoGPT's split: first 90 % train, last 10 % validation
    "cpu": dict(block=128, train_windows=2000, epochs=1, val_windows=100),
    "full": dict(block=128, train_windows=None, epochs=10, val_windows=None),
}


def run_text(framework: str, keys, preset: dict, seed: int = 0) -> dict:
    """Character-level tiny-shakespeare: validation loss in nats/char, bits/char, perplexity."""
    from aigc_course.data import last_source, load_shakespeare
    from aigc_course.metrics import bits_per_char, perplexity
    from aigc_course.text import CharTokenizer, make_windows

    MODELS, set_seed, fw, hardware, fit_kw = framework_info(framework)
    text = load_shakespeare()
    tok = CharTokenizer(text)
    ids = tok.encode(text)
    split = int(0.9 * len(ids))
    train = make_windows(ids[:split], preset["block"], stride=preset["block"] // 2)
    val = make_windows(ids[split:], preset["block"])
    rng = np.random.default_rng(seed)
    if preset["train_windows"]:
        train = train[np.sort(rng.permutation(len(train))[: preset["train_windows"]])]
    if preset["val_windows"]:
        val = val[np.sort(rng.permutation(len(val))[: preset["val_windows"]])]
    rows = []
    for key in keys:
        set_seed(seed)
        model = MODELS[key](tok.vocab_size)
        t0 = time.perf_counter()
        model.fit(train, epochs=preset["epochs"], batch_size=32, **fit_kw)
        train_s = time.perf_counter() - t0
        nats = []
        for i in range(0, len(val), 32):
            w = val[i : i + 32]
            logits = np.asarray(model.logits(w[:, :-1]), np.float64)
            logits -= logits.max(-1, keepdims=True)
            logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
            nats.append(-np.take_along_axis(logp, w[:, 1:, None], -1)[..., 0].ravel())
        val_nats = float(np.concatenate(nats).mean())
        sample = tok.decode(
            model.generate(tok.encode("ROMEO:")[None], 200, seed=seed)[0]
        )
        row = dict(
            model=key,
            framework=fw,
            params=int(model.count_params()),
            epochs=preset["epochs"],
            train_windows=len(train),
            block=preset["block"],
            train_seconds=round(train_s, 1),
            val_nats_per_char=val_nats,
            val_bits_per_char=float(bits_per_char(val_nats)),
            val_perplexity=float(perplexity(val_nats)),
            sample=sample,
        )
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    return dict(
        dataset="shakespeare",
        train_source=describe_source(last_source("tinyshakespeare")),
        framework=fw,
        hardware=hardware,
        date=datetime.date.today().isoformat(),
        omp_num_threads=os.environ.get("OMP_NUM_THREADS", "default"),
        preset=preset,
        vocab_size=tok.vocab_size,
        val_chars=int(len(ids) - split),
        rows=rows,
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--framework", choices=["torch", "keras"], required=True)
    p.add_argument(
        "--dataset", choices=["mnist", "fashion_mnist", "shakespeare"], default="mnist"
    )
    p.add_argument("--models", default="all", help="comma-separated keys, or 'all'")
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    p.add_argument(
        "--epochs-scale",
        type=float,
        default=1.0,
        help="multiply every model's epochs (smoke tests: 0.1)",
    )
    p.add_argument("--out", default=None)
    a = p.parse_args()
    text = a.dataset == "shakespeare"
    keys = (
        (TEXT_MODELS if text else IMAGE_MODELS)
        if a.models == "all"
        else a.models.split(",")
    )
    if text:
        preset = dict(TEXT_PRESETS[a.preset], name=a.preset)
        preset["epochs"] = max(1, round(preset["epochs"] * a.epochs_scale))
        result = run_text(a.framework, keys, preset)
    else:
        preset = dict(PRESETS[a.preset], name=a.preset)
        preset["epochs"] = {
            k: max(1, round(v * a.epochs_scale)) for k, v in preset["epochs"].items()
        }
        result = run(a.framework, a.dataset, keys, preset)
    tag = (
        "keras-" + os.environ.get("KERAS_BACKEND", "tensorflow")
        if a.framework == "keras"
        else "torch"
    )
    out = (
        Path(a.out)
        if a.out
        else HERE / "results" / f"quality-{a.dataset}-{tag}-{a.preset}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(f"written to {out}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
