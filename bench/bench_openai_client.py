"""OpenAI-compatible client concurrency: requests/s with many requests in flight vs one at a time,
against a local stand-in server (127.0.0.1) that answers each request after a fixed delay, so it
measures the client (the `openai` async client under a semaphore), not a model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from _common import best_of, report  # noqa: E402

from sfdata.engines import get_engine  # noqa: E402
from sfdata.engines.base import SamplingParams  # noqa: E402
from sfdata.engines.standin import StandIn  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--delay", type=float, default=0.2, help="server seconds per request")
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    n = 32 if args.quick else 128
    prompts = [[{"role": "user", "content": f"question {i}"}] for i in range(n)]
    sampling = SamplingParams(max_tokens=8)
    with StandIn(delay=args.delay) as srv:
        many = get_engine("openai", "m", base_url=srv.url, concurrency=args.concurrency)
        one = get_engine("openai", "m", base_url=srv.url, concurrency=1)
        t_many, outs = best_of(lambda: many.generate(prompts, sampling, seeds=list(range(n))))
        peak = srv.max_in_flight
        t_one, _ = best_of(lambda: one.generate(prompts, sampling, seeds=list(range(n))))
    assert len(outs) == n
    report(
        "openai_client_concurrency",
        n / t_many,
        n / t_one,
        "requests/s",
        f"{n} requests, server delay {args.delay}s each; concurrency {args.concurrency} (peak {peak} in flight) vs 1",
        peak_in_flight=peak,
    )


if __name__ == "__main__":
    main()
