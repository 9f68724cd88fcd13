"""Several processes on one credential, with and without Redis.

N worker processes (spawned) split a job of gets against one rate-limited FakeSwoogo
(``--credits`` per ``--window`` seconds, per-request latency). Each run reports the
429 responses, token fetches, rows (calls) failed and the credits per second over
the budget's rate. A second part measures what Redis adds per request against an
unlimited budget: wall time and client CPU per ``get``, as ratios to in-process.
A redis-server is started on a free loopback port (``redis-server`` must be on PATH).

    python -m benchmarks.bench_workers [--workers 1,2,4,8] [--windows 3] [--repeat 1]
                                       [--cost-calls 1000]

Two more scenarios, through Redis:

- ``--imports N``: N runs of four bulk imports (``--rows`` gets each under
  ``bulk_pacing()``; the issue's scenario is 4 x 60 rows at 120 credits / 15 s): the
  429s of each run (target 0 in every run) and the time over the best case (the first
  window at once, then one window per further budget; target ≤ 1.05).
- ``--interactive R``: four bulk processes saturate the budget for ``--windows`` windows
  while a fifth serves R interactive gets a second (started first): that process's
  wait p50/p99 (target p99 ≤ 1 s on a 10-s window) and the 429s.

    python -m benchmarks.bench_workers --imports 20 --credits 120 --window 15 --rows 60
    python -m benchmarks.bench_workers --interactive 3 --credits 100 --window 10 --windows 4
    python -m benchmarks.bench_workers --interactive 3 --credits 100 --window 10 --windows 4 \
        --web-after 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import multiprocessing
import shutil
import statistics
import time
from typing import Any

from swoogo_async import RetryPolicy, SwoogoClient
from swoogo_async._http.pacer import BulkMark, bulk_pacing
from swoogo_async.testing import FakeSwoogo

from .bench_pacing import percentile

SPAWN = multiprocessing.get_context("spawn")
LATENCY = 0.01
#: What a bulk run uses: a 429 whose reset falls inside the window is waited for.
RETRY = RetryPolicy().for_bulk()


async def _work(
    base_url: str, redis_url: str | None, calls: int, go: Any, bulk: bool
) -> dict[str, Any]:
    from swoogo_async.redis import RedisSharedState

    logging.getLogger("swoogo_async").setLevel(logging.ERROR)  # 429 retries are counted
    shared = None if redis_url is None else RedisSharedState.from_url(redis_url)
    try:
        async with SwoogoClient(
            "test-key", "test-secret", base_url=base_url, retry=RETRY, shared=shared, pool_size=8
        ) as client:
            await asyncio.get_running_loop().run_in_executor(None, go.wait)
            results = await _gets(client, calls, bulk)
            return {
                "end": time.time(),
                "fetches": client.token_fetches,
                "failed": sum(isinstance(r, BaseException) for r in results),
            }
    finally:
        if shared is not None:
            await shared.aclose()


async def _gets(client: SwoogoClient, calls: int, bulk: bool) -> list[BaseException | None]:
    """Make ``calls`` gets; as bulk work, on 32 lanes that mark the run's last calls once
    no call is left to start, as the bulk engine does when its source is exhausted."""
    if not bulk:
        got = await asyncio.gather(
            *(client.sessions.get(1000) for _ in range(calls)), return_exceptions=True
        )
        return [r if isinstance(r, BaseException) else None for r in got]
    mark = BulkMark()
    left = iter(range(calls))
    results: list[BaseException | None] = []

    async def lane() -> None:
        for _ in left:
            try:
                await client.sessions.get(1000)
                results.append(None)
            except Exception as exc:  # counted as failed, as gather's return_exceptions
                results.append(exc)
        mark.end()

    with bulk_pacing(mark):
        await asyncio.gather(*(lane() for _ in range(32)))
    return results


def worker(
    base_url: str, redis_url: str | None, calls: int, go: Any, out: Any, bulk: bool = False
) -> None:
    """One process's share of the job."""
    out.put(asyncio.run(_work(base_url, redis_url, calls, go, bulk)))


