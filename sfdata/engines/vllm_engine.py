"""vLLM offline engine (GPU). Imported only when chosen, so CPU installs never need vllm.

Every prompt gets its own `vllm.SamplingParams` carrying its own seed: vLLM seeds one generator
per request from `seed`, so one shared seed would make the N samples of a prompt identical.
"""

from __future__ import annotations

from collections.abc import Sequence

from sfdata.engines.base import Completion, Prompt, SamplingParams, request_seeds


class VLLMEngine:
    name = "vllm"

    def __init__(
        self,
        model: str | None = None,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = None,
        **kwargs,
    ):
        try:
            from vllm import LLM
        except ImportError as e:  # pragma: no cover - depends on the GPU extra
            raise ImportError("the vllm engine needs `pip install -e '.[gpu]'` on a CUDA machine") from e
        from sfdata.models import model_label, resolve_model

        self.model = model_label(model)
        self.llm = LLM(
            model=resolve_model(model),
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
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
        self.llm = None
