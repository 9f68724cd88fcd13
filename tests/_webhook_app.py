"""A webhook receiver in its own process (``python -m tests._webhook_app REDIS_URL SECRET``).

It prints its port, counts the events it processes in Redis (``processed:<id>``), and
stops when its stdin closes. A third argument ``hang`` makes its handler mark
``entered:<id>`` in Redis and never return (a process to kill mid-delivery); a fourth
is the dedupe's ``processing_ttl``.
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web
from redis import asyncio as aioredis

from swoogo_async.webhooks import RedisDedupe, WebhookEvent, WebhookReceiver

__all__ = ["main"]


async def main(redis_url: str, secret: str, mode: str = "", processing_ttl: str = "30") -> None:
    """Serve one receiver on a free loopback port until stdin closes."""
    redis = aioredis.Redis.from_url(redis_url)

    async def on_event(event: WebhookEvent) -> None:
        if mode == "hang":
            await redis.set(f"entered:{event.id}", 1)
            await asyncio.Event().wait()
        await redis.incr(f"processed:{event.id}")

    dedupe = RedisDedupe(redis, processing_ttl=float(processing_ttl))
    receiver = WebhookReceiver(on_event, secret=secret, dedupe=dedupe)
    app = web.Application()
    app.router.add_post("/hook", receiver.aiohttp_handler())
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()
    await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
