"""The bulk engine end to end: real aiohttp client against the real FakeSwoogo on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import pytest

import swoogo_async._client.sessions
from swoogo_async import (
    AiohttpTransport,
    InvalidInputError,
    NotFoundError,
    Request,
    Response,
    Session,
    SwoogoClient,
    UnknownOutcomeError,
)
from swoogo_async._api.converter import parse_session
from swoogo_async._writes.bulk import BulkRun, session_row
from swoogo_async._writes.bulk_results import BulkProgress, BulkResult, BulkSummary
from swoogo_async.testing import FakeSwoogo, Fault

EVENT = 7
BAD = (
    ("name", {"name": ""}),
    ("date", {"date": "2026-13-01"}),
    ("capacity", {"capacity": "-3"}),
    ("end_time", {"start_time": "15:00", "end_time": "14:00"}),
    ("room", {"room": "B12"}),
)


def good_row(i: int) -> dict[str, Any]:
    """A CSV-like row (all text) for a unique session."""
    return {
        "event_id": str(EVENT),
        "name": f"Session {i}",
        "date": f"2026-06-{1 + i % 3:02d}",
        "start_time": f"{9 + i % 8:02d}:00",
        "end_time": f"{9 + i % 8:02d}:45",
        "capacity": str(20 + i % 50),
        "c_1001": ("Beginner", "Advanced")[i % 2],
    }


def row(i: int, bad_every: int = 0) -> dict[str, Any]:
    data = good_row(i)
    if bad_every and i % bad_every == bad_every - 1:
        data.update(BAD[(i // bad_every) % len(BAD)][1])
    return data


def is_bad(i: int, bad_every: int) -> bool:
    return bool(bad_every) and i % bad_every == bad_every - 1


class CountingTransport:
    """A transport (the public seam) that measures how many creates are in flight at once."""

    def __init__(self) -> None:
        self.inner = AiohttpTransport()
        self.current = 0
        self.peak = 0

    async def send(self, request: Request) -> Response:
        counted = request.url.endswith("/sessions/create")
        if counted:
            self.current += 1
            self.peak = max(self.peak, self.current)
        try:
            return await self.inner.send(request)
        finally:
            if counted:
                self.current -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
async def fake() -> AsyncIterator[FakeSwoogo]:
    async with FakeSwoogo() as server:
        yield server


def make_client(fake: FakeSwoogo, **kw: Any) -> SwoogoClient:
    return SwoogoClient(
        fake.api_key, fake.api_secret, base_url=fake.base_url, rate_limit=None, **kw
    )


@pytest.fixture
async def client(fake: FakeSwoogo) -> AsyncIterator[SwoogoClient]:
    async with make_client(fake) as c:
        yield c


def engine_tasks() -> list[asyncio.Task[Any]]:
    return [
        t
        for t in asyncio.all_tasks()
        if getattr(t.get_coro(), "__qualname__", "").endswith("_run_row")
    ]


async def test_create_many_mixed_rows(fake: FakeSwoogo, client: SwoogoClient) -> None:
    n, bad_every = 500, 10
    progress_calls: list[int] = []
    run = client.sessions.create_many(
        (row(i, bad_every) for i in range(n)),
        concurrency=16,
        on_progress=lambda p: progress_calls.append(p.done),
    )
    summary = BulkSummary()
    results: dict[int, BulkResult] = {}
    async with run:
        async for result in run:
            assert result.index not in results
            results[summary.add(result).index] = result
    assert sorted(results) == list(range(n))
    for i, result in results.items():
        assert result.row == row(i, bad_every)
        if is_bad(i, bad_every):
            assert result.status == "invalid"
            assert isinstance(result.error, InvalidInputError)
            assert result.error.field == BAD[(i // bad_every) % len(BAD)][0]
            assert result.session is None
            assert not result.ok
        else:
            assert result.status == "created", result.error
            assert result.ok
            assert result.error is None
            assert result.session is not None
            assert result.session.name == f"Session {i}"
            assert result.session.custom_fields == {"c_1001": ("Beginner", "Advanced")[i % 2]}
    assert summary == BulkSummary(created=450, invalid=50)
    assert summary.total == n
    assert not summary.all_ok
    assert sorted(rec["name"] for rec in fake.sessions.values()) == sorted(
        f"Session {i}" for i in range(n) if not is_bad(i, bad_every)
    )
    assert fake.duplicate_groups() == []
    assert sum(r.path == "/sessions/create" for r in fake.requests) == 450  # invalid: never sent
    progress = run.progress
    assert (progress.done, progress.submitted, progress.created, progress.invalid) == (
        n,
        n,
        450,
        50,
    )
    assert progress_calls == list(range(1, n + 1))
    assert progress.eta(None) is None  # rate and ETA: tests/test_rows_report.py, clock injected


def _held_row_index(fake: FakeSwoogo, first: int = 0) -> int:
    """The index (from ``first``) of the row whose create ``Fault.hang()`` held."""
    (held,) = [r for r in fake.requests if r.fault == "hang"]
    assert held.form is not None
    return int(held.form["name"].removeprefix("Session ")) - first


async def test_ordered_yields_in_input_order(fake: FakeSwoogo, client: SwoogoClient) -> None:
    # The first create to arrive is held until every other row is done: unordered, it
    # comes last; ordered, it holds back every row after it.
    fake.inject("POST /sessions/create", Fault.hang())
    unordered = []
    async for result in client.sessions.create_many(map(good_row, range(20))):
        unordered.append(result.index)
        if len(unordered) == 19:
            await fake.until_held()
            fake.release_held()
    assert sorted(unordered) == list(range(20))
    assert unordered[-1] == _held_row_index(fake)
    fake.reset_requests()
    fake.inject("POST /sessions/create", Fault.hang())

    def release_when_the_others_are_done(progress: BulkProgress) -> None:
        if progress.done == 4:  # the held row is the fifth of the first five
            fake.release_held()

    rows = [good_row(i + 100) for i in range(40)]
    run = client.sessions.create_many(
        rows, ordered=True, concurrency=5, on_progress=release_when_the_others_are_done
    )
    seen = []
    async for result in run:
        seen.append(result.index)
        assert result.status == "created"
        assert run.progress.submitted - len(seen) <= 5
    assert seen == list(range(40))
    assert _held_row_index(fake, first=100) < 5


async def test_async_iterable_source_and_event_id_default(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    closed = []

    async def source() -> AsyncIterator[Mapping[str, Any]]:
        try:
            for i in range(30):
                await asyncio.sleep(0)
                data = good_row(i)
                del data["event_id"]
                yield data
        finally:
            closed.append(True)

    results = [r async for r in client.sessions.create_many(source(), event_id=99)]
    assert sorted(r.index for r in results) == list(range(30))
    assert {r.status for r in results} == {"created"}
    assert {rec["event_id"] for rec in fake.sessions.values()} == {99}
    assert closed == [True]


async def test_session_objects_as_rows(fake: FakeSwoogo, client: SwoogoClient) -> None:
    template = Session(
        id=5,
        event_id=EVENT,
        name="Keynote",
        date=dt.date(2026, 6, 1),
        start_time=dt.time(9),
        capacity=300,
        description=None,
        custom_fields={"c_1001": "All"},
        created_at=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc),
        extra={"direct_link": "https://x"},
    )
    assert session_row(template) == {
        "event_id": EVENT,
        "name": "Keynote",
        "date": "2026-06-01",
        "start_time": "09:00:00",
        "capacity": 300,
        "custom_fields": {"c_1001": "All"},
    }
    rows = [template, Session(event_id=EVENT, name="Closing", date=dt.date(2026, 6, 3))]
    results = [r async for r in client.sessions.create_many(rows, ordered=True)]
    assert [r.status for r in results] == ["created", "created"]
    assert results[0].session is not None
    new_id = results[0].session.id
    assert new_id is not None
    assert new_id != 5
    stored = fake.sessions[new_id]
    assert (stored["name"], stored["capacity"], stored["custom_fields"]) == (
        "Keynote",
        300,
        {"c_1001": "All"},
    )


async def test_update_many(fake: FakeSwoogo, client: SwoogoClient) -> None:
    ids = [fake.add_session(event_id=EVENT, name=f"Old {i}", capacity=10)["id"] for i in range(20)]
    rows: list[Any] = [{"id": str(sid), "name": f"New {sid}", "capacity": "50"} for sid in ids]
    rows[3] = {"session_id": ids[3], "capacity": ""}  # "" is not an integer: invalid
    rows.append({"name": "no id"})
    rows.append({"id": 999999, "name": "gone"})
    rows.append(Session(id=ids[5], name="From a model", capacity=7))
    results = {r.index: r async for r in client.sessions.update_many(rows, concurrency=4)}
    assert results[3].status == "invalid"
    assert isinstance(results[3].error, InvalidInputError)
    assert results[3].error.field == "capacity"
    assert results[20].status == "invalid"
    assert isinstance(results[20].error, InvalidInputError)
    assert results[20].error.field == "id"
    assert results[21].status == "failed"
    assert isinstance(results[21].error, NotFoundError)
    assert results[22].status == "updated"
    for i in (0, 1, 2, 4, 6, 19):
        assert results[i].status == "updated"
        assert fake.sessions[ids[i]]["name"] == f"New {ids[i]}"
        assert fake.sessions[ids[i]]["capacity"] == 50
    assert fake.sessions[ids[3]]["name"] == "Old 3"
    assert fake.sessions[ids[5]]["name"] == "From a model"
    assert fake.sessions[ids[5]]["capacity"] == 7


async def test_concurrency_is_bounded_and_source_is_lazy(fake: FakeSwoogo) -> None:
    transport = CountingTransport()
    fake.latency = 0.002
    pulled = 0

    def source() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for i in range(300):
            pulled += 1
            yield good_row(i)

    yielded = 0
    client = SwoogoClient(
        fake.api_key, fake.api_secret, base_url=fake.base_url, transport=transport, rate_limit=None
    )
    try:
        async with client, client.sessions.create_many(source(), concurrency=6) as run:
            async for _ in run:
                yielded += 1
                assert pulled <= yielded + 6
                assert run.progress.in_flight <= 6
    finally:
        await transport.aclose()
    assert yielded == 300
    assert 2 <= transport.peak <= 6


async def test_chaos_creates_each_row_once(fake: FakeSwoogo) -> None:
    fake.chaos(
        rate=0.1,
        faults=[
            Fault.error(503),
            Fault.error(500, acted=True),
            Fault.drop_before(),
            Fault.drop_after(),
            Fault.hang(acted=True),
            Fault.rate_limited(1),
        ],
        seed=3,
    )
    n = 200
    # Only a held create outlives the read timeout; an ordinary one never does, however
    # loaded the machine.
    async with make_client(fake, read_timeout=2.5) as client:
        results = [r async for r in client.sessions.create_many(map(good_row, range(n)))]
    by_status = BulkSummary()
    created_ids = []
    for result in results:
        by_status.add(result)
        if result.status == "created":
            assert result.session is not None
            assert result.session.id is not None
            created_ids.append(result.session.id)
            assert fake.sessions[result.session.id]["name"] == f"Session {result.index}"
        else:
            assert result.status in ("failed", "unknown"), result
            if result.status == "unknown":
                assert isinstance(result.error, UnknownOutcomeError)
                assert result.error.fields
    assert sorted(r.index for r in results) == list(range(n))
    assert len(set(created_ids)) == len(created_ids)
    assert fake.duplicate_groups() == []
    assert len(fake.sessions) - len(created_ids) <= by_status.failed + by_status.unknown
    assert by_status.created >= n - 5
    assert sum(r.fault is not None for r in fake.requests) >= 10


@pytest.mark.parametrize("ordered", [False, True])
async def test_aclose_mid_stream_cancels_cleanly(fake: FakeSwoogo, ordered: bool) -> None:
    fake.latency = 0.02
    closed = []

    def source() -> Iterator[dict[str, Any]]:
        try:
            yield from map(good_row, range(1000))
        finally:
            closed.append(True)

    async with make_client(fake) as client:
        run = client.sessions.create_many(source(), concurrency=8, ordered=ordered)
        got = 0
        async for _ in run:
            got += 1
            if got == 5:
                assert engine_tasks()
                break
        await run.aclose()
        assert engine_tasks() == []
        assert closed == [True]
        assert run.progress.submitted <= 5 + 8
        # The client is still usable afterwards.
        assert (await client.sessions.create(event_id=1, name="after", date="2026-01-01")).id


async def test_cancelling_the_consumer_cancels_rows(fake: FakeSwoogo, client: SwoogoClient) -> None:
    fake.latency = 0.05
    started = asyncio.Event()

    async def consume() -> None:
        async for result in client.sessions.create_many(map(good_row, range(1000))):
            if result.index >= 0:
                started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    assert engine_tasks()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert engine_tasks() == []


async def test_bugs_propagate_and_arguments_are_checked(client: SwoogoClient) -> None:
    def explode(progress: BulkProgress) -> None:
        if progress.done == 3:
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        async for _ in client.sessions.create_many(map(good_row, range(50)), on_progress=explode):
            pass
    assert engine_tasks() == []
    with pytest.raises(InvalidInputError, match="concurrency"):
        client.sessions.create_many([], concurrency=0)
    with pytest.raises(InvalidInputError, match="concurrency"):
        client.sessions.update_many([], concurrency=-1)
    results = [r async for r in client.sessions.create_many([42, {"name": "x"}])]  # type: ignore[list-item]
    assert [(r.status, getattr(r.error, "field", None)) for r in results] == [
        ("invalid", "row"),
        ("invalid", "event_id"),
    ]
    summary = await client.sessions.create_many([]).summary()
    assert summary == BulkSummary()
    assert summary.all_ok


async def test_sessions_methods_when_wired(client: SwoogoClient) -> None:
    results = [r async for r in client.sessions.create_many([good_row(1)], concurrency=2)]
    assert [r.status for r in results] == ["created"]


async def test_an_error_after_the_request_left_never_makes_a_row_invalid(
    fake: FakeSwoogo, client: SwoogoClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Decoding the server's answer to row 1 raises a raw exception: the server created
    # it, so the row is ``unknown`` (``--resume`` looks it up), never ``invalid``
    # (which ``--resume`` re-sends blindly). Same for an update (``failed``) and a sync.
    decode = parse_session

    def hostile(raw: bytes, *, method: str, url: str) -> Session:
        if b"Session 1" in raw:
            raise RecursionError("maximum recursion depth exceeded while decoding")
        return decode(raw, method=method, url=url)

    monkeypatch.setattr("swoogo_async._writes.create.parse_session", hostile)
    rows = [
        good_row(0),
        good_row(1),
        {**good_row(2), "custom_fields": {"c_1": [[[[[[[[[1]]]]]]]]]}},
    ]
    results = sorted([r async for r in client.sessions.create_many(rows)], key=lambda r: r.index)
    assert [r.status for r in results] == ["created", "unknown", "invalid"]
    error = results[1].error
    assert isinstance(error, UnknownOutcomeError)
    assert error.fields["name"] == "Session 1"
    assert isinstance(error.cause, RecursionError)
    assert sorted(s["name"] for s in fake.sessions.values()) == ["Session 0", "Session 1"]

    sync_rows = [good_row(1), good_row(3)]
    synced = [r async for r in client.sessions.sync(sync_rows, event_id=EVENT, ordered=True)]
    assert [r.status for r in synced] == ["unchanged", "created"]

    async def broken_update(host: object, session_id: int, fields: Mapping[str, Any]) -> Session:
        raise KeyError("id")  # as if the answer to a sent update could not be read

    # Bulk rows send updates through a copy of the client, by this method.
    monkeypatch.setattr(swoogo_async._client.sessions.Sessions, "_update", broken_update)
    updated = [r async for r in client.sessions.update_many([{"id": 1, "name": "X"}])]
    assert [r.status for r in updated] == ["failed"]
    assert updated[0].error is not None
    assert isinstance(updated[0].error.__cause__, KeyError)


async def test_unusable_arguments_raise_invalid_input_before_any_request(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    nested: list[object] = []
    for _ in range(100_000):
        nested = [nested]
    sessions = client.sessions
    cases: list[tuple[str, Callable[[], object]]] = [
        ("rows", lambda: sessions.create_many(None)),  # type: ignore[arg-type]
        ("rows", lambda: sessions.create_many(5)),  # type: ignore[arg-type]
        ("rows", lambda: sessions.create_many({"name": "one row, not rows"})),  # type: ignore[dict-item]
        ("rows", lambda: sessions.update_many(5)),  # type: ignore[arg-type]
        ("rows", lambda: sessions.sync(None, event_id=EVENT)),  # type: ignore[arg-type]
        ("rows", lambda: sessions.sync(5, event_id=EVENT)),  # type: ignore[arg-type]
        ("scan", lambda: sessions.sync([], event_id=EVENT, scan=5)),  # type: ignore[arg-type]
        ("key", lambda: sessions.sync([], event_id=EVENT, key=5)),  # type: ignore[arg-type]
    ]
    for field, make in cases:
        with pytest.raises(InvalidInputError) as info:
            make()
        assert info.value.field == field
    with pytest.raises(InvalidInputError) as info:
        await sessions.create(
            event_id=EVENT, name="Deep", date="2026-06-01", custom_fields={"c_1": nested}
        )
    assert info.value.field == "c_1"
    with pytest.raises(InvalidInputError) as info:
        await sessions.update(1, custom_fields={"c_1": nested})
    assert info.value.field == "c_1"
    assert fake.requests == []


async def test_a_bulk_run_last_rows_take_the_floor_once_its_source_is_exhausted() -> None:
    # Both clocks stand still: the window never resets, so rows held back for interactive
    # calls would wait forever; the run ends only because its last rows take the floor.
    async with (
        FakeSwoogo(rate_limit=40, rate_window=600.0, clock=lambda: 0.0) as server,
        SwoogoClient(server.api_key, server.api_secret, base_url=server.base_url) as c,
    ):
        assert c._core.pipeline.pacer is not None
        c._core.pipeline.pacer._clock = lambda: 0.0
        pacer = c._core.pipeline.pacer.pacer
        run = c.sessions.create_many(map(good_row, range(30)), concurrency=32)
        results = await asyncio.wait_for(_collect(run), 60.0)
        assert [r.status for r in results] == ["created"] * 30
        # They took the floor, which bulk calls other than a run's last may not take yet.
        assert c.credits_spent == 40 - pacer.available
        assert pacer.available < pacer.held_back(0.0)


async def _collect(run: BulkRun) -> list[BulkResult]:
    async with run:
        return [result async for result in run]
