"""Transformers engine: batched generation with left padding, prompts sorted by length.

Sorting by length keeps padding (wasted compute) small inside each batch; results are put
back in the caller's order. Works on CPU (default here) and CUDA.

Seeding is per batch, not per request: `generate` draws all rows of a batch from one torch
generator, seeded from the seeds of the (prompt, sample) jobs in that batch. So a call repeats
exactly when it is made again with the same prompts, seeds and `batch_size`, but one sample's
text depends on which other prompts shared its batch (and on padding): change the chunking, the
batch size or the resume point and a row's text changes, although its recorded seed does not.
Rows of one batch still differ from each other (each row draws its own random numbers), so the
N samples of a prompt are not copies. Per-sample reproducibility needs vLLM or a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sfdata.engines.base import Completion, Prompt, SamplingParams, cut_at_stop, request_seeds


class TransformersEngine:
    name = "transformers"

    def __init__(
        self,
        model: str | None = None,
        batch_size: int = 16,
        device: str | None = None,
        dtype: str | None = None,
        threads: int | None = None,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from sfdata.models import model_label, resolve_model

        path = resolve_model(model)
        self.model = model_label(model)
        self.path = path
        self.batch_size = max(1, int(batch_size))
        if threads or not torch.cuda.is_available():
            from sfdata.cpu_threads import apply_torch_threads

            apply_torch_threads(threads)  # the usable CPUs (not the machine's count), or `threads` when given
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = getattr(torch, dtype) if dtype else (torch.bfloat16 if self.device == "cuda" else torch.float32)
        self.tokenizer = AutoTokenizer.from_pretrained(path, clean_up_tokenization_spaces=False)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.lm = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype).to(self.device).eval()

    def chat_text(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _texts(self, prompts: Sequence[Prompt]) -> list[str]:
        return [p if isinstance(p, str) else self.chat_text(p) for p in prompts]

    def generate(
        self, prompts: Sequence[Prompt], sampling: SamplingParams, seeds: Sequence[int] | None = None
    ) -> list[list[Completion]]:
        import torch

        texts = self._texts(prompts)
        per_prompt = request_seeds(prompts, sampling, seeds)
        n = max(1, sampling.n)
        # expand to (prompt, sample) jobs; sort by token length so batches pad little
        lengths = [len(self.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
        jobs = sorted(((i, k) for i in range(len(texts)) for k in range(n)), key=lambda ik: (lengths[ik[0]], ik))
        out: list[list[Completion | None]] = [[None] * n for _ in texts]
        eos_ids = self._eos_ids()
        for b0 in range(0, len(jobs), self.batch_size):
            batch = jobs[b0 : b0 + self.batch_size]
            enc = self.tokenizer(
                [texts[i] for i, _ in batch], return_tensors="pt", padding=True, add_special_tokens=False
            )
            enc = {k: v.to(self.device) for k, v in enc.items()}
            gen_kwargs: dict[str, Any] = dict(
                max_new_tokens=sampling.max_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=eos_ids,
            )
            if sampling.temperature > 0:
                gen_kwargs.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p)
            else:
                gen_kwargs.update(do_sample=False)
            # one seed per batch (torch has one generator), from the seeds of all its jobs: see the module doc
            torch.manual_seed(_batch_seed([(per_prompt[i], k) for i, k in batch]))
            with torch.inference_mode():
                seqs = self.lm.generate(**enc, **gen_kwargs)
            plen = enc["input_ids"].shape[1]
            for row, (i, k) in enumerate(batch):
                new = seqs[row, plen:].tolist()
                ended = False
                for j, tok in enumerate(new):
                    if tok in eos_ids:
                        new, ended = new[:j], True
                        break
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                text, stopped = cut_at_stop(text, sampling.stop)
                finish = "stop" if (ended or stopped) else "length"
                out[i][k] = Completion(text, lengths[i], len(new), finish)
        return [[c for c in row if c is not None] for row in out]

    def _eos_ids(self) -> list[int]:
        ids = set()
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        gc_eos = getattr(getattr(self.lm, "generation_config", None), "eos_token_id", None)
        if isinstance(gc_eos, int):
            ids.add(gc_eos)
        elif isinstance(gc_eos, (list, tuple)):
            ids.update(int(x) for x in gc_eos)
        for tok in ("<|im_end|>", "<|endoftext|>"):
            tid = self.tokenizer.convert_tokens_to_ids(tok)
            if isinstance(tid, int) and tid != self.tokenizer.unk_token_id and tid >= 0:
                ids.add(tid)
        return sorted(ids)

    def close(self) -> None:
        self.lm = None


def _batch_seed(jobs: list[tuple[int, int]]) -> int:
    """A stable 31-bit seed for a batch of (request seed, sample index) jobs (no Python `hash` salt)."""
    import hashlib

    blob = ",".join(f"{seed}:{k}" for seed, k in jobs).encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "big") & 0x7FFFFFFF
