"""A 429 never fails a bulk row when its reset falls inside the API's 600-s window.

The long wait runs on an event loop whose clock the test moves forward (the fake,
the client and its pacer read that clock too), so a 300-s reset costs no real time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from swoogo_async import BulkResult, RateLimitError, RetryPolicy, SwoogoClient
from swoogo_async.testing import FakeSwoogo, Fault


def test_for_bulk_covers_the_window_and_keeps_larger_values() -> None:
    bulk = RetryPolicy().for_bulk()
    assert (bulk.deadline, bulk.max_server_wait, bulk.max_attempts) == (660.0, 600.0, 8)
    long_reset = RateLimitError(
        status=429, method="POST", url="u", body=None, raw=b"", retry_after=600
    )
    assert not bulk.gives_up(long_reset, idempotent=False)
    assert RetryPolicy().gives_up(long_reset, idempotent=False)  # interactive: fails fast
    waits = bulk.waits(deadline=bulk.deadline, clock=lambda: 0.0)
    next(waits)
    assert waits.send(long_reset) == 600
    own = RetryPolicy(max_attempts=20, deadline=900.0, max_server_wait=700.0, backoff_base=0.5)
    assert own.for_bulk() == own


def test_bulk_runs_refuse_a_retry_that_is_not_a_policy() -> None:
    from swoogo_async import InvalidInputError

    client = SwoogoClient("k", "s", base_url="http://127.0.0.1:1")
    for start in (client.sessions.create_many, client.sessions.update_many):
        with pytest.raises(InvalidInputError, match="retry"):
            start([], retry="long")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="retry"):
        client.sessions.sync([], event_id=1, retry=5)  # type: ignore[arg-type]


class _SkippingLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock the test can move forward: due sleeps end at once."""

    skipped = 0.0

    def time(self) -> float:
        return super().time() + self.skipped


class _Waits(logging.Handler):
    """Collects the waits the retry loop announces just before it sleeps."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[str] = []
        self.sleeping = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("retrying"):
            self.waits.append(record.getMessage().rsplit(" ", 1)[-1])
            self.sleeping.set()


ROW = {"event_id": 1, "name": "B", "date": "2026-05-01", "start_time": "09:00"}
ROUTES = {
    "create_many": "POST /sessions/create",
    "update_many": "PUT /sessions/update/{id}",
    "sync": "POST /sessions/create",
}


async def _interactive(client: SwoogoClient, kind: str, session_id: int) -> Any:
    if kind == "update_many":
        return await client.sessions.update(session_id, capacity=5)
    return await client.sessions.create(**ROW)  # type: ignore[arg-type]


async def _bulk(client: SwoogoClient, kind: str, session_id: int) -> list[BulkResult]:
    if kind == "create_many":
        run = client.sessions.create_many([ROW])
    elif kind == "update_many":
        run = client.sessions.update_many([{"id": session_id, "capacity": 5}])
    else:
        run = client.sessions.sync([ROW], event_id=1)
    async with run:
        return [result async for result in run]


async def _scenario(loop: _SkippingLoop, kind: str) -> None:
    async with FakeSwoogo(clock=loop.time) as fake:
        existing = fake.add_session(event_id=1, name="A", date="2026-05-01")["id"]

        def client() -> SwoogoClient:
            c = SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url)
            assert c._core.pipeline.pacer is not None
            c._core.pipeline.clock = c._core.pipeline.pacer._clock = loop.time
            return c

        # The client's own (interactive) policy: a 300-s reset fails the call at once.
        fake.inject(ROUTES[kind], Fault.rate_limited(reset=300))
        async with client() as interactive:
            with pytest.raises(RateLimitError) as info:
                await _interactive(interactive, kind, existing)
        assert info.value.retry_after == 300

        fake.inject(ROUTES[kind], Fault.rate_limited(reset=300))
        watcher = _Waits()
        logger = logging.getLogger("swoogo_async")
        logger.addHandler(watcher)
        try:
            async with client() as bulk:
                task = asyncio.ensure_future(_bulk(bulk, kind, existing))
                sleeping = asyncio.ensure_future(watcher.sleeping.wait())
                await asyncio.wait([task, sleeping], return_when=asyncio.FIRST_COMPLETED)
                sleeping.cancel()
                assert not task.done(), task.result()  # the row is waiting, not failed
                assert watcher.waits == ["300.00s"]
                loop.skipped += 300.0  # the window resets
                results = await task
        finally:
            logger.removeHandler(watcher)
    assert [(r.status, r.error) for r in results] == [
        ("created" if kind != "update_many" else "updated", None)
    ]
    assert [r.status for r in fake.requests if r.path != "/oauth2/token"].count(429) == 2
    names = sorted(s["name"] for s in fake.sessions.values())
    assert names == (["A"] if kind == "update_many" else ["A", "B"])


@pytest.mark.parametrize("kind", sorted(ROUTES))
def test_a_bulk_row_waits_out_a_429_inside_the_window(kind: str) -> None:
    loop = _SkippingLoop()
    try:
        loop.run_until_complete(_scenario(loop, kind))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@pytest.mark.parametrize(
    ("argv", "bulk"),
    [
        (["import", "rows.csv"], True),
        (["sync", "rows.csv", "--event-id", "1"], True),
        (["get", "1"], False),
        (["update", "1", "capacity=3"], False),
    ],
)
def test_the_cli_gives_import_and_sync_the_bulk_policy_only(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], bulk: bool
) -> None:
    from swoogo_async.cli._args import build_parser
    from swoogo_async.cli._main import _client as cli_client

    monkeypatch.setenv("SWOOGO_API_KEY", "key")
    monkeypatch.setenv("SWOOGO_API_SECRET", "secret")
    monkeypatch.delenv("SWOOGO_REDIS_URL", raising=False)
    client = cli_client(build_parser().parse_args(argv)).client
    assert client.retry == (RetryPolicy().for_bulk() if bulk else RetryPolicy())
