"""One app process of the web-app tests (``python -m tests._web_worker BASE_URL REDIS_URL SECRET``).

It serves, on a free loopback port it prints: ``GET /sessions/{id}`` and ``GET /events/{id}``
(the session's name; the names on the event's first list page) and
``GET /speakers/{id}`` (the speaker's first name), read through one
``SwoogoClient`` whose read cache is shared through Redis, and ``POST /hook``, a
``WebhookReceiver(invalidate=client.cache)``. The cache's TTLs are an hour: a page changes
only when a webhook (or a write through a client) says so. It stops when stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web
from redis import asyncio as aioredis

from swoogo_async import CacheTTL, NotFoundError, ReadCache, RetryPolicy, SwoogoClient
from swoogo_async.webhooks import WebhookEvent, WebhookReceiver

__all__ = ["main"]

HOUR = 3600.0


async def main(base_url: str, redis_url: str, secret: str) -> None:
    """Serve the app until stdin closes."""
    redis = aioredis.Redis.from_url(redis_url)
    ttl = CacheTTL(session=HOUR, session_list=HOUR, speaker=HOUR, speaker_list=HOUR)
    retry = RetryPolicy(max_attempts=6, backoff_base=0.005, backoff_cap=0.05, deadline=60.0)
    cache = ReadCache(redis_url, ttl=ttl)
    async with SwoogoClient(
        "test-key", "test-secret", base_url=base_url, retry=retry, cache=cache
    ) as client:

        async def on_event(event: WebhookEvent) -> None:
            await redis.incr("webhooks-processed")

        receiver = WebhookReceiver(on_event, secret=secret, redis=redis, invalidate=client.cache)

        async def session_page(request: web.Request) -> web.Response:
            try:
                session = await client.sessions.get(int(request.match_info["id"]))
            except NotFoundError:
                raise web.HTTPNotFound() from None
            return web.json_response({"name": session.name})

        async def speaker_page(request: web.Request) -> web.Response:
            try:
                speaker = await client.speakers.get(int(request.match_info["id"]))
            except NotFoundError:
                raise web.HTTPNotFound() from None
            return web.json_response({"name": speaker.first_name})

        async def event_page(request: web.Request) -> web.Response:
            page = await client.sessions.list(int(request.match_info["id"])).page(1)
            return web.json_response({"names": sorted(str(s.name) for s in page.items)})

        app = web.Application()
        app.router.add_get("/sessions/{id}", session_page)
        app.router.add_get("/events/{id}", event_page)
        app.router.add_get("/speakers/{id}", speaker_page)
        app.router.add_post("/hook", receiver.aiohttp_handler())
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()
    await cache.aclose()
    await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
