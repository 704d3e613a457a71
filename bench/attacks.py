"""Attack tally for the README's Reliability section: concurrent writers, hostile requests, SQL, markup, secrets.

Not a speed bench (run_all.py skips it): each attack is run for real and counted as handled when
it ends in a clear refusal or a correct result, never in lost/duplicated rows, a leak or a crash.
Last line: one JSON object. About two minutes on 2 cores: `PYTHONPATH=. python bench/attacks.py`.
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
lost = {"rows_lost": 0, "duplicates": 0, "leaks": 0, "crashes": 0, "hangs": 0}


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
    nested = b"[" * 5000 + b"]" * 5000
    chunked = b"Transfer-Encoding: chunked\r\n\r\n" + b"ffff\r\n" + b"x" * 0xFFFF + b"\r\n" + b"0\r\n\r\n"
    for raw, code in (
        (b"Content-Length: 1000000000000\r\n\r\n{", "413"),
        (b"Content-Length: 100\r\n\r\n{", "408"),
        (b"Content-Length: %d\r\n\r\n%s" % (len(nested), nested), "400"),  # JSON nested 5,000 deep
    ):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + raw)
        count("sf serve", s.recv(4096).decode().startswith(f"HTTP/1.1 {code}"))
        s.close()
    srv.shutdown()
    srv.server_close()
    srv, _ = serve_in_thread(SlowEngine(), limits=ServeLimits(body_timeout_s=1.0, max_body_bytes=1000))
    port = srv.server_address[1]
    s = socket.create_connection(("127.0.0.1", port), timeout=10)  # a chunked body past the cap
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + chunked)
    count("sf serve", s.recv(4096).decode().startswith("HTTP/1.1 413"))
    s.close()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)  # headers trickled one byte at a time
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")
    cut = False
    for _ in range(50):
        try:
            s.sendall(b"X")
            s.settimeout(0.2)
            cut = s.recv(1) == b""
        except TimeoutError:
            continue
        except OSError:
            cut = True
        if cut:
            break
    count("sf serve", cut)
    s.close()
    srv.shutdown()
    srv.server_close()


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
    outs[3] = subprocess.Popen([sys.executable, "-m", "sfdata.app.cli.main", "run", str(cfg2), "--only", "generate", "--force", "generate"],
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


def _quiet_main(*argv: str) -> tuple[int, str, str]:
    """`sf ARGV` in this process: (exit code, stdout, stderr); a traceback counts as a crash."""
    import contextlib
    import io

    from sfdata.app.cli.main import main as sf_main

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = sf_main(list(argv))
    except Exception:
        lost["crashes"] += 1
        return -1, out.getvalue(), err.getvalue()
    return rc, out.getvalue(), err.getvalue()


def one_line_error(rc: int, err: str, name: str) -> bool:
    return rc == 1 and len(err.strip().splitlines()) == 1 and name in err


def untrusted_inputs(tmp: Path) -> None:
    """Dataset cards that point outside their folder, bad cards, bad SFT files, JSONL edge cases, reorders."""
    row = {"question": "Using the numbers [3, 5, 7], create an equation that equals 22.", "answer": 22,
           "model_responses__mutated_prompts": ["<answer>3 * 5 + 7</answer>"]}  # fmt: skip
    secret = tmp / "secret"
    secret.mkdir()
    pl.DataFrame([row]).write_parquet(secret / "s.parquet")
    cards = [
        f"data_files: {p}" for p in ("../secret/*.parquet", f"{secret}/*.parquet", "link/*.parquet", "*/../../secret/*")
    ]
    cards += [
        "configs: [: bad",
        "configs: 5",
        "configs:\n- 7",
        "configs:\n- config_name: raw\n  data_files: [{path: 5}]",
    ]
    for i, card in enumerate(cards):
        ds = tmp / f"ds{i}"
        ds.mkdir()
        pl.DataFrame([row]).write_parquet(ds / "mine.parquet")
        os.symlink(secret, ds / "link")
        body = f"configs:\n- config_name: raw\n  {card}" if card.startswith("data_files") else card
        (ds / "README.md").write_text(f"---\n{body}\n---\n")
        rc, _, err = _quiet_main("import", str(ds), "--run", str(tmp / f"imp{i}"))
        leaked = RunDir(tmp / f"imp{i}").has("rollouts")
        lost["leaks"] += int(leaked)
        count("untrusted input", one_line_error(rc, err, "README.md") and not leaked)
    bad_sft = ['{"conversations": "hello"}\n', '{"conversations": [null, 5, {"role": 1}]}\n',
               '{"conversations": [{"role": "user", "content": 5}]}\n', '{"conversations": ' + "[" * 50_000 + "]" * 50_000 + "}\n",
               '{"conversations": "x"}\n{"conversations": [{"role": "user", "content": "a"}]}\n']  # fmt: skip
    for i, text in enumerate(bad_sft):
        f = tmp / f"sft{i}.jsonl"
        f.write_text(text)
        rc, _, err = _quiet_main("pull", str(f), "--run", str(tmp / f"pull{i}"))
        count("untrusted input", one_line_error(rc, err, str(f)) or (rc == 0 and not err.strip()))
    from sfdata.hub.readers import read_file

    rows = [{"a": "x\u2028y\u0085z"}, {"a": "plain"}]
    f = tmp / "spec.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode())
    try:
        got = read_file(f)["a"].to_list()
    except Exception:
        lost["crashes"] += 1
        got = []
    lost["rows_lost"] += max(0, len(rows) - len(got))
    count("untrusted input", got == [r["a"] for r in rows])
    from sfdata.hub.raw import import_raw

    key = "model_responses__mutated_prompts_reflection"
    refl = {
        **row,
        key: ["ok <verdict>Correct</verdict>", "no <verdict>Incorrect</verdict>", "ok <verdict>Correct</verdict>"],
    }
    a, b = tmp / "order_a.jsonl", tmp / "order_b.jsonl"
    a.write_text(json.dumps(refl) + "\n")
    b.write_text(json.dumps({**refl, key: list(reversed(refl[key]))}) + "\n")
    import_raw(a, tmp / "reord")
    import_raw(b, tmp / "reord")
    n = RunDir(tmp / "reord").read("reflections").height
    lost["duplicates"] += max(0, n - 3)
    count("untrusted input", n == 3)


def table_output(tmp: Path) -> None:
    """Huge cells, escape sequences and markup-like names through `sf sql` and `sf report`."""
    r = make_run(tmp / "out", n_questions=2, variants=("[/]", "[bold]x"))
    rc, out, _ = _quiet_main("sql", "SELECT repeat('x', 20000000) AS big", "--run", str(r.path))
    count("table output", rc == 0 and "(20,000,000 chars)" in out and len(out) < 100_000)
    esc = "SELECT chr(27) || ']0;title' || chr(7) || chr(27) || '[2J' || chr(155) || 'A' || chr(13) AS x"
    rc, out, _ = _quiet_main("sql", esc, "--run", str(r.path))
    count("table output", rc == 0 and not any(c in out for c in "\x1b\x07\x9b\r"))
    import shutil

    _quiet_main("build", str(r.path))
    traces = r.read("traces").with_columns(pl.lit("[/]").alias("format"))
    shutil.rmtree(r.path / "traces")
    r.append("traces", traces)
    rc, out, _ = _quiet_main("report", str(r.path))
    count("table output", rc == 0 and "[/] " in out)
    f = tmp / "conv.jsonl"
    f.write_text(json.dumps({"conversations": [{"role": "user", "content": "What is 2+2?"},
                                               {"role": "assistant", "content": "<answer>4</answer>"}]}) + "\n")  # fmt: skip
    _quiet_main("pull", str(f), "--run", str(tmp / "pulled"))
    rc, _, _ = _quiet_main("report", str(tmp / "pulled"))
    count("table output", rc == 0)


def concurrent_exports(tmp: Path) -> None:
    """Six processes exporting sharegpt (dataset_info.json entries) and verl into one folder at once."""
    from sfdata.factory.build import BuildConfig, build_stage

    r = make_run(tmp / "exp", n_questions=2)
    build_stage(r, BuildConfig(formats=("0C",), n=1))
    out = tmp / "exports"
    code = "import sys\nfrom sfdata.hub.export import export\n" \
           "for i in range(6):\n    export(sys.argv[1], 'sharegpt', sys.argv[2], name=f'{sys.argv[3]}_{i}')\n" \
           "    export(sys.argv[1], 'verl', sys.argv[2])\n"  # fmt: skip
    ps = [subprocess.Popen([sys.executable, "-c", code, str(r.path), str(out), f"w{k}"], cwd=ROOT, env=ENV,
                           stderr=subprocess.PIPE) for k in range(6)]  # fmt: skip
    rcs = [p.wait() for p in ps]
    [p.communicate() for p in ps]
    lost["crashes"] += sum(1 for rc in rcs if rc != 0)
    info = json.loads((out / "dataset_info.json").read_text())
    lost["rows_lost"] += 36 - len(info)
    count("export race", len(info) == 36 and all(rc == 0 for rc in rcs))


def huge_generate(tmp: Path) -> None:
    """`--n 2000000`: how many jobs were planned when the first request arrived (a chunk is 32)."""
    import sfdata.generate as rollouts
    from sfdata.generate import GenerateConfig, generate_stage

    built = [0]
    real = rollouts.stable_id

    class Stop(Exception):
        pass

    class FirstRequest(SlowEngine):
        def generate(self, prompts, sampling, seeds=None):
            self.at = built[0]
            raise Stop

    def counting(*parts, **kw):
        built[0] += 1
        return real(*parts, **kw)

    rollouts.stable_id = counting
    run = RunDir(tmp / "huge").init()
    run.write("questions", make_questions("countdown", 2, 0, level=3))
    eng = FirstRequest()
    try:
        generate_stage(run, GenerateConfig(n=2_000_000, chunk=32, variants=("original",)), engine=eng)
    except Stop:
        pass
    finally:
        rollouts.stable_id = real
    count("huge generate", getattr(eng, "at", 10**9) <= 64)


def main() -> None:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        writers(tmp)
        serve_attacks()
        sql_attacks(tmp)
        links_and_paths(tmp)
        markup_and_secrets(tmp)
        untrusted_inputs(tmp)
        table_output(tmp)
        concurrent_exports(tmp)
        huge_generate(tmp)
    for g, (tried, ok) in tally.items():
        print(f"{g:16} {ok}/{tried} handled")
    tried = sum(t for t, _ in tally.values())
    handled = sum(h for _, h in tally.values())
    print(f"attacks {tried}, handled {handled}; " + ", ".join(f"{k} {v}" for k, v in lost.items()))
    print(json.dumps({"bench": "reliability", "attacks": tried, "handled": handled, **lost,
                      "groups": tally, "seconds": round(time.perf_counter() - t0, 1)}))  # fmt: skip


if __name__ == "__main__":
    main()