async def _serve(
    base_url: str,
    redis_url: str,
    rate: float,
    go: Any,
    stop: Any,
    serving: Any,
    web_after: float | None = None,
) -> list[float]:
    """Interactive gets at ``rate``/s until ``stop``; the waits of those made after ``go``.

    ``web_after``: make no call before ``go``, and the first this many seconds after it.
    """
    from swoogo_async.redis import RedisSharedState

    # Warnings (a Redis fallback) are news here: they explain a slow interactive call.
    logging.basicConfig(level=logging.WARNING)
    shared = RedisSharedState.from_url(redis_url)
    waits: list[float] = []
    loop = asyncio.get_running_loop()
    started = loop.run_in_executor(None, go.wait)
    try:
        async with SwoogoClient(
            "test-key", "test-secret", base_url=base_url, retry=RETRY, shared=shared, pool_size=8
        ) as client:

            async def one() -> None:
                begin = time.monotonic()
                await client.sessions.get(1000)
                if started.done():
                    waits.append(time.monotonic() - begin)
                    if waits[-1] > 1.0:
                        logging.getLogger("bench").warning("slow: %.2f s", waits[-1])

            if web_after is None:
                await client.sessions.get(1000)
                serving.set()
            else:
                serving.set()
                await started
                await asyncio.sleep(web_after)
            calls = []
            while not stop.is_set():
                calls.append(asyncio.ensure_future(one()))
                await asyncio.sleep(1.0 / rate)
            await asyncio.gather(*calls)
    finally:
        await shared.aclose()
    return waits


def web_worker(
    base_url: str,
    redis_url: str,
    rate: float,
    go: Any,
    stop: Any,
    serving: Any,
    out: Any,
    web_after: float | None = None,
) -> None:
    """A web app's process: interactive gets beside the bulk workers."""
    out.put(asyncio.run(_serve(base_url, redis_url, rate, go, stop, serving, web_after)))


