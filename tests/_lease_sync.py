"""One library sync in its own process, for the lease tests.

``python -m tests._lease_sync REDIS_URL EVENT_ID ROWS [GO_FILE]``: syncs ROWS sessions
into the event through a client whose Redis lease lives 0.5 s, and prints one JSON line
of the statuses. With GO_FILE, the run stalls (its event loop blocked, as in a frozen VM)
just before its first write, printing ``stalled``, until GO_FILE exists. The fake's
address and credentials come from ``SWOOGO_BASE_URL``, ``SWOOGO_API_KEY`` and
``SWOOGO_API_SECRET``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from swoogo_async import SwoogoClient
from swoogo_async.redis import RedisSharedState

__all__ = ["main"]


async def main(redis_url: str, event_id: int, rows: int, go: Path | None) -> None:
    """Run the sync and print its statuses."""
    shared = RedisSharedState.from_url(redis_url, timeout=30.0, lock_ttl=0.5)
    stalled = False

    def stall(row: Any, plan: Any) -> bool:
        nonlocal stalled
        if go is not None and not stalled:
            stalled = True
            print("stalled", flush=True)
            while not go.exists():  # blocks the loop: nothing extends the lease
                time.sleep(0.01)
        return True

    data = [{"name": f"Talk {i}", "date": "2026-06-01", "start_time": "09:00"} for i in range(rows)]
    try:
        async with SwoogoClient(
            os.environ["SWOOGO_API_KEY"],
            os.environ["SWOOGO_API_SECRET"],
            base_url=os.environ["SWOOGO_BASE_URL"],
            shared=shared,
        ) as client:
            run = client.sessions.sync(data, event_id=event_id, key="name", before_write=stall)
            async with run:
                found = [(r.status, type(r.error).__name__) async for r in run]
    finally:
        await shared.aclose()
    print(json.dumps(found), flush=True)


if __name__ == "__main__":
    go = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), go))
