"""Client for any OpenAI-compatible server (vLLM serve, SGLang, llama.cpp server, `sf`'s own).

Chat prompts go to `/v1/chat/completions`, raw text to `/v1/completions`. Stdlib only
(urllib), with retries and backoff; an unreachable server is one clear error.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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
        concurrency: int = 8,
    ):
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "http://127.0.0.1:8000/v1").rstrip("/")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.model = model or "default"
        self.timeout = timeout
        self.retries = retries
        self.concurrency = max(1, concurrency)

    def chat_text(self, messages: list[dict[str, str]]) -> str:
        # the server owns the template; this is a readable rendering for logs and budget forcing
        return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages) + "<|assistant|>\n"

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.base_url}{path}",
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
        )
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode())
            except urllib.error.HTTPError as e:
                detail = e.read().decode(errors="replace")[:300]
                if e.code < 500 and e.code != 429:
                    raise ValueError(f"server {self.base_url} refused the request ({e.code}): {detail}") from None
                last = e
            except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
                last = e
            if attempt < self.retries:
                time.sleep(min(8.0, 0.5 * 2**attempt))
        raise ConnectionError(f"cannot reach OpenAI-compatible server at {self.base_url}: {last}")

    def _one(self, prompt: Prompt, sampling: SamplingParams) -> list[Completion]:
        common = {
            "model": self.model,
            "n": max(1, sampling.n),
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "seed": sampling.seed,
        }
        if sampling.stop:
            common["stop"] = sampling.stop
        if isinstance(prompt, str):
            res = self._post("/completions", {**common, "prompt": prompt})
            texts = [(c.get("text", ""), c.get("finish_reason") or "stop") for c in res["choices"]]
        else:
            res = self._post("/chat/completions", {**common, "messages": prompt})
            texts = [(c["message"].get("content") or "", c.get("finish_reason") or "stop") for c in res["choices"]]
        usage = res.get("usage") or {}
        ptoks = int(usage.get("prompt_tokens", 0))
        ctoks = int(usage.get("completion_tokens", 0))
        per = ctoks // max(1, len(texts))
        return [Completion(t, ptoks, per, "length" if f == "length" else "stop") for t, f in texts]

    def generate(self, prompts: Sequence[Prompt], sampling: SamplingParams) -> list[list[Completion]]:
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(lambda p: self._one(p, sampling), prompts))

    def close(self) -> None:
        pass
