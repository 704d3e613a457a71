"""Attack tally for the README's Reliability section: concurrent writers, hostile requests, SQL, markup, secrets.

Not a speed bench (run_all.py skips it): each attack is run for real and counted as handled when
it ends in a clear refusal or a correct result, never in lost/duplicated rows, a leak or a crash.
Last line: one JSON object. About a minute on 2 cores: `PYTHONPATH=. python bench/attacks.py`.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sfdata.engines.base import Completion  # noqa: E402
from sfdata.serve import ServeLimits, serve_in_thread  # noqa: E402
from sfdata.store import RunDir  # noqa: E402
from sfdata.synth import make_run  # noqa: E402
from sfdata.tasks import make_questions  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
tally: dict[str, list[int]] = {}  # group -> [tried, handled]
lost = {"rows_lost": 0, "duplicates": 0, "leaks": 0, "crashes": 0}


def count(group: str, ok: bool) -> None:
    t = tally.setdefault(group, [0, 0])
    t[0] += 1
    t[1] += int(ok)


def sf(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sfdata.app.cli.main", *args], cwd=ROOT, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


class SlowEngine:
    name = model = "fake"

    def generate(self, prompts, sampling):
        time.sleep(0.1)
        return [[Completion(f"<answer>{i}</answer>", 5, 3) for i in range(sampling.n)] for _ in prompts]

    def chat_text(self, m):
        return str(m)

    def close(self):
        pass


def two_at_once(cmd: list[str]) -> list[tuple[int, str]]:
    procs = [sf(*cmd), sf(*cmd)]
    return [(p.wait(), p.communicate()[1]) for p in procs]


def writers(tmp: Path) -> None:
    run = RunDir(tmp / "gen").init()
    run.write("questions", make_questions("countdown", 4, 0, level=3))
    srv, url = serve_in_thread(SlowEngine())
    res = two_at_once(["generate", str(run.path), "--engine", "openai", "--base-url", url, "--model", "fake",
                       "--n", "2", "--chunk", "2", "--variants", "original", "rephrase"])  # fmt: skip
    srv.shutdown()
    ids = pl.read_parquet(run.files("rollouts"))["rollout_id"]
    lost["duplicates"] += ids.len() - ids.n_unique()
    lost["rows_lost"] += max(0, 4 * 2 * 2 - ids.n_unique())
    count("two writers", all(rc == 0 or "is busy" in err for rc, err in res) and ids.len() == ids.n_unique())
    for flag in ([], ["--replace"]):
        r = make_run(tmp / f"b{len(flag)}", n_questions=6)
        res = two_at_once(["build", str(r.path), *flag])
        ids = pl.read_parquet(r.files("traces"))["trace_id"]
        lost["duplicates"] += ids.len() - ids.n_unique()
        ref = sf("build", str(r.path), "--replace")
        ref.wait()
        want = pl.read_parquet(r.files("traces")).height
        lost["rows_lost"] += max(0, want - ids.n_unique())
        count("two writers", all(rc == 0 or "is busy" in err for rc, err in res) and ids.n_unique() == want)
    m = RunDir(tmp / "man").init()
    code = "import sys\nfrom sfdata.store import RunDir\nr=RunDir(sys.argv[1])\n" \
           "for i in range(50): r.set_stage(f'{sys.argv[2]}{i}', 'done')\n"  # fmt: skip
    ps = [subprocess.Popen([sys.executable, "-c", code, str(m.path), w], cwd=ROOT, env=ENV) for w in "ab"]
    [p.wait() for p in ps]
    kept = len(m.manifest()["stages"])
    lost["rows_lost"] += 100 - kept
    count("two writers", kept == 100)
    r = make_run(tmp / "lab", n_questions=6)
    from sfdata.factory.build import BuildConfig, build_stage

    build_stage(r, BuildConfig(formats=("0C", "*C", "random"), n=3))
    ids = r.read("traces")["trace_id"].to_list()
    code = "import sys\nfrom tui.data import TraceStore\ns=TraceStore(sys.argv[1])\n" \
           "for t in sys.argv[3:]: s.set_label(t, sys.argv[2])\n"  # fmt: skip
    ps = [subprocess.Popen([sys.executable, "-c", code, str(r.path), lab, *part], cwd=ROOT, env=ENV)
          for lab, part in (("keep", ids[::2]), ("drop", ids[1::2]))]  # fmt: skip
    [p.wait() for p in ps]
    kept = r.read("labels").height
    lost["rows_lost"] += len(ids) - kept
    count("two writers", kept == len(ids))


SERVE_ATTACKS = [
    [1, 2], "x", {"messages": [{"role": "user", "content": 5}]}, {"messages": ["hi"]}, {"messages": []},
    {"messages": [{"role": "user", "content": "x"}], "n": 5_000_000},
    {"messages": [{"role": "user", "content": "x"}], "max_tokens": 1e9},
    {"messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
    {"messages": [{"role": "user", "content": "x"}], "max_tokens": -1},
    {"messages": [{"role": "user", "content": "x"}], "stop": 123},
    {"messages": [{"role": "user", "content": "x"}], "temperature": "hot"},
    {"prompt": {"a": 1}},
]  # fmt: skip


def serve_attacks() -> None:
    srv, _ = serve_in_thread(SlowEngine(), limits=ServeLimits(body_timeout_s=1.0))
    port = srv.server_address[1]
    for body in SERVE_ATTACKS:
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        path = "/v1/completions" if "prompt" in str(body) else "/v1/chat/completions"
        try:
            con.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
            count("sf serve", con.getresponse().status == 400)
        except OSError:
            count("sf serve", False)
    for raw, code in ((b"Content-Length: 1000000000000\r\n\r\n{", "413"), (b"Content-Length: 100\r\n\r\n{", "408")):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + raw)
        count("sf serve", s.recv(4096).decode().startswith(f"HTTP/1.1 {code}"))
        s.close()
    srv.shutdown()


def sql_attacks(tmp: Path) -> None:
    from sfdata.app.cli.main import main
    from tui.data import FilterError, Filters, TraceStore

    r = make_run(tmp / "sql", n_questions=2)
    leak = tmp / "leak.csv"
    for q in [f"COPY rollouts TO '{leak}'", f"ATTACH '{leak}' AS x", "INSTALL httpfs", "LOAD httpfs",
              "SET enable_external_access = true", f"SELECT 1; COPY rollouts TO '{leak}'",
              "SELECT * FROM read_text('/etc/hostname')", "SELECT * FROM read_csv('/etc/passwd')"]:  # fmt: skip
        count("sf sql", main(["sql", q, "--run", str(r.path)]) == 1 and not leak.exists())
    from sfdata.factory.build import BuildConfig, build_stage

    build_stage(r, BuildConfig(formats=("0C",), n=1))
    store = TraceStore(r.path)
    for w in ["1=1) OR (1=1", "format='x') OR (1=1", "1=1 --", "1=1; SELECT 1", "(1=1",
              "trace_id IN (SELECT content FROM read_text('/etc/hostname'))"]:  # fmt: skip
        try:
            store.count(Filters(format="none", where=w))
            count("inspector WHERE", False)
        except FilterError:
            count("inspector WHERE", True)


def markup_and_secrets(tmp: Path) -> None:
    import contextlib
    import io

    from sfdata.app.cli._common import emit

    for h in ["[/]", "[bold red]x", "[/bold]", "[link=http://x]y"]:
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf):
                emit(pl.DataFrame({"answer": [h]}), "table", None)
            count("markup", h in buf.getvalue())
        except Exception:
            lost["crashes"] += 1
            count("markup", False)
    r = make_run(tmp / "sec", n_questions=2)
    key, pw = "sk-FAKEKEY-0123456789abcdef", "hunter2-PASSWORD-42"
    cfg = tmp / "c.toml"
    cfg.write_text(f'[run]\ndir = "{r.path}"\n[generate]\nmodel = "fake"\nengine = "openai"\nn = 1\n'
                   f'engine_options = {{ base_url = "http://u:{pw}@127.0.0.1:9/v1", api_key = "{key}", retries = 0 }}\n'
                   '[build]\nformats = ["0C"]\n')  # fmt: skip
    outs = [sf("run", str(cfg)), None, None]
    outs[0].wait()
    outs[1] = sf("run", str(cfg), "--only", "build")
    outs[1].wait()
    outs[2] = sf("push", str(r.path), "me/x", "--dry-run")
    outs[2].wait()
    text = "".join("".join(p.communicate()) for p in outs)
    leaks = sum(
        1
        for p in r.path.rglob("*")
        if p.is_file() and (key.encode() in p.read_bytes() or pw.encode() in p.read_bytes())
    )
    leaks += int(key in text or pw in text)
    lost["leaks"] += leaks
    count("secrets", leaks == 0)


def main() -> None:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        writers(tmp)
        serve_attacks()
        sql_attacks(tmp)
        markup_and_secrets(tmp)
    for g, (tried, ok) in tally.items():
        print(f"{g:16} {ok}/{tried} handled")
    tried = sum(t for t, _ in tally.values())
    handled = sum(h for _, h in tally.values())
    print(f"attacks {tried}, handled {handled}; " + ", ".join(f"{k} {v}" for k, v in lost.items()))
    print(json.dumps({"bench": "reliability", "attacks": tried, "handled": handled, **lost,
                      "groups": tally, "seconds": round(time.perf_counter() - t0, 1)}))  # fmt: skip


if __name__ == "__main__":
    main()
