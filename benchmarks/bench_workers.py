"""Several processes on one credential, with and without Redis.

N worker processes (spawned) split a job of gets against one rate-limited FakeSwoogo
(``--credits`` per ``--window`` seconds, per-request latency). Each run reports the
429 responses, token fetches, rows (calls) failed and the credits per second over
the budget's rate. A second part measures what Redis adds per request against an
unlimited budget: wall time and client CPU per ``get``, as ratios to in-process.
A redis-server is started on a free loopback port (``redis-server`` must be on PATH).

    python -m benchmarks.bench_workers [--workers 1,2,4,8] [--windows 3] [--repeat 1]
                                       [--cost-calls 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import shutil
import statistics
import time
from typing import Any

from swoogo_async import RetryPolicy, SwoogoClient
from swoogo_async.testing import FakeSwoogo

SPAWN = multiprocessing.get_context("spawn")
LATENCY = 0.01
#: What a bulk run uses: a 429 whose reset falls inside the window is waited for.
RETRY = RetryPolicy().for_bulk()


async def _work(base_url: str, redis_url: str | None, calls: int, go: Any) -> dict[str, Any]:
    from swoogo_async.redis import RedisSharedState

    logging.getLogger("swoogo_async").setLevel(logging.ERROR)  # 429 retries are counted
    shared = None if redis_url is None else RedisSharedState.from_url(redis_url)
    try:
        async with SwoogoClient(
            "test-key", "test-secret", base_url=base_url, retry=RETRY, shared=shared, pool_size=8
        ) as client:
            await asyncio.get_running_loop().run_in_executor(None, go.wait)
            results = await asyncio.gather(
                *(client.sessions.get(1000) for _ in range(calls)), return_exceptions=True
            )
            return {
                "end": time.time(),
                "fetches": client.token_fetches,
                "failed": sum(isinstance(r, BaseException) for r in results),
            }
    finally:
        if shared is not None:
            await shared.aclose()


def worker(base_url: str, redis_url: str | None, calls: int, go: Any, out: Any) -> None:
    """One process's share of the job."""
    out.put(asyncio.run(_work(base_url, redis_url, calls, go)))


async def run_workers(
    n: int, redis_url: str | None, credits: int, window: float, windows: int
) -> dict[str, Any]:
    """Split ``windows`` budgets' worth of gets over ``n`` processes; return the figures."""
    total = credits * windows
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
        go = SPAWN.Barrier(n + 1)
        out = SPAWN.Queue()
        shares = [total // n + (1 if i < total % n else 0) for i in range(n)]
        procs = [
            SPAWN.Process(target=worker, args=(fake.base_url, redis_url, k, go, out))
            for k in shares
        ]
        for proc in procs:
            proc.start()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, go.wait)
        start = time.time()
        seen = [await loop.run_in_executor(None, out.get) for _ in procs]
        for proc in procs:
            await loop.run_in_executor(None, proc.join)
        elapsed = max(s["end"] for s in seen) - start
        failed = sum(s["failed"] for s in seen)
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
            "vs_ideal": round((windows - 1) * window / elapsed, 3),
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


def main() -> None:
    """Parse options, start redis-server, run, print one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--credits", type=int, default=100)
    parser.add_argument("--window", type=float, default=4.0)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--cost-calls", type=int, default=1000, help="gets per Redis-cost run")
    args = parser.parse_args()
    # The unpaced runs meet many 429s: their retry WARNINGs are the figures, not news.
    logging.getLogger("swoogo_async").setLevel(logging.ERROR)
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not on PATH (apt-get install redis-server)")
    from swoogo_async.cli._demo_workers import LocalRedis

    server = LocalRedis(shutil.which("redis-server") or "redis-server")
    try:
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
