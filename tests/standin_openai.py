"""A stand-in OpenAI-compatible server for client tests and the client bench: it answers every
request after a fixed delay (so it measures the client, not a model), records the seeds and the
most requests it saw in flight at once. Bound to 127.0.0.1; at most `max_threads` handlers."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StandIn(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, delay: float = 0.05, max_threads: int = 256, fail_first: int = 0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.slots = threading.BoundedSemaphore(max_threads)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[dict] = []
        self.fail_first = fail_first  # answer the first N requests with a 503 (exercises retries)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: StandIn
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, code: int, obj: dict) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        srv = self.server
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1_000_000:
            return self._send(413, {"error": {"message": "body too large"}})
        body = json.loads(self.rfile.read(length) or b"{}")
        with srv.slots:
            with srv.lock:
                srv.requests.append(body)
                fail = len(srv.requests) <= srv.fail_first
                srv.in_flight += 1
                srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
            try:
                time.sleep(srv.delay)
            finally:
                with srv.lock:
                    srv.in_flight -= 1
        if fail:
            return self._send(503, {"error": {"message": "busy, retry"}})
        if body.get("model") == "refuse-me" or self.path not in ("/v1/chat/completions", "/v1/completions"):
            return self._send(400, {"error": {"message": "bad request"}})
        chat = self.path.endswith("chat/completions")
        choices = []
        for i in range(int(body.get("n", 1))):
            text = f"seed={body.get('seed')} choice={i}"
            choice = {"index": i, "finish_reason": "stop"}
            choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
            choices.append(choice)
        n = len(choices)
        self._send(
            200,
            {
                "id": "x",
                "object": "chat.completion" if chat else "text_completion",
                "created": 0,
                "model": body.get("model"),
                "choices": choices,
                "usage": {"prompt_tokens": 5, "completion_tokens": 3 * n, "total_tokens": 5 + 3 * n},
            },
        )
