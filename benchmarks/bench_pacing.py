"""Pacing: full speed while the job fits, the whole budget and no 429 when it does not.

Three measurements against FakeSwoogo with a small budget (``--credits`` per
``--window`` seconds standing in for the real 2,000 per 600 s) and per-request latency:

- ``fit``: a job of ``--fit`` of the budget (gets), paced vs unpaced (``rate_limit=None``):
  elapsed ratio (target ≤ 1.1) and 429s.
- ``large``: a job five times that size, paced (interactive calls, and under ``bulk_pacing()``)
  vs unpaced: 429s, failed calls, credits per second over the budget's rate, and
  ``vs_ideal``: the best possible time (one window per budget after the first, which
  is spent at once) over the time taken (target ≥ 0.95 with no 429).
- ``overhead``: the pacer's own cost per call (reserve + observe) against an
  unlimited budget, in microseconds, next to the cost of a whole ``get``.
- ``interactive``: one client serves interactive gets (``--rate`` a second, started
  first, as a web app runs before an import) while a bulk job of gets under
  ``bulk_pacing()`` saturates the budget for ``--bulk-windows`` windows: the
  interactive calls' wait p50/p99 (target p99 ≤ 1 s on a 10-s window) and 429s.
  ``--web-after S`` starts the interactive gets S seconds after the bulk job instead,
  once it has taken the window before any interactive demand was seen.
  ``--create-many`` makes the bulk job a sized run (``create_many`` of a list).
- ``bulk-alone``: ``create_many`` of exactly ``--bulk-windows`` budgets of rows (or
  ``--rows``; from a list, or ``--unsized`` from an async iterator; ``--concurrency``
  rows in flight, 32 by default) with no interactive traffic, ``--repeat`` times:
  elapsed over the best case (first window at once, then one window per further
  budget; target ≤ 1.05), and the median.

    python -m benchmarks.bench_pacing [--credits 100 --window 5 --fit 0.8 --repeat 3]
    python -m benchmarks.bench_pacing --only interactive --credits 100 --window 10
    python -m benchmarks.bench_pacing --only interactive --credits 100 --window 10 --web-after 3
    python -m benchmarks.bench_pacing --only bulk-alone --credits 100 --window 10 --bulk-windows 3
    python -m benchmarks.bench_pacing --only bulk-alone --credits 100 --window 10 --rows 290 \
        --concurrency 8 [--unsized]
    python -m benchmarks.bench_pacing --only interactive --credits 100 --window 10 --rate 5 \
        --bulk-windows 3 --web-after 3 --create-many
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

from swoogo_async import RetryPolicy, SwoogoClient
from swoogo_async._http.pacer import AsyncPacer, bulk_pacing
from swoogo_async._http.pacing import Pacer
from swoogo_async.testing import FakeSwoogo

LATENCY = 0.01
RETRY = RetryPolicy().for_bulk()


async def run_job(
    credits: int, window: float, calls: int, *, paced: bool, bulk: bool = False
) -> dict[str, Any]:
    """Make ``calls`` gets (1 credit each) on a fresh budget; return the figures."""
    async with FakeSwoogo(
        rate_limit=credits, rate_window=window, drift=False, latency=LATENCY
    ) as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        async with SwoogoClient(
            fake.api_key,
            fake.api_secret,
            base_url=fake.base_url,
            pool_size=16,
            retry=RETRY,
            rate_limit="auto" if paced else None,
        ) as client:
            await client._core.pipeline.tokens.get()  # the token is not part of the job
            start = time.monotonic()
            with bulk_pacing() if bulk else contextlib.nullcontext():
                results = await asyncio.gather(
                    *(client.sessions.get(1000) for _ in range(calls)), return_exceptions=True
                )
            elapsed = time.monotonic() - start
        failed = sum(isinstance(r, BaseException) for r in results)
        return {
            "calls": calls,
            "elapsed_s": round(elapsed, 3),
            "responses_429": fake.rate_limited,
            "failed": failed,
            "rate_vs_budget": round((calls - failed) / elapsed / (credits / window), 3),
            # A fresh window is spent at once, so the best possible time is one window
            # per budget after the first: 1.0 means every window was used to the full.
            "vs_ideal": round(max(math.ceil(calls / credits) - 1, 0) * window / elapsed, 3),
        }


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0 to 1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def interactive_beside_bulk(
    credits: int,
    window: float,
    rate: float,
    bulk_windows: int,
    warmup: float = 2.0,
    web_after: float | None = None,
    create_many: bool = False,
) -> dict[str, Any]:
    """Interactive gets at ``rate``/s beside a saturating bulk job in one client.

    ``web_after``: start the interactive gets this many seconds after the bulk job
    (which then starts at once), when it has taken the window with no demand seen.
    ``create_many``: the bulk job is a sized run (``create_many`` of a list) instead of
    gets under ``bulk_pacing()``.
    """
    async with FakeSwoogo(
        rate_limit=credits, rate_window=window, drift=False, latency=LATENCY
    ) as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        async with SwoogoClient(
            fake.api_key, fake.api_secret, base_url=fake.base_url, pool_size=16, retry=RETRY
        ) as client:
            await client._core.pipeline.tokens.get()
            waits: list[float] = []
            bulk_running = asyncio.Event()
            done = asyncio.Event()

            async def one() -> None:
                start = time.monotonic()
                await client.sessions.get(1000)
                if bulk_running.is_set() and not done.is_set():
                    waits.append(time.monotonic() - start)

            async def web() -> None:
                if web_after is not None:
                    await bulk_running.wait()
                    await asyncio.sleep(web_after)
                calls = []
                while not done.is_set():
                    calls.append(asyncio.ensure_future(one()))
                    await asyncio.sleep(1.0 / rate)
                await asyncio.gather(*calls)

            async def bulk() -> float:
                await asyncio.sleep(warmup if web_after is None else 0.0)
                bulk_running.set()
                start = time.monotonic()
                if create_many:
                    rows = [
                        {"event_id": 1, "name": f"Row {i}", "date": "2026-05-01"}
                        for i in range(credits * bulk_windows)
                    ]
                    async with client.sessions.create_many(rows) as run:
                        async for _ in run:
                            pass
                else:
                    with bulk_pacing():
                        await asyncio.gather(
                            *(client.sessions.get(1000) for _ in range(credits * bulk_windows))
                        )
                done.set()
                return time.monotonic() - start

            web_task = asyncio.ensure_future(web())
            elapsed = await bulk()
            await web_task
        return {
            "interactive_calls": len(waits),
            "p50_s": round(percentile(waits, 0.5), 3),
            "p99_s": round(percentile(waits, 0.99), 3),
            "max_s": round(max(waits), 3),
            "bulk_calls": credits * bulk_windows,
            "bulk_elapsed_s": round(elapsed, 2),
            "responses_429": fake.rate_limited,
        }


async def bulk_alone(
    credits: int, window: float, count: int, *, sized: bool = True, concurrency: int = 32
) -> dict[str, Any]:
    """``create_many`` of ``count`` rows, alone: time vs best case.

    ``sized``: rows from a list (the run knows what it needs from the start); else from
    an async iterator (it learns that only once its source is exhausted).
    """
    async with FakeSwoogo(
        rate_limit=credits, rate_window=window, drift=False, latency=LATENCY
    ) as fake:
        async with SwoogoClient(
            fake.api_key, fake.api_secret, base_url=fake.base_url, pool_size=16, retry=RETRY
        ) as client:
            await client._core.pipeline.tokens.get()
            rows = [{"event_id": 1, "name": f"Row {i}", "date": "2026-05-01"} for i in range(count)]

            async def unsized() -> AsyncIterator[dict[str, Any]]:
                for row in rows:
                    yield row

            start = time.monotonic()
            source = rows if sized else unsized()
            async with client.sessions.create_many(source, concurrency=concurrency) as run:
                statuses = [result.status async for result in run]
            elapsed = time.monotonic() - start
            spent = client.credits_spent
        best = max(math.ceil(spent / credits) - 1, 0) * window
        return {
            "rows": len(rows),
            "sized": sized,
            "created": statuses.count("created"),
            "credits_spent": spent,
            "elapsed_s": round(elapsed, 2),
            "best_case_s": best,
            "vs_best": round(elapsed / best, 3) if best else None,
            "responses_429": fake.rate_limited,
        }


def pacer_overhead(n: int = 200_000) -> float:
    """Microseconds the pure pacer spends per call (reserve + observe), unlimited budget."""
    pacer = Pacer()
    headers = {
        "X-Rate-Limit-Limit": "1000000000",
        "X-Rate-Limit-Remaining": "1000000000",
        "X-Rate-Limit-Reset": "600",
    }
    pacer.reserve(1, 0.0)
    pacer.observe(headers, 1, 0.0)
    clock = time.monotonic
    start = time.perf_counter()
    for _ in range(n):
        pacer.reserve(1, clock())
        pacer.observe(headers, 1, clock())
    return (time.perf_counter() - start) / n * 1e6


async def client_pacer_overhead(limit: int, n: int = 100_000) -> float:
    """Microseconds per call through the client's pacer (acquire + observe)."""
    pacer = AsyncPacer(Pacer())
    headers = {
        "X-Rate-Limit-Limit": str(limit),
        "X-Rate-Limit-Remaining": str(limit),
        "X-Rate-Limit-Reset": "600",
    }
    await pacer.acquire(1)
    pacer.observe(headers, 1)
    start = time.perf_counter()
    for _ in range(n):
        await pacer.acquire(1)
        pacer.observe(headers, 1)
    return (time.perf_counter() - start) / n * 1e6


