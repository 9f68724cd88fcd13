"""An event agenda on FastAPI: one client per worker, a shared read cache, Swoogo webhooks.

Pages:

- ``GET /events/{event_id}``: the event's sessions (one list page: 10 credits uncached);
- ``GET /sessions/{session_id}``: one session (1 credit uncached);
- ``POST /hooks/swoogo``: Swoogo's webhook deliveries, which drop the cached copies of
  what an edit changed, so the pages show it as soon as the webhook arrives.

Each worker process opens one ``SwoogoClient`` in the app's lifespan. Reads come from the
client's read cache: in this process by default; with ``SWOOGO_REDIS_URL`` set, shared by
every worker through Redis (the same Redis also shares the token, the rate budget and the
webhook dedupe), so a page costs credits once for all workers, and a webhook landing on
any worker refreshes every worker's pages. See docs/web-apps.md.

Try it against the fake server and a local Redis::

    redis-server --port 6379 --save '' &
    python -m swoogo_async.testing --port 8765 --rate-limit 2000 --rate-window 600 &
    export SWOOGO_API_KEY=test-key SWOOGO_API_SECRET=test-secret
    export SWOOGO_BASE_URL=http://127.0.0.1:8765/api/v1
    export SWOOGO_REDIS_URL=redis://127.0.0.1:6379/0
    export SWOOGO_WEBHOOK_SECRET='Bearer change-me'
    uvicorn examples.agenda_app:app --workers 4 --port 8000

then register ``http://127.0.0.1:8000/hooks/swoogo`` with ``client.webhooks.create(...,
headers={"Authorization": "Bearer change-me"})``. ``pip install fastapi uvicorn`` first;
the SDK itself does not depend on them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from swoogo_async import NotFoundError, RateLimitError, Session, SwoogoClient, SwoogoError
from swoogo_async.webhooks import WebhookEvent, WebhookReceiver

#: The fields the pages show: a list page asks for these only.
FIELDS = ["name", "date", "start_time", "end_time", "location_id"]


async def on_event(event: WebhookEvent) -> None:
    """Run after the cache dropped what the edit changed; an app could log or notify here."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open this worker's one client, its cache and its webhook receiver."""
    redis_url = os.environ.get("SWOOGO_REDIS_URL")
    redis: Any = None
    if redis_url:  # several workers: dedupe deliveries in the Redis they share
        from redis import asyncio as aioredis

        redis = aioredis.Redis.from_url(redis_url)
    try:
        async with SwoogoClient(cache=redis_url or "memory") as client:
            app.state.swoogo = client
            app.state.receiver = WebhookReceiver(
                on_event,
                secret=os.environ["SWOOGO_WEBHOOK_SECRET"],
                redis=redis,
                invalidate=client.cache,
            )
            yield
    finally:
        if redis is not None:
            await redis.aclose()


app = FastAPI(lifespan=lifespan)


def _client(request: Request) -> SwoogoClient:
    client: SwoogoClient = request.app.state.swoogo
    return client


def _page(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "name": session.name,
        "date": None if session.date is None else str(session.date),
        "start_time": None if session.start_time is None else str(session.start_time),
    }


def _unavailable(error: SwoogoError) -> HTTPException:
    if isinstance(error, RateLimitError):
        return HTTPException(503, f"busy; retry in {error.retry_after}s")
    return HTTPException(502, type(error).__name__)


@app.get("/events/{event_id}")
async def event_page(event_id: int, request: Request) -> dict[str, Any]:
    """List an event's sessions (the first page)."""
    try:
        page = await _client(request).sessions.list(event_id, fields=FIELDS).page(1)
    except SwoogoError as error:
        raise _unavailable(error) from None
    return {"event_id": event_id, "sessions": [_page(s) for s in page.items]}


@app.get("/sessions/{session_id}")
async def session_page(session_id: int, request: Request) -> dict[str, Any]:
    """Show one session."""
    try:
        session = await _client(request).sessions.get(session_id)
    except NotFoundError:
        raise HTTPException(404, "no such session") from None
    except SwoogoError as error:
        raise _unavailable(error) from None
    return _page(session)


@app.post("/hooks/swoogo")
async def swoogo_webhook(request: Request) -> Any:
    """Receive a webhook delivery (401 without the secret; see docs/webhooks.md)."""
    receiver: WebhookReceiver = request.app.state.receiver
    return await receiver.starlette_endpoint(request)
