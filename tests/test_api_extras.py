"""The rest of the API: ``client.request``, ``client.paginate``, speakers, ``get_many``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from swoogo_async import (
    DEFAULT_SPEAKER_FIELDS,
    InvalidInputError,
    MockTransport,
    NotFoundError,
    Page,
    Request,
    Response,
    ResponseDecodeError,
    ServerError,
    SessionBatch,
    Speaker,
    SwoogoClient,
)
from swoogo_async._api.endpoints import call_cost, encode_params, raw_item_key, request_call
from swoogo_async._api.pages import UNCOUNTED_PAGE_CAP, Listing
from swoogo_async.testing import FakeSwoogo, Fault

from .conftest import FAST_RETRY

# -- pure: building the call ----------------------------------------------------------------


def test_cost_follows_the_documented_rule() -> None:
    assert call_cost("GET", "/speakers") == 10
    assert call_cost("GET", "/sessions/5/fields") == 10  # a collection under an item
    assert call_cost("GET", "/speakers/5") == 1
    assert call_cost("POST", "/sessions/create") == 1
    assert call_cost("DELETE", "/sessions/5/fee") == 1
    assert request_call("GET", "/events", cost=3).cost == 3


def test_idempotency_by_method() -> None:
    assert request_call("GET", "/x").idempotent
    assert request_call("put", "/x/1", data={"a": 1}).idempotent
    assert request_call("DELETE", "/x/1").idempotent
    assert not request_call("POST", "/x/create", data={"a": 1}).idempotent
    assert not request_call("PATCH", "/x/1", json_body={"a": 1}).idempotent
    assert request_call("POST", "/x/1/session.json", json_body={}, idempotent=True).idempotent


def test_params_encoding() -> None:
    assert encode_params({"event_id": 1, "fields": ["id", "name"], "x": None, "f": True}) == (
        "event_id=1&fields=id%2Cname&f=1"
    )


def test_bodies() -> None:
    form = request_call("POST", "/sessions/create", data={"custom_fields": {"c_1": "V"}})
    assert form.body == b"custom_fields[c_1]=V"
    assert form.content_type == "application/x-www-form-urlencoded"
    js = request_call("POST", "/speakers/1/session.json", json_body={"session_ids": [1]})
    assert (js.body, js.content_type) == (b'{"session_ids":[1]}', "application/json")


def _deep(depth: int) -> list[object]:
    nested: list[object] = []
    for _ in range(depth):
        nested = [nested]
    return nested


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"method": "TRACE", "path": "/x"}, "method"),
        ({"method": "GET", "path": "speakers"}, "path"),
        ({"method": "GET", "path": "//evil.example/x"}, "path"),
        ({"method": "GET", "path": "/speakers?event_id=1"}, "path"),
        ({"method": "GET", "path": "/a b"}, "path"),
        ({"method": "GET", "path": "/a\r\nX: y"}, "path"),
        ({"method": "GET", "path": "/sessions/../oauth2/token"}, "path"),
        ({"method": "GET", "path": "/x", "data": {"a": 1}}, "data"),
        ({"method": "POST", "path": "/x", "data": {"a": 1}, "json_body": {}}, "data"),
        ({"method": "POST", "path": "/x", "json_body": {"a": float("nan")}}, "json"),
        ({"method": "GET", "path": "/x", "cost": 0}, "cost"),
        ({"method": "GET", "path": "/x", "cost": True}, "cost"),
        ({"method": "GET", "path": "/x", "params": {"a": object()}}, "params['a']"),
        ({"method": "GET", "path": "/x", "params": ["a"]}, "params"),
        ({"method": "GET", "path": "/x", "params": {"a": b"12"}}, "params['a']"),
        ({"method": "GET", "path": "/x", "params": {"a": float("nan")}}, "params['a']"),
        ({"method": "GET", "path": "/x", "params": {"a": float("-inf")}}, "params['a']"),
        ({"method": "GET", "path": "/x", "params": {"a": [1, float("inf")]}}, "params['a']"),
        ({"method": "GET", "path": "/x", "params": {"a": [[1, [2]]]}}, "params['a']"),
        ({"method": "GET", "path": "/x", "params": {"a": [1, (2,)]}}, "params['a']"),
        ({"method": "POST", "path": "/x", "idempotent": "no"}, "idempotent"),
        ({"method": "POST", "path": "/x", "idempotent": 1}, "idempotent"),
        ({"method": "POST", "path": "/x", "json_body": _deep(100_000)}, "json"),
        ({"method": "POST", "path": "/x", "data": {"a": _deep(100_000)}}, "data"),
    ],
)
def test_bad_request_arguments_are_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        request_call(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


# -- client.request ---------------------------------------------------------------------------


async def test_request_returns_parsed_json(fake: FakeSwoogo, client: SwoogoClient) -> None:
    sp = fake.add_speaker(event_id=7, first_name="Ada", last_name="Lovelace")
    body = await client.request("GET", "/speakers", params={"event_id": 7, "fields": ["id"]})
    assert body["items"] == [{"id": sp["id"]}]
    assert body["_meta"]["totalCount"] == 1
    sent = fake.requests[-1]
    assert (sent.method, sent.path) == ("GET", "/speakers")
    assert sent.query == {"event_id": "7", "fields": "id"}
    assert sent.headers["Authorization"].startswith("Bearer ")


async def test_request_errors_are_typed(fake: FakeSwoogo, client: SwoogoClient) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.request("GET", "/speakers/999")
    assert info.value.status == 404
    assert info.value.url.endswith("/speakers/999")


async def test_request_get_is_retried(fake: FakeSwoogo, client: SwoogoClient) -> None:
    fake.add_session(event_id=1, name="A")
    fake.inject("GET /sessions/{id}", Fault.error(503), times=2)
    body = await client.request("GET", "/sessions/1000")
    assert body["name"] == "A"
    assert [r.status for r in fake.requests if r.path == "/sessions/1000"] == [503, 503, 200]


async def test_request_post_is_not_retried_after_it_may_have_acted(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    fake.inject("POST /sessions/create", Fault.error(503, acted=True))
    with pytest.raises(ServerError):
        await client.request(
            "POST", "/sessions/create", data={"event_id": 1, "name": "X", "date": "2026-05-01"}
        )
    assert len([r for r in fake.requests if r.path == "/sessions/create"]) == 1
    assert len(fake.sessions) == 1  # it did act: the caller must know, not a duplicate


async def test_request_post_is_retried_when_nothing_was_sent(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    fake.inject("POST /sessions/create", Fault.rate_limited(reset=0))
    body = await client.request(
        "POST", "/sessions/create", data={"event_id": 1, "name": "X", "date": "2026-05-01"}
    )
    assert body["name"] == "X"
    assert len(fake.sessions) == 1


async def test_request_cost_paces_the_shared_budget() -> None:
    async with (
        FakeSwoogo(rate_limit=2000) as fake,
        SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url) as client,
    ):
        fake.add_session(event_id=1, name="A")
        await client.request("GET", "/sessions", params={"event_id": 1})
        assert client.last_response is not None
        assert client.last_response.cost == 10
        assert client.last_response.rate_limit.remaining == 1990
        await client.request("GET", "/sessions/1000")
        assert client.last_response.cost == 1
        assert client.last_response.rate_limit.remaining == 1989


# -- client.paginate ----------------------------------------------------------------------------


async def test_paginate_walks_any_list(fake: FakeSwoogo, client: SwoogoClient) -> None:
    for i in range(5):
        fake.add_speaker(event_id=3, first_name=f"F{i}", last_name="L")
    fake.add_speaker(event_id=4, first_name="Other", last_name="L")
    listing = client.paginate(
        "/speakers", params={"event_id": 3, "fields": "id,first_name"}, per_page=2
    )
    names = [item["first_name"] async for item in listing]
    assert names == [f"F{i}" for i in range(5)]
    assert listing.complete
    assert listing.stopped is None
    pages = [r.query for r in fake.requests if r.path == "/speakers"]
    assert [(q["page"], q["per-page"]) for q in pages] == [("1", "2"), ("2", "2"), ("3", "2")]


async def test_paginate_is_bounded_when_page_is_ignored(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    for i in range(5):
        fake.add_speaker(event_id=3, first_name=f"F{i}", last_name="L")
    fake.pagination = "ignore-page"
    listing = client.paginate("/speakers", params={"event_id": 3}, per_page=2)
    items = await listing.collect()
    assert [i["first_name"] for i in items] == ["F0", "F1"]
    assert not listing.complete
    assert listing.stopped is not None
    assert "page 2" in listing.stopped


async def test_paginate_on_a_non_list_endpoint_fails_at_once(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    fake.add_session(event_id=1, name="A")
    with pytest.raises(ResponseDecodeError) as info:
        await client.paginate("/sessions/1000").collect()
    assert info.value.body["name"] == "A"
    assert len([r for r in fake.requests if r.path == "/sessions/1000"]) == 1  # not retried


async def test_paginate_checks_arguments(fake: FakeSwoogo, client: SwoogoClient) -> None:
    with pytest.raises(InvalidInputError) as info:
        client.paginate("/speakers", params={"page": 2})
    assert info.value.field == "params"
    with pytest.raises(InvalidInputError) as info:
        client.paginate("/speakers", per_page=0)
    assert info.value.field == "per_page"
    with pytest.raises(InvalidInputError) as info:
        client.paginate("/speakers", max_pages=0)
    assert info.value.field == "max_pages"
    with pytest.raises(InvalidInputError) as info:
        client.paginate("speakers")
    assert info.value.field == "path"
    with pytest.raises(InvalidInputError) as info:
        client.paginate("/speakers", params=5)  # type: ignore[arg-type]
    assert info.value.field == "params"
    with pytest.raises(InvalidInputError) as info:
        client.paginate("/speakers", params={"Per-Page": 5})
    assert info.value.field == "params"
    assert fake.requests == []


async def test_listing_of_items_without_ids_stops_on_a_repeated_page() -> None:
    """Items without ``id`` are told apart by content, so a repeated page still ends it."""
    page = Page(
        items=[{"name": "a"}, {"name": "b"}],
        total_count=None,
        page_count=None,
        current_page=1,
        per_page=2,
    )
    fetched: list[int] = []

    async def fetch(number: int) -> Page[dict[str, Any]]:
        fetched.append(number)
        return page

    listing = Listing(fetch, key=raw_item_key)
    assert await listing.collect() == [{"name": "a"}, {"name": "b"}]
    assert fetched == [1, 2]
    assert listing.stopped is not None
    assert not listing.complete


async def test_a_listing_past_its_total_count_that_promises_more_pages_stops(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    """``totalCount`` 6, ``pageCount`` 10**9, new ids on every page: the walk ends."""
    for i in range(6):
        fake.add_session(event_id=7, name=f"S{i}")
    fake.misbehave_pagination("endless")
    listing = client.sessions.list(7, per_page=2)
    assert isinstance(listing, Listing)  # the one listing type, as for speakers and paginate
    seen = [s.id async for s in listing]
    assert len(seen) == len(set(seen)) == 8  # the real 6, then one page of new ids
    assert not listing.complete
    assert listing.stopped is not None
    assert "6 items" in listing.stopped
    assert len([r for r in fake.requests if r.path == "/sessions"]) == 4
    raw = client.paginate("/sessions", params={"event_id": 7}, per_page=3)
    assert len(await raw.collect()) == 9
    assert not raw.complete


async def test_a_listing_without_meta_and_a_next_link_on_every_page_is_capped(
    fake: FakeSwoogo, client: SwoogoClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("swoogo_async._api.pages.UNCOUNTED_PAGE_CAP", 5)
    for i in range(3):
        fake.add_speaker(event_id=3, first_name=f"F{i}", last_name="L")
    fake.misbehave_pagination("endless-no-meta")
    listing = client.speakers.list(3, per_page=2)
    assert len(await listing.collect()) == 2 + 1 + 3 * 2  # two real pages, three made up
    assert not listing.complete
    assert listing.stopped is not None
    assert "totalCount" in listing.stopped
    assert len([r for r in fake.requests if r.path == "/speakers"]) == 5


async def test_the_uncounted_page_cap_holds_with_its_documented_value() -> None:
    fetched: list[int] = []

    async def fetch(number: int) -> Page[dict[str, Any]]:
        fetched.append(number)
        return Page(
            items=[{"id": number}], total_count=None, page_count=None, current_page=1, per_page=1
        )

    listing = Listing(fetch, key=raw_item_key)
    assert len(await listing.collect()) == UNCOUNTED_PAGE_CAP
    assert fetched == list(range(1, UNCOUNTED_PAGE_CAP + 1))
    assert not listing.complete


# -- speakers ----------------------------------------------------------------------------------


async def test_speakers_list_asks_for_useful_fields(fake: FakeSwoogo, client: SwoogoClient) -> None:
    fake.add_speaker(event_id=9, first_name="Ada", last_name="Lovelace", company="Engines")
    fake.add_speaker(event_id=9, first_name="Grace", last_name="Hopper", email="g@x.test")
    speakers = await client.speakers.list(9).collect()
    assert all(isinstance(s, Speaker) for s in speakers)
    assert [(s.first_name, s.company, s.email) for s in speakers] == [
        ("Ada", "Engines", None),
        ("Grace", None, "g@x.test"),
    ]
    assert fake.requests[-1].query["fields"] == ",".join(DEFAULT_SPEAKER_FIELDS)
    assert fake.requests[-1].query["event_id"] == "9"


async def test_speakers_list_without_fields_gets_the_servers_default(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    fake.add_speaker(event_id=9, first_name="Ada", last_name="Lovelace", company="Engines")
    [speaker] = await client.speakers.list(9, fields=None).collect()
    assert (speaker.first_name, speaker.company) == ("Ada", None)
    assert "fields" not in fake.requests[-1].query


async def test_speakers_list_expand_sessions(fake: FakeSwoogo, client: SwoogoClient) -> None:
    fake.add_session(event_id=9, name="Talk")
    sp = fake.add_speaker(event_id=9, first_name="Ada", last_name="L")
    await client.speakers.add_sessions(sp["id"], [1000])
    [speaker] = await client.speakers.list(9, expand="sessions").collect()
    assert [s.name for s in speaker.sessions] == ["Talk"]


async def test_speakers_list_checks_arguments_before_sending(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    with pytest.raises(InvalidInputError) as info:
        client.speakers.list(0)
    assert info.value.field == "event_id"
    with pytest.raises(InvalidInputError) as info:
        client.speakers.list(1, expand="sessions", per_page=500)
    assert info.value.field == "per_page"
    assert fake.requests == []


async def test_speakers_get(fake: FakeSwoogo, client: SwoogoClient) -> None:
    sp = fake.add_speaker(event_id=9, first_name="Ada", last_name="Lovelace", company="Engines")
    speaker = await client.speakers.get(sp["id"])
    assert (speaker.id, speaker.company, speaker.event_id) == (sp["id"], "Engines", 9)
    assert fake.requests[-1].path == f"/speakers/{sp['id']}"
    with pytest.raises(NotFoundError):
        await client.speakers.get(999)
    with pytest.raises(InvalidInputError):
        await client.speakers.get(-1)


# -- sessions.get_many -----------------------------------------------------------------------


async def test_get_many_batches_by_100_and_reports_missing(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    ids = [fake.add_session(event_id=5, name=f"S{i}")["id"] for i in range(150)]
    other = fake.add_session(event_id=6, name="elsewhere")["id"]
    asked = [*reversed(ids), other, 99999, ids[0]]  # a repeat, another event, unknown
    fake.reset_requests()
    batch = await client.sessions.get_many(asked, event_id=5, fields=["name"])
    assert isinstance(batch, SessionBatch)
    assert [s.id for s in batch.sessions] == list(reversed(ids))
    assert batch.sessions[0].name == "S149"
    assert batch.missing == (other, 99999)
    assert not batch.complete
    assert batch.by_id[ids[3]].name == "S3"
    calls = [r for r in fake.requests if r.path == "/sessions"]
    assert len(calls) == 2  # 152 distinct ids: 100 + 52
    assert [len(r.query["ids"].split(",")) for r in calls] == [100, 52]
    assert all(r.query["event_id"] == "5" for r in calls)
    assert calls[0].query["fields"] == "id,name"  # the id is always asked for


async def test_get_many_complete_and_empty(fake: FakeSwoogo, client: SwoogoClient) -> None:
    sid = fake.add_session(event_id=5, name="A")["id"]
    batch = await client.sessions.get_many([sid], event_id=5)
    assert batch.complete
    assert [s.name for s in batch.sessions] == ["A"]
    fake.reset_requests()
    empty = await client.sessions.get_many([], event_id=5)
    assert (empty.sessions, empty.missing) == ([], ())
    assert fake.requests == []


async def test_get_many_ignores_sessions_not_asked_for() -> None:
    """A server that ignores ``ids=`` must not slip other sessions into the result."""

    def handler(request: Request) -> Response:
        if request.url.endswith("/oauth2/token"):
            return Response(200, {}, b'{"access_token":"t","expires_at":"2099-01-01 00:00:00"}')
        return Response(200, {}, b'{"items":[{"id":1,"name":"a"},{"id":3,"name":"c"}]}')

    async with SwoogoClient("k", "s", transport=MockTransport(handler), retry=FAST_RETRY) as c:
        batch = await c.sessions.get_many([1, 2], event_id=1)
    assert [s.id for s in batch.sessions] == [1]
    assert batch.missing == (2,)


@pytest.mark.parametrize(
    ("ids", "field"), [([1, 0], "ids"), (["1"], "ids"), ("1,2", "ids"), (5, "ids")]
)
async def test_get_many_refuses_bad_ids(
    fake: FakeSwoogo, client: SwoogoClient, ids: object, field: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        await client.sessions.get_many(ids, event_id=5)  # type: ignore[arg-type]
    assert info.value.field == field
    assert fake.requests == []


async def test_get_many_takes_each_session_from_the_call_that_asked_for_it() -> None:
    """A server ignoring ``ids=``: the first call's answer (ids 1-150) must not stand in for
    the second call's (asked 101-150, answered 101-120)."""
    answers: list[list[int]] = [list(range(1, 151)), list(range(101, 121))]

    def handler(request: Request) -> Response:
        if request.url.endswith("/oauth2/token"):
            return Response(200, {}, b'{"access_token":"t","expires_at":"2099-01-01 00:00:00"}')
        ids, name = answers.pop(0), "first" if len(answers) == 1 else "second"
        items = [{"id": i, "name": name} for i in ids]
        return Response(200, {}, json.dumps({"items": items}).encode())

    async with SwoogoClient("k", "s", transport=MockTransport(handler), retry=FAST_RETRY) as c:
        batch = await c.sessions.get_many(range(1, 151), event_id=1)
    names = {s.id: s.name for s in batch.sessions}
    assert (names[100], names[101], names[120]) == ("first", "second", "second")
    assert batch.missing == tuple(range(121, 151))
