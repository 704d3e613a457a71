"""Inspector operations on a 1M-trace run (and label-and-advance on 200k traces), driven through the real Textual app (headless Pilot):
full-text search, sort on several columns and the format filter, each timed from the key press to
the repainted page. Ours = the app over the search index (`tui.search_index`, built once here and
its build time and size reported); baseline = the same app with the index off (the Parquet-scan
path it had before), measured in the same run on the same synthetic traces."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

from _bigrun import big_run
from _common import report

#: (name, kind, argument): searches go through the search box, sorts through the sort screen, `f` cycles formats
OPS: list[tuple[str, str, str]] = [
    ("search_rare", "search", "Puzzle 123456:"),  # one trace
    ("search_some", "search", "numbers 12 and 34 first"),  # ~0.01% of the traces
    ("search_common", "search", "Try Again"),  # every trace
    ("sort_length", "sort", "length"),
    ("sort_trace_id", "sort", "trace_id"),
    ("sort_final_answer", "sort", "final_answer"),
    ("sort_verdict_acc", "sort", "verdict_acc"),
    ("sort_question", "sort", "question"),
    ("format_filter", "format", ""),
]


async def _op(app, pilot, kind: str, arg: str) -> float:
    """Prepare the op (untimed), then time its last key press until the page is repainted."""
    from tui.data import COLUMNS

    app.action_reset()
    await pilot.pause()
    if kind == "search":
        box = app.query_one("#f-search")
        box.value = arg
        box.focus()
        await pilot.pause()
        keys = ["enter"]
    elif kind == "sort":
        await pilot.press("s")
        await pilot.pause()
        await pilot.press(*["down"] * COLUMNS.index(arg))
        keys = ["enter"]
    else:
        keys = ["f"]
    t0 = time.perf_counter()
    await pilot.press(*keys)
    await pilot.pause()
    return time.perf_counter() - t0


def _snapshot(app) -> tuple[int, list[str]]:
    table = app.query_one("#traces")
    return app.total, [k.value for k in list(table.rows)[:20]]


async def drive(path: Path, use_index: bool, repeat: int) -> dict[str, tuple[float, tuple]]:
    from tui.app import InspectorApp

    app = InspectorApp(path, use_index=use_index, index_min_traces=1 << 62)  # the bench builds the index itself
    out: dict[str, tuple[float, tuple]] = {}
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        assert (app.store.index is not None) == use_index, app.store.index_state()
        for name, kind, arg in OPS:
            best = min([await _op(app, pilot, kind, arg) for _ in range(repeat)])
            out[name] = (best, _snapshot(app))
    return out


async def label_advance(path: Path, repeat: int) -> tuple[float, float]:
    """Keep + next in the trace view: key press to the next trace repainted (ours: label written, cell updated
    in place, repaints held until the next trace is in place, then one frame), against the same app doing what
    it did before: a page reload after each label. Median of `repeat` labels, each after a short read."""
    from textual import events
    from textual.screen import Screen

    from tui.app import InspectorApp
    from tui.components import TraceScreen
    from tui.data import TraceStore
    from tui.trace_data import load_trace

    frames: list[float] = []  # end times of the frames the screen painted (layout and render)
    real_refresh = Screen._compositor_refresh

    def refresh_and_note(self: Screen) -> None:
        real_refresh(self)
        frames.append(time.perf_counter())

    Screen._compositor_refresh = refresh_and_note  # type: ignore[method-assign]
    app = InspectorApp(path, index_min_traces=1 << 62)
    ours, base = [], []
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        while app.query_one("#traces").row_count < 2:  # a loaded machine: the first page may come later
            await pilot.pause(0.05)
        await pilot.press("enter")
        while not isinstance(app.screen, TraceScreen):  # the trace is read on the query worker
            await pilot.pause(0.05)
        for _ in range(repeat):
            table = app.query_one("#traces")
            nxt = table.coordinate_to_cell_key((table.cursor_row + 1, 0)).row_key.value
            await pilot.pause(0.3)  # the user reads the trace: the read-ahead of the next one ends meanwhile
            t0 = time.perf_counter()
            # the key as a terminal delivers it; then wait without forcing frames (Pilot.pause paints a frame per
            # call and round-trips a message through every widget, which a terminal does not) until the next
            # trace is set and the screen's own refresh timer has painted it and gone quiet (no frame for 0.1 s)
            app.post_message(events.Key("y", "y"))
            while True:
                now = time.perf_counter()
                assert now - t0 < 60, ("the next trace never came", nxt, app.view_id)
                screen = app.screen
                shown = isinstance(screen, TraceScreen) and screen.trace_id == nxt and not app._batch_count
                painted = frames and frames[-1] > t0 and now - frames[-1] > 0.1
                if shown and painted and not screen._layout_required and not screen._dirty_widgets:
                    break
                await asyncio.sleep(0.002)
            ours.append(frames[-1] - t0)
        for _ in range(repeat):  # baseline: the old path, label + page reload + show the next trace
            tid = app.view_id
            t0 = time.perf_counter()
            app.store.set_label(tid, "keep")
            app.reload(keep_cursor=True)
            app._step_view(1)
            await app.screen.show(load_trace(app.store, app.view_id), app.position())
            await pilot.pause()
            base.append(time.perf_counter() - t0)
    Screen._compositor_refresh = real_refresh  # type: ignore[method-assign]
    store = TraceStore(path)  # leave the cached run unlabelled for the next bench
    for tid in list(store.labels):
        store.set_label(tid, None)
    store.close()
    return statistics.median(ours), statistics.median(base)


def build(run_path: Path) -> tuple[float, float, int]:
    """Full index build, then the skills columns lined up with it (done on the first skill-column sort)."""
    from tui.data import TraceStore
    from tui.search_index import side_path

    store = TraceStore(run_path, use_index=False)
    store.index_file.unlink(missing_ok=True)  # time a full build
    side = side_path(store.index_file, "skills")
    side.unlink(missing_ok=True)
    t0 = time.perf_counter()
    idx = store.build_index()
    dt = time.perf_counter() - t0
    store.close()
    store = TraceStore(run_path)
    t0 = time.perf_counter()
    store._align_skills()
    dt_skills = time.perf_counter() - t0
    store.close()
    return dt, dt_skills, idx.size + (side.stat().st_size if side.is_file() else 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--traces", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--label-only", action="store_true", help="only label-and-advance, on --label-traces traces")
    ap.add_argument("--label-traces", type=int, default=200_000)
    args = ap.parse_args()
    n_label = args.label_traces
    n_rep = max(args.repeat, 9)
    t_ours, t_base = asyncio.run(label_advance(big_run(n_label).path, n_rep))
    print(f"  label_and_advance  ours {t_ours:6.3f}s  baseline {t_base:6.3f}s  ({n_label:,} traces)")
    report(
        "tui_label_advance",
        t_ours,
        t_base,
        "s",
        f"keep + next trace in the trace view, key press to the last frame of the next trace's repaint, on {n_label:,} traces, real app "
        f"via Pilot, median of {n_rep}: label written and its cell updated in place vs a page reload per label",
        higher_is_better=False,
        traces=n_label,
    )
    if args.label_only:
        return
    n = 100_000 if args.quick else args.traces
    run = big_run(n)
    import tui.app  # noqa: F401  (import cost is not part of any operation)

    t_build, t_skills, size = build(run.path)
    print(f"index build {t_build:.2f}s + skills columns {t_skills:.2f}s, {size / 1e6:,.0f} MB on disk ({n:,} traces)")
    ours = asyncio.run(drive(run.path, True, args.repeat))
    base = asyncio.run(drive(run.path, False, args.repeat))
    for name, kind, _ in OPS:
        (a, snap_a), (b, snap_b) = ours[name], base[name]
        # unsorted pages of the scan path come in no fixed order (its labels join): compare those by count
        same = snap_a == snap_b if kind == "sort" or snap_a[0] < 20 else snap_a[0] == snap_b[0]
        assert same, (name, snap_a, snap_b)  # the index answers what the scan answers
        print(f"  {name:18s} ours {a:6.3f}s  baseline {b:6.3f}s  {b / a:5.1f}x  ({snap_a[0]:,} rows)")
    worst, worst_base = max(t for t, _ in ours.values()), max(t for t, _ in base.values())
    report(
        "tui_ops",
        worst,
        worst_base,
        "s",
        f"slowest of {len(OPS)} inspector operations (search x3, sort x5, format filter), key press to repainted "
        f"page on {n:,} traces, real app via Pilot, best of {args.repeat}: index vs Parquet scan; index built once "
        f"in {t_build:.1f}s (+{t_skills:.1f}s skills columns), {size / 1e6:,.0f} MB",
        higher_is_better=False,
        ops={name: {"ours": round(ours[name][0], 4), "baseline": round(base[name][0], 4)} for name, _, _ in OPS},
        index_build_s=round(t_build, 2),
        skills_align_s=round(t_skills, 2),
        index_bytes=size,
        traces=n,
    )


if __name__ == "__main__":
    main()
