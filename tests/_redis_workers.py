"""What one worker process does in the Redis tests (run with multiprocessing spawn)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from typing import Any

__all__ = ["run_worker"]


async def _work(base_url: str, redis_url: str, calls: int) -> dict[str, Any]:
    from swoogo_async import RetryPolicy, SwoogoClient
    from swoogo_async.redis import RedisSharedState

    retry = RetryPolicy(max_attempts=6, backoff_base=0.005, backoff_cap=0.05, deadline=60.0)
    shared = RedisSharedState.from_url(redis_url, timeout=30.0)
    try:
        async with SwoogoClient(
            "test-key", "test-secret", base_url=base_url, retry=retry, shared=shared, pool_size=8
        ) as client:
            results = await asyncio.gather(
                *(client.sessions.get(1000) for _ in range(calls)), return_exceptions=True
            )
            return {
                "pid": os.getpid(),
                "fetches": client.token_fetches,
                "errors": [type(r).__name__ for r in results if isinstance(r, BaseException)],
            }
    finally:
        await shared.aclose()


def run_worker(
    base_url: str, redis_url: str, calls: int, results: multiprocessing.Queue[Any]
) -> None:
    """Make ``calls`` gets through a client sharing Redis; put what it saw on ``results``."""
    results.put(asyncio.run(_work(base_url, redis_url, calls)))
