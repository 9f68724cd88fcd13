"""Read cache: latency of cached reads against uncached ones, and the credits it saves.

Visitors arrive at a fixed rate (open loop: a slow answer does not slow arrivals)
and read an agenda (a session page, or the event's list page one time in ten) from a
small set of hot sessions, against the fake server in its own process with a
per-request latency standing in for Swoogo's. Each mode runs the same seeded reads
after one warm-up read of every page: no cache (the baseline), the in-memory cache,
and the Redis cache (when ``redis-server`` is installed). Printed: p50/p99 latency
per read, the credits each mode spent, and the credits the cache says it saved.

    python -m benchmarks.bench_cache [--reads 4000] [--rate 400] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import time
from typing import Any

import aiohttp
import attrs

from swoogo_async import CacheStats, CacheTTL, ReadCache, SwoogoClient
from swoogo_async.cli._demo_workers import LocalRedis

from ._common import median, percentile, ratio
from ._server import API_KEY, API_SECRET, fetch_token, seed_sessions, server

__all__ = ["cache_benchmark"]

EVENT_ID = 42


def _plan(ids: list[int], reads: int, seed: int) -> list[int | None]:
    """The reads every mode makes, in order: a session id, or None for the list page."""
    rng = random.Random(seed)
    return [None if rng.random() < 0.1 else rng.choice(ids) for _ in range(reads)]


async def _run(
    base_url: str, cache: ReadCache | None, plan: list[int | None], rate: float
) -> dict[str, Any]:
    latencies: list[float] = []
    async with SwoogoClient(
        API_KEY, API_SECRET, base_url=base_url, rate_limit=None, cache=cache
    ) as client:

        async def read(session_id: int | None) -> None:
            start = time.perf_counter()
            if session_id is None:
                await client.sessions.list(EVENT_ID, fields=["name", "date"]).page(1)
            else:
                await client.sessions.get(session_id)
            latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(read(page) for page in set(plan)))  # warm-up
        latencies.clear()
        spent_before = client.credits_spent
        warm = attrs.asdict(cache.stats) if cache is not None else {}
        loop = asyncio.get_running_loop()
        wall = start = loop.time()
        tasks = []
        for index, page in enumerate(plan):
            delay = start + index / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(read(page)))
        await asyncio.gather(*tasks)
        wall = loop.time() - wall
        stats = None
        if cache is not None:  # the timed reads only
            now = attrs.asdict(cache.stats)
            stats = CacheStats(**{name: now[name] - warm[name] for name in now})
        return {
            "reads": len(latencies),
            "wall_s": round(wall, 3),
            "p50_ms": round(median(latencies) * 1000, 3),
            "p99_ms": round(percentile(latencies, 99) * 1000, 3),
            "credits_spent": client.credits_spent - spent_before,
            "credits_saved": stats.credits_saved if stats else 0,
            "hits": (stats.hits + stats.stale_hits + stats.coalesced) if stats else 0,
            "misses": stats.misses if stats else len(latencies),
            "refreshes": stats.refreshes if stats else 0,
        }


async def cache_benchmark(
    *, reads: int, rate: float, sessions: int, latency: float, ttl: float, seed: int
) -> dict[str, Any]:
    """Run every mode over one seeded plan; return the figures."""
    results: dict[str, Any] = {"reads": reads, "rate": rate, "latency_s": latency, "ttl_s": ttl}
    ttls = CacheTTL(session=ttl, session_list=ttl)
    with server(["--latency", str(latency)]) as fake:
        async with aiohttp.ClientSession() as session:
            token = await fetch_token(session, fake.base_url)
        ids = await seed_sessions(fake.base_url, token, sessions, EVENT_ID)
        plan = _plan(ids, reads, seed)
        results["uncached"] = await _run(fake.base_url, None, plan, rate)
        results["memory"] = await _run(fake.base_url, ReadCache(ttl=ttls), plan, rate)
        path = shutil.which("redis-server")
        if path is not None:
            redis = LocalRedis(path)
            cache = ReadCache(redis.url, ttl=ttls)
            try:
                results["redis"] = await _run(fake.base_url, cache, plan, rate)
            finally:
                await cache.aclose()
                redis.stop()
    base = results["uncached"]
    for mode in ("memory", "redis"):
        if mode in results:
            figures = results[mode]
            figures["credits_vs_uncached"] = round(
                ratio(figures["credits_spent"], base["credits_spent"]), 4
            )
            figures["p50_vs_uncached"] = round(ratio(figures["p50_ms"], base["p50_ms"]), 4)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=400.0, help="reads per second")
    parser.add_argument("--sessions", type=int, default=20, help="hot sessions read")
    parser.add_argument("--latency", type=float, default=0.02, help="server latency (s)")
    parser.add_argument("--ttl", type=float, default=2.0, help="TTL of sessions and lists")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    figures = asyncio.run(
        cache_benchmark(
            reads=args.reads,
            rate=args.rate,
            sessions=args.sessions,
            latency=args.latency,
            ttl=args.ttl,
            seed=args.seed,
        )
    )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
