"""A FastAPI app run with several uvicorn workers: one shared client per worker.

Each worker process opens one ``SwoogoClient`` in the app's lifespan and closes it
on shut-down. With ``SWOOGO_REDIS_URL`` set, the workers share one token and one
rate budget through Redis, so four workers do not fetch four tokens or overrun the
credential's budget together. Request handlers make interactive calls: they are never
queued behind bulk work that runs under ``bulk_pacing()`` elsewhere.

Try it against the fake server and a local Redis::

    redis-server --port 6379 --save '' &
    python -m swoogo_async.testing --port 8765 --rate-limit 100 --rate-window 10 &
    export SWOOGO_API_KEY=test-key SWOOGO_API_SECRET=test-secret
    export SWOOGO_BASE_URL=http://127.0.0.1:8765/api/v1
    export SWOOGO_REDIS_URL=redis://127.0.0.1:6379/0
    uvicorn examples.fastapi_app:app --workers 4 --port 8000 &
    curl -s -X POST 'localhost:8000/sessions?name=Keynote&event_id=1&date=2026-05-01'
    curl -s localhost:8000/sessions/1000

``pip install fastapi uvicorn`` first; the SDK itself does not depend on them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from swoogo_async import NotFoundError, RateLimitError, SwoogoClient, SwoogoError


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open this worker's one client (credentials and Redis from the environment)."""
    async with SwoogoClient() as client:
        app.state.swoogo = client
        yield


app = FastAPI(lifespan=lifespan)


def _client(request: Request) -> SwoogoClient:
    client: SwoogoClient = request.app.state.swoogo
    return client


@app.get("/sessions/{session_id}")
async def get_session(session_id: int, request: Request) -> dict[str, Any]:
    """Return one session."""
    try:
        session = await _client(request).sessions.get(session_id)
    except NotFoundError:
        raise HTTPException(404, "no such session") from None
    except RateLimitError as error:
        raise HTTPException(503, f"rate limited; retry in {error.retry_after}s") from None
    except SwoogoError as error:
        raise HTTPException(502, type(error).__name__) from None
    return {"id": session.id, "name": session.name, "date": str(session.date)}


@app.post("/sessions")
async def create_session(name: str, event_id: int, date: str, request: Request) -> dict[str, Any]:
    """Create a session and return its id."""
    try:
        session = await _client(request).sessions.create(event_id=event_id, name=name, date=date)
    except SwoogoError as error:
        raise HTTPException(502, type(error).__name__) from None
    return {"id": session.id}
