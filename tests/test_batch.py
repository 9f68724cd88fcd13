"""Batched reconciliation: creates of one event in doubt at once share one lookup.

On ``MockTransport`` with the scripted API of ``test_create``: each test decides which
create attempt commits and which fails, and waits on events, never on time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from urllib.parse import quote

import attrs
import pytest

from swoogo_async import (
    Page,
    ReadTimeoutError,
    Response,
    Session,
    SwoogoClient,
    UnknownOutcomeError,
)
from swoogo_async._writes.lookup import (
    MAX_NAMES_QUERY,
    Batcher,
    _Batch,
    _Member,
    assign_matches,
    batch_searches,
)
from swoogo_async.testing import FakeSwoogo, Fault

from .test_create import BASE, ScriptedApi, _client

EVENT = 5


def _row(i: int, **extra: Any) -> dict[str, Any]:
    return {"event_id": EVENT, "name": f"Talk {i}", "date": "2026-05-01", **extra}


def _timeout() -> ReadTimeoutError:
    return ReadTimeoutError("no answer", method="POST", url=BASE + "/sessions/create")


def _names(api: ScriptedApi) -> list[str]:
    return sorted(str(r["name"]) for r in api.store.values())


async def test_creates_in_doubt_together_are_settled_by_one_lookup() -> None:
    api = ScriptedApi()
    first: set[str] = set()

    def every_first_attempt_times_out(form: dict[str, str]) -> Response | None:
        name = form["name"]
        if name not in first:
            first.add(name)
            if name in ("Talk 0", "Talk 2"):  # these land although the answer is lost
                api.commit(form)
            raise _timeout()
        return None

    api.on_post = every_first_attempt_times_out
    async with _client(api) as client:
        sessions = await asyncio.gather(*(client.sessions.create(**_row(i)) for i in range(4)))
        lookups = client.sessions._creator.batcher.lookups
    assert sorted(str(s.name) for s in sessions) == [f"Talk {i}" for i in range(4)]
    assert _names(api) == [f"Talk {i}" for i in range(4)]  # no duplicate, none lost
    assert api.posts == 6  # four attempts, two re-sends
    # One lookup settles all four; one more checks the two re-sends did not land twice.
    assert (lookups, api.lists) == (2, 2)


async def test_a_lone_create_is_looked_up_at_once_with_the_narrow_search() -> None:
    api = ScriptedApi()
    searches: list[str] = []

    def fail_once(form: dict[str, str]) -> Response | None:
        if api.posts == 1:
            api.commit(form)
            raise _timeout()
        return None

    def record(page: int) -> None:
        return None

    api.on_post, api.on_list = fail_once, record
    async with _client(api) as client:
        transport = client._core.pipeline.transport
        assert transport is not None
        send = transport.send

        async def spy(request: Any) -> Response:
            if "/sessions?" in request.url:
                searches.append(request.url)
            return await send(request)

        transport.send = spy  # type: ignore[method-assign]
        session = await client.sessions.create(**_row(1, start_time="09:00"))
    assert session.name == "Talk 1"
    assert len(searches) == 1
    assert "name%3DTalk+1" in searches[0]
    assert "start_time%3D09%3A00%3A00" in searches[0]


def test_batch_searches_carry_names_as_sent_or_leave_them_out() -> None:
    since = dt.datetime(2026, 5, 1, 9, tzinfo=dt.timezone.utc)
    window = "created_at>=2026-05-01 09:00:00"
    rows = [_row(1), _row(2)]
    assert batch_searches(rows, since) == [[window, "name=*in*Talk 1|Talk 2"]]
    # Names the search cannot carry exactly (a server may trim edges; ``|``, ``&``, ``*``
    # are syntax) get a search of their own without the name; every field is compared after.
    odd = [_row(3, name="Talk 2 "), _row(4, name="A|B"), _row(5, name=" Q&A*")]
    assert batch_searches([*rows, *odd], since) == [[window], [window, "name=*in*Talk 1|Talk 2"]]
    assert batch_searches([_row(1), *odd], since) == [[window], [window, "name=Talk 1"]]


def test_batch_searches_split_many_long_names_under_the_cap() -> None:
    since = dt.datetime(2026, 5, 1, 9, tzinfo=dt.timezone.utc)
    rows = [_row(i, name=f"Talk {i} " + "é" * 60 + "x") for i in range(200)]
    searches = batch_searches(rows, since)
    filters = [search[1].removeprefix("name=*in*") for search in searches]
    assert len(filters) > 1
    assert all(len(quote(f, safe="")) <= MAX_NAMES_QUERY for f in filters)
    assert sorted(n for f in filters for n in f.split("|")) == sorted(r["name"] for r in rows)


@pytest.mark.parametrize(
    "names", [[" Keynote", "Other"], ["Keynote ", "Other "], ["A|B", "A"], ["Q&A", "Q*"]]
)
async def test_creates_in_doubt_with_odd_names_are_each_found_once(
    fake: FakeSwoogo, client: SwoogoClient, names: list[str]
) -> None:
    fake.inject("POST /sessions/create", Fault.drop_after(), times=len(names))
    rows = [{"name": n, "date": "2026-05-01", "start_time": "09:00"} for n in names]
    async with client.sessions.create_many(rows, event_id=EVENT, concurrency=len(names)) as run:
        results = sorted([(r.index, r.status, r.id) async for r in run])
    assert sorted(s["name"] for s in fake.sessions.values()) == sorted(names)
    assert [status for _, status, _ in results] == ["created"] * len(names)
    assert sorted(i or 0 for _, _, i in results) == sorted(fake.sessions)


def test_a_session_two_creates_match_belongs_to_neither() -> None:
    since = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
    stored = Session(id=7, name="Talk", date=dt.date(2026, 5, 1))
    other = Session(id=8, name="Other", date=dt.date(2026, 5, 1))
    members = [
        ({"name": "Talk", "date": dt.date(2026, 5, 1)}, since, frozenset[int]()),
        ({"name": "Talk ", "date": dt.date(2026, 5, 1)}, since, frozenset[int]()),
        ({"name": "Other", "date": dt.date(2026, 5, 1)}, since, frozenset[int]()),
    ]
    verdicts = assign_matches(members, [stored, other])
    assert verdicts == [([stored], True, [7]), ([stored], True, [7]), ([other], False, [8])]


async def test_two_creates_matching_one_session_are_both_unknown() -> None:
    # "Talk" and "Talk " are different rows (different fingerprints, so they run at
    # once) but the server trims names: the one copy that landed matches both.
    api = ScriptedApi()

    def first_lands_then_all_fail(form: dict[str, str]) -> Response | None:
        if api.posts == 1:
            api.commit({**form, "name": form["name"].strip()})
        raise _timeout()

    api.on_post = first_lands_then_all_fail
    async with _client(api) as client:
        results = await asyncio.gather(
            client.sessions.create(**_row(0, name="Talk")),
            client.sessions.create(**_row(0, name="Talk ")),
            return_exceptions=True,
        )
    assert all(isinstance(r, UnknownOutcomeError) for r in results)
    assert all(r.candidates == (101,) for r in results if isinstance(r, UnknownOutcomeError))
    assert len(api.store) == 1


async def test_a_failed_resend_is_settled_by_two_more_lookups() -> None:
    api = ScriptedApi()

    def two_timeouts_the_second_lands(form: dict[str, str]) -> Response | None:
        if api.posts == 2:
            api.commit(form)
        if api.posts <= 2:
            raise _timeout()
        return None

    api.on_post = two_timeouts_the_second_lands
    async with _client(api) as client:
        session = await client.sessions.create(**_row(1))
    assert list(api.store) == [session.id]
    # A lookup before the re-send; after it failed too, one that finds the copy and,
    # the re-send still open, one more once it could have landed: still one copy.
    assert (api.posts, api.lists) == (2, 3)


async def test_a_cancelled_create_leaves_no_batch_behind() -> None:
    api = ScriptedApi()

    def time_out(form: dict[str, str]) -> Response | None:
        raise _timeout()

    api.on_post = time_out
    async with _client(api, reconcile_delay=3600) as client:
        batcher = client.sessions._creator.batcher
        task = asyncio.create_task(client.sessions.create(**_row(1)))
        for _ in range(1000):  # until the create has failed and joined a batch
            if batcher._open:
                break
            await asyncio.sleep(0)
        assert batcher._open
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)
        assert batcher._open == {}
        assert api.lists == 0


def test_a_batch_waits_for_more_creates_but_never_past_half_a_members_time() -> None:
    now = [100.0]
    batcher = Batcher(_never, lambda: now[0], max_pages=5, window=5.0)
    loop = asyncio.new_event_loop()
    try:
        batch = _Batch(opened=100.0)

        def member(ready_at: float, deadline: float) -> _Member:
            since = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
            return _Member(_row(1), since, frozenset(), ready_at, deadline, loop.create_future())

        batcher._active[EVENT] = 3
        batch.members.append(member(ready_at=101.0, deadline=200.0))
        assert batcher._due(EVENT, batch) == 5.0  # the window: two more creates may join
        batch.members.append(member(ready_at=101.0, deadline=104.0))
        assert batcher._due(EVENT, batch) == 2.5  # half of that member's time left
        now[0] = 103.0
        assert batcher._due(EVENT, batch) == 0  # overdue: look up now
        now[0] = 100.0
        batch.members.append(member(ready_at=101.0, deadline=200.0))
        assert batcher._due(EVENT, batch) is None  # full: every running create is waiting
        now[0] = 103.0
        assert batcher._due(EVENT, batch) == 0  # overdue wins over full
    finally:
        loop.close()


async def _never(*args: Any) -> Any:
    raise AssertionError("no lookup expected")


async def test_a_create_settled_by_a_lookup_returns_the_whole_session(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    fake.inject("POST /sessions/create", Fault.drop_after())
    session = await client.sessions.create(
        event_id=EVENT,
        name="Dropped",
        date="2026-05-01",
        start_time="09:00",
        end_time="10:00",
        capacity=30,
        custom_fields={"c_1001": "Gold"},
    )
    assert session.id is not None
    whole = await client.sessions.get(session.id)
    assert attrs.evolve(session, custom_fields={}, extra={}) == attrs.evolve(
        whole, custom_fields={}, extra={}
    )
    assert session.custom_fields == {"c_1001": "Gold"}
    gets = [r for r in fake.requests if r.method == "GET" and r.path != "/sessions"]
    assert len(gets) == 1  # only the test's own: the create fetched nothing more


async def _spin() -> None:
    for _ in range(20):  # let the batch task see each change (no time passes)
        await asyncio.sleep(0)


async def test_a_create_ending_just_before_the_next_begins_does_not_split_a_batch() -> None:
    now = [100.0]
    reads: list[int] = []

    async def list_page(*args: Any) -> Page[Session]:
        reads.append(len(args))
        return Page(items=[], total_count=0, page_count=1, current_page=1, per_page=200)

    batcher = Batcher(list_page, lambda: now[0], max_pages=5)
    since = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)

    def look_up(i: int) -> asyncio.Task[Any]:
        return asyncio.create_task(
            batcher.look_up(
                _row(i), since=since, excluded=frozenset(), ready_at=100.5, deadline=1e9
            )
        )

    with batcher.running(EVENT):  # create A: in doubt
        with batcher.running(EVENT):  # create B: still running
            a = look_up(1)
            await _spin()
        # B ended: A is alone, but its reconcile_delay has not passed. C begins, in doubt too.
        await _spin()
        with batcher.running(EVENT):
            await _spin()
            c = look_up(3)
            await _spin()
            now[0] = 101.0  # both are ready
            batcher._poke(EVENT)
            await asyncio.wait_for(asyncio.gather(a, c), 10)
    assert a.result() == ([], False, [])
    assert c.result() == ([], False, [])
    assert (batcher.lookups, len(reads)) == (1, 1)  # one lookup settled both


async def test_a_create_with_fewer_fields_never_claims_another_clients_session(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    row: dict[str, Any] = {
        "event_id": EVENT,
        "name": "Keynote",
        "date": "2026-05-01",
        "start_time": "09:00",
    }
    async with SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url) as other:
        theirs = await other.sessions.create(**row, description="A's talk", capacity=100)
    # Made in the same seconds as this create's attempt, it holds every field this row
    # sent: it may be this create's with defaults the server filled its own way (N1).
    # Never claimed, never re-sent over: the outcome is unknown.
    fake.inject("POST /sessions/create", Fault.error(503, acted=False))
    with pytest.raises(UnknownOutcomeError) as caught:
        await client.sessions.create(**row)
    assert caught.value.candidates == (theirs.id,)
    assert sorted(fake.sessions) == [theirs.id]
    # Made long before the attempt, it cannot be this create's: the row is re-sent.
    fake.sessions[theirs.id or 0]["created_at"] = "2026-01-01 00:00:00"
    fake.inject("POST /sessions/create", Fault.error(503, acted=False))
    mine = await client.sessions.create(**row)
    assert mine.id != theirs.id
    assert sorted(fake.sessions) == sorted([theirs.id or 0, mine.id or 0])


async def test_a_session_read_on_two_pages_is_judged_by_its_later_copy() -> None:
    # An insert shifted the listing between two page reads and the session was edited in
    # between: the copy read last is the one the lookup judges.
    from swoogo_async._api.converter import structure_session

    made = "2026-05-01 08:00:00"

    def session(i: int, name: str, **more: Any) -> Session:
        record = {"id": i, "event_id": EVENT, "name": name, "date": "2026-05-01"}
        return structure_session({**record, "created_at": made, **more})

    first = [session(i, "Other") for i in range(100, 299)] + [session(7, "Keynote", notes="x")]
    second = [session(7, "Keynote"), session(8, "Else")]

    async def list_page(event_id: Any, number: int, *rest: Any) -> Page[Session]:
        items = first if number == 1 else second
        return Page(items=items, total_count=201, page_count=2, current_page=number, per_page=200)

    batcher = Batcher(list_page, lambda: 100.0, max_pages=5, window=0.0)
    since = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    fields = {"event_id": EVENT, "name": "Keynote", "date": dt.date(2026, 5, 1)}
    with batcher.running(EVENT):
        matches, contested, candidates = await batcher.look_up(
            fields, since=since, excluded=frozenset(), ready_at=100.0, deadline=1e9
        )
    assert ([m.id for m in matches], contested, candidates) == ([7], False, [7])
