"""`sf serve` under hostile requests, over 127.0.0.1 only: every bad field is a 400 with a message."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

from sfdata.engines.base import Completion
from sfdata.serve import ServeLimits, serve_in_thread


class CountingEngine:
    name = "fake"
    model = "fake"

    def __init__(self, delay: float = 0.0):
        self.calls: list[tuple] = []
        self.delay = delay
        self.started = threading.Event()

    def generate(self, prompts, sampling):
        self.started.set()
        time.sleep(self.delay)
        self.calls.append((prompts, sampling))
        return [[Completion(f"ok {i}", 3, 2) for i in range(sampling.n)] for _ in prompts]

    def chat_text(self, messages):
        return str(messages)

    def close(self):
        pass


@pytest.fixture()
def server():
    engine = CountingEngine()
    limits = ServeLimits(max_n=8, max_tokens=1024, max_body_bytes=10_000, body_timeout_s=1.0)
    srv, url = serve_in_thread(engine, limits=limits)
    yield engine, srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def post(port: int, body, path="/v1/chat/completions", headers=None, raw: bytes | None = None):
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    data = raw if raw is not None else json.dumps(body).encode()
    con.request("POST", path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    r = con.getresponse()
    out = r.status, json.loads(r.read() or b"{}")
    con.close()
    return out


MSG = [{"role": "user", "content": "hi"}]


def raw_exchange(port: int, data: bytes) -> str:
    """Send raw bytes, read the reply until the server closes the connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data)
    chunks = []
    while chunk := s.recv(4096):
        chunks.append(chunk)
    s.close()
    return b"".join(chunks).decode()


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ([1, 2], "JSON object"),
        ("text", "JSON object"),
        ({"messages": [{"role": "user", "content": 5}]}, "string 'content'"),
        ({"messages": [{"role": "user", "content": ["x"]}]}, "string 'content'"),
        ({"messages": ["hi"]}, "messages[0]"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "role"),
        ({"messages": []}, "non-empty list"),
        ({"messages": MSG, "n": 5_000_000}, "'n' must be between 1 and 8"),
        ({"messages": MSG, "n": 0}, "'n'"),
        ({"messages": MSG, "n": True}, "'n' must be an integer"),
        ({"messages": MSG, "max_tokens": 1e9}, "'max_tokens' must be between 1 and 1024"),
        ({"messages": MSG, "max_tokens": 0}, "'max_tokens'"),
        ({"messages": MSG, "max_tokens": -1}, "'max_tokens'"),
        ({"messages": MSG, "max_tokens": "10"}, "'max_tokens' must be an integer"),
        ({"messages": MSG, "stop": 123}, "'stop'"),
        ({"messages": MSG, "stop": [""]}, "'stop'"),
        ({"messages": MSG, "temperature": "hot"}, "'temperature'"),
        ({"messages": MSG, "temperature": 1e308 * 10}, "'temperature'"),
        ({"messages": MSG, "top_p": 3}, "'top_p'"),
        ({"messages": MSG, "seed": "x"}, "'seed'"),
    ],
)
def test_bad_fields_get_400_with_a_message_and_cost_nothing(server, body, needle):
    engine, port = server
    status, out = post(port, body)
    assert status == 400
    assert needle in out["error"]["message"]
    assert engine.calls == []


def test_completions_prompt_must_be_a_string(server):
    engine, port = server
    assert post(port, {"prompt": {"a": 1}}, path="/v1/completions")[0] == 400
    status, out = post(port, {"prompt": "2+2=", "n": 2, "stop": "\n"}, path="/v1/completions")
    assert status == 200 and [c["text"] for c in out["choices"]] == ["ok 0", "ok 1"]
    assert engine.calls[0][1].stop == ["\n"]


