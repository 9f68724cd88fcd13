"""The duplicate-safe create and the lookups behind it, on ``MockTransport`` (no sockets).

A scripted API stands in for the server, so each test decides exactly when a create
commits, what a listing returns and how much time passes (an injected clock): no
test waits on wall-clock time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from swoogo_async import (
    InvalidInputError,
    MockTransport,
    ReadTimeoutError,
    Request,
    Response,
    RetryPolicy,
    SwoogoClient,
    UnknownOutcomeError,
)
from swoogo_async._api.converter import structure_session
from swoogo_async._api.fields import prepare_session_fields
from swoogo_async._writes.lookup import matches

BASE = "https://api.test/api/v1"
TOKEN = json.dumps({"access_token": "t", "expires_at": "2099-01-01 00:00:00"}).encode()


def _json(body: Any, status: int = 200) -> Response:
    return Response(status, {"Content-Type": "application/json"}, json.dumps(body).encode())


class ScriptedApi:
    """Sessions in a dict; every create and list call goes through a hook a test can set."""

    def __init__(self) -> None:
        self.store: dict[int, dict[str, Any]] = {}
        self.posts = 0
        self.lists = 0
        self.next_id = 100
        self.on_post: Callable[[dict[str, str]], Response | None] = lambda form: None
        self.on_list: Callable[[int], Response | None] = lambda page: None

    def commit(self, form: dict[str, str]) -> dict[str, Any]:
        self.next_id += 1
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        record = {**form, "id": self.next_id, "created_at": now}
        self.store[self.next_id] = record
        return record

    def __call__(self, request: Request) -> Response:
        url = urlsplit(request.url)
        path = url.path.removeprefix("/api/v1")
        if path == "/oauth2/token":
            return Response(200, {"Content-Type": "application/json"}, TOKEN)
        if request.method == "POST" and path == "/sessions/create":
            self.posts += 1
            form = dict(parse_qsl((request.body or b"").decode(), keep_blank_values=True))
            return self.on_post(form) or _json(self.commit(form))
        if path == "/sessions":
            self.lists += 1
            page = int(dict(parse_qsl(url.query))["page"])
            items = list(self.store.values())
            meta = {"totalCount": len(items), "pageCount": 1, "currentPage": 1, "perPage": 200}
            return self.on_list(page) or _json({"items": items, "_meta": meta})
        session_id = int(path.rsplit("/", 1)[1])
        if session_id not in self.store:  # the client's probe of the server's clock
            return _json({"name": "Not Found", "status": 404}, 404)
        return _json(self.store[session_id])


def _client(api: ScriptedApi, **options: Any) -> SwoogoClient:
    options.setdefault("retry", RetryPolicy(max_attempts=5, backoff_base=0.001, deadline=60))
    options.setdefault("reconcile_delay", 0)
    return SwoogoClient("k", "s", base_url=BASE, transport=MockTransport(api), **options)


def _timeout(form: dict[str, str]) -> ReadTimeoutError:
    return ReadTimeoutError("no answer", method="POST", url=BASE + "/sessions/create")


ROW: dict[str, Any] = {"event_id": 5, "name": "Keynote", "date": "2026-05-01"}


# The late copy as sent, and as a server that fills a left-out field its own way stores it.
@pytest.mark.parametrize("filled", [{}, {"selection_control": "required"}])
async def test_a_late_commit_after_a_resend_is_reported_with_both_ids(
    filled: dict[str, str],
) -> None:
    api = ScriptedApi()
    pending: list[dict[str, str]] = []

    def first_post_times_out_and_commits_later(form: dict[str, str]) -> Response | None:
        if api.posts == 1:
            pending.append({**form, **filled})
            raise _timeout(form)
        return None

    def list_then_land_the_late_commit(page: int) -> Response | None:
        response = None
        if pending:  # this lookup sees nothing; the first create lands right after it
            response = _json({"items": [], "_meta": {"totalCount": 0, "pageCount": 1}})
            api.commit(pending.pop())
        return response

    api.on_post = first_post_times_out_and_commits_later
    api.on_list = list_then_land_the_late_commit
    async with _client(api) as client:
        with pytest.raises(UnknownOutcomeError) as info:
            await client.sessions.create(**ROW)
    assert len(api.store) == 2
    assert sorted(info.value.candidates) == sorted(api.store)
    assert "both landed" in str(info.value)
    assert api.posts == 2


async def test_one_copy_found_while_a_resent_attempt_may_still_land_is_not_success() -> None:
    # Every attempt times out and each lands late: the lookup after the first sees
    # nothing; the one after the re-send sees the first copy, and the re-send's copy
    # lands right after it. One match is no proof while the re-send is open.
    api = ScriptedApi()
    pending: list[dict[str, str]] = []

    def every_post_times_out_and_commits_later(form: dict[str, str]) -> Response | None:
        pending.append(form)
        raise _timeout(form)

    def each_lookup_lands_one_late_commit_after_reading(page: int) -> Response | None:
        if pending:  # the listing was read before this: the copy lands just after it
            api.commit(pending.pop(0))
        return None

    api.on_post = every_post_times_out_and_commits_later
    api.on_list = each_lookup_lands_one_late_commit_after_reading
    async with _client(api, retry=RetryPolicy(max_attempts=2, backoff_base=0.001)) as client:
        with pytest.raises(UnknownOutcomeError) as info:
            await client.sessions.create(**ROW)
    assert api.posts == 2
    assert len(api.store) == 2
    assert sorted(info.value.candidates) == sorted(api.store)


async def test_a_resend_that_finds_no_second_copy_is_created_once() -> None:
    api = ScriptedApi()

    def drop_first(form: dict[str, str]) -> Response | None:
        if api.posts == 1:
            raise _timeout(form)
        return None

    api.on_post = drop_first
    async with _client(api) as client:
        session = await client.sessions.create(**ROW)
    assert list(api.store) == [session.id]
    assert (api.posts, api.lists) == (2, 2)  # a lookup before the re-send, one after


async def test_the_deadline_bounds_the_whole_create() -> None:
    api = ScriptedApi()
    now = [0.0]

    def never_answers(form: dict[str, str]) -> Response | None:
        now[0] += 2.0  # each POST uses up a 2 s read timeout
        raise _timeout(form)

    api.on_post = never_answers
    retry = RetryPolicy(max_attempts=5, backoff_base=0.001, deadline=3)
    async with _client(api, retry=retry, rate_limit=None) as client:
        client._core.pipeline.clock = lambda: now[0]
        with pytest.raises(UnknownOutcomeError):
            await client.sessions.create(**ROW)
    assert api.posts == 2  # at 0 s and at 2 s; at 4 s the deadline had passed
    assert api.store == {}


async def test_a_lookup_never_claims_a_session_differing_only_in_description() -> None:
    api = ScriptedApi()
    other = api.commit({"event_id": "5", "name": "Keynote", "date": "2026-05-01"})
    other["description"] = "Room A"

    def drop_first(form: dict[str, str]) -> Response | None:
        if api.posts == 1:
            raise _timeout(form)
        return None

    api.on_post = drop_first
    async with _client(api) as client:
        mine = await client.sessions.create(**ROW, description="Room B")
    assert mine.id != other["id"]
    assert mine.description == "Room B"
    assert len(api.store) == 2


def _session(**fields: Any) -> Any:
    return structure_session({"id": 1, **fields})


@pytest.mark.parametrize(
    ("field", "submitted", "stored", "same"),
    [
        ("description", "Room A", "Room B", False),
        ("notes", "x", None, False),
        ("session_status", "approved", "live", False),
        ("locked_when_saved", True, 0, False),
        ("custom_fields", {"c_1": "Gold"}, {"c_1": "Silver"}, False),
        ("custom_fields", {"c_1": "Gold"}, {}, False),
        ("capacity", "20", "20", True),
        ("capacity", 20, "20", True),
        ("locked_when_saved", "1", True, True),
        ("locked_when_saved", True, 1, True),
        ("start_time", "09:00", "09:00:00", True),
        ("description", "Room A", "Room A ", True),
        ("custom_fields", {"c_1": ["a", "b"]}, {"c_1": ["a", "b"]}, True),
    ],
)
def test_matching_compares_every_submitted_field_with_drift(
    field: str, submitted: Any, stored: Any, same: bool
) -> None:
    prepared = prepare_session_fields({**ROW, field: submitted}, creating=True)
    found = _session(**{**ROW, field: stored})
    assert matches(prepared, found) is same


@pytest.mark.parametrize(
    ("submitted", "stored", "same"),
    [
        ({}, {"description": "A's talk"}, False),
        ({}, {"capacity": 100}, False),
        ({}, {"session_status": "submitted"}, False),
        ({}, {"locked_when_saved": True}, False),
        ({}, {"selection_control": "included"}, False),
        ({}, {"use_event_timezone": 0}, False),
        ({}, {"custom_fields": {"c_7": "Gold"}}, False),
        ({"custom_fields": {"c_1": "x"}}, {"custom_fields": {"c_1": "x", "c_7": "Gold"}}, False),
        # The server's defaults in the fields left out: this create's session.
        (
            {},
            {
                "session_status": "live",
                "selection_control": "optional",
                "use_event_timezone": True,
                "timezone": "Europe/Paris",  # the event's: any value
                "locked_when_saved": False,
                "session_included": 0,
                "capacity": None,
                "description": "",
                "custom_fields": {"c_7": None},
            },
            True,
        ),
        ({"timezone": "UTC"}, {"timezone": "UTC", "use_event_timezone": False}, True),
        ({}, {"badge_name": "Keynote", "secure_id": "x9", "type_id": 3}, True),
        ({}, {"badge_name": "Other"}, False),
        ({"description": "A's talk"}, {"description": "A's talk"}, True),
    ],
)
def test_matching_requires_defaults_in_the_fields_left_out(
    submitted: dict[str, Any], stored: dict[str, Any], same: bool
) -> None:
    prepared = prepare_session_fields({**ROW, **submitted}, creating=True)
    assert matches(prepared, _session(**{**ROW, **stored})) is same


def _pages(api: ScriptedApi, kind: str) -> None:
    def page(number: int) -> Response:
        links = {"next": {"href": "/sessions?page=2"}}
        if kind == "page_ignored":  # always page 1, an absurd page count, always a next
            ids, meta = [1, 2], {"pageCount": 10**9, "currentPage": 1}
        elif kind == "current_page_stuck":  # new ids, but currentPage says 1 forever
            ids, meta = [number * 10, number * 10 + 1], {"pageCount": 3, "currentPage": 1}
        else:  # "same_page_again": page 3 onwards repeats page 2
            n = min(number, 2)
            ids, meta = [n * 10, n * 10 + 1], {"pageCount": 10**9, "currentPage": number}
        items = [{"id": i, "name": f"S{i}"} for i in ids]
        return _json({"items": items, "_meta": {**meta, "perPage": 2}, "_links": links})

    api.on_list = page


@pytest.mark.parametrize(
    ("kind", "gets", "complete"),
    [("page_ignored", 2, False), ("current_page_stuck", 3, True), ("same_page_again", 3, False)],
)
async def test_listing_ends_on_bad_pagination(kind: str, gets: int, complete: bool) -> None:
    api = ScriptedApi()
    _pages(api, kind)
    async with _client(api) as client:
        listing = client.sessions.list(5, per_page=2)
        sessions = await listing.collect()
    assert api.lists == gets
    assert len({s.id for s in sessions}) == len(sessions) > 0
    assert (listing.stopped is None) is complete


async def test_a_lookup_reads_a_bounded_number_of_pages() -> None:
    api = ScriptedApi()

    def endless(number: int) -> Response:  # new ids on every page, forever
        items = [{"id": number * 10 + i, "name": "x"} for i in range(2)]
        return _json({"items": items, "_links": {"next": {"href": "x"}}})

    def drop(form: dict[str, str]) -> Response | None:
        raise _timeout(form)

    api.on_list, api.on_post = endless, drop
    async with _client(api) as client:
        with pytest.raises(UnknownOutcomeError, match="lookup failed"):
            await client.sessions.create(**ROW)
    assert (api.posts, api.lists) == (1, 5)


async def test_one_unreadable_row_does_not_end_create_many() -> None:
    api = ScriptedApi()
    rows: list[Any] = [
        {**ROW, "name": "A"},
        {**ROW, 1: "not a field name"},
        {**ROW, "capacity": Decimal("sNaN")},
        {**ROW, "name": "B"},
    ]
    async with _client(api) as client:
        results = {r.index: r async for r in client.sessions.create_many(rows)}
    assert {i: r.status for i, r in results.items()} == {
        0: "created",
        1: "invalid",
        2: "invalid",
        3: "created",
    }
    assert isinstance(results[1].error, InvalidInputError)
    assert sorted(s["name"] for s in api.store.values()) == ["A", "B"]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.sessions.get(1, fields=5), "fields"),
        (lambda c: c.sessions.get(1, expand=object()), "expand"),
        (lambda c: c.sessions.list(1, sort=3).collect(), "sort"),
        (lambda c: c.sessions.list(1, ids=7).collect(), "ids"),
        (lambda c: c.speakers.add_sessions(1, None), "session_ids"),
    ],
)
async def test_non_iterable_arguments_raise_invalid_input(call: Any, field: str) -> None:
    api = ScriptedApi()
    async with _client(api) as client:
        with pytest.raises(InvalidInputError) as info:
            await call(client)
    assert info.value.field == field