async def run_workers(
    n: int,
    redis_url: str | None,
    credits: int,
    window: float,
    windows: int,
    *,
    total: int | None = None,
    bulk: bool = False,
    web_rate: float = 0.0,
    web_after: float | None = None,
) -> dict[str, Any]:
    """Split ``windows`` budgets' worth of gets over ``n`` processes; return the figures."""
    total = credits * windows if total is None else total
    if redis_url is not None:
        # Each run has a fresh fake, so a fresh budget: forget the previous run's view.
        from redis import asyncio as aioredis

        redis = aioredis.Redis.from_url(redis_url)
        await redis.flushdb()
        await redis.aclose()
    async with FakeSwoogo(
        rate_limit=credits, rate_window=window, drift=False, latency=LATENCY
    ) as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        web = web_rate > 0 and redis_url is not None
        go = SPAWN.Barrier(n + 1 + web)
        out = SPAWN.Queue()
        web_out, stop, serving = SPAWN.Queue(), SPAWN.Event(), SPAWN.Event()
        shares = [total // n + (1 if i < total % n else 0) for i in range(n)]
        procs = [
            SPAWN.Process(target=worker, args=(fake.base_url, redis_url, k, go, out, bulk))
            for k in shares
        ]
        if web:
            args = (fake.base_url, redis_url, web_rate, go, stop, serving, web_out, web_after)
            procs.append(SPAWN.Process(target=web_worker, args=args))
        for proc in procs:
            proc.start()
        loop = asyncio.get_running_loop()
        if web:
            # The web app has served for a few seconds when the import starts (unless it
            # starts ``web_after`` seconds after the import).
            await loop.run_in_executor(None, serving.wait)
            await asyncio.sleep(3.0 if web_after is None else 0.0)
        await loop.run_in_executor(None, go.wait)
        start = time.time()
        seen = [await loop.run_in_executor(None, out.get) for _ in range(n)]
        stop.set()
        waits = await loop.run_in_executor(None, web_out.get) if web else []
        for proc in procs:
            await loop.run_in_executor(None, proc.join)
        elapsed = max(s["end"] for s in seen) - start
        failed = sum(s["failed"] for s in seen)
        if waits:
            return {
                "bulk_workers": n,
                "interactive_per_s": web_rate,
                "interactive_calls": len(waits),
                "p50_s": round(percentile(waits, 0.5), 3),
                "p99_s": round(percentile(waits, 0.99), 3),
                "max_s": round(max(waits), 3),
                "bulk_elapsed_s": round(elapsed, 2),
                "responses_429": fake.rate_limited,
                "failed": failed,
            }
        best = (math.ceil(total / credits) - 1) * window
        return {
            "workers": n,
            "redis": redis_url is not None,
            "calls": total,
            "responses_429": fake.rate_limited,
            "token_fetches": fake.token_requests,
            "failed": failed,
            "elapsed_s": round(elapsed, 2),
            "rate_vs_budget": round((total - failed) / elapsed / (credits / window), 3),
            # The first window is spent at once: the best time is one window per later one.
            "vs_ideal": round(best / elapsed, 3) if best else None,
            "elapsed_over_best": round(elapsed / best, 3) if best else None,
        }


async def redis_cost(redis_url: str, n: int = 1000) -> dict[str, float]:
    """Wall and CPU time per ``get`` with Redis over in-process, unlimited budget."""
    from swoogo_async.redis import RedisSharedState

    figures: dict[str, list[float]] = {
        "wall_local": [],
        "wall_redis": [],
        "cpu_local": [],
        "cpu_redis": [],
    }
    async with FakeSwoogo(drift=False) as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        for _ in range(3):
            for kind in ("local", "redis"):
                shared = RedisSharedState.from_url(redis_url) if kind == "redis" else None
                async with SwoogoClient(
                    fake.api_key, fake.api_secret, base_url=fake.base_url, shared=shared
                ) as client:
                    await client.sessions.get(1000)
                    wall, cpu = time.perf_counter(), time.process_time()
                    for _ in range(n):
                        await client.sessions.get(1000)
                    figures[f"wall_{kind}"].append((time.perf_counter() - wall) / n * 1e6)
                    figures[f"cpu_{kind}"].append((time.process_time() - cpu) / n * 1e6)
                if shared is not None:
                    await shared.aclose()
    med = {k: statistics.median(v) for k, v in figures.items()}
    return {
        "wall_us_local": round(med["wall_local"], 1),
        "wall_us_redis": round(med["wall_redis"], 1),
        "wall_us_added": round(med["wall_redis"] - med["wall_local"], 1),
        "wall_ratio": round(med["wall_redis"] / med["wall_local"], 2),
        "cpu_ratio_incl_fake": round(med["cpu_redis"] / med["cpu_local"], 2),
    }


def special(redis_url: str, args: argparse.Namespace) -> None:
    """The four-import runs, or the interactive calls beside bulk work."""
    if args.interactive:
        print(
            json.dumps(
                asyncio.run(
                    run_workers(
                        4,
                        redis_url,
                        args.credits,
                        args.window,
                        args.windows,
                        bulk=True,
                        web_rate=args.interactive,
                        web_after=args.web_after,
                    )
                )
            )
        )
        return
    runs = []
    for _ in range(args.imports):
        runs.append(
            asyncio.run(
                run_workers(
                    4, redis_url, args.credits, args.window, 0, total=4 * args.rows, bulk=True
                )
            )
        )
        print(json.dumps(runs[-1]), flush=True)
    print(
        json.dumps(
            {
                "runs": len(runs),
                "responses_429_per_run": [r["responses_429"] for r in runs],
                "failed": sum(r["failed"] for r in runs),
                "elapsed_over_best_median": statistics.median(r["elapsed_over_best"] for r in runs),
                "elapsed_over_best_max": max(r["elapsed_over_best"] for r in runs),
            }
        )
    )


def main() -> None:
    """Parse options, start redis-server, run, print one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--credits", type=int, default=100)
    parser.add_argument("--window", type=float, default=4.0)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--cost-calls", type=int, default=1000, help="gets per Redis-cost run")
    parser.add_argument("--imports", type=int, default=0, help="runs of the four-import case")
    parser.add_argument("--rows", type=int, default=60, help="rows per import")
    parser.add_argument("--interactive", type=float, default=0.0, help="web gets per second")
    parser.add_argument(
        "--web-after",
        type=float,
        default=None,
        help="with --interactive: the web process starts this many seconds after the bulk ones",
    )
    args = parser.parse_args()
    # The unpaced runs meet many 429s: their retry WARNINGs are the figures, not news.
    logging.getLogger("swoogo_async").setLevel(logging.ERROR)
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not on PATH (apt-get install redis-server)")
    from swoogo_async.cli._demo_workers import LocalRedis

    server = LocalRedis(shutil.which("redis-server") or "redis-server")
    try:
        if args.imports or args.interactive:
            special(server.url, args)
            return
        rows = []
        for n in (int(x) for x in args.workers.split(",")):
            for url in (None, server.url):
                runs = [
                    asyncio.run(run_workers(n, url, args.credits, args.window, args.windows))
                    for _ in range(args.repeat)
                ]
                rows.append({k: statistics.median(r[k] for r in runs) for k in runs[0]})
                print(json.dumps(rows[-1]), flush=True)
        print(
            json.dumps({"redis_cost_per_get": asyncio.run(redis_cost(server.url, args.cost_calls))})
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
