"""Benchmark every model in both frameworks and print one table.

One process per framework/backend (so TensorFlow and PyTorch never share a
process): PyTorch, Keras on TensorFlow (if installed), Keras on PyTorch.
Writes ``benchmarks/results/throughput-<device>.json`` and prints a Markdown table.

    python benchmarks/run.py [--steps 10] [--batch-size 64] [--models gan,dcgan]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(framework, backend, args, out):
    env = dict(os.environ)
    if backend:
        env["KERAS_BACKEND"] = backend
    cmd = [
        sys.executable,
        str(HERE / "bench.py"),
        "--framework",
        framework,
        "--out",
        out,
        "--steps",
        str(args.steps),
        "--batch-size",
        str(args.batch_size),
        "--models",
        args.models,
        "--sample-n",
        str(args.sample_n),
    ]
    subprocess.run(cmd, env=env, check=True)
    return json.loads(Path(out).read_text())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--sample-n", type=int, default=64)
    p.add_argument("--models", default="all")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    runs = [("torch", None), ("keras", "torch")]
    if importlib.util.find_spec("tensorflow") is not None:
        runs.insert(1, ("keras", "tensorflow"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (fw, be) in enumerate(runs):
            rows += run(fw, be, args, f"{tmp}/{i}.json")
    device = rows[0]["device"] if rows else "none"
    name = re.sub(r"[^A-Za-z0-9]+", "_", rows[0]["hardware"] if rows else "none").strip(
        "_"
    )
    out = Path(args.out) if args.out else HERE / "results" / f"throughput-{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    print(
        f"\n| device | framework | model | parameters | steps/s (batch {args.batch_size}) | sampling |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['hardware']} ({r['device']}) | {r['framework']} | {r['model']} | {r['params']:,} "
            f"| {r['steps_per_s']:.2f} | {r['sampling']:.1f} {r['sampling_unit']} |"
        )
    print(f"\nwritten to {out} (first device: {device})")


if __name__ == "__main__":
    main()
