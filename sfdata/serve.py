"""An OpenAI-compatible server over any engine: a Starlette app run by uvicorn, hardened for shared use.

`sf serve` exposes an engine at /v1/chat/completions and /v1/completions, so the `openai` engine,
other tools, or a second machine can sample from one loaded model. One request runs at a time per
engine (a lock): batching happens inside each request (`n` samples, one seed per request).

Why not `transformers serve`: it ignores `n` (one sample where the `openai` engine asks for n), sets
the request seed on the process-wide torch RNG, takes a client-supplied `generation_config` that
bypasses any token cap, and has no API key, body, connection or slow-client limits. So the HTTP
work is the libraries' (uvicorn's h11 parser, its connection cap `limit_concurrency`, keep-alive
timeout and header-size cap; Starlette's request/response handling) and this module only adds
what they lack: a deadline for a request's headers and body (slow clients), a body-size cap (413),
a JSON nesting cap (400), field validation (400 naming the field), the API key, and dropping a
client that left while queued (the engines have no hook to stop a generation already running).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sfdata.engines.base import Engine, SamplingParams


@dataclass(frozen=True)
class ServeLimits:
    max_n: int = 16
    max_tokens: int = 8192
    max_body_bytes: int = 4 * 1024 * 1024
    body_timeout_s: float = 30.0  # headers, then the body, must each arrive within this (slow clients)
    max_stop: int = 8
    api_key: str | None = None
    max_connections: int = 64  # uvicorn's limit_concurrency: past it, new requests get 503
    keepalive_timeout_s: float = 5.0  # an idle keep-alive connection is closed after this
    max_header_bytes: int = 16 * 1024  # uvicorn's h11_max_incomplete_event_size: bigger headers get 400
    max_json_depth: int = 16  # our bodies nest 4 deep; deeper JSON is refused before validation


class BadRequest(ValueError):
    def __init__(self, message: str, code: int = 400):
        super().__init__(message)
        self.code = code


def _int_field(body: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    v = body.get(name, default)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise BadRequest(f"'{name}' must be an integer, got {json.dumps(v)[:40]}")
    v = int(v)
    if not lo <= v <= hi:
        raise BadRequest(f"'{name}' must be between {lo} and {hi}, got {v}")
    return v


def _float_field(body: dict[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    v = body.get(name, default)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise BadRequest(f"'{name}' must be a number, got {json.dumps(v)[:40]}")
    if not lo <= v <= hi:
        raise BadRequest(f"'{name}' must be between {lo} and {hi}, got {v}")
    return float(v)


def _stop_field(body: dict[str, Any], max_stop: int) -> list[str] | None:
    v = body.get("stop")
    if v is None:
        return None
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(s, str) and s for s in v):
        raise BadRequest("'stop' must be a non-empty string or a list of non-empty strings")
    if len(v) > max_stop:
        raise BadRequest(f"'stop' takes at most {max_stop} strings")
    return v


def _prompt(body: dict[str, Any], chat: bool) -> Any:
    if chat:
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise BadRequest("'messages' must be a non-empty list of {role, content} objects")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or not isinstance(m.get("content"), str):
                raise BadRequest(f"messages[{i}] must be an object with a string 'content'")
            if m.get("role") not in ("system", "user", "assistant"):
                raise BadRequest(f"messages[{i}].role must be system, user or assistant")
        return [{"role": m["role"], "content": m["content"]} for m in msgs]
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str) or not prompt:
        raise BadRequest("'prompt' must be a non-empty string")
    return prompt


def parse_request(body: Any, chat: bool, limits: ServeLimits) -> tuple[Any, SamplingParams]:
    """Validate a completion request body; BadRequest names the first wrong field."""
    if not isinstance(body, dict):
        raise BadRequest(f"the request body must be a JSON object, got {type(body).__name__}")
    prompt = _prompt(body, chat)
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadRequest("'seed' must be an integer")
    sp = SamplingParams(
        n=_int_field(body, "n", 1, 1, limits.max_n),
        temperature=_float_field(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_float_field(body, "top_p", 1.0, 0.0, 1.0),
        max_tokens=_int_field(body, "max_tokens", 256, 1, limits.max_tokens),
        seed=int(seed or 0),
        stop=_stop_field(body, limits.max_stop),
    )
    return prompt, sp


def json_depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed JSON value, counted without recursion and stopping past `limit`."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def parse_json(raw: bytes, max_depth: int) -> Any:
    """The body as JSON; BadRequest for bad JSON or nesting deeper than `max_depth` (the stdlib parser
    raises RecursionError near the interpreter's limit, which must be a 400, not a crash)."""
    try:
        value = json.loads(raw or b"{}")
    except RecursionError:
        raise BadRequest(f"JSON nested deeper than {max_depth} levels") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadRequest(f"bad JSON: {e}") from None
    if json_depth(value, max_depth) > max_depth:
        raise BadRequest(f"JSON nested deeper than {max_depth} levels")
    return value


async def read_body(request: Any, limits: ServeLimits) -> bytes:
    """The request body, refused with 413 past the cap (by Content-Length before reading, or while
    streaming a chunked body) and with 408 when it does not arrive within `body_timeout_s`."""
    raw_len = request.headers.get("content-length")
    if raw_len is None and "chunked" not in request.headers.get("transfer-encoding", "").lower():
        raise BadRequest("Content-Length is required", 411)
    if raw_len is not None and int(raw_len) > limits.max_body_bytes:  # h11 already rejected a non-integer
        raise BadRequest(f"request body over {limits.max_body_bytes} bytes", 413)
    chunks: list[bytes] = []
    got = 0

    async def receive_all() -> None:
        nonlocal got
        async for chunk in request.stream():
            got += len(chunk)
            if got > limits.max_body_bytes:
                raise BadRequest(f"request body over {limits.max_body_bytes} bytes", 413)
            chunks.append(chunk)

    try:
        await asyncio.wait_for(receive_all(), limits.body_timeout_s)
    except TimeoutError:
        raise BadRequest(f"request body not received within {limits.body_timeout_s:g}s", 408) from None
    return b"".join(chunks)


def _response(name: str, chat: bool, outs: list) -> dict[str, Any]:
    choices = []
    for i, c in enumerate(outs):
        choice: dict[str, Any] = {"index": i, "finish_reason": c.finish_reason}
        if chat:
            choice["message"] = {"role": "assistant", "content": c.text}
        else:
            choice["text"] = c.text
        choices.append(choice)
    usage = {
        "prompt_tokens": outs[0].prompt_tokens if outs else 0,
        "completion_tokens": sum(c.completion_tokens for c in outs),
    }
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {
        "id": f"cmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": name,
        "choices": choices,
        "usage": usage,
    }


def make_app(engine: Engine, model_name: str, limits: ServeLimits):
    """The Starlette app: routes, API key, body and JSON limits, one generation at a time."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    lock = asyncio.Lock()  # created lazily on first use in uvicorn's loop (Python 3.10+ locks bind late)
    stats = {"dropped_gone": 0}
    want = f"Bearer {limits.api_key}".encode() if limits.api_key else None

    def error(code: int, message: str) -> JSONResponse:
        headers = {"Connection": "close"} if code in (408, 411, 413) else None  # an unread body ends the connection
        return JSONResponse({"error": {"message": message, "code": code}}, status_code=code, headers=headers)

    def unauthorized(request) -> JSONResponse | None:
        if want is None or hmac.compare_digest(request.headers.get("authorization", "").encode(), want):
            return None
        return error(401, "missing or wrong API key (send Authorization: Bearer KEY)")

    async def models(request):
        if bad := unauthorized(request):
            return bad
        return JSONResponse(
            {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "skillfactory"}]}
        )

    async def health(request):
        if bad := unauthorized(request):
            return bad
        return JSONResponse({"status": "ok", "dropped_gone_clients": stats["dropped_gone"]})

    async def complete(request, chat: bool):
        if bad := unauthorized(request):
            return bad
        try:
            prompt, sp = parse_request(
                parse_json(await read_body(request, limits), limits.max_json_depth), chat, limits
            )
        except BadRequest as e:
            return error(e.code, str(e))
        async with lock:
            if await request.is_disconnected():  # waited in the queue and left: do no work for it
                stats["dropped_gone"] += 1
                return error(499, "client closed the request")
            try:
                outs = (await run_in_threadpool(engine.generate, [prompt], sp))[0]
            except Exception as e:  # an engine failure is the server's error, reported, not a dropped socket
                return error(500, f"generation failed: {type(e).__name__}: {e}")
        return JSONResponse(_response(model_name, chat, outs))

    async def chat_completions(request):
        return await complete(request, True)

    async def completions(request):
        return await complete(request, False)

    async def not_found(request, exc):
        return error(exc.status_code, f"no route {request.method} {request.url.path}")

    routes = [
        Route(p, f, methods=[m])
        for ps, f, m in (
            (("/v1/chat/completions", "/chat/completions"), chat_completions, "POST"),
            (("/v1/completions", "/completions"), completions, "POST"),
            (("/v1/models", "/models"), models, "GET"),
            (("/health", "/v1/health"), health, "GET"),
        )
        for p in ps
    ]
    from starlette.exceptions import HTTPException

    return Starlette(routes=routes, exception_handlers={HTTPException: not_found})


def _protocol(header_timeout_s: float):
    """uvicorn's h11 protocol plus a hard deadline for each request's headers: uvicorn's keep-alive timer
    restarts on every byte, so a client trickling a header would otherwise hold its connection forever."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadlineH11(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(header_timeout_s, self._headers_late)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _headers_late(self) -> None:
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state is not h11.IDLE:  # the headers are in: the body deadline is the app's
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request on this keep-alive connection gets its own deadline

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderDeadlineH11


class CompletionServer:
    """A bound socket and a uvicorn server for the app; `serve_forever` blocks, `shutdown` stops it."""

    def __init__(self, engine: Engine, address: tuple[str, int], model_name: str, limits: ServeLimits):
        import uvicorn

        self.limits = limits
        self.model_name = model_name
        self.socket = socket.create_server(address, backlog=max(16, limits.max_connections))
        self.server_address = self.socket.getsockname()[:2]
        config = uvicorn.Config(
            make_app(engine, model_name, limits),
            http=_protocol(limits.body_timeout_s),
            loop="asyncio",
            lifespan="off",
            log_level="warning",
            access_log=False,
            limit_concurrency=limits.max_connections,
            timeout_keep_alive=limits.keepalive_timeout_s,  # type: ignore[arg-type]  # used as a float delay
            h11_max_incomplete_event_size=limits.max_header_bytes,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        self._server.run(sockets=[self.socket])

    def start(self) -> None:
        """Serve from a daemon thread; returns once the server accepts connections."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.server_address} did not start")
            time.sleep(0.01)

    def shutdown(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def server_close(self) -> None:
        self.socket.close()


def make_server(
    engine: Engine,
    host: str = "127.0.0.1",
    port: int = 8000,
    model_name: str | None = None,
    limits: ServeLimits | None = None,
) -> CompletionServer:
    """An OpenAI-compatible server for `engine`, bound to host:port (not yet serving: `serve_forever`)."""
    name = model_name or str(getattr(engine, "model", "model"))
    return CompletionServer(engine, (host, port), name, limits or ServeLimits())


def serve_in_thread(
    engine: Engine, host: str = "127.0.0.1", port: int = 0, limits: ServeLimits | None = None
) -> tuple[CompletionServer, str]:
    """Start a server on a free port in a daemon thread; returns (server, base_url)."""
    srv = make_server(engine, host, port, limits=limits)
    srv.start()
    return srv, f"http://{host}:{srv.server_address[1]}/v1"
