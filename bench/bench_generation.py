"""CPU generation throughput on the embedded SmolLM2-135M: our transformers engine (batched,
left-padded, prompts sorted by length) vs naive one-prompt-at-a-time `model.generate`, same
prompts, same sampling settings, same process."""

from __future__ import annotations

import argparse
import time

from _common import report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    n = 8 if args.quick else args.prompts
    import torch

    from sfdata import prompts as pv
    from sfdata.engines.base import SamplingParams
    from sfdata.engines.hf import TransformersEngine
    from sfdata.tasks import get_task

    task = get_task("countdown")
    qs = task.generate(n // 4 or 1, 0, level=3)
    msgs = [pv.messages(v, task, q) for q in qs for v in pv.DEFAULT_VARIANTS][:n]
    eng = TransformersEngine(None, batch_size=n)
    sp = SamplingParams(temperature=0.7, max_tokens=args.max_tokens, seed=0)
    eng.generate(msgs[:2], SamplingParams(max_tokens=4))  # warm up

    t0 = time.perf_counter()
    outs = eng.generate(msgs, sp)
    t_ours = time.perf_counter() - t0
    tok_ours = sum(c[0].completion_tokens for c in outs)

    tok, model = eng.tokenizer, eng.lm
    t0 = time.perf_counter()
    tok_base = 0
    for m in msgs:
        ids = tok(eng.chat_text(m), return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(
                **ids,
                max_new_tokens=args.max_tokens,
                do_sample=True,
                temperature=0.7,
                top_p=1.0,
                pad_token_id=tok.pad_token_id,
            )
        tok_base += out.shape[1] - ids["input_ids"].shape[1]
    t_base = time.perf_counter() - t0
    report(
        "generation",
        tok_ours / t_ours,
        tok_base / t_base,
        "tokens/s",
        f"SmolLM2-135M on CPU, {n} prompts x {args.max_tokens} max tokens: batched engine vs one prompt at a time",
        seconds_ours=round(t_ours, 1),
        seconds_baseline=round(t_base, 1),
    )


if __name__ == "__main__":
    main()
