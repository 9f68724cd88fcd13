"""Agenda sync: the pure planner, then ``sessions.sync`` against the real FakeSwoogo."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swoogo_async import (
    AmbiguousMatchError,
    BulkResult,
    BulkSummary,
    InvalidInputError,
    LookupIncompleteError,
    MockTransport,
    Request,
    Response,
    Session,
    SwoogoClient,
)
from swoogo_async._writes import DEFAULT_KEY
from swoogo_async._writes.sync_plan import SyncPlanner, parse_key
from swoogo_async.cli._progress import status_text
from swoogo_async.testing import FakeSwoogo

EVENT = 9


def planner(key: tuple[str, ...] = DEFAULT_KEY) -> SyncPlanner:
    return SyncPlanner(event_id=EVENT, key=key)


def session(sid: int, **fields: Any) -> Session:
    return Session(id=sid, event_id=EVENT, **fields)


# -- the pure planner ---------------------------------------------------------------------------


def test_parse_key_accepts_names_and_custom_fields() -> None:
    assert parse_key("name, date,start_time") == ("name", "date", "start_time")
    assert parse_key(["c_1234"]) == ("c_1234",)
    for bad in ("", "room", "name,name", "event_id", "custom_fields"):
        with pytest.raises(InvalidInputError) as info:
            parse_key(bad)
        assert info.value.field == "key"


def test_create_only_plans_present_and_compares_an_empty_key_field_as_empty() -> None:
    p = SyncPlanner(event_id=EVENT, key=DEFAULT_KEY, update=False)
    rows = [
        {"name": "Keynote", "date": "2026-06-01", "start_time": "09:00", "capacity": "99"},
        {"name": "Lunch", "date": "2026-06-01"},
        {"name": "Dinner", "date": "2026-06-01"},
    ]
    for i, row in enumerate(rows):
        p.scan(row, f"row {i}")
    # Only what tells a row's session: the key, and when the session was made.
    assert p.read_fields == ["id", "created_at", "date", "name", "start_time"]
    day = dt.date(2026, 6, 1)
    p.index(
        [
            session(1, name="Keynote", date=day, start_time=dt.time(9), capacity=20),
            session(2, name="Lunch", date=day),
        ]
    )
    keynote, lunch, dinner = (p.plan(row) for row in rows)
    assert (keynote.action, keynote.session_id, dict(keynote.changes)) == ("present", 1, {})
    assert (lunch.action, lunch.session_id) == ("present", 2)
    assert (dinner.action, dinner.session_id) == ("create", None)


def test_a_custom_key_field_no_session_holds_is_refused_naming_it() -> None:
    for update in (True, False):
        p = SyncPlanner(event_id=EVENT, key=("c_77",), update=update)
        p.scan({"name": "A", "date": "2026-06-01", "c_77": "SRC-1"}, "row 0")
        with pytest.raises(InvalidInputError) as info:
            p.index([session(1, name="Old", date=dt.date(2026, 6, 1))])
        assert info.value.field == "c_77"
        p.index([])  # an event with no sessions yet: nothing to refuse
    # A standard field that every session leaves empty is taken at its word.
    p = planner()
    p.scan({"name": "A", "date": "2026-06-01", "start_time": "09:00"}, "row 0")
    p.index([session(1, name="Old", date=dt.date(2026, 6, 1))])


def test_plan_create_update_unchanged_with_drift() -> None:
    p = planner()
    rows = [
        {"name": "Keynote", "date": "2026-06-01", "start_time": "09:00", "capacity": "20"},
        {"name": "Panel", "date": "2026-06-01", "start_time": "10:00", "capacity": "40"},
        {"name": "New", "date": "2026-06-01", "start_time": "11:00"},
    ]
    for i, row in enumerate(rows):
        p.scan(row, f"row {i}")
    assert p.read_fields == ["id", "capacity", "date", "name", "start_time"]
    day = dt.date(2026, 6, 1)
    p.index(
        [
            # Drift: the server's time has seconds, its capacity is an int.
            session(1, name="Keynote", date=day, start_time=dt.time(9), capacity=20),
            session(2, name="Panel", date=day, start_time=dt.time(10), capacity=30),
        ]
    )
    unchanged, update, create = (p.plan(row) for row in rows)
    assert (unchanged.action, unchanged.session_id, dict(unchanged.changes)) == (
        "unchanged",
        1,
        {},
    )
    assert (update.action, update.session_id, dict(update.changes)) == (
        "update",
        2,
        {"capacity": 40},
    )
    assert update.changed == ("capacity",)
    assert create.action == "create"
    assert create.fields["event_id"] == EVENT


def test_plan_an_empty_field_is_not_touched_and_custom_fields_compare_one_by_one() -> None:
    p = planner(("c_1234",))
    row = {"name": "Talk", "date": "2026-06-01", "c_1234": "A-17", "c_1001": "20"}
    p.scan(row, "row 0")
    assert p.read_fields == ["id", "c_1001", "c_1234", "date", "name"]
    stored = session(
        5,
        name="Talk",
        date=dt.date(2026, 6, 1),
        description="kept",
        custom_fields={"c_1234": "A-17", "c_1001": 21, "c_1002": "kept"},
    )
    p.index([stored])
    plan = p.plan(row)
    assert plan.action == "update"
    assert dict(plan.changes) == {"custom_fields": {"c_1001": "20"}}
    assert plan.changed == ("c_1001",)


def test_plan_two_rows_with_one_key_are_both_invalid_naming_the_lines() -> None:
    p = planner()
    a = {"name": "Same", "date": "2026-06-01", "start_time": "09:00"}
    b = {"name": "Same", "date": "2026-06-01", "start_time": "09:00:00", "capacity": 5}
    p.scan(a, "line 2")
    p.scan(b, "line 7")
    p.index([])
    for row in (a, b):
        with pytest.raises(InvalidInputError) as info:
            p.plan(row)
        assert info.value.field == "key"
        assert "line 2, line 7" in str(info.value)


def test_plan_two_sessions_with_one_key_is_ambiguous_with_both_ids() -> None:
    p = planner()
    row = {"name": "Twice", "date": "2026-06-01", "start_time": "09:00"}
    p.scan(row, "row 0")
    twin = {"name": "Twice", "date": dt.date(2026, 6, 1), "start_time": dt.time(9)}
    p.index([session(3, **twin), session(4, **twin)])
    with pytest.raises(AmbiguousMatchError) as info:
        p.plan(row)
    assert info.value.candidates == (3, 4)


def test_plan_rejects_an_empty_key_field_and_another_event() -> None:
    p = planner()
    with pytest.raises(InvalidInputError) as info:
        p.plan({"name": "No time", "date": "2026-06-01"})
    assert info.value.field == "start_time"
    with pytest.raises(InvalidInputError) as info:
        p.plan({"event_id": 8, "name": "X", "date": "2026-06-01", "start_time": "09:00"})
    assert info.value.field == "event_id"


# -- sessions.sync against the fake -------------------------------------------------------------


def agenda(n: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"Session {i}",
            "date": f"2026-06-{1 + i % 3:02d}",
            "start_time": f"{9 + i % 8:02d}:00",
            "capacity": str(20 + i),
            "session_included": "true" if i % 2 else "0",
            "c_1001": ("Beginner", "Advanced")[i % 2],
        }
        for i in range(n)
    ]


async def run_sync(client: SwoogoClient, rows: Any, **kw: Any) -> tuple[BulkSummary, list[Any]]:
    summary = BulkSummary()
    results: list[BulkResult] = []
    async with client.sessions.sync(rows, event_id=EVENT, **kw) as run:
        async for result in run:
            results.append(summary.add(result))
    return summary, sorted(results, key=lambda r: r.index)


def writes(fake: FakeSwoogo) -> list[Any]:
    return [r for r in fake.requests if r.method in ("POST", "PUT") and "oauth2" not in r.path]


async def test_sync_creates_then_is_idempotent_then_updates_only_what_changed(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    rows = agenda(30)
    first, _ = await run_sync(client, rows)
    assert (first.created, first.total) == (30, 30)
    fake.reset_requests()
    before = client.credits_spent
    second, _ = await run_sync(client, iter(rows))  # a one-shot source works too
    assert (second.unchanged, second.total) == (30, 30)
    assert writes(fake) == []
    assert client.credits_spent - before == 10  # one list page
    run = client.sessions.sync(rows, event_id=EVENT)
    assert (await run.summary()).unchanged == 30
    assert (run.progress.credits, run.progress.credits_per_row) == (10, 10 / 30)
    assert "10 credits (0.33/row)" in status_text(run.progress)
    rows[4] = {**rows[4], "capacity": "999"}
    rows[7] = {**rows[7], "c_1001": "Expert"}
    fake.reset_requests()
    third, results = await run_sync(client, rows)
    assert (third.updated, third.unchanged, third.created) == (2, 28, 0)
    assert [(r.index, r.changed) for r in results if r.status == "updated"] == [
        (4, ("capacity",)),
        (7, ("c_1001",)),
    ]
    sent = [r.form for r in writes(fake)]
    assert sorted(map(sorted, (f or {} for f in sent))) == [
        ["capacity"],
        ["custom_fields[c_1001]"],
    ]
    assert fake.duplicate_groups() == []


async def test_sync_reads_only_the_fields_compared(fake: FakeSwoogo, client: SwoogoClient) -> None:
    await run_sync(client, agenda(3))
    lists = [r for r in fake.requests if r.method == "GET" and r.path == "/sessions"]
    assert len(lists) == 1
    assert lists[0].query["per-page"] == "200"
    assert lists[0].query["fields"].split(",") == [
        "id",
        "c_1001",
        "capacity",
        "date",
        "name",
        "session_included",
        "start_time",
    ]


async def test_sync_duplicate_rows_invalid_and_ambiguous_sessions_untouched(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    twin = {"date": "2026-06-01", "start_time": "09:00:00"}
    a = fake.add_session(event_id=EVENT, name="Twin", **twin)
    b = fake.add_session(event_id=EVENT, name="Twin", **twin)
    rows = [
        {"name": "Twin", "date": "2026-06-01", "start_time": "09:00", "capacity": "5"},
        {"name": "Dup", "date": "2026-06-02", "start_time": "09:00"},
        {"name": "Dup", "date": "2026-06-02", "start_time": "09:00", "capacity": "3"},
        {"name": "Fine", "date": "2026-06-02", "start_time": "10:00"},
    ]
    fake.reset_requests()
    summary, results = await run_sync(client, rows)
    assert [r.status for r in results] == ["ambiguous", "invalid", "invalid", "created"]
    error = results[0].error
    assert isinstance(error, AmbiguousMatchError)
    assert set(error.candidates) == {a["id"], b["id"]}
    assert "row 1, row 2" in str(results[1].error)
    assert [r.path for r in writes(fake)] == ["/sessions/create"]
    assert not summary.all_ok


async def test_sync_dry_run_plans_and_writes_nothing(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    rows = agenda(5)
    await run_sync(client, rows[:3])
    rows[1] = {**rows[1], "capacity": "1"}
    fake.reset_requests()
    summary, results = await run_sync(client, rows, dry_run=True)
    assert (summary.unchanged, summary.updated, summary.created) == (2, 1, 2)
    assert results[1].changed == ("capacity",)
    assert writes(fake) == []


async def test_sync_refuses_to_write_when_the_listing_is_cut_short() -> None:
    # A server that ignores ?page: every page is page 1 of 3, so the walk cannot finish.
    sent: list[str] = []

    def api(request: Request) -> Response:
        path = urlsplit(request.url).path
        sent.append(f"{request.method} {path}")
        if path.endswith("/oauth2/token"):
            return _json({"access_token": "t", "expires_at": "2099-01-01 00:00:00"})
        items = [{"id": i, "name": f"Old {i}", "date": "2026-06-01"} for i in (1, 2)]
        return _json({"items": items, "_meta": {"totalCount": 600, "pageCount": 3}})

    transport = MockTransport(api)
    async with SwoogoClient("k", "s", base_url="https://x.test/api/v1", transport=transport) as c:
        with pytest.raises(LookupIncompleteError):
            await run_sync(c, agenda(2))
    assert sent[-2:] == ["GET /api/v1/sessions", "GET /api/v1/sessions"]
    assert not [s for s in sent if s.startswith(("PUT", "POST /api/v1/sessions"))]


def _json(body: Any) -> Response:
    return Response(200, {"Content-Type": "application/json"}, json.dumps(body).encode())


async def test_sync_before_write_sees_only_writing_rows_and_can_stop_them(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    rows = agenda(4)
    await run_sync(client, rows[:2])
    seen: list[str] = []

    def before(row: Mapping[str, Any], plan: Any) -> bool:
        seen.append(f"{row['name']}:{plan.action}")
        return bool(row["name"] != "Session 3")

    rows[0] = {**rows[0], "capacity": "7"}
    _, results = await run_sync(client, rows, before_write=before, ordered=True)
    assert sorted(seen) == ["Session 0:update", "Session 2:create", "Session 3:create"]
    assert [r.status for r in results] == ["updated", "unchanged", "created", "failed"]
    assert "not sent" in str(results[3].error)


# -- Hypothesis: sync(rows) then sync(rows) is all unchanged ---------------------------------

_words = st.text(alphabet=st.sampled_from("abcXYZ019 &=+%é-"), min_size=1, max_size=12).filter(
    lambda s: s.strip() != ""
)
_flag = st.sampled_from(["true", "false", "1", "0", True, False, 1, 0])
_row = st.fixed_dictionaries(
    {
        "date": st.dates(dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
        "start_time": st.sampled_from(["09:00", "09:30:00", "13:05", dt.time(16, 45)]),
    },
    optional={
        "capacity": st.integers(0, 500).flatmap(lambda n: st.sampled_from([n, str(n)])),
        "session_included": _flag,
        "locked_when_saved": _flag,
        "description": _words,
        "c_1001": _words,
        "c_1002": st.integers(0, 99).map(str),
        "session_status": st.sampled_from(["live", "approved", "LIVE"]),
        "track_id": st.integers(1, 50),
    },
)


@st.composite
def _agendas(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(_words, min_size=1, max_size=6, unique_by=lambda s: s.strip()))
    return [{"name": name, **draw(_row)} for name in names]


async def _twice(rows: list[dict[str, Any]]) -> tuple[BulkSummary, BulkSummary, int]:
    async with (
        FakeSwoogo(seed=1) as fake,
        SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url) as client,
    ):
        first, _ = await run_sync(client, rows)
        fake.reset_requests()
        second, _ = await run_sync(client, rows)
        return first, second, len(writes(fake))


@settings(max_examples=25, deadline=None)
@given(_agendas())
def test_sync_twice_is_all_unchanged(rows: list[dict[str, Any]]) -> None:
    first, second, written = asyncio.run(_twice(rows))
    assert first.created == len(rows), first
    assert second.unchanged == len(rows), second
    assert written == 0


async def test_sync_an_unreadable_row_is_invalid_and_the_rest_run(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    rows: list[Any] = [
        *agenda(2),
        {1: "not a field name", "name": "X", "date": "2026-06-01", "start_time": "09:00"},
        {"name": "Y", "date": "2026-06-01", "start_time": "09:00", "capacity": Decimal("sNaN")},
    ]
    _, results = await run_sync(client, rows)
    assert [r.status for r in results] == ["created", "created", "invalid", "invalid"]


def _shifting_event(fake: FakeSwoogo, n: int) -> tuple[int, list[dict[str, Any]]]:
    """Seed an unrelated first session and ``n`` more; return its id and the ``n`` rows."""
    old = fake.add_session(event_id=EVENT, name="Old", date="2026-05-01", start_time="08:00:00")
    rows = []
    for i in range(n):
        fake.add_session(event_id=EVENT, name=f"S{i:03}", date="2026-05-01", start_time="09:00:00")
        rows.append({"name": f"S{i:03}", "date": "2026-05-01", "start_time": "09:00"})
    return int(old["id"]), rows


async def test_sync_reads_by_id_so_a_deletion_hides_nothing(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    # "Old" is deleted after page 1: read by page number, every later session would move
    # up a place and the one at position 200 be on neither page. Read after the last id,
    # nothing moves past the reader: one pass is enough.
    old, rows = _shifting_event(fake, 300)
    await client.sessions.get(old)
    fake.after_requests(2, lambda: fake.sessions.pop(old))
    fake.reset_requests()
    _summary, results = await run_sync(client, rows)
    assert [r.status for r in results] == ["unchanged"] * 300
    assert writes(fake) == []
    assert [r.method for r in fake.requests] == ["GET"] * 2
    assert [r.query.get("search") for r in fake.requests] == ["id>0", f"id>{old + 199}"]
    assert {r.query.get("sort") for r in fake.requests} == {"id"}


async def test_sync_a_deletion_and_an_insert_while_read_create_no_duplicate(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    # The count stays at 301: by page number, a session would slip between the pages
    # unseen, the distinct-id check would pass, and sync would create it again.
    old, rows = _shifting_event(fake, 300)
    await client.sessions.get(old)

    def delete_and_insert() -> None:
        fake.sessions.pop(old)
        fake.add_session(event_id=EVENT, name="New", date="2026-05-02", start_time="10:00:00")

    fake.after_requests(2, delete_and_insert)
    _summary, results = await run_sync(client, rows)
    assert [r.status for r in results] == ["unchanged"] * 300
    assert writes(fake) == []
    assert fake.duplicate_groups() == []


async def test_sync_reads_every_page_when_the_total_count_is_too_low(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    _, rows = _shifting_event(fake, 300)
    fake.misbehave_pagination("total-count-low")  # 150 announced, 301 there
    _summary, results = await run_sync(client, rows)
    assert [r.status for r in results] == ["unchanged"] * 300
    assert writes(fake) == []
    assert fake.duplicate_groups() == []


async def test_sync_writes_nothing_when_the_event_keeps_changing(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    old, rows = _shifting_event(fake, 300)
    await client.sessions.get(old)

    def delete_the_last() -> None:  # one not read yet: fewer seen than announced
        fake.sessions.pop(max(fake.sessions))
        fake.after_requests(1, delete_the_last)

    fake.after_requests(2, delete_the_last)
    with pytest.raises(LookupIncompleteError, match="announced"):
        await run_sync(client, rows)
    assert writes(fake) == []


async def test_a_listing_that_shifted_is_not_complete(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    old, _ = _shifting_event(fake, 300)
    await client.sessions.get(old)
    fake.after_requests(2, lambda: fake.sessions.pop(old))
    listing = client.sessions.list(event_id=EVENT)
    seen = [s.id async for s in listing]
    assert len(seen) == 300  # one of the 300 left was never on a page read
    assert not listing.complete
    assert listing.stopped is not None
    assert "301" in listing.stopped
    paged = client.paginate("/sessions", params={"event_id": EVENT}, per_page=200)
    fake.after_requests(2, lambda: fake.sessions.pop(min(fake.sessions)))
    assert len(await paged.collect()) == 299
    assert not paged.complete
    assert paged.stopped is not None


async def test_a_listing_reads_past_a_total_count_too_low(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    _shifting_event(fake, 300)
    fake.misbehave_pagination("total-count-low")  # 150 announced, pageCount 2
    fake.reset_requests()
    listing = client.sessions.list(event_id=EVENT, per_page=200)
    assert len(await listing.collect()) == 301
    assert listing.complete
    assert listing.stopped is None
    assert [r.method for r in fake.requests if "sessions" in r.path] == ["GET"] * 2
