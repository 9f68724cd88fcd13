"""What one worker process does in the shared-cache tests (run with multiprocessing spawn)."""

from __future__ import annotations

import asyncio
import multiprocessing
from typing import Any

__all__ = ["read_one_session"]


async def _read(
    base_url: str, redis_url: str, session_id: int, readers: int, started: Any
) -> dict[str, Any]:
    import attrs

    from swoogo_async import ReadCache, RetryPolicy, SwoogoClient

    retry = RetryPolicy(max_attempts=6, backoff_base=0.005, backoff_cap=0.05, deadline=60.0)
    cache = ReadCache(redis_url)
    try:
        async with SwoogoClient(
            "test-key", "test-secret", base_url=base_url, retry=retry, cache=cache
        ) as client:
            tasks = [asyncio.ensure_future(client.sessions.get(session_id)) for _ in range(readers)]
            await asyncio.sleep(0)  # every reader has started and waits on the one fetch
            started.put(True)
            sessions = await asyncio.gather(*tasks)
            return {"names": sorted({s.name for s in sessions}), "stats": attrs.asdict(cache.stats)}
    finally:
        await cache.aclose()


def read_one_session(
    base_url: str,
    redis_url: str,
    session_id: int,
    readers: int,
    started: multiprocessing.Queue[Any],
    results: multiprocessing.Queue[Any],
) -> None:
    """Read one session ``readers`` times at once through a Redis cache; report what it saw."""
    results.put(asyncio.run(_read(base_url, redis_url, session_id, readers, started)))
