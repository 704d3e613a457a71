"""A minimal OpenAI-compatible server over any engine (stdlib `http.server`), hardened for shared use.

`sf serve` exposes an engine at /v1/chat/completions and /v1/completions, so the `openai`
engine, other tools, or a second machine can sample from one loaded model. One request runs at a
time per engine (a lock): batching happens inside each request (`n` samples).

Every request is checked before it can cost compute: the body is size-capped and must arrive
within a timeout; it must be a JSON object whose fields have the right types and ranges (`n` and
`max_tokens` capped); anything else gets a 400 with a message, never a dropped connection. An
optional API key is required as `Authorization: Bearer KEY`. A client that disconnects while its
request waits for the engine is dropped before generation starts (the engines have no hook to
stop a generation already running).
"""

from __future__ import annotations

import hmac
import json
import math
import select
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sfdata.engines.base import Engine, SamplingParams


@dataclass(frozen=True)
class ServeLimits:
    max_n: int = 16
    max_tokens: int = 8192
    max_body_bytes: int = 4 * 1024 * 1024
    body_timeout_s: float = 30.0  # headers and body must arrive within this (slow-body attacks)
    max_stop: int = 8
    api_key: str | None = None


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


def client_gone(sock: socket.socket) -> bool:
    """True when the peer closed its side (readable with nothing to read)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class CompletionServer(ThreadingHTTPServer):
    """A threading HTTP server that owns one engine; requests take turns on it through `lock`."""

    def __init__(self, engine: Engine, address: tuple[str, int], model_name: str, limits: ServeLimits):
        self.engine = engine
        self.model_name = model_name
        self.limits = limits
        self.lock = threading.Lock()
        self.stats = {"dropped_gone": 0}
        super().__init__(address, CompletionHandler)


class CompletionHandler(BaseHTTPRequestHandler):
    """One request; the engine, its lock, the limits and counters live on the `CompletionServer`."""

    protocol_version = "HTTP/1.1"
    server: CompletionServer

    def setup(self) -> None:
        self.timeout = self.server.limits.body_timeout_s  # a slow header/body ends in 408, not a held thread
        super().setup()

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet by default
        pass

    def _send(self, code: int, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if code >= 400:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def _error(self, code: int, message: str) -> None:
        self._send(code, {"error": {"message": message, "code": code}})

    def _authorized(self) -> bool:
        if not self.server.limits.api_key:
            return True
        got = self.headers.get("Authorization", "")
        if hmac.compare_digest(got.encode(), f"Bearer {self.server.limits.api_key}".encode()):
            return True
        self._error(401, "missing or wrong API key (send Authorization: Bearer KEY)")
        return False

    def do_GET(self) -> None:
        if not self._authorized():
            return
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(
                200,
                {
                    "object": "list",
                    "data": [{"id": self.server.model_name, "object": "model", "owned_by": "skillfactory"}],
                },
            )
        elif self.path.rstrip("/") in ("/health", "/v1/health"):
            self._send(200, {"status": "ok", "dropped_gone_clients": self.server.stats["dropped_gone"]})
        else:
            self._error(404, f"no route {self.path}")

    def _read_body(self) -> Any:
        raw_len = self.headers.get("Content-Length")
        if raw_len is None:
            raise BadRequest("Content-Length is required", 411)
        try:
            length = int(raw_len)
        except ValueError:
            raise BadRequest("Content-Length must be an integer") from None
        if length < 0:
            raise BadRequest("Content-Length must not be negative")
        if length > self.server.limits.max_body_bytes:
            raise BadRequest(f"request body over {self.server.limits.max_body_bytes} bytes", 413)
        deadline = time.monotonic() + self.server.limits.body_timeout_s
        chunks, got = [], 0
        while got < length:
            self.connection.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.rfile.read1(min(65536, length - got))
            except TimeoutError:
                raise BadRequest(
                    f"request body not received within {self.server.limits.body_timeout_s:g}s", 408
                ) from None
            if not chunk:
                raise BadRequest("request body shorter than Content-Length")
            chunks.append(chunk)
            got += len(chunk)
        try:
            return json.loads(b"".join(chunks) or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BadRequest(f"bad JSON: {e}") from None

    def do_POST(self) -> None:
        path = self.path.rstrip("/")
        chat = path.endswith("/chat/completions")
        if not chat and not path.endswith("/completions"):
            return self._error(404, f"no route {self.path}")
        if not self._authorized():
            return
        try:
            prompt, sp = parse_request(self._read_body(), chat, self.server.limits)
        except BadRequest as e:
            return self._error(e.code, str(e))
        with self.server.lock:
            if client_gone(self.connection):  # waited in the queue and left: do no work for it
                self.server.stats["dropped_gone"] += 1
                self.close_connection = True
                return
            try:
                outs = self.server.engine.generate([prompt], sp)[0]
            except Exception as e:  # an engine failure is the server's error, reported, not a dropped socket
                return self._error(500, f"generation failed: {type(e).__name__}: {e}")
        self._send(200, _response(self.server.model_name, chat, outs))


def make_server(
    engine: Engine,
    host: str = "127.0.0.1",
    port: int = 8000,
    model_name: str | None = None,
    limits: ServeLimits | None = None,
) -> ThreadingHTTPServer:
    """An OpenAI-compatible server for `engine` on host:port (not yet serving: call `serve_forever`)."""
    name = model_name or getattr(engine, "model", "model")
    return CompletionServer(engine, (host, port), name, limits or ServeLimits())


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


def serve_in_thread(
    engine: Engine, host: str = "127.0.0.1", port: int = 0, limits: ServeLimits | None = None
) -> tuple[ThreadingHTTPServer, str]:
    """Start a server on a free port in a daemon thread; returns (server, base_url)."""
    srv = make_server(engine, host, port, limits=limits)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://{host}:{srv.server_address[1]}/v1"
