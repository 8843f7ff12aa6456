"""Which PyTorch speed knobs pay on this machine? Times the zoo DCGAN's training step.

Variants, each the same networks, data and ``train_step`` (``aigc_course.torch.DCGAN``):
the default (float32, contiguous tensors, Adam's ``foreach`` path); **channels-last**
memory format for the networks and the batches; Adam with ``fused=True``; both; and
``torch.compile`` of the two networks (compilation time excluded, reported apart).
Variants run interleaved, ``--rounds`` times each, so a background load hits them alike;
the median of the rounds is reported. It also records whether this CPU has native
bfloat16 (AVX-512-BF16 or AMX), without which bf16 autocast only adds conversions.

    python benchmarks/speed_knobs.py [--batch-size 64] [--steps 20] [--rounds 3]

Writes ``benchmarks/results/speed_knobs-<cpu>.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench import cpu_name


def cpu_flags() -> set:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    m = re.search(r"^flags\s*:\s*(.*)$", text, re.M)
    return set(m.group(1).split()) if m else set()


def make(variant: str, batch_size: int):
    import torch

    from aigc_course.torch import MODELS, set_seed

    set_seed(0)
    model = MODELS["dcgan"]()
    model.train()
    model.optimizers = model.configure_optimizers()
    if "fused" in variant:
        for name, opt in model.optimizers.items():
            params = [p for g in opt.param_groups for p in g["params"]]
            model.optimizers[name] = torch.optim.Adam(
                params, lr=model.lr, betas=opt.defaults["betas"], fused=True
            )
    if "channels_last" in variant:
        model = model.to(memory_format=torch.channels_last)
    if variant == "compile":
        model.generator = torch.compile(model.generator)
        model.discriminator = torch.compile(model.discriminator)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.uniform(-1, 1, (batch_size, 1, 28, 28)).astype("float32"))
    if "channels_last" in variant:
        x = x.contiguous(memory_format=torch.channels_last)
    return model, x


def time_steps(model, x, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_step(x)
    return steps / (time.perf_counter() - t0)


def main(argv=None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--variants", default="default,channels_last,fused,channels_last+fused,compile"
    )
    args = ap.parse_args(argv)
    variants = args.variants.split(",")
    built, compile_s = {}, {}
    for v in variants:
        model, x = make(v, args.batch_size)
        t0 = time.perf_counter()
        for _ in range(3):  # warm-up (compiles the compiled variant)
            model.train_step(x)
        compile_s[v] = round(time.perf_counter() - t0, 1)
        built[v] = (model, x)
    rates = {v: [] for v in variants}
    for _ in range(args.rounds):
        for v in variants:
            rates[v].append(time_steps(*built[v], args.steps))
    base = statistics.median(rates["default"])
    flags = cpu_flags()
    result = {
        "model": "zoo DCGAN (MNIST 28x28, channels 64)",
        "batch_size": args.batch_size,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "hardware": cpu_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "native_bf16": bool(flags & {"avx512_bf16", "amx_bf16"}),
        "variants": {
            v: {
                "steps_per_s": round(statistics.median(r), 3),
                "speedup": round(statistics.median(r) / base, 3),
                "rounds": [round(t, 3) for t in r],
                "warmup_s": compile_s[v],
            }
            for v, r in rates.items()
        },
    }
    print(json.dumps(result, indent=1))
    name = re.sub(r"[^A-Za-z0-9]+", "_", cpu_name()).strip("_")[:40]
    out = HERE / "results" / f"speed_knobs-{name}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
