"""One app process of ``bench_web`` (``python -m benchmarks._web_worker CONFIG_JSON``).

It opens the app's one ``SwoogoClient`` (cached: the read cache and the token and budget
shared through Redis, and a webhook receiver on a loopback port; uncached: the naive
app, whose 429 is final), reads every page once (the warm-up), prints ``{"port": ...}``,
then waits for a line on stdin holding ``start_at`` (a wall-clock time shared by every
process) and ``watch_until``. From then on it serves the seeded visitors at ``rate`` page
views per second (open loop) for ``seconds``; a cached app also reads the watched session
every 10 ms until it shows ``new_name`` (or ``watch_until``) and notes when. Its figures go to
stdout as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import attrs
from aiohttp import web
from redis import asyncio as aioredis

from swoogo_async import CacheTTL, RateLimitError, ReadCache, RetryPolicy, SwoogoClient, SwoogoError
from swoogo_async.cli._demo_web import read_page, visitor_plan
from swoogo_async.redis import RedisSharedState
from swoogo_async.webhooks import WebhookEvent, WebhookReceiver

from ._server import API_KEY, API_SECRET

__all__ = ["main"]

SECRET = "Bearer bench-web-secret"
PROBE_EVERY = 0.01


async def _visitors(
    client: SwoogoClient, cfg: dict[str, Any], start_at: float, out: dict[str, Any]
) -> None:
    plan = visitor_plan(cfg["ids"], round(cfg["rate"] * cfg["seconds"]), seed=cfg["seed"])
    latencies: list[float] = out["latencies"]

    async def view(page: int | None) -> None:
        start = time.perf_counter()
        try:
            await read_page(client, page, cfg["event_id"])
        except RateLimitError:
            out["refused"] += 1
            out["refused_credits"] += 10 if page is None else 1
            return
        except SwoogoError:
            out["failed"] += 1
            return
        latencies.append(time.perf_counter() - start)

    await asyncio.sleep(max(0.0, start_at - time.time()))
    loop = asyncio.get_running_loop()
    begin, tasks = loop.time(), []
    for index, page in enumerate(plan):
        delay = begin + index / cfg["rate"] - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(view(page)))
    await asyncio.gather(*tasks)
    out["views"] = len(plan)
    out["needed"] = sum(10 if page is None else 1 for page in plan)


async def _watch(client: SwoogoClient, cfg: dict[str, Any], out: dict[str, Any]) -> None:
    """Note when this process first serves the edit of the watched session."""
    while time.time() < cfg["watch_until"]:
        if await read_page(client, cfg["probe_id"], cfg["event_id"]) == cfg["new_name"]:
            out["seen_at"] = time.time()
            return
        await asyncio.sleep(PROBE_EVERY)


async def _run(cfg: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies": [], "refused": 0, "refused_credits": 0, "failed": 0}
    cached = cfg["mode"] != "uncached"
    redis = aioredis.Redis.from_url(cfg["redis_url"]) if cached else None
    options: dict[str, Any] = {"rate_limit": None, "retry": RetryPolicy(max_attempts=1)}
    cache = None
    if redis is not None:
        ttl = CacheTTL(session=cfg["ttl"], session_list=cfg["ttl"])
        cache = ReadCache(cfg["redis_url"], ttl=ttl)
        options = {"shared": RedisSharedState(redis), "cache": cache}
    runner = None
    try:
        async with SwoogoClient(API_KEY, API_SECRET, base_url=cfg["base_url"], **options) as client:
            port = 0
            if redis is not None:

                async def on_event(event: WebhookEvent) -> None:
                    """Nothing to do: the receiver already dropped the cached copies."""

                receiver = WebhookReceiver(
                    on_event, secret=SECRET, redis=redis, invalidate=client.cache
                )
                handle = receiver.aiohttp_handler()

                async def hook(request: web.Request) -> web.Response:
                    out.setdefault("webhook_at", time.time())  # when it reached this app
                    return await handle(request)

                app = web.Application()
                app.router.add_post("/hook", hook)
                runner = web.AppRunner(app, access_log=None, handle_signals=False)
                await runner.setup()
                await web.TCPSite(runner, "127.0.0.1", 0).start()
                port = runner.addresses[0][1]
                # The warm-up: every page once (the first process to ask fetches it).
                await asyncio.gather(*(read_page(client, p, cfg["event_id"]) for p in cfg["ids"]))
                await read_page(client, None, cfg["event_id"])
            print(json.dumps({"port": port}), flush=True)
            line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            start = json.loads(line)
            start_at, cfg["watch_until"] = float(start["start_at"]), float(start["watch_until"])
            jobs = [_visitors(client, cfg, start_at, out)]
            if cached:
                jobs.append(_watch(client, cfg, out))
            await asyncio.gather(*jobs)
            out["credits_spent"] = client.credits_spent
            if cache is not None:
                out["cache"] = attrs.asdict(cache.stats)
    finally:
        if runner is not None:
            await runner.cleanup()
        if cache is not None:
            await cache.aclose()
        if redis is not None:
            await redis.aclose()
    return out


def main() -> None:
    """Run one app process with the JSON configuration in ``argv[1]``."""
    print(json.dumps(asyncio.run(_run(json.loads(sys.argv[1])))), flush=True)


if __name__ == "__main__":
    main()
