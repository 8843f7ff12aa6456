"""Train the course GPT for a fixed number of steps: one side of the nanoGPT comparison.

The same configuration as nanoGPT's ``train.py`` run with

    python train.py config/train_shakespeare_char.py --device=cpu --compile=False \
        --block_size=128 --batch_size=64 --n_layer=4 --n_head=4 --n_embd=256 \
        --dropout=0.1 --bias=True --max_iters=STEPS-1 --eval_iters=1 --log_interval=10 \
        --out_dir=SOMEWHERE

(character-level tiny-shakespeare, 64 windows of 128 tokens per step, float32 on the
CPU), trained with ``aigc_course.torch``'s ``fit``. nanoGPT runs ``max_iters + 1``
optimizer steps and, before the first, estimates the loss on one training and one
validation batch (``eval_iters=1``); this script does the same work: one batch of each
evaluated, then STEPS steps. Time both whole processes side by side (e.g. with
``/usr/bin/time`` or a benchmark harness that alternates them):

    python benchmarks/gpt_steps.py --steps 6
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--block", type=int, default=128)
    args = ap.parse_args(argv)

    from aigc_course.data import load_shakespeare
    from aigc_course.text import CharTokenizer, make_windows
    from aigc_course.torch import MODELS, set_seed

    text = load_shakespeare()
    tok = CharTokenizer(text)
    ids = tok.encode(text)[: int(0.9 * len(text))]
    windows = make_windows(ids, args.block, stride=args.block // 4)
    order = np.random.default_rng(0).permutation(len(windows))[
        : args.steps * args.batch_size
    ]
    set_seed(0)
    model = MODELS["gpt"](
        tok.vocab_size,
        block_size=args.block,
        n_layer=4,
        n_head=4,
        n_embd=256,
        dropout=0.1,
    )
    val = make_windows(tok.encode(text)[int(0.9 * len(text)) :], args.block)
    t0 = time.perf_counter()
    # as nanoGPT's step 0
    for batch in (windows[order[: args.batch_size]], val[: args.batch_size]):
        model.logits(batch[:, :-1])
    model.fit(
        windows[order], epochs=1, batch_size=args.batch_size, verbose=0, device="cpu"
    )
    dt = time.perf_counter() - t0
    tokens = args.steps * args.batch_size * args.block
    print(
        f"{args.steps} steps, {tokens / dt:,.0f} tokens/s in the training loop, "
        f"{model.count_params():,} parameters"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
