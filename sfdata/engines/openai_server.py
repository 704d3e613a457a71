"""Client for any OpenAI-compatible server (vLLM serve, SGLang, llama.cpp server, `sf serve`).

Built on the `openai` library's async client: many requests in flight at once (bounded by
`concurrency`, which the user sets to what the server can batch), the library's retries with
backoff and its timeouts. Chat prompts go to `/v1/chat/completions`, raw text to `/v1/completions`;
each request carries its own seed, so a resumed or re-chunked run asks for the same samples.
Scaling past one GPU is the server's job (e.g. `vllm serve --tensor-parallel-size` or
`--data-parallel-size`); this client just keeps it busy.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from typing import Any

from sfdata.engines.base import Completion, Prompt, SamplingParams


class OpenAIEngine:
    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 600.0,
        retries: int = 3,
        concurrency: int = 64,
    ):
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "http://127.0.0.1:8000/v1").rstrip("/")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.model = model or "default"
        self.timeout = timeout
        self.retries = retries
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.concurrency = concurrency

    def chat_text(self, messages: list[dict[str, str]]) -> str:
        # the server owns the template; this is a readable rendering for logs and budget forcing
        return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages) + "<|assistant|>\n"

    def _client(self):
        from openai import AsyncOpenAI

        return AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout, max_retries=self.retries)

    def _request(self, prompt: Prompt, sampling: SamplingParams, seed: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "n": max(1, sampling.n),
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "seed": int(seed),
        }
        if sampling.stop:
            body["stop"] = sampling.stop
        body["prompt" if isinstance(prompt, str) else "messages"] = prompt
        return body

    async def _one(self, client, gate: asyncio.Semaphore, prompt: Prompt, body: dict[str, Any]) -> list[Completion]:
        import openai

        async with gate:
            try:
                if isinstance(prompt, str):
                    res = await client.completions.create(**body)
                    texts = [(c.text or "", c.finish_reason) for c in res.choices]
                else:
                    res = await client.chat.completions.create(**body)
                    texts = [(c.message.content or "", c.finish_reason) for c in res.choices]
            except openai.APIStatusError as e:
                if e.status_code < 500 and e.status_code != 429:
                    raise ValueError(
                        f"server {self.base_url} refused the request ({e.status_code}): {e.message}"
                    ) from None
                raise ConnectionError(
                    f"server {self.base_url} failed after {self.retries} retries: {e.message}"
                ) from None
            except (openai.APIConnectionError, openai.APITimeoutError) as e:
                raise ConnectionError(f"cannot reach OpenAI-compatible server at {self.base_url}: {e}") from None
        usage = res.usage
        ptoks = int(usage.prompt_tokens) if usage else 0
        per = (int(usage.completion_tokens) if usage else 0) // max(1, len(texts))
        return [Completion(t, ptoks, per, "length" if f == "length" else "stop") for t, f in texts]

    async def agenerate(
        self, prompts: Sequence[Prompt], sampling: SamplingParams, seeds: Sequence[int] | None = None
    ) -> list[list[Completion]]:
        """All prompts concurrently (at most `concurrency` in flight), results in prompt order."""
        if seeds is not None and len(seeds) != len(prompts):
            raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts (one seed per prompt)")
        gate = asyncio.Semaphore(self.concurrency)
        async with self._client() as client:
            jobs = [
                self._one(client, gate, p, self._request(p, sampling, sampling.seed if seeds is None else seeds[i]))
                for i, p in enumerate(prompts)
            ]
            return list(await asyncio.gather(*jobs))

    def generate(
        self, prompts: Sequence[Prompt], sampling: SamplingParams, seeds: Sequence[int] | None = None
    ) -> list[list[Completion]]:
        """n completions per prompt; `seeds` gives each prompt its own seed (default: sampling.seed)."""
        return run_sync(self.agenerate(prompts, sampling, seeds))

    def close(self) -> None:
        pass


def run_sync(coro):
    """Run a coroutine to completion, also when the caller already runs an event loop (the TUI)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as e:  # re-raised in the caller's thread
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
