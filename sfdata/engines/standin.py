"""A stand-in OpenAI-compatible server (shared by the client tests and the client bench, so it lives in the package): it answers every
request after a fixed delay (so it measures the client, not a model), records the seeds and the
most requests it saw in flight at once. Bound to 127.0.0.1; at most `max_threads` handlers.
Some model names ask for a broken reply: `empty-choices`, `null-message`, `huge` (a 200 kB reply),
`huge-chunked` (the same, streamed without a Content-Length), `gzip` (a gzip-encoded reply).
Each request's Accept-Encoding is recorded in `accept_encodings`."""

from __future__ import annotations

import gzip
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
        self.accept_encodings: list[str | None] = []
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

    def _send(self, code: int, obj: dict, chunked: bool = False, gzipped: bool = False) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        if gzipped:
            data = gzip.compress(data)
            self.send_header("Content-Encoding", "gzip")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 4096):
                part = data[i : i + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
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
                srv.accept_encodings.append(self.headers.get("Accept-Encoding"))
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
        model = body.get("model")
        for i in range(0 if model == "empty-choices" else int(body.get("n", 1))):
            text = f"seed={body.get('seed')} choice={i}" + ("x" * 200_000 if model in ("huge", "huge-chunked") else "")
            choice = {"index": i, "finish_reason": "stop"}
            message = None if model == "null-message" else {"role": "assistant", "content": text}
            choice.update({"message": message} if chat else {"text": None if model == "null-message" else text})
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
            chunked=model == "huge-chunked",
            gzipped=model == "gzip",
        )