def test_huge_content_length_is_refused_without_reading(server):
    engine, port = server
    reply = raw_exchange(
        port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n{"
    )
    assert reply.startswith("HTTP/1.1 413") and "body over" in reply
    assert engine.calls == []


def test_slow_body_times_out_with_408(server):
    engine, port = server
    # the server answers after its 1 s body timeout
    reply = raw_exchange(port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    assert reply.startswith("HTTP/1.1 408")
    assert engine.calls == []


def test_bad_json_and_missing_length(server):
    _, port = server
    assert post(port, None, raw=b"{not json")[0] == 400
    assert raw_exchange(port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n").startswith("HTTP/1.1 411")


def test_api_key_is_required_when_set():
    engine = CountingEngine()
    srv, _ = serve_in_thread(engine, limits=ServeLimits(api_key="s3cret-key"))
    port = srv.server_address[1]
    try:
        assert post(port, {"messages": MSG})[0] == 401
        assert post(port, {"messages": MSG}, headers={"Authorization": "Bearer wrong"})[0] == 401
        assert post(port, {"messages": MSG}, headers={"Authorization": "Bearer s3cret-key"})[0] == 200
        assert len(engine.calls) == 1
    finally:
        srv.shutdown()
        srv.server_close()


def test_openai_engine_sends_the_key(tmp_path):
    from sfdata.engines.base import SamplingParams
    from sfdata.engines.openai_server import OpenAIEngine

    engine = CountingEngine()
    srv, url = serve_in_thread(engine, limits=ServeLimits(api_key="s3cret-key"))
    try:
        out = OpenAIEngine("fake", base_url=url, api_key="s3cret-key", retries=0).generate([MSG], SamplingParams(n=2))
        assert [c.text for c in out[0]] == ["ok 0", "ok 1"]
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_client_gone_while_queued_gets_no_generation():
    engine = CountingEngine(delay=1.0)
    srv, _ = serve_in_thread(engine)
    port = srv.server_address[1]
    try:
        busy = threading.Thread(target=post, args=(port, {"messages": MSG}))
        busy.start()
        assert engine.started.wait(10)  # the engine is busy with the first request
        body = json.dumps({"messages": MSG, "n": 3}).encode()
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        time.sleep(0.2)
        s.close()  # gone while queued behind the first request
        busy.join(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            con.request("GET", "/health")
            health = json.loads(con.getresponse().read())
            con.close()
            if health["dropped_gone_clients"]:
                break
            time.sleep(0.05)
        assert health["dropped_gone_clients"] == 1
        assert [sp.n for _, sp in engine.calls] == [1]
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"[" * 5000 + b"]" * 5000, "nested deeper than 16"),  # past the stdlib parser's recursion limit
        (json.dumps({"messages": MSG, "x": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}).encode(), "nested deeper than 16"),
    ],
)
def test_deeply_nested_json_is_a_400_not_a_crash(server, raw, needle):
    engine, port = server
    status, out = post(port, None, raw=raw)
    assert status == 400 and needle in out["error"]["message"]
    assert engine.calls == []
    assert post(port, {"messages": MSG})[0] == 200  # the server is still up


def test_a_chunked_body_over_the_cap_is_a_413(server):
    engine, port = server
    chunk = b"x" * 4000
    data = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
    reply = raw_exchange(
        port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + data
    )
    assert reply.startswith("HTTP/1.1 413") and "body over 10000 bytes" in reply
    assert engine.calls == []


def test_a_client_trickling_its_headers_is_disconnected(server):
    """Each byte arrives well within the timeout, the whole header never does: the server closes it
    (uvicorn's keep-alive timer alone restarts on every byte)."""
    engine, port = server
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")
    closed = False
    for _ in range(100):  # up to 20 s of trickling against a 1 s header deadline
        try:
            s.sendall(b"X")
            s.settimeout(0.2)
            closed = s.recv(1) == b""
        except TimeoutError:
            continue
        except OSError:  # reset by the server
            closed = True
        if closed:
            break
    s.close()
    assert closed and engine.calls == []


def test_connections_past_the_cap_get_503_and_are_served_again_once_others_close():
    engine = CountingEngine()
    srv, _ = serve_in_thread(engine, limits=ServeLimits(max_connections=3, body_timeout_s=5.0))
    port = srv.server_address[1]
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
    try:
        reply = raw_exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert reply.startswith("HTTP/1.1 503")
        for s in idle:
            s.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the server notices the closes asynchronously
            status, _ = post(port, {"messages": MSG})
            if status == 200:
                break
            time.sleep(0.05)
        assert status == 200 and len(engine.calls) == 1
    finally:
        srv.shutdown()
        srv.server_close()
