"""A minimal OpenAI-compatible server over any engine (stdlib `http.server`).

`sf serve` exposes the transformers engine at /v1/chat/completions and /v1/completions, so the
`openai` engine, other tools, or a second machine can sample from one loaded model. It is also
what the OpenAI-engine tests talk to. One request at a time per engine (a lock): batching
happens inside each request (`n` samples, or many prompts from concurrent clients queued).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sfdata.engines.base import Engine, SamplingParams


def make_server(
    engine: Engine, host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None
) -> ThreadingHTTPServer:
    lock = threading.Lock()
    name = model_name or getattr(engine, "model", "model")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet by default
            pass

        def _send(self, code: int, obj: dict[str, Any]) -> None:
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self._send(
                    200, {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "skillfactory"}]}
                )
            elif self.path.rstrip("/") in ("/health", "/v1/health"):
                self._send(200, {"status": "ok"})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
            except (ValueError, json.JSONDecodeError) as e:
                return self._send(400, {"error": {"message": f"bad JSON: {e}"}})
            chat = self.path.rstrip("/").endswith("/chat/completions")
            if not chat and not self.path.rstrip("/").endswith("/completions"):
                return self._send(404, {"error": {"message": f"no route {self.path}"}})
            prompt = body.get("messages") if chat else body.get("prompt")
            if not prompt:
                return self._send(400, {"error": {"message": "missing 'messages'" if chat else "missing 'prompt'"}})
            try:
                sp = SamplingParams(
                    n=int(body.get("n", 1)),
                    temperature=float(body.get("temperature", 1.0)),
                    top_p=float(body.get("top_p", 1.0)),
                    max_tokens=int(body.get("max_tokens", 256)),
                    seed=int(body.get("seed") or 0),
                    stop=body.get("stop"),
                )
            except (TypeError, ValueError) as e:
                return self._send(400, {"error": {"message": f"bad sampling parameters: {e}"}})
            with lock:
                outs = engine.generate([prompt], sp)[0]
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
            self._send(
                200,
                {
                    "id": f"cmpl-{uuid.uuid4().hex[:12]}",
                    "object": "chat.completion" if chat else "text_completion",
                    "created": int(time.time()),
                    "model": name,
                    "choices": choices,
                    "usage": usage,
                },
            )

    return ThreadingHTTPServer((host, port), Handler)


def serve_in_thread(engine: Engine, host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Start a server on a free port in a daemon thread; returns (server, base_url)."""
    srv = make_server(engine, host, port)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://{host}:{srv.server_address[1]}/v1"
