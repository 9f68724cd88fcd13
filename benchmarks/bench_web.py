"""A web app on Swoogo's real budget: N app processes, cached through Redis or not.

N app processes (``benchmarks/_web_worker.py``, real processes) serve seeded visitors at
R page views per second each for T seconds (an event's list page, 10 credits, one view
in five; a session page, 1 credit, otherwise) on one credential, against the fake API in
its own process with Swoogo's budget (2,000 credits per 600 s) and a per-request latency
standing in for Swoogo's. A ``redis-server`` is started for the run. Three scenarios,
each on a fresh fake server (a fresh budget):

- ``uncached``: the naive app, every view a request; a 429 is final (the window is
  600 s). Printed: what it needed, what it got, the 429s.
- ``webhooks``: ``SwoogoClient(cache=ReadCache(redis), shared=RedisSharedState(redis))``
  and a ``WebhookReceiver(invalidate=client.cache)`` in each process, one webhook
  registered on process 0. Half way, a session is renamed from outside the app; every
  process reads it every 10 ms and notes when it first serves the new name.
- ``ttl``: the same app without the webhook: the edit shows when the TTL runs out.

Figures: credits spent (the cached app's warm-up included) and their share of what the
uncached app needed, p50/p99 read latency, 429s, and the staleness of the edit: from the
edit's answer, and from the webhook's arrival, to the last process serving it.

    python -m benchmarks.bench_web [--processes 4] [--rate 50] [--seconds 60] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from typing import Any

import aiohttp

from swoogo_async import SwoogoClient
from swoogo_async.cli._demo_workers import LocalRedis

from ._common import median, percentile, ratio
from ._server import API_KEY, API_SECRET, fetch_token, seed_sessions, server
from ._web_worker import SECRET

__all__ = ["web_benchmark"]

EVENT_ID = 42
NEW_NAME = "Renamed from outside the app"
#: Seconds a process may take to start, warm up or finish before the run is abandoned.
GUARD = 120.0


async def _scenario(
    mode: str, redis_url: str, args: argparse.Namespace, ids: list[int], base_url: str
) -> dict[str, Any]:
    """Run the app processes of one scenario; return the figures of all of them."""
    watch = args.seconds / 2 + args.ttl + 10.0  # the TTL-only edit shows within the TTL
    configs = [
        {
            "mode": mode,
            "base_url": base_url,
            "redis_url": redis_url,
            "rate": args.rate,
            "seconds": args.seconds,
            "seed": args.seed + k,
            "ids": ids,
            "event_id": EVENT_ID,
            "ttl": args.ttl,
            "probe_id": ids[0],
            "new_name": NEW_NAME,
        }
        for k in range(args.processes)
    ]
    procs = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        for cfg in configs:
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "benchmarks._web_worker",
                    json.dumps(cfg),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    env=env,
                    limit=2**24,
                )
            )
        ports = []
        for proc in procs:
            assert proc.stdout is not None
            ports.append(json.loads(await asyncio.wait_for(proc.stdout.readline(), GUARD))["port"])
        edited_at = None
        async with SwoogoClient(API_KEY, API_SECRET, base_url=base_url, rate_limit=None) as admin:
            if mode == "webhooks":
                await admin.webhooks.create(
                    name="bench",
                    url=f"http://127.0.0.1:{ports[0]}/hook",
                    trigger_object="session",
                    headers={"Authorization": SECRET},
                )
            start_at = time.time() + 1.0
            for proc in procs:
                assert proc.stdin is not None
                go = {"start_at": start_at, "watch_until": start_at + watch}
                proc.stdin.write(json.dumps(go).encode() + b"\n")
                await proc.stdin.drain()
            if mode != "uncached":
                await asyncio.sleep(max(0.0, start_at + args.seconds / 2 - time.time()))
                await admin.sessions.update(ids[0], name=NEW_NAME)
                edited_at = time.time()
        results = []
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), args.seconds + watch + GUARD)
            results.append(json.loads(line))
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
    return _figures(mode, results, edited_at)


def _figures(mode: str, results: list[dict[str, Any]], edited_at: float | None) -> dict[str, Any]:
    latencies = [x for r in results for x in r["latencies"]]
    served = len(latencies)
    spent = sum(r["credits_spent"] - r["refused_credits"] for r in results)
    out: dict[str, Any] = {
        "views": sum(r["views"] for r in results),
        "served": served,
        "refused_429": sum(r["refused"] for r in results),
        "failed": sum(r["failed"] for r in results),
        "credits_needed_uncached": sum(r["needed"] for r in results),
        "credits_spent": spent,
        "p50_ms": round(median(latencies) * 1000, 3) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 3) if latencies else None,
    }
    if mode != "uncached":
        caches = [r.get("cache", {}) for r in results]
        out["cache"] = {k: sum(c.get(k, 0) for c in caches) for k in caches[0]} if caches else {}
        seen = [r.get("seen_at") for r in results]
        out["processes_serving_edit"] = sum(s is not None for s in seen)
        if edited_at is not None and all(s is not None for s in seen):
            last = max(s for s in seen if s is not None)
            out["edit_to_visible_everywhere_s"] = round(last - edited_at, 3)
            hooks = [r["webhook_at"] for r in results if "webhook_at" in r]
            if hooks:
                out["webhook_to_visible_everywhere_s"] = round(last - min(hooks), 3)
    return out


async def web_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Run the three scenarios; return the figures and their ratios to the uncached app."""
    path = shutil.which("redis-server")
    if path is None:
        raise SystemExit("bench_web needs redis-server on PATH")
    figures: dict[str, Any] = {
        "processes": args.processes,
        "rate_per_process": args.rate,
        "seconds": args.seconds,
        "ttl_s": args.ttl,
        "latency_s": args.latency,
        "budget": "2000 credits / 600 s",
    }
    fake_args = ["--rate-limit", "2000", "--rate-window", "600", "--latency", str(args.latency)]
    redis = LocalRedis(path)
    try:
        for mode in ("uncached", "webhooks", "ttl"):
            with server(fake_args) as fake:
                async with aiohttp.ClientSession() as session:
                    token = await fetch_token(session, fake.base_url)
                ids = await seed_sessions(fake.base_url, token, args.sessions, EVENT_ID)
                figures[mode] = await _scenario(mode, redis.url, args, ids, fake.base_url)
            print(f"{mode}: {json.dumps(figures[mode])}", file=sys.stderr, flush=True)
    finally:
        redis.stop()
    needed = figures["uncached"]["credits_needed_uncached"]
    for mode in ("webhooks", "ttl"):
        figures[mode]["credits_vs_uncached"] = round(
            ratio(figures[mode]["credits_spent"], needed), 4
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4, help="app processes (4)")
    parser.add_argument("--rate", type=float, default=50.0, help="page views/s per process (50)")
    parser.add_argument("--seconds", type=float, default=None, help="visitors' time (60)")
    parser.add_argument("--sessions", type=int, default=30, help="sessions on the agenda (30)")
    parser.add_argument("--ttl", type=float, default=None, help="cache TTL of pages (30)")
    parser.add_argument("--latency", type=float, default=0.05, help="server latency (0.05 s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="15 s of visitors, a 10-s TTL")
    args = parser.parse_args()
    if args.seconds is None:
        args.seconds = 15.0 if args.quick else 60.0
    if args.ttl is None:
        args.ttl = 10.0 if args.quick else 30.0
    print(json.dumps(asyncio.run(web_benchmark(args)), indent=2))


if __name__ == "__main__":
    main()