async def get_cost(n: int = 2000) -> float:
    """Microseconds of client CPU per ``get`` against an unlimited budget (paced)."""
    async with FakeSwoogo(drift=False) as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        async with SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url) as c:
            await c.sessions.get(1000)
            start = time.perf_counter()
            for _ in range(n):
                await c.sessions.get(1000)
            return (time.perf_counter() - start) / n * 1e6


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


async def measure(credits: int, window: float, fit: float, repeat: int) -> dict[str, Any]:
    """Run every case ``repeat`` times and return the medians."""
    fits = int(credits * fit)
    large = 5 * fits
    cases: dict[str, tuple[int, bool, bool]] = {
        "fit_unpaced": (fits, False, False),
        "fit_paced": (fits, True, False),
        "large_unpaced": (large, False, False),
        "large_paced": (large, True, False),
        "large_paced_bulk": (large, True, True),
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, (calls, paced, bulk) in cases.items():
            runs[name].append(await run_job(credits, window, calls, paced=paced, bulk=bulk))
    out: dict[str, Any] = {"credits": credits, "window_s": window, "repeat": repeat}
    out.update({name: _median(r) for name, r in runs.items()})
    out["fit_paced_vs_unpaced"] = round(
        out["fit_paced"]["elapsed_s"] / out["fit_unpaced"]["elapsed_s"], 3
    )
    out["pacer_us_per_call"] = round(pacer_overhead(), 3)
    # The client's path: an unlimited budget takes the fast path (no clock, no parse).
    out["client_pacer_us_unlimited"] = round(await client_pacer_overhead(10**9), 3)
    out["client_pacer_us_limited"] = round(await client_pacer_overhead(10**7), 3)
    out["get_us_per_call"] = round(await get_cost(), 1)
    return out


def main() -> None:
    """Parse options, run, print one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--credits", type=int, default=100)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--fit", type=float, default=0.8, help="fitting job, share of budget")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--only", choices=["all", "interactive", "bulk-alone", "overhead"], default="all"
    )
    parser.add_argument("--rate", type=float, default=3.0, help="interactive gets per second")
    parser.add_argument("--bulk-windows", type=int, default=4)
    parser.add_argument(
        "--rows", type=int, default=None, help="bulk-alone: rows (default: --bulk-windows budgets)"
    )
    parser.add_argument(
        "--unsized", action="store_true", help="bulk-alone: rows from an async iterator"
    )
    parser.add_argument(
        "--create-many",
        action="store_true",
        help="interactive: the bulk job is a create_many of a list (a sized run)",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="bulk-alone: rows in flight")
    parser.add_argument(
        "--web-after",
        type=float,
        default=None,
        help="start the interactive gets this many seconds after the bulk job (default: before)",
    )
    args = parser.parse_args()
    # The unpaced runs meet many 429s: their retry WARNINGs are the figures, not news.
    logging.getLogger("swoogo_async").setLevel(logging.ERROR)
    if args.only == "overhead":

        async def overhead() -> dict[str, float]:
            return {
                "pure_pacer_us": round(pacer_overhead(), 3),
                "client_pacer_us_unlimited": round(await client_pacer_overhead(10**9), 3),
                "client_pacer_us_limited": round(await client_pacer_overhead(10**7), 3),
            }

        result: dict[str, Any] = asyncio.run(overhead())
    elif args.only == "bulk-alone":
        count = args.rows if args.rows is not None else args.credits * args.bulk_windows

        async def alone() -> dict[str, Any]:
            runs = [
                await bulk_alone(
                    args.credits,
                    args.window,
                    count,
                    sized=not args.unsized,
                    concurrency=args.concurrency,
                )
                for _ in range(args.repeat)
            ]
            return {"runs": runs, "median_vs_best": statistics.median(r["vs_best"] for r in runs)}

        result = asyncio.run(alone())
    elif args.only == "interactive":
        result = asyncio.run(
            interactive_beside_bulk(
                args.credits,
                args.window,
                args.rate,
                args.bulk_windows,
                web_after=args.web_after,
                create_many=args.create_many,
            )
        )
    else:
        result = asyncio.run(measure(args.credits, args.window, args.fit, args.repeat))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
