"""Engine overhead: our generate stage (plan, per-row seeds, engine wrapper, part files) against the raw engine
on the same prompts, seeds and batch, tokens/s. Raw vLLM is `LLM.generate` with one SamplingParams per request
(the prompts templated beforehand, untimed); raw transformers is one left-padded `model.generate` per batch
seeded as our engine seeds it. Both sides produce the same texts (checked), so the ratio is pure overhead.
vLLM is measured when it is installed (`make bench-engines` runs this in .venv-engines); goal: ratio >= 0.9."""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
from pathlib import Path

from _common import best_of_interleaved, report


def stage_runner(base: Path, questions, cfg, engine):
    """A callable that runs the generate stage into a fresh run dir and returns (tokens, texts by rollout id)."""
    from sfdata.generate import generate_stage
    from sfdata.store import RunDir

    count = iter(range(10**6))

    def go():
        run = RunDir(base / f"run{next(count)}").init()
        run.write("questions", questions)
        info = generate_stage(run, cfg, engine=engine)
        rows = run.read("rollouts")
        return info["tokens"], dict(zip(rows["rollout_id"], rows["response"]))

    return go


def raw_vllm(engine, jobs, sampling):
    from vllm import SamplingParams as VSP

    texts = [engine.chat_text(j["messages"]) for j in jobs]
    params = [
        VSP(n=1, temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=sampling.max_tokens, seed=j["seed"])
        for j in jobs
    ]

    def go():
        res = engine.llm.generate(texts, params, use_tqdm=False)
        return sum(len(r.outputs[0].token_ids) for r in res), {
            j["rollout_id"]: r.outputs[0].text for j, r in zip(jobs, res)
        }

    return go


def raw_transformers(engine, jobs, sampling):
    import torch

    from sfdata.engines.hf import _batch_seed

    tok, lm = engine.tokenizer, engine.lm
    texts = [engine.chat_text(j["messages"]) for j in jobs]
    lengths = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
    order = sorted(range(len(jobs)), key=lambda i: (lengths[i], (i, 0)))  # the engine's batch order
    eos = engine._eos_ids()

    def go():
        enc = tok([texts[i] for i in order], return_tensors="pt", padding=True, add_special_tokens=False)
        torch.manual_seed(_batch_seed([(jobs[i]["seed"], 0) for i in order]))
        with torch.inference_mode():
            seqs = lm.generate(
                **enc,
                max_new_tokens=sampling.max_tokens,
                do_sample=True,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                pad_token_id=tok.pad_token_id,
                eos_token_id=eos,
            )
        plen, total, out = enc["input_ids"].shape[1], 0, {}
        for row, i in enumerate(order):
            new = seqs[row, plen:].tolist()
            cut = next((k for k, t in enumerate(new) if t in eos), len(new))
            total += cut
            out[jobs[i]["rollout_id"]] = tok.decode(new[:cut], skip_special_tokens=True)
        return total, out

    return go


def measure(kind: str, n_prompts: int, max_tokens: int, repeat: int, options: dict) -> None:
    from sfdata.engines import get_engine
    from sfdata.generate import GenerateConfig, plan
    from sfdata.tasks import Question, make_questions

    questions = make_questions("countdown", n_prompts // 4, 0, level=3)  # x 4 samples = n_prompts rows
    cfg = GenerateConfig(
        engine=kind, variants=("original",), n=4, max_tokens=max_tokens, temperature=0.7, seed=0,
        batch_size=n_prompts, chunk=n_prompts, engine_options=options,
    )  # fmt: skip
    jobs = plan([Question.from_row(r) for r in questions.iter_rows(named=True)], cfg)
    engine = get_engine(kind, None, batch_size=n_prompts, **options)
    try:
        raw = (raw_vllm if kind == "vllm" else raw_transformers)(engine, jobs, cfg.sampling())
        with tempfile.TemporaryDirectory() as tmp:
            (t_ours, (tok_ours, ours)), (t_raw, (tok_raw, theirs)) = best_of_interleaved(
                [stage_runner(Path(tmp), questions, cfg, engine), raw], repeat=repeat
            )
    finally:
        engine.close()
    same = ours == theirs
    report(
        f"engine_overhead_{kind}",
        tok_ours / t_ours,
        tok_raw / t_raw,
        "tokens/s",
        f"sf generate stage vs raw {kind} on SmolLM2-135M (CPU), {len(jobs)} prompts x {max_tokens} max tokens, "
        f"one batch, same seeds; same texts: {same}",
        seconds_ours=round(t_ours, 2),
        seconds_baseline=round(t_raw, 2),
        tokens=tok_ours,
        same_texts=same,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--engines", nargs="+", default=["transformers", "vllm"])
    ap.add_argument("--eager", action="store_true", help="vLLM without torch.compile (minutes less start-up on CPU)")
    args = ap.parse_args()
    n, mt, rep = (8, 32, 2) if args.quick else (args.prompts, args.max_tokens, args.repeat)
    for kind in args.engines:
        if kind == "vllm" and importlib.util.find_spec("vllm") is None:
            print("engine_overhead_vllm: skipped (vLLM not installed; make bench-engines runs it)")
            continue
        opts = {"max_model_len": 1024, **({"enforce_eager": True} if args.eager else {})} if kind == "vllm" else {}
        measure(kind, n, mt, rep, opts)


if __name__ == "__main__":
    main()
