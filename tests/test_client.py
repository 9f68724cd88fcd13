"""End to end: the real aiohttp stack against FakeSwoogo on loopback."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_plus

import aiohttp
import pytest

from swoogo_async import (
    UNSET,
    AuthenticationError,
    ClientStateError,
    InvalidInputError,
    NotFoundError,
    SelectionControl,
    Session,
    SessionStatus,
    SwoogoClient,
    ValidationError,
)
from swoogo_async.testing import FakeSwoogo, Fault

from .conftest import FAST_RETRY

SECRET = "s3cr:et/+&=%"


async def test_issue_snippet_works(fake: FakeSwoogo, client: SwoogoClient) -> None:
    fake.add_session(event_id=12, name="Existing", date="2026-05-01")
    speaker = fake.add_speaker(event_id=12, first_name="Ada", last_name="Lovelace")
    s = await client.sessions.create(
        event_id=12,
        name="Keynote",
        date=dt.date(2026, 5, 1),
        start_time=dt.time(9),
        capacity=150,
        custom_fields={"c_1001": "Value1"},
    )
    assert s.id is not None
    assert s.name == "Keynote"
    assert s.date == dt.date(2026, 5, 1)
    assert s.start_time == dt.time(9)
    assert s.capacity == 150
    assert s.custom_fields == {"c_1001": "Value1"}
    assert s.session_status is SessionStatus.LIVE
    got = await client.sessions.get(s.id, fields=["id", "name"], expand=["track"])
    assert (got.id, got.name) == (s.id, "Keynote")
    updated = await client.sessions.update(s.id, capacity=200)
    assert updated.capacity == 200
    names = [x.name async for x in client.sessions.list(event_id=12, fields=["id", "name", "date"])]
    assert sorted(n for n in names if n) == ["Existing", "Keynote"]
    result = await client.speakers.add_sessions(speaker["id"], [s.id])
    assert result.first_name == "Ada"
    assert [x.id for x in result.sessions] == [s.id]
    assert fake.token_requests == 1


async def test_token_request_wire_format() -> None:
    async with (
        FakeSwoogo(api_key="key with space", api_secret=SECRET) as fake,
        SwoogoClient("key with space", SECRET, base_url=fake.base_url) as client,
    ):
        fake.add_session(event_id=1, name="A")
        await client.sessions.get(1000)
        token_req = fake.requests[0]
        assert (token_req.method, token_req.path) == ("POST", "/oauth2/token")
        assert token_req.form == {"grant_type": "client_credentials"}
        assert token_req.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
        scheme, encoded = token_req.headers["Authorization"].split(" ", 1)
        assert scheme == "Basic"
        key, secret = base64.b64decode(encoded).decode().split(":", 1)
        # Each part is URL-encoded before base64.
        assert (key, secret) == ("key+with+space", "s3cr%3Aet%2F%2B%26%3D%25")
        assert (unquote_plus(key), unquote_plus(secret)) == ("key with space", SECRET)
        call = fake.requests[1]
        assert call.headers["Authorization"].startswith("Bearer ")


async def test_create_and_update_wire_format(fake: FakeSwoogo, client: SwoogoClient) -> None:
    s = await client.sessions.create(
        event_id=7,
        name="Flags & Times",
        date="2026-05-01",
        start_time="09:30",
        end_time=dt.time(10, 45),
        locked_when_saved=True,
        prevent_session_conflicts=False,
        selection_control=SelectionControl.INCLUDED,
        custom_fields={"c_1001": "Value1", "c_1002": [{"id": 123}, {"id": 456}]},
    )
    create = fake.requests[-1]
    assert (create.method, create.path) == ("POST", "/sessions/create")
    assert create.form == {
        "event_id": "7",
        "name": "Flags & Times",
        "date": "2026-05-01",
        "start_time": "09:30:00",
        "end_time": "10:45:00",
        "locked_when_saved": "1",
        "prevent_session_conflicts": "0",
        "selection_control": "included",
        "custom_fields[c_1001]": "Value1",
        "custom_fields[c_1002][0][id]": "123",
        "custom_fields[c_1002][1][id]": "456",
    }
    assert s.locked_when_saved is True
    assert s.custom_fields["c_1002"] == [{"id": "123"}, {"id": "456"}]
    assert s.id is not None
    await client.sessions.update(s.id, capacity=200, description=None, notes=UNSET)
    update = fake.requests[-1]
    assert (update.method, update.path) == ("PUT", f"/sessions/update/{s.id}")
    assert update.form == {"capacity": "200", "description": ""}
    stored = fake.sessions[s.id]
    assert stored["capacity"] == 200
    assert stored["name"] == "Flags & Times"  # untouched


async def test_speaker_endpoint_sends_json(fake: FakeSwoogo, client: SwoogoClient) -> None:
    a = fake.add_session(event_id=3, name="A")
    b = fake.add_session(event_id=3, name="B")
    speaker = fake.add_speaker(event_id=3, first_name="G", last_name="H")
    result = await client.speakers.add_sessions(speaker["id"], [a["id"], b["id"], a["id"]])
    sent = fake.requests[-1]
    assert sent.json == {"session_ids": [a["id"], b["id"]]}
    assert sent.headers["Content-Type"].startswith("application/json")
    assert sorted(s.id for s in result.sessions if s.id) == sorted([a["id"], b["id"]])
    other = fake.add_session(event_id=4, name="elsewhere")
    with pytest.raises(ValidationError) as info:
        await client.speakers.add_sessions(speaker["id"], [other["id"]])
    assert info.value.errors[0].field == "session_ids"


async def test_cold_client_fetches_one_token_for_1000_coroutines(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    fake.add_session(event_id=1, name="A")
    results = await asyncio.gather(*(client.sessions.get(1000) for _ in range(1000)))
    assert {s.id for s in results} == {1000}
    assert fake.token_requests == 1
    assert client.token_fetches == 1


async def test_expiring_token_is_refreshed_once_for_500_calls_in_flight() -> None:
    # Both clocks are the test's: the fake's stands still, so no token dies on the server;
    # the client's (and its token manager's) moves only when told.
    now = [0.0]
    async with FakeSwoogo(token_lifetime=1.0, clock=lambda: 0.0) as fake:
        client = SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url)
        client._core.pipeline.clock = client._core.pipeline.tokens.clock = lambda: now[0]
        async with client:
            fake.add_session(event_id=1, name="A")
            await client.sessions.get(1000)
            assert fake.token_requests == 1
            # The next token lives long: however long the 500 calls take, none finds it due.
            fake.token_lifetime = 1800.0
            # The first one's 1 s is read exactly (expires_at and Date from one instant)
            # and it is refreshed a tenth early: past that, it is due.
            now[0] += 0.95
            await asyncio.gather(*(client.sessions.get(1000) for _ in range(500)))
        assert fake.token_requests == 2
        assert all(r.status == 200 for r in fake.requests)


async def test_revoked_token_refreshes_once_and_replays(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    fake.add_session(event_id=1, name="A")
    await client.sessions.get(1000)
    fake.revoke_tokens()
    fake.reset_requests()
    results = await asyncio.gather(*(client.sessions.get(1000) for _ in range(200)))
    assert len(results) == 200
    assert fake.token_requests == 2
    statuses = [r.status for r in fake.requests if r.path != "/oauth2/token"]
    # Every request that hit the dead token was replayed exactly once.
    assert statuses.count(200) == 200
    assert statuses.count(401) == len(statuses) - 200


async def test_second_401_surfaces_as_authentication_error(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    fake.add_session(event_id=1, name="A")
    fake.inject("GET /sessions/{id}", Fault.error(401), times=2)
    with pytest.raises(AuthenticationError) as info:
        await client.sessions.get(1000)
    assert info.value.status == 401
    assert fake.token_requests == 2
    assert [r.status for r in fake.requests if r.path != "/oauth2/token"] == [401, 401]


async def test_wrong_credentials_fail_without_retry_or_leak(fake: FakeSwoogo) -> None:
    async with SwoogoClient(fake.api_key, "wrong-" + SECRET, base_url=fake.base_url) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.sessions.get(1)
    assert fake.token_requests == 1
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)


async def test_errors_are_typed_and_carry_body(fake: FakeSwoogo, client: SwoogoClient) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.sessions.get(424242)
    err = info.value
    assert err.status == 404
    assert err.method == "GET"
    assert err.url.endswith("/sessions/424242")
    assert isinstance(err.body, dict)
    assert err.body["status"] == 404
    assert b"Not Found" in err.raw
    with pytest.raises(ValidationError) as vinfo:
        # Valid for the client, rejected by the server (unknown custom field value type).
        await client.sessions.create(event_id=1, name="x", date="2026-01-01", timezone="Mars/Base")
    assert vinfo.value.status == 422
    assert [e.field for e in vinfo.value.errors] == ["timezone"]


async def test_bad_input_is_rejected_before_sending(fake: FakeSwoogo, client: SwoogoClient) -> None:
    cases: list[tuple[Callable[[], Awaitable[object]], str]] = [
        (lambda: client.sessions.get(0), "session_id"),
        (lambda: client.sessions.get("1"), "session_id"),  # type: ignore[arg-type]
        (lambda: client.sessions.create(event_id=1, name=" ", date="2026-01-01"), "name"),
        (lambda: client.sessions.create(event_id=1, name="x", date="2026-13-01"), "date"),
        (
            lambda: client.sessions.create(event_id=1, name="x", date="2026-01-01", capacity=-1),
            "capacity",
        ),
        (
            lambda: client.sessions.create(
                event_id=1, name="x", date="2026-01-01", start_time="10:00", end_time="09:00"
            ),
            "end_time",
        ),
        (
            lambda: client.sessions.create(
                event_id=1, name="x", date="2026-01-01", custom_fields={"level": "x"}
            ),
            "custom_fields",
        ),
        (lambda: client.sessions.update(5), "fields"),
        (lambda: client.sessions.update(5, name=None), "name"),  # type: ignore[arg-type]
        (lambda: client.sessions.update(5, colour="red"), "colour"),  # type: ignore[call-arg]
        (lambda: client.speakers.add_sessions(1, []), "session_ids"),
        (lambda: client.sessions.list(1, per_page=5000).collect(), "per_page"),
    ]
    for make_call, field in cases:
        with pytest.raises(InvalidInputError) as info:
            await make_call()
        assert info.value.field == field
        assert isinstance(info.value, ValueError)
        assert field in str(info.value)
    assert fake.requests == []


async def test_drifted_responses_parse(client: SwoogoClient) -> None:
    async with (
        FakeSwoogo(drift=True, seed=3) as fake,
        SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url) as c,
    ):
        created = [
            await c.sessions.create(
                event_id=1, name=f"S{i}", date="2026-01-01", capacity=20, locked_when_saved=True
            )
            for i in range(20)
        ]
        for s in created:
            assert s.capacity == 20
            assert s.locked_when_saved is True
            assert isinstance(s.created_at, dt.datetime)
            assert s.created_at.tzinfo is dt.timezone.utc
        raw_caps = {type(fake.sessions[s.id or 0]["capacity"]) for s in created}
        assert raw_caps == {int}


async def test_custom_fields_top_level_and_nested(fake: FakeSwoogo, client: SwoogoClient) -> None:
    rec = fake.add_session(event_id=1, name="A", custom_fields={"c_1234": "x", "c_9": "y"})
    full = await client.sessions.get(rec["id"])
    assert full.custom_fields == {"c_1234": "x", "c_9": "y"}
    some = await client.sessions.get(rec["id"], fields=["id", "c_1234"])
    assert some.custom_fields == {"c_1234": "x"}


async def test_listing_pages_and_envelope_shapes() -> None:
    for items_as_object in (False, True):
        async with (
            FakeSwoogo(items_as_object=items_as_object) as fake,
            SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url) as client,
        ):
            for i in range(45):
                fake.add_session(event_id=9, name=f"S{i:02d}", date="2026-01-01")
            fake.add_session(event_id=8, name="other event")
            listing = client.sessions.list(9, fields=["id", "name"], per_page=20, sort="-name")
            pages = [p async for p in listing.pages()]
            assert [len(p.items) for p in pages] == [20, 20, 5]
            assert pages[0].total_count == 45
            assert pages[0].page_count == 3
            names = [s.name async for s in listing]
            assert names == [f"S{i:02d}" for i in reversed(range(45))]
            page2 = await listing.page(2)
            assert page2.current_page == 2
            found = await client.sessions.list(9, search="name=*contains*S4", per_page=5).collect()
            assert sorted(s.name or "" for s in found) == [f"S{i}" for i in range(40, 45)]
            lists = [r for r in fake.requests if r.path == "/sessions"]
            assert all(r.query["event_id"] in ("9",) for r in lists)


async def test_unknown_status_and_fields_are_kept(fake: FakeSwoogo, client: SwoogoClient) -> None:
    rec = fake.add_session(event_id=1, name="A")
    fake.sessions[rec["id"]]["session_status"] = "archived"
    fake.sessions[rec["id"]]["brand_new_field"] = {"x": 1}
    s = await client.sessions.get(rec["id"])
    assert s.session_status == "archived"
    assert s.session_status is not None
    assert not s.session_status.known
    assert s.extra["brand_new_field"] == {"x": 1}


async def test_lifecycle_errors(fake: FakeSwoogo) -> None:
    client = SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url)
    with pytest.raises(ClientStateError, match="async with"):
        await client.sessions.get(1)
    async with client:
        pass
    assert client.closed
    with pytest.raises(ClientStateError, match="closed"):
        await client.sessions.get(1)
    with pytest.raises(ClientStateError):
        await client.open()


async def test_given_session_is_never_closed(fake: FakeSwoogo) -> None:
    fake.add_session(event_id=1, name="A")
    async with aiohttp.ClientSession() as http:
        async with SwoogoClient(
            fake.api_key, fake.api_secret, base_url=fake.base_url, session=http
        ) as client:
            await client.sessions.get(1000)
        assert not http.closed
        async with http.get(fake.base_url + "/sessions/1000") as resp:
            assert resp.status == 401


async def test_secrets_never_logged_or_shown(
    fake: FakeSwoogo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="swoogo_async")
    fake.add_session(event_id=1, name="A")
    fake.inject("GET /sessions/{id}", Fault.error(503), times=1)
    async with SwoogoClient(
        fake.api_key, SECRET, base_url=fake.base_url, retry=FAST_RETRY
    ) as client:
        pass
    async with (
        FakeSwoogo(api_secret=SECRET) as fake2,
        SwoogoClient(fake2.api_key, SECRET, base_url=fake2.base_url, retry=FAST_RETRY) as client,
    ):
        fake2.add_session(event_id=1, name="A")
        fake2.inject("GET /sessions/{id}", Fault.error(503), times=1)
        await client.sessions.get(1000)
        token = client._core.pipeline.tokens.current
        assert token is not None
        texts = [caplog.text, repr(client), repr(token), str(client.retry)]
        with pytest.raises(NotFoundError) as info:
            await client.sessions.get(5)
        texts += [str(info.value), repr(info.value)]
    assert "retrying GET /sessions/1000" in caplog.text
    assert "(attempt 1 failed)" in caplog.text
    for text in texts:
        assert SECRET not in text
        assert token.value not in text


def test_construction_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWOOGO_API_KEY", raising=False)
    monkeypatch.delenv("SWOOGO_API_SECRET", raising=False)
    monkeypatch.delenv("SWOOGO_BASE_URL", raising=False)
    with pytest.raises(InvalidInputError, match="SWOOGO_API_KEY"):
        SwoogoClient()
    with pytest.raises(InvalidInputError, match="SWOOGO_API_SECRET"):
        SwoogoClient("k")
    monkeypatch.setenv("SWOOGO_API_KEY", "env-key")
    monkeypatch.setenv("SWOOGO_API_SECRET", "env-secret")
    client = SwoogoClient()
    assert client.base_url == "https://api.swoogo.com/api/v1"
    assert "env-secret" not in repr(client)
    monkeypatch.setenv("SWOOGO_BASE_URL", "http://127.0.0.1:9/api/v1/")
    assert SwoogoClient().base_url == "http://127.0.0.1:9/api/v1"
    with pytest.raises(InvalidInputError, match="https"):
        SwoogoClient(base_url="http://api.example.com/api/v1")
    assert SwoogoClient(base_url="http://api.example.com/v1", allow_insecure_http=True)
    with pytest.raises(InvalidInputError) as info:
        SwoogoClient(base_url="ftp://x")
    assert info.value.field == "base_url"


async def test_session_models_are_frozen_data(client: SwoogoClient) -> None:
    s = await client.sessions.create(event_id=1, name="A", date="2026-01-01")
    assert isinstance(s, Session)
    with pytest.raises(AttributeError):
        s.name = "B"  # type: ignore[misc]


@pytest.mark.parametrize("items_as_object", [False, True])
async def test_list_and_get_read_the_same_models_from_a_drifting_server(
    items_as_object: bool,
) -> None:
    """Over the real stack, from a server that drifts and adds fields it does not document."""
    async with FakeSwoogo(drift=True, seed=5, items_as_object=items_as_object) as fake:
        for i in range(30):
            rec = fake.add_session(
                event_id=4, name=f"S{i}", date=f"2026-03-0{1 + i % 3}", capacity=i
            )
            if i % 10 == 9:  # an undocumented field on some records only
                fake.sessions[rec["id"]]["brand_new_field"] = i
        async with SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url) as c:
            listed = await c.sessions.list(4, per_page=7).collect()
            got = [await c.sessions.get(s.id or 0) for s in listed]
    assert len(listed) == 30
    assert [s.id for s in got] == [s.id for s in listed]
    assert sorted(s.capacity or 0 for s in got) == list(range(30))
    assert [s.extra for s in got if s.extra] == [{"brand_new_field": i} for i in (9, 19, 29)]


async def test_a_get_runs_code_in_six_package_modules(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    """The path of ``sessions.get`` (docs/architecture.md): every package module whose code
    runs during one get of a warm client, the fake server (``testing``) aside."""
    import sys
    from types import FrameType

    sid = fake.add_session(event_id=1, name="A")["id"]
    await client.sessions.get(sid)  # the token and the budget are known after this one
    ran: set[str] = set()

    def note(frame: FrameType, event: str, _arg: object) -> None:
        name = frame.f_globals.get("__name__", "")
        if event == "call" and name.startswith("swoogo_async") and ".testing" not in name:
            ran.add(name)

    sys.setprofile(note)
    try:
        await client.sessions.get(sid)
    finally:
        sys.setprofile(None)
    assert ran == {
        "swoogo_async._client.sessions",
        "swoogo_async._http.pipeline",
        "swoogo_async._http.pacer",
        "swoogo_async._http.transport",
        "swoogo_async._api.converter",
        "swoogo_async._api.models",
    }


async def test_a_listing_reads_generator_options_once_for_every_page(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    for n in range(5):
        fake.add_session(event_id=3, name=f"S{n}", date="2026-05-01", capacity=n)
    listing = client.sessions.list(
        3,
        fields=(name for name in ["id", "name", "capacity"]),
        sort=(key for key in ["-capacity"]),
        per_page=2,
    )
    got = await listing.collect()
    assert [(s.name, s.capacity) for s in got] == [(f"S{n}", n) for n in (4, 3, 2, 1, 0)]
    assert [r.query["fields"] for r in fake.requests[-3:]] == ["id,name,capacity"] * 3


@pytest.mark.parametrize("option", ["fields", "expand", "sort", "search", "ids"])
async def test_a_listing_refuses_a_map_or_bytes_for_a_list_option(
    fake: FakeSwoogo, client: SwoogoClient, option: str
) -> None:
    for bad in ({"name": 1}, b"12"):
        with pytest.raises(InvalidInputError) as info:
            await client.sessions.list(1, **{option: bad}).collect()  # type: ignore[arg-type]
        assert info.value.field == option
    assert fake.requests == []
