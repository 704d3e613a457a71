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
from sfdata.tasks import make_questions  # noqa: E402
from tests.synth import make_run  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
tally: dict[str, list[int]] = {}  # group -> [tried, handled]
lost = {"rows_lost": 0, "duplicates": 0, "leaks": 0, "crashes": 0, "hangs": 0}


def count(group: str, ok: bool) -> None:
    t = tally.setdefault(group, [0, 0])
    t[0] += 1
    t[1] += int(ok)


def sf(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sfdata.cli.main", *args], cwd=ROOT, env=ENV, text=True,
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
    from sfdata.cli.main import main
    from tui.data import FilterError, Filters, TraceStore

    r = make_run(tmp / "sql", n_questions=2)
    leak = tmp / "leak.csv"
    for q in [f"COPY rollouts TO '{leak}'", f"ATTACH '{leak}' AS x", "INSTALL httpfs", "LOAD httpfs",
              "SET enable_external_access = true", f"SELECT 1; COPY rollouts TO '{leak}'",
              "SELECT * FROM read_text('/etc/hostname')", "SELECT * FROM read_csv('/etc/passwd')"]:  # fmt: skip
        count("sf sql", main(["sql", q, "--run", str(r.path)]) == 1 and not leak.exists())
    from sfdata.factory.build import BuildConfig, build_stage

    build_stage(r, BuildConfig(formats=("0C",), n=1))
    traces = RunDir(r.path).read("traces")
    RunDir(r.path).write("labels", pl.DataFrame({"trace_id": traces["trace_id"], "label": "keep", "note": "",
                                                  "updated_at": [None] * traces.height}))  # fmt: skip
    labels, part = r.path / "labels.parquet", r.files("traces")[0]
    before = _files(tmp)
    for q in [f"EXPLAIN ANALYZE COPY (SELECT * FROM labels WHERE false) TO '{labels}' (FORMAT parquet)",
              f"WITH x AS (SELECT 1) SELECT * FROM x; COPY (SELECT * FROM traces) TO '{part}' (FORMAT parquet)",
              f"EXPORT DATABASE '{tmp / 'exp'}'", "PRAGMA enable_profiling = 'json'",
              f"SET profiling_output = '{leak}'", "SELECT * FROM glob('/etc/*')",
              "EXPLAIN ANALYZE CREATE OR REPLACE VIEW labels AS SELECT * FROM labels WHERE false"]:  # fmt: skip
        count("sf sql", main(["sql", q, "--run", str(r.path)]) == 1)
    evil = tmp / "evil.sql"
    evil.write_text(f"COPY (SELECT * FROM traces) TO '{part}' (FORMAT parquet)")
    rel = os.path.relpath(evil.with_suffix(""), ROOT / "sfdata" / "named_queries")
    count("sf query", main(["query", rel, "--run", str(r.path)]) == 1)
    count("sf query", main(["query", "--file", str(evil), "--run", str(r.path)]) == 1)
    for out in (part.parent / "part-dup.parquet", labels, r.path / "grades.parquet"):
        count("sf query", main(["query", "grade_reasons", "--run", str(r.path), "--format", "parquet",
                                "--out", str(out)]) == 1)  # fmt: skip
    after = {k: v for k, v in _files(tmp).items() if k != str(evil)}  # the attack's own .sql file
    changed = sum(1 for k, v in after.items() if before.get(k) != v) + sum(1 for k in before if k not in after)
    lost["rows_lost"] += traces.height - RunDir(r.path).read("labels").height
    lost["duplicates"] += RunDir(r.path).read("traces").height - traces.height
    count("sf sql", changed == 0)
    store = TraceStore(r.path)
    for w in ["1=1) OR (1=1", "format='x') OR (1=1", "1=1 --", "1=1; SELECT 1", "(1=1",
              "trace_id IN (SELECT content FROM read_text('/etc/hostname'))"]:  # fmt: skip
        try:
            store.count(Filters(format="none", where=w))
            count("inspector WHERE", False)
        except FilterError:
            count("inspector WHERE", True)


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def links_and_paths(tmp: Path) -> None:
    """Symlinks inside a run (lock file, table folder, temp-named links) and glob characters in run paths."""
    from sfdata.store.lock import run_lock

    outside = tmp / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep")
    dead = "999999999"
    (outside / f".x.parquet.pid{dead}.0123abcd.tmp").write_text("not a temp of the run")
    r = make_run(tmp / "links", n_questions=2)
    before = _files(outside)
    (r.path / ".lock").unlink(missing_ok=True)
    os.symlink(outside / "precious.txt", r.path / ".lock")
    p = sf("grade", str(r.path), "--force")
    try:
        p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        lost["hangs"] += 1
    count("symlinks", p.returncode != 0 and "symbolic link" in p.communicate()[1])
    (r.path / ".lock").unlink()
    os.symlink(outside, r.path / "rl_log")  # a linked folder holding temp-looking files: cleanup must not enter
    with run_lock(r.path):
        pass
    rows = RunDir(r.path).read("rollouts")
    os.replace(r.path / "rollouts", tmp / "rollouts_aside")
    os.symlink(outside, r.path / "rollouts")
    try:
        RunDir(r.path).append("rollouts", rows)
        count("symlinks", False)
    except OSError:
        count("symlinks", True)
    os.unlink(r.path / "rollouts")
    os.replace(tmp / "rollouts_aside", r.path / "rollouts")
    count("symlinks", _files(outside) == before)
    real = tmp / "real"
    real.mkdir()
    os.symlink(real, tmp / "linked_parent")
    lr = make_run(tmp / "linked_parent" / "run", n_questions=2)
    p = sf("grade", str(lr.path), "--force")
    p.wait(timeout=300)
    count("symlinks", p.returncode == 0 and not (real / "run" / ".lock").is_symlink())
    for odd, plain in (("g[1]", "g1"), ("run?", "runA"), ("sweep[lr=1e-6]", "sweepl")):
        a, b = make_run(tmp / odd, n_questions=2), make_run(tmp / plain, n_questions=3)
        want = a.read("rollouts").height
        p = sf("sql", "SELECT count(*) FROM rollouts", "--run", str(a.path), "--format", "csv")
        out, _ = p.communicate(timeout=300)
        got = int(out.strip().splitlines()[-1]) if p.returncode == 0 else -1
        lost["rows_lost"] += max(0, want - got) if got >= 0 else 0
        lost["duplicates"] += max(0, got - want)
        count("literal paths", got == want and b.read("rollouts").height != want)


def markup_and_secrets(tmp: Path) -> None:
    import contextlib
    import io

    from sfdata.cli._common import emit

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
    key, pw = "sk-FAKEKEY-0123456789abcdef", "hunter2@PASSWORD-42"  # an '@' inside the password
    cfg = tmp / "c.toml"
    cfg.write_text(f'[run]\ndir = "{r.path}"\n[generate]\nmodel = "fake"\nengine = "openai"\nn = 1\n'
                   f'engine_options = {{ base_url = "http://u:{pw}@127.0.0.1:9/v1", api_key = "{key}", retries = 0 }}\n'
                   '[build]\nformats = ["0C"]\n')  # fmt: skip
    outs = [sf("run", str(cfg)), None, None, None]
    outs[0].wait()
    outs[1] = sf("run", str(cfg), "--only", "build")
    outs[1].wait()
    outs[2] = sf("push", str(r.path), "me/x", "--dry-run")
    outs[2].wait()
    env_pw = "envpass@WORD-77"
    cfg2 = tmp / "c2.toml"
    cfg2.write_text(f'[run]\ndir = "{r.path}"\n[generate]\nmodel = "fake"\nengine = "openai"\nn = 1\n'
                    'engine_options = { retries = 0 }\n')  # fmt: skip
    outs[3] = subprocess.Popen([sys.executable, "-m", "sfdata.cli.main", "run", str(cfg2), "--only", "generate", "--force", "generate"],
                               cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**ENV, "OPENAI_BASE_URL": f"http://u:{env_pw}@127.0.0.1:9/v1"})  # fmt: skip
    outs[3].wait()
    text = "".join("".join(p.communicate()) for p in outs)
    leaks = sum(
        1
        for p in r.path.rglob("*")
        if p.is_file() and any(x.encode() in p.read_bytes() for x in (key, pw, env_pw, "PASSWORD-42", "WORD-77"))
    )
    leaks += sum(int(x in text) for x in (key, pw, env_pw, "PASSWORD-42", "WORD-77"))
    lost["leaks"] += leaks
    count("secrets", leaks == 0)


def main() -> None:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        writers(tmp)
        serve_attacks()
        sql_attacks(tmp)
        links_and_paths(tmp)
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
