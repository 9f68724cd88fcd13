"""A webhook receiver in its own process (``python -m tests._webhook_app REDIS_URL SECRET``).

It prints its port, counts the events it processes in Redis (``processed:<id>``), and
stops when its stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web
from redis import asyncio as aioredis

from swoogo_async.webhooks import WebhookEvent, WebhookReceiver

__all__ = ["main"]


async def main(redis_url: str, secret: str) -> None:
    """Serve one receiver on a free loopback port until stdin closes."""
    redis = aioredis.Redis.from_url(redis_url)

    async def on_event(event: WebhookEvent) -> None:
        await redis.incr(f"processed:{event.id}")

    receiver = WebhookReceiver(on_event, secret=secret, redis=redis)
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
    asyncio.run(main(sys.argv[1], sys.argv[2]))
