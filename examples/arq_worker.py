"""An arq worker pool that imports sessions: one shared client per worker process.

Every worker opens one ``SwoogoClient`` at start-up and closes it at shut-down. With
``SWOOGO_REDIS_URL`` set, all of them share one token and one rate budget through
Redis, so four workers together stay inside the credential's budget (no 429) and
fetch one token between them. Each job is a bulk run (``create_many``) of its one row,
so it is paced as bulk work: it leaves the last 10 % of each window to interactive
calls (a web app on the same credential) and waits out a 429 inside the API's window.

Try it against the fake server and a local Redis::

    redis-server --port 6379 --save '' &
    python -m swoogo_async.testing --port 8765 --rate-limit 100 --rate-window 10 &
    export SWOOGO_API_KEY=test-key SWOOGO_API_SECRET=test-secret
    export SWOOGO_BASE_URL=http://127.0.0.1:8765/api/v1
    export SWOOGO_REDIS_URL=redis://127.0.0.1:6379/0
    for i in 1 2 3 4; do arq examples.arq_worker.WorkerSettings & done
    python examples/arq_worker.py 200      # enqueue 200 rows, wait for the results

``pip install arq`` first; the SDK itself does not depend on arq.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any, ClassVar

from arq import create_pool
from arq.connections import RedisSettings

from swoogo_async import SwoogoClient

REDIS = RedisSettings.from_dsn(os.environ.get("SWOOGO_REDIS_URL", "redis://127.0.0.1:6379/0"))


async def startup(ctx: dict[str, Any]) -> None:
    """Open this worker's one client (credentials and Redis from the environment)."""
    ctx["swoogo"] = await SwoogoClient().open()


async def shutdown(ctx: dict[str, Any]) -> None:
    """Close the worker's client."""
    await ctx["swoogo"].aclose()


async def import_session(ctx: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Create one session; return its id, or the error (a job never raises it on)."""
    client: SwoogoClient = ctx["swoogo"]
    async with client.sessions.create_many([row], concurrency=1) as run:
        async for result in run:
            if result.ok:
                return {"row": row["name"], "id": result.id}
            error = result.error
            return {"row": row["name"], "error": f"{type(error).__name__}: {error}"}
    return {"row": row["name"], "error": "no result"}  # a bulk run yields one per row


class WorkerSettings:
    """What ``arq examples.arq_worker.WorkerSettings`` runs."""

    functions: ClassVar[list[Any]] = [import_session]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = REDIS
    max_jobs = 8
    job_timeout = 700  # a job may wait out a whole 600-s window (arq's default is 300 s)


async def enqueue(count: int) -> None:
    """Enqueue ``count`` rows and print a summary once every job has finished."""
    pool = await create_pool(REDIS)
    jobs = [
        await pool.enqueue_job(
            "import_session",
            {"event_id": 1, "name": f"arq row {i}", "date": "2026-05-01"},
        )
        for i in range(count)
    ]
    results = [await job.result(timeout=900) for job in jobs if job is not None]
    failed = [r for r in results if "error" in r]
    print(f"{len(results) - len(failed)} created, {len(failed)} failed")
    for r in failed[:5]:
        print("  ", r)
    await pool.aclose()


if __name__ == "__main__":
    asyncio.run(enqueue(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
