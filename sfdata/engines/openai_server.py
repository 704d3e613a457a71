"""Client for any OpenAI-compatible server (vLLM serve, SGLang, llama.cpp server, `sf serve`).

Built on the `openai` library's async client: many requests in flight at once (bounded by
`concurrency`, which the user sets to what the server can batch), the library's retries with
backoff and its timeouts. Chat prompts go to `/v1/chat/completions`, raw text to `/v1/completions`;
each request carries its own seed, so a resumed or re-chunked run asks for the same samples.
Scaling past one GPU is the server's job (e.g. `vllm serve --tensor-parallel-size` or
`--data-parallel-size`); this client just keeps it busy.

A reply is trusted no further than its shape: one over `max_reply_bytes` (by Content-Length, or
counted while it streams; compressed replies are not accepted, so the count is the real size) is
refused without retrying, and a reply without the `n` choices asked for, or with a null message, is
one error line naming the server.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
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
        max_reply_bytes: int = 64 * 1024 * 1024,
    ):
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "http://127.0.0.1:8000/v1").rstrip("/")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.model = model or "default"
        self.timeout = timeout
        self.retries = retries
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.concurrency = concurrency
        if max_reply_bytes < 1:
            raise ValueError(f"max_reply_bytes must be at least 1, got {max_reply_bytes}")
        self.max_reply_bytes = max_reply_bytes

    def chat_text(self, messages: list[dict[str, str]]) -> str:
        # the server owns the template; this is a readable rendering for logs and budget forcing
        return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages) + "<|assistant|>\n"

    def _client(self):
        from openai import AsyncOpenAI, DefaultAsyncHttpxClient

        transport = capped_transport(self.max_reply_bytes, self.concurrency, self.base_url)
        return AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.api_key,
            timeout=self.timeout,
            max_retries=self.retries,
            default_headers={"Accept-Encoding": "identity"},
            http_client=DefaultAsyncHttpxClient(transport=transport, timeout=self.timeout),
        )

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
                else:
                    res = await client.chat.completions.create(**body)
            except reply_too_large() as e:
                raise ValueError(str(e)) from None
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
        texts = self._texts(res, isinstance(prompt, str), body["n"])
        usage = res.usage
        ptoks = int(usage.prompt_tokens) if usage else 0
        per = (int(usage.completion_tokens) if usage else 0) // max(1, len(texts))
        return [Completion(t, ptoks, per, "length" if f == "length" else "stop") for t, f in texts]

    def _texts(self, res: Any, text: bool, n: int) -> list[tuple[str, str | None]]:
        """(text, finish_reason) per choice; a reply without its n choices or with a null message is refused."""
        choices = getattr(res, "choices", None)
        if not isinstance(choices, list) or len(choices) != n:
            got = len(choices) if isinstance(choices, list) else "no"
            raise ValueError(f"server {self.base_url} returned {got} choices for n={n} (model {self.model})")
        out = []
        for i, c in enumerate(choices):
            part = getattr(c, "text", None) if text else getattr(getattr(c, "message", None), "content", None)
            if text and part is None or not text and getattr(c, "message", None) is None:
                what = "text" if text else "message"
                raise ValueError(f"server {self.base_url} returned choice {i} with a null {what} (model {self.model})")
            out.append((part or "", getattr(c, "finish_reason", None)))
        return out

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


def _http_module() -> Any:
    """The HTTP library the installed `openai` is built on (httpx2 from openai 3, httpx before)."""
    from openai import DefaultAsyncHttpxClient

    base = next(c for c in DefaultAsyncHttpxClient.__mro__ if c.__name__ == "AsyncClient")
    return sys.modules[base.__module__.split(".")[0]]


@functools.cache
def reply_too_large() -> type[Exception]:
    """The error for an oversized reply: an OpenAIError, which the client raises as is, without retrying
    (built on first use so importing this module does not import openai)."""
    import openai

    class ReplyTooLarge(openai.OpenAIError):
        pass

    return ReplyTooLarge


def capped_transport(max_bytes: int, connections: int, base_url: str):
    """An HTTP transport whose replies may not exceed `max_bytes` (nor arrive compressed)."""
    http = _http_module()
    too_large = reply_too_large()
    byte_stream: Any = http.AsyncByteStream  # bases from the module found at run time
    base_transport: Any = http.AsyncBaseTransport

    class CappedStream(byte_stream):
        def __init__(self, stream: Any):
            self._stream = stream

        async def __aiter__(self):
            got = 0
            async for chunk in self._stream:
                got += len(chunk)
                if got > max_bytes:
                    raise too_large(f"server {base_url} sent a reply over {max_bytes} bytes")
                yield chunk

        async def aclose(self) -> None:
            await self._stream.aclose()

    class CappedTransport(base_transport):
        def __init__(self) -> None:
            limits = http.Limits(max_connections=connections, max_keepalive_connections=connections)
            self._inner = http.AsyncHTTPTransport(limits=limits)

        async def handle_async_request(self, request: Any) -> Any:
            resp = await self._inner.handle_async_request(request)
            length = resp.headers.get("content-length", "")
            encoding = resp.headers.get("content-encoding", "identity").lower()
            if encoding != "identity" or (length.isdigit() and int(length) > max_bytes):
                await resp.aclose()
                what = f"a {encoding}-encoded reply" if encoding != "identity" else f"a {length}-byte reply"
                raise too_large(f"server {base_url} sent {what} (the cap is {max_bytes} bytes, uncompressed)")
            return http.Response(
                resp.status_code, headers=resp.headers, stream=CappedStream(resp.stream), extensions=resp.extensions
            )

        async def aclose(self) -> None:
            await self._inner.aclose()

    return CappedTransport()


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
