"""Tests of the fake Swoogo server over real loopback HTTP with a plain aiohttp session."""

from __future__ import annotations

import asyncio
import base64
import calendar
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import pytest

from swoogo_async.testing import FakeSwoogo, Fault, RecordedRequest

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def basic(key: str, secret: str) -> str:
    raw = f"{quote_plus(key)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode()


@pytest.fixture
async def fake() -> AsyncIterator[FakeSwoogo]:
    async with FakeSwoogo(drift=False) as f:
        yield f


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def get_token(http: aiohttp.ClientSession, fake: FakeSwoogo) -> str:
    async with http.post(
        fake.base_url + "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic(fake.api_key, fake.api_secret)},
    ) as r:
        assert r.status == 200
        token: str = (await r.json())["access_token"]
        return token


async def auth(http: aiohttp.ClientSession, fake: FakeSwoogo) -> dict[str, str]:
    return {"Authorization": "Bearer " + await get_token(http, fake)}


async def call(
    http: aiohttp.ClientSession,
    fake: FakeSwoogo,
    method: str,
    path: str,
    headers: dict[str, str],
    **kw: Any,
) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with http.request(method, fake.base_url + path, headers=headers, **kw) as r:
        text = await r.text()
        try:
            body = json.loads(text)
        except ValueError:
            body = text
        return r.status, body, r


# -- token --------------------------------------------------------------------------------------
async def test_token_success_and_special_chars(http: aiohttp.ClientSession) -> None:
    async with FakeSwoogo("k&y +1", "s:e/c=ret", token_lifetime=1800) as fake:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1", fake.base_url)
        before = time.time()
        async with http.post(
            fake.base_url + "/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": basic("k&y +1", "s:e/c=ret")},
        ) as r:
            assert r.status == 200
            assert "X-Rate-Limit-Limit" not in r.headers
            body = await r.json()
        after = time.time()
        assert set(body) == {"access_token", "expires_at", "type"}
        assert body["type"] == "bearer"
        exp = calendar.timegm(time.strptime(body["expires_at"], "%Y-%m-%d %H:%M:%S"))
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", body["expires_at"])
        assert fake.tokens_issued == 1
        assert fake.token_requests == 1
        assert fake.requests[0].path == "/oauth2/token"
        assert fake.requests[0].acted
        assert before - 1 < exp - 1800 <= after  # no offset: UTC (in whole seconds)


async def test_token_failures(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    url = fake.base_url + "/oauth2/token"
    good = {"Authorization": basic("test-key", "test-secret")}
    cases: list[tuple[dict[str, str], dict[str, Any], int]] = [
        ({}, {"data": {"grant_type": "client_credentials"}}, 401),
        (
            {"Authorization": basic("test-key", "nope")},
            {"data": {"grant_type": "client_credentials"}},
            401,
        ),
        ({"Authorization": "Basic !!!"}, {"data": {"grant_type": "client_credentials"}}, 401),
        (good, {"json": {"grant_type": "client_credentials"}}, 400),
        (good, {"data": {"grant_type": "password"}}, 400),
    ]
    for headers, kw, status in cases:
        async with http.post(url, headers=headers, **kw) as r:
            assert r.status == status
            body = await r.json()
            assert body["status"] == status
            assert body["code"] == 0
            assert "name" in body
            assert "message" in body
    assert fake.token_requests == 5
    assert fake.tokens_issued == 0
    assert [r.status for r in fake.requests] == [401, 401, 401, 400, 400]


async def test_bearer_required_expiry_and_revoke(http: aiohttp.ClientSession) -> None:
    async with FakeSwoogo(token_lifetime=0.3, clock=lambda: 0.0) as fake:
        fake.add_session(event_id=1, name="A", id=5)
        expected = {
            "name": "Unauthorized",
            "message": "Your request was made with invalid credentials.",
            "code": 0,
            "status": 401,
        }
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}):
            status, body, r = await call(http, fake, "GET", "/sessions/5", headers)
            assert (status, body) == (401, expected)
            assert "X-Rate-Limit-Remaining" in r.headers
        h = await auth(http, fake)
        assert (await call(http, fake, "GET", "/sessions/5", h))[0] == 200
        fake.advance(0.29)
        assert (await call(http, fake, "GET", "/sessions/5", h))[0] == 200
        fake.advance(0.01)
        assert (await call(http, fake, "GET", "/sessions/5", h))[0] == 401
        h = await auth(http, fake)
        fake.token_lifetime = 60
        h2 = await auth(http, fake)
        fake.revoke_tokens()
        assert (await call(http, fake, "GET", "/sessions/5", h))[0] == 401
        assert (await call(http, fake, "GET", "/sessions/5", h2))[0] == 401
        assert (await call(http, fake, "GET", "/sessions/5", await auth(http, fake)))[0] == 200


# -- rate limit ----------------------------------------------------------------------------------
async def test_rate_limit_headers_unlimited(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    fake.add_session(event_id=1, name="A")
    h = await auth(http, fake)
    for path in ("/sessions?event_id=1", "/sessions/1000", "/sessions/99"):
        _, _, r = await call(http, fake, "GET", path, h)
        assert int(r.headers["X-Rate-Limit-Limit"]) >= 2000
        assert int(r.headers["X-Rate-Limit-Remaining"]) > 0
        assert int(r.headers["X-Rate-Limit-Reset"]) >= 0


async def test_rate_limit_budget_and_window(http: aiohttp.ClientSession) -> None:
    async with FakeSwoogo(
        rate_limit=12, rate_window=0.6, retry_after=True, clock=lambda: 0
    ) as fake:
        fake.add_session(event_id=1, name="A", id=1)
        h = await auth(http, fake)
        await call(http, fake, "GET", "/sessions/1", {})  # 401 costs nothing
        _, _, r = await call(http, fake, "GET", "/sessions?event_id=1", h)
        assert r.headers["X-Rate-Limit-Limit"] == "12"
        assert r.headers["X-Rate-Limit-Remaining"] == "2"
        assert r.headers["X-Rate-Limit-Reset"] == "1"
        for remaining in ("1", "0"):
            status, _, r = await call(http, fake, "GET", "/sessions/1", h)
            assert (status, r.headers["X-Rate-Limit-Remaining"]) == (200, remaining)
        await get_token(http, fake)  # token calls are never limited
        status, body, r = await call(
            http, fake, "POST", "/sessions/create", h, data={"event_id": "1", "name": "X"}
        )
        assert status == 429
        assert body["status"] == 429
        assert r.headers["X-Rate-Limit-Remaining"] == "0"
        assert r.headers["Retry-After"] == r.headers["X-Rate-Limit-Reset"]
        assert fake.rate_limited == 1
        assert len(fake.sessions) == 1
        assert not fake.requests[-1].acted
        fake.advance(0.59)
        assert (await call(http, fake, "GET", "/sessions/1", h))[0] == 429
        fake.advance(0.01)
        status, _, r = await call(http, fake, "GET", "/sessions/1", h)
        assert (status, r.headers["X-Rate-Limit-Remaining"]) == (200, "11")
        # Windows are back to back: 1.3 s after the first charge is 0.1 s into the third.
        fake.advance(0.7)
        _, _, r = await call(http, fake, "GET", "/sessions/1", h)
        assert (r.headers["X-Rate-Limit-Remaining"], r.headers["X-Rate-Limit-Reset"]) == ("11", "1")
        fake.set_rate_limit(10)
        status, _, r = await call(http, fake, "GET", "/sessions?event_id=1", h)
        assert (status, r.headers["X-Rate-Limit-Remaining"]) == (200, "0")
        assert int(r.headers["X-Rate-Limit-Reset"]) == 600
        status, _, r = await call(http, fake, "GET", "/sessions?event_id=1", h)
        assert status == 429
        assert fake.rate_limited == 3
        fake.set_rate_limit(None)
        assert (await call(http, fake, "GET", "/sessions?event_id=1", h))[0] == 200


# -- get / list ----------------------------------------------------------------------------------
async def test_get_session(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    rec = fake.add_session(
        event_id=7,
        name="Keynote",
        date="2025-06-01",
        start_time="09:00:00",
        end_time="10:30:00",
        capacity=20,
        track_id=3,
        custom_fields={"c_1001": "V1"},
    )
    sid = rec["id"]
    assert sid >= 1000
    assert fake.sessions[sid] is rec
    h = await auth(http, fake)
    status, body, _ = await call(http, fake, "GET", f"/sessions/{sid}", h)
    assert status == 200
    for key in ("id", "event_id", "name", "date", "start_time", "end_time", "capacity",
                "custom_fields", "times_with_timezone", "direct_link", "created_at",
                "updated_at", "session_status", "timezone", "use_event_timezone"):  # fmt: skip
        assert key in body
    assert body["capacity"] == 20
    assert body["use_event_timezone"] == 1
    assert body["session_status"] == "live"
    assert body["timezone"] == "America/New_York"
    assert body["track"] is None
    assert body["custom_fields"] == {"c_1001": "V1"}
    status, body, _ = await call(
        http, fake, "GET", f"/sessions/{sid}?fields=id,name,c_1001,c_9&expand=track", h
    )
    assert body == {
        "id": sid,
        "name": "Keynote",
        "c_1001": "V1",
        "c_9": None,
        "track": {"id": 3, "name": "Track 3"},
    }
    status, body, _ = await call(http, fake, "GET", "/sessions/424242", h)
    assert (status, body) == (
        404,
        {"name": "Not Found", "message": "Session not found.", "code": 0, "status": 404},
    )


async def test_list_pagination_and_links(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    for i in range(45):
        fake.add_session(event_id=1, name=f"S{i:02d}")
    fake.add_session(event_id=2, name="other")
    h = await auth(http, fake)
    status, body, _ = await call(http, fake, "GET", "/sessions", h)
    assert status == 400
    assert body["status"] == 400
    status, body, _ = await call(http, fake, "GET", "/sessions?event_id=1", h)
    assert status == 200
    assert body["_meta"] == {"totalCount": 45, "pageCount": 3, "currentPage": 1, "perPage": 20}
    assert all(set(item) == {"id", "name"} for item in body["items"])
    assert [i["name"] for i in body["items"]][:2] == ["S00", "S01"]
    assert body["_links"]["next"]["href"].startswith("/api/v1/sessions?")
    assert "page=2" in body["_links"]["next"]["href"]
    seen: list[int] = []
    url: str | None = "/sessions?event_id=1&per-page=20"
    while url:
        status, body, _ = await call(http, fake, "GET", url, h)
        seen += [i["id"] for i in body["items"]]
        nxt = body["_links"].get("next")
        url = nxt["href"].removeprefix("/api/v1") if nxt else None
    assert seen == sorted(s for s, r in fake.sessions.items() if r["event_id"] == 1)
    assert "page=3" in body["_links"]["last"]["href"]
    _, body, _ = await call(http, fake, "GET", "/sessions?event_id=1&per-page=5000", h)
    assert body["_meta"]["perPage"] == 1000
    _, body, _ = await call(http, fake, "GET", "/sessions?event_id=1&per-page=5000&expand=track", h)
    assert body["_meta"]["perPage"] == 200
    assert body["items"][0]["track"] is None
    _, body, _ = await call(http, fake, "GET", "/sessions?event_id=1&page=9", h)
    assert body["items"] == []


async def test_list_fields_sort_ids_and_shapes(http: aiohttp.ClientSession) -> None:
    async with FakeSwoogo(drift=False, items_as_object=True, relative_links=False) as fake:
        a = fake.add_session(event_id=1, name="b", capacity=5)["id"]
        b = fake.add_session(event_id=1, name="a", capacity=5)["id"]
        c = fake.add_session(event_id=1, name="c", capacity=1)["id"]
        h = await auth(http, fake)
        _, body, _ = await call(
            http, fake, "GET", "/sessions?event_id=1&fields=id,capacity&sort=-capacity,name", h
        )
        assert list(body["items"]) == [str(b), str(a), str(c)]
        assert body["items"][str(b)] == {"id": b, "capacity": 5}
        assert body["_links"]["self"]["href"].startswith(fake.base_url + "/sessions?")
        _, body, _ = await call(http, fake, "GET", f"/sessions?event_id=1&ids={a},{c}", h)
        assert list(body["items"]) == [str(a), str(c)]
        status, _, _ = await call(http, fake, "GET", "/sessions?event_id=1&sort=bogus", h)
        assert status == 400


@pytest.mark.parametrize(
    ("search", "extra", "expected"),
    [
        ("name=*contains*KEY", "", ["Keynote", "Closing keynote"]),
        ("name=keynote", "", ["Keynote"]),
        ("name!=keynote", "", ["Closing keynote", "Lunch"]),
        ("name=*beginswith*clo", "", ["Closing keynote"]),
        ("name=*endswith*NCH", "", ["Lunch"]),
        ("name!=*contains*keynote", "", ["Lunch"]),
        ("date>=2025-06-02", "", ["Closing keynote", "Lunch"]),
        ("date>2025-06-02", "", ["Lunch"]),
        ("start_time<12:00:00&date<=2025-06-02", "", ["Keynote", "Closing keynote"]),
        ("capacity>=10", "", ["Closing keynote"]),
        ("capacity<9", "", ["Keynote"]),
        ("session_status=*in*approved|submitted", "", ["Closing keynote", "Lunch"]),
        ("name=Lunch&capacity=5", "", []),
        ("name=Lunch&capacity=5", "&searchCondition=or", ["Keynote", "Lunch"]),
        ("name=Lunch&capacity=5&searchCondition=or", "", ["Keynote", "Lunch"]),
        ("track_id=2", "", ["Lunch"]),
        ("location_id!=*in*4|5", "", ["Keynote", "Closing keynote", "Lunch"]),
    ],
)
async def test_search(
    fake: FakeSwoogo, http: aiohttp.ClientSession, search: str, extra: str, expected: list[str]
) -> None:
    fake.add_session(event_id=1, name="Keynote", date="2025-06-01", start_time="09:00:00",
                     capacity=5, session_status="live")  # fmt: skip
    fake.add_session(event_id=1, name="Closing keynote", date="2025-06-02",
                     start_time="11:00:00", capacity=100, session_status="approved")  # fmt: skip
    fake.add_session(event_id=1, name="Lunch", date="2025-06-03", start_time="12:00:00",
                     session_status="submitted", track_id=2)  # fmt: skip
    fake.add_session(event_id=2, name="Keynote")
    h = await auth(http, fake)
    url = f"/sessions?event_id=1&search={quote_plus(search)}{extra}"
    status, body, _ = await call(http, fake, "GET", url, h)
    assert status == 200, body
    assert [i["name"] for i in body["items"]] == expected


async def test_search_unknown_attribute(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    h = await auth(http, fake)
    status, body, _ = await call(http, fake, "GET", "/sessions?event_id=1&search=bogus%3D1", h)
    assert status in (400, 422)
    assert body["status"] == status


# -- create / update -----------------------------------------------------------------------------
async def test_create_session(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    h = await auth(http, fake)
    form = {
        "event_id": "12",
        "name": "Workshop",
        "date": "2025-07-20",
        "start_time": "10:00",
        "end_time": "12:00:00",
        "capacity": "150",
        "locked_when_saved": "1",
        "selection_control": "included",
        "custom_fields[c_1001]": "Value1",
        "custom_fields[c_1002][0][id]": "123",
        "custom_fields[c_1002][1][id]": "456",
        "unknown_thing": "ignored",
    }
    status, body, r = await call(http, fake, "POST", "/sessions/create", h, data=form)
    assert status == 200, body
    assert "X-Rate-Limit-Remaining" in r.headers
    sid = body["id"]
    stored = fake.sessions[sid]
    assert stored["start_time"] == "10:00:00"
    assert stored["capacity"] == 150
    assert stored["locked_when_saved"] == 1
    assert stored["session_included"] == 1
    assert stored["session_status"] == "live"
    assert stored["timezone"] == "America/New_York"
    assert "unknown_thing" not in stored
    assert stored["custom_fields"] == {"c_1001": "Value1", "c_1002": [{"id": "123"}, {"id": "456"}]}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", stored["created_at"])
    assert body["custom_fields"] == stored["custom_fields"]
    assert body["direct_link"]
    assert body["times_with_timezone"]
    rec = fake.requests[-1]
    assert rec.acted
    assert rec.form is not None
    assert rec.form["custom_fields[c_1002][0][id]"] == "123"
    status, body, _ = await call(
        http, fake, "POST", "/sessions/create", h, data={"event_id": "12", "name": "Two"}
    )
    assert body["id"] == sid + 1


async def test_create_validation(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    h = await auth(http, fake)
    status, body, _ = await call(http, fake, "POST", "/sessions/create", h, data={})
    assert status == 422
    assert {"field": "name", "message": "Name cannot be blank."} in body
    assert {e["field"] for e in body} == {"event_id", "name"}
    bad = {
        "event_id": "x",
        "name": "  ",
        "date": "2025-13-01",
        "start_time": "25:00",
        "use_event_timezone": "true",
        "capacity": "-1",
        "track_id": "1.5",
        "session_status": "draft",
        "selection_control": "maybe",
        "timezone": "Mars/Base",
        "custom_fields[x_1]": "v",
    }
    status, body, _ = await call(http, fake, "POST", "/sessions/create", h, data=bad)
    assert status == 422
    fields = {e["field"] for e in body}
    assert fields == set(bad) - {"custom_fields[x_1]"} | {"custom_fields"}
    status, body, _ = await call(
        http, fake, "POST", "/sessions/create", h,
        data={"event_id": "1", "name": "n", "start_time": "10:00:00", "end_time": "09:00:00"},
    )  # fmt: skip
    assert status == 422
    assert body[0]["field"] == "end_time"
    status, body, _ = await call(
        http, fake, "POST", "/sessions/create", h, json={"event_id": 1, "name": "n"}
    )
    assert status == 415
    assert body["status"] == 415
    assert fake.sessions == {}
    assert not any(r.acted for r in fake.requests[1:])


async def test_update_session(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    rec = fake.add_session(
        event_id=1, name="Old", capacity=10, custom_fields={"c_1": "a", "c_2": "b"}
    )
    rec["updated_at"] = "2000-01-01 00:00:00"
    sid = rec["id"]
    h = await auth(http, fake)
    status, body, _ = await call(
        http, fake, "PUT", f"/sessions/update/{sid}", h,
        data={"name": "New", "capacity": "", "custom_fields[c_2]": "B",
              "prevent_session_conflicts": "1"},
    )  # fmt: skip
    assert status == 200, body
    assert body["name"] == "New"
    assert rec["capacity"] is None
    assert rec["event_id"] == 1
    assert rec["prevent_session_conflicts"] == 1
    assert rec["custom_fields"] == {"c_1": "a", "c_2": "B"}
    assert rec["updated_at"] > "2000-01-01 00:00:00"
    assert fake.requests[-1].acted
    status, body, _ = await call(http, fake, "PUT", f"/sessions/update/{sid}", h, data={"name": ""})
    assert status == 422
    assert body == [{"field": "name", "message": "Name cannot be blank."}]
    assert rec["name"] == "New"
    assert (await call(http, fake, "PUT", "/sessions/update/9999", h, data={"name": "x"}))[0] == 404
    for method in ("POST", "GET"):
        status, body, _ = await call(http, fake, method, f"/sessions/update/{sid}", h)
        assert status == 405
        assert body["status"] == 405
    status, _, _ = await call(http, fake, "PUT", f"/sessions/update/{sid}", h, json={"name": "j"})
    assert status == 415


# -- speakers ------------------------------------------------------------------------------------
async def test_add_sessions_to_speaker(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    spk = fake.add_speaker(event_id=12, first_name="John", last_name="Doe", email="j@x.test")
    s1 = fake.add_session(event_id=12, name="One")["id"]
    s2 = fake.add_session(event_id=12, name="Two")["id"]
    other = fake.add_session(event_id=13, name="Elsewhere")["id"]
    h = await auth(http, fake)
    path = f"/speakers/{spk['id']}/session.json"
    status, body, _ = await call(http, fake, "POST", path, h, json={"session_ids": [s1, s2, s1]})
    assert status == 200, body
    assert body["id"] == spk["id"]
    assert body["first_name"] == "John"
    assert body["gender"] == {"id": None, "value": None}
    assert [s["id"] for s in body["sessions"]] == [s1, s2]
    assert body["sessions"][0]["name"] == "One"
    assert "custom_fields" in body["sessions"][0]
    assert fake.requests[-1].json == {"session_ids": [s1, s2, s1]}
    assert fake.requests[-1].acted
    status, body, _ = await call(http, fake, "POST", path, h, json={"session_ids": [s1]})
    assert (status, len(body["sessions"])) == (200, 2)
    assert not fake.requests[-1].acted
    for payload, want in (
        ({"session_ids": [other]}, 422),
        ({"session_ids": [999999]}, 422),
        ({"session_ids": "x"}, 422),
        ({}, 422),
    ):
        status, body, _ = await call(http, fake, "POST", path, h, json=payload)
        assert status == want
        assert body[0]["field"] == "session_ids"
    status, _, _ = await call(http, fake, "POST", path, h, data={"session_ids": str(s1)})
    assert status == 415
    status, _, _ = await call(http, fake, "POST", "/speakers/5555/session.json", h, json={})
    assert status == 404
    assert spk["session_ids"] == [s1, s2]


async def test_list_and_get_speakers(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    ada = fake.add_speaker(event_id=12, first_name="Ada", last_name="Lovelace", company="AE")
    bob = fake.add_speaker(event_id=12, first_name="Bob", last_name="Ross", email="b@x.test")
    fake.add_speaker(event_id=13, first_name="Elsewhere", last_name="X")
    sid = fake.add_session(event_id=12, name="Talk")["id"]
    ada["session_ids"].append(sid)
    h = await auth(http, fake)
    status, body, _ = await call(http, fake, "GET", "/speakers?event_id=12", h)
    assert status == 200
    # Documented: without fields only id, first_name, last_name.
    assert body["items"] == [
        {"id": ada["id"], "first_name": "Ada", "last_name": "Lovelace"},
        {"id": bob["id"], "first_name": "Bob", "last_name": "Ross"},
    ]
    assert body["_meta"] == {"totalCount": 2, "pageCount": 1, "currentPage": 1, "perPage": 20}
    assert body["_links"]["self"]["href"].startswith("/api/v1/speakers?")
    _, body, _ = await call(
        http, fake, "GET", "/speakers?event_id=12&fields=id,company,email&expand=sessions", h
    )
    assert body["items"][0] | {"sessions": []} == {
        "id": ada["id"], "company": "AE", "email": None, "sessions": []
    }  # fmt: skip
    assert [s["id"] for s in body["items"][0]["sessions"]] == [sid]
    assert body["items"][1] == {"id": bob["id"], "company": None, "email": "b@x.test",
                                "sessions": []}  # fmt: skip
    _, body, _ = await call(http, fake, "GET", "/speakers?event_id=12&per-page=1&page=2", h)
    assert [i["id"] for i in body["items"]] == [bob["id"]]
    status, body, _ = await call(http, fake, "GET", "/speakers", h)
    assert (status, body["status"]) == (400, 400)
    status, body, _ = await call(http, fake, "GET", f"/speakers/{ada['id']}", h)
    assert status == 200
    for key in ("id", "event_id", "first_name", "last_name", "company", "gender", "direct_link",
                "created_at", "updated_at", "event_sort"):  # fmt: skip
        assert key in body
    assert "sessions" not in body
    _, body, _ = await call(http, fake, "GET", f"/speakers/{ada['id']}?expand=sessions", h)
    assert [s["name"] for s in body["sessions"]] == ["Talk"]
    _, body, _ = await call(
        http, fake, "GET", f"/speakers/{ada['id']}?fields=id,last_name,bogus", h
    )
    assert body == {"id": ada["id"], "last_name": "Lovelace"}
    status, body, _ = await call(http, fake, "GET", "/speakers/99999", h)
    assert (status, body["message"]) == (404, "Speaker not found.")
    assert (await call(http, fake, "PUT", f"/speakers/{ada['id']}", h))[0] == 405


async def test_a_list_call_costs_ten_credits_anything_else_one(http: aiohttp.ClientSession) -> None:
    async with FakeSwoogo(rate_limit=100, clock=lambda: 0.0) as fake:
        sp = fake.add_speaker(event_id=1, first_name="A", last_name="B")["id"]
        se = fake.add_session(event_id=1, name="S")["id"]
        h = await auth(http, fake)
        remaining = []
        for path in ("/speakers?event_id=1", f"/speakers/{sp}", "/sessions?event_id=1",
                     f"/sessions/{se}", f"/sessions?event_id=1&ids={se}"):  # fmt: skip
            status, _, r = await call(http, fake, "GET", path, h)
            assert status == 200
            remaining.append(int(r.headers["X-Rate-Limit-Remaining"]))
        assert remaining == [90, 89, 79, 78, 68]


async def test_ids_filter_on_sessions(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    ids = [fake.add_session(event_id=1, name=f"S{i}")["id"] for i in range(150)]
    other = fake.add_session(event_id=2, name="other")["id"]
    h = await auth(http, fake)
    wanted = ids[5:105]  # 100 ids: the most one call takes
    q = ",".join(map(str, [*wanted, other, 424242]))
    status, body, _ = await call(http, fake, "GET", f"/sessions?event_id=1&ids={q}", h)
    assert (status, body["status"]) == (400, 400)  # 102 ids: more than one call takes
    q = ",".join(map(str, wanted))
    _, body, _ = await call(http, fake, "GET", f"/sessions?event_id=1&per-page=200&ids={q}", h)
    assert [i["id"] for i in body["items"]] == wanted
    q = f"{ids[0]},{other},424242"
    _, body, _ = await call(http, fake, "GET", f"/sessions?event_id=1&ids={q}", h)
    assert [i["id"] for i in body["items"]] == [ids[0]]  # other events and unknown ids: absent
    status, _, _ = await call(http, fake, "GET", f"/sessions?ids={ids[0]}", h)
    assert status == 400  # ids needs event_id
    status, _, _ = await call(http, fake, "GET", "/sessions?event_id=1&ids=1,x", h)
    assert status == 400


@pytest.mark.parametrize("resource", ["sessions", "speakers"])
async def test_misbehaving_pagination(
    fake: FakeSwoogo, http: aiohttp.ClientSession, resource: str
) -> None:
    for i in range(5):
        fake.add_session(event_id=1, name=f"S{i}")
        fake.add_speaker(event_id=1, first_name=f"F{i}", last_name="L")
    h = await auth(http, fake)
    base = f"/{resource}?event_id=1&per-page=2"

    async def page(n: int) -> tuple[list[int], dict[str, Any], dict[str, Any]]:
        status, body, _ = await call(http, fake, "GET", f"{base}&page={n}", h)
        assert status == 200
        return [i["id"] for i in body["items"]], body["_meta"], body["_links"]

    first, meta, links = await page(1)
    assert meta["pageCount"] == 3
    last, meta, links = await page(3)
    assert "next" not in links
    fake.misbehave_pagination("ignore-page")
    again, meta, links = await page(2)
    assert (again, meta["currentPage"]) == (first, 1)
    assert "page=2" in links["next"]["href"]
    fake.misbehave_pagination("stuck-current-page")
    second, meta, links = await page(2)
    assert second != first
    assert meta["currentPage"] == 1
    fake.misbehave_pagination("huge-page-count")
    items, meta, links = await page(50)
    assert (items, meta["pageCount"]) == ([], 10**9)
    assert "page=51" in links["next"]["href"]
    fake.misbehave_pagination("always-next")
    items, meta, links = await page(3)
    assert (items, meta["pageCount"]) == (last, 3)
    assert "page=4" in links["next"]["href"]
    _, _, links = await page(4)
    assert "page=5" in links["next"]["href"]
    fake.misbehave_pagination(None)
    assert "next" not in (await page(3))[2]
    with pytest.raises(ValueError, match="pagination mode"):
        fake.misbehave_pagination("sideways")


# -- drift ---------------------------------------------------------------------------------------
async def test_drift(http: aiohttp.ClientSession) -> None:
    async with FakeSwoogo(seed=3) as fake:
        sid = fake.add_session(event_id=1, name="A", capacity=20, locked_when_saved=1)["id"]
        h = await auth(http, fake)
        caps: set[object] = set()
        flags: set[str] = set()
        for _ in range(12):
            _, body, _ = await call(http, fake, "GET", f"/sessions/{sid}", h)
            caps.add(body["capacity"])
            flags.add(repr(body["locked_when_saved"]))
            assert "virtual_link" in body
        assert caps == {20, "20"}
        assert flags == {"1", "True"}
        assert fake.sessions[sid]["capacity"] == 20
    async with FakeSwoogo(drift=False) as fake:
        sid = fake.add_session(event_id=1, name="A", capacity=20)["id"]
        h = await auth(http, fake)
        for _ in range(5):
            _, body, _ = await call(http, fake, "GET", f"/sessions/{sid}", h)
            assert body["capacity"] == 20
            assert type(body["locked_when_saved"]) is int


# -- faults --------------------------------------------------------------------------------------
def test_fault_constructors() -> None:
    assert Fault.error(503).status == 503
    assert Fault.error(503).name == "error_503"
    assert Fault.error(500, acted=True).acted
    assert Fault.rate_limited(reset=2).headers == {
        "X-Rate-Limit-Remaining": "0",
        "X-Rate-Limit-Reset": "2",
    }
    assert Fault.timeout(1.5).delay == 1.5
    assert Fault.drop_before().drop == "before"
    assert Fault.drop_after().drop == "after"
    assert Fault.malformed_json().malformed
    assert Fault.html_error().html
    names = {f.name for f in (Fault.error(503), Fault.error(503, acted=True), Fault.rate_limited(),
                              Fault.timeout(1), Fault.drop_before(), Fault.drop_after(),
                              Fault.malformed_json(), Fault.html_error())}  # fmt: skip
    assert len(names) == 8
    with pytest.raises(ValueError, match="unknown route"):
        FakeSwoogo().inject("GET /nope", Fault.error())


async def create(
    http: aiohttp.ClientSession, fake: FakeSwoogo, h: dict[str, str], name: str = "X"
) -> tuple[int, Any, aiohttp.ClientResponse]:
    return await call(
        http, fake, "POST", "/sessions/create", h, data={"event_id": "1", "name": name}
    )


async def test_fault_error_status(http: aiohttp.ClientSession) -> None:
    async with FakeSwoogo(retry_after=True) as fake:
        h = await auth(http, fake)
        fake.inject("POST /sessions/create", Fault.error(503), times=2)
        for _ in range(2):
            status, body, _ = await create(http, fake, h)
            assert status == 503
            assert body == {"name": "Service Unavailable", "message": "Service Unavailable",
                            "code": 0, "status": 503}  # fmt: skip
        assert fake.sessions == {}
        assert [(r.status, r.fault, r.acted) for r in fake.requests[-2:]] == [
            (503, "error_503", False)
        ] * 2
        assert (await create(http, fake, h))[0] == 200
        fake.inject("*", Fault.error(500, acted=True))
        status, _, _ = await create(http, fake, h)
        assert status == 500
        assert len(fake.sessions) == 2
        assert fake.requests[-1].acted
        fake.inject("GET /sessions", Fault.rate_limited(reset=3))
        status, body, r = await call(http, fake, "GET", "/sessions?event_id=1", h)
        assert status == 429
        assert r.headers["X-Rate-Limit-Reset"] == "3"
        assert r.headers["Retry-After"] == "3"
        assert fake.rate_limited == 0
        fake.inject("GET /sessions/{id}", Fault.html_error(502))
        status, body, r = await call(http, fake, "GET", "/sessions/1000", h)
        assert status == 502
        assert r.content_type == "text/html"
        assert "<html>" in body
        fake.inject("POST /oauth2/token", Fault.error(503))
        async with http.post(fake.base_url + "/oauth2/token") as resp:
            assert resp.status == 503
        assert fake.tokens_issued == 1


async def test_fault_hang_until_the_client_leaves_or_the_test_releases(
    fake: FakeSwoogo, http: aiohttp.ClientSession
) -> None:
    h = await auth(http, fake)
    short = aiohttp.ClientTimeout(total=0.1)  # the fake never answers: any value is safe
    data = {"event_id": "1", "name": "T"}
    fake.inject("POST /sessions/create", Fault.hang())
    with pytest.raises(asyncio.TimeoutError):
        await call(http, fake, "POST", "/sessions/create", h, timeout=short, data=data)
    await fake.idle()  # the handler noticed the client leave
    assert fake.sessions == {}
    assert (fake.requests[-1].status, fake.requests[-1].acted) == (0, False)
    assert fake.requests[-1].fault == "hang"
    fake.inject("POST /sessions/create", Fault.hang(acted=True))
    with pytest.raises(asyncio.TimeoutError):
        await call(http, fake, "POST", "/sessions/create", h, timeout=short, data=data)
    await fake.idle()
    assert len(fake.sessions) == 1
    assert (fake.requests[-1].status, fake.requests[-1].acted) == (0, True)
    # Answer late, at a moment the test chooses.
    sid = next(iter(fake.sessions))
    fake.inject("GET /sessions/{id}", Fault.hang())
    late = asyncio.create_task(call(http, fake, "GET", f"/sessions/{sid}", h))
    await fake.until_held()
    assert not late.done()
    fake.release_held()
    status, body, _ = await late
    assert (status, body["id"]) == (200, sid)
    # A finite delay answers normally after it.
    fake.inject("GET /sessions/{id}", Fault.timeout(0.01))
    assert (await call(http, fake, "GET", f"/sessions/{sid}", h))[0] == 200
    assert fake.requests[-1].fault == "timeout_0.01"


async def test_commit_late_stores_the_create_only_when_told(
    fake: FakeSwoogo, http: aiohttp.ClientSession
) -> None:
    h = await auth(http, fake)
    fake.inject("POST /sessions/create", Fault.commit_late())
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await create(http, fake, h, "late")
    assert fake.sessions == {}
    assert (fake.requests[-1].status, fake.requests[-1].fault) == (0, "commit_late")
    status, body, _ = await call(http, fake, "GET", "/sessions?event_id=1", h)
    assert (status, body["items"]) == (200, [])
    assert fake.stats["late_creates_pending"] == 1
    (sid,) = fake.commit_late_creates()
    assert fake.sessions[sid]["name"] == "late"
    assert fake.commit_late_creates() == []
    # Ids stay unique: a later create does not reuse the held one's.
    _, body, _ = await create(http, fake, h, "next")
    assert body["id"] != sid
    # A commit at a chosen point of the run: when the 2nd request from now arrives.
    fake.inject("POST /sessions/create", Fault.commit_late())
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await create(http, fake, h, "later")
    fake.after_requests(2, fake.commit_late_creates)
    _, body, _ = await call(http, fake, "GET", "/sessions?event_id=1", h)
    assert "later" not in [i["name"] for i in body["items"]]
    _, body, _ = await call(http, fake, "GET", "/sessions?event_id=1", h)
    assert "later" in [i["name"] for i in body["items"]]
    with pytest.raises(ValueError, match="late commit"):
        fake.inject("PUT /sessions/update/{id}", Fault.commit_late())
    with pytest.raises(ValueError, match="late commit"):
        fake.chaos(rate=0.5, faults=[Fault.commit_late()])


async def test_after_requests_runs_an_action_at_a_chosen_request(
    fake: FakeSwoogo, http: aiohttp.ClientSession
) -> None:
    fake.add_session(event_id=1, name="A", id=5)
    h = await auth(http, fake)
    fake.after_requests(3, fake.revoke_tokens)
    statuses = [(await call(http, fake, "GET", "/sessions/5", h))[0] for _ in range(4)]
    assert statuses == [200, 200, 401, 401]
    with pytest.raises(ValueError, match="count"):
        fake.after_requests(0, fake.revoke_tokens)
    with pytest.raises(ValueError, match="forward"):
        fake.advance(-1)


async def test_fault_drops_and_malformed(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    h = await auth(http, fake)
    fake.inject("POST /sessions/create", Fault.drop_before())
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await create(http, fake, h)
    assert fake.sessions == {}
    assert (fake.requests[-1].status, fake.requests[-1].fault) == (0, "drop_before")
    fake.inject("POST /sessions/create", Fault.drop_after())
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await create(http, fake, h)
    assert len(fake.sessions) == 1
    assert (fake.requests[-1].status, fake.requests[-1].acted) == (0, True)
    fake.inject("POST /sessions/create", Fault.malformed_json())
    async with http.post(
        fake.base_url + "/sessions/create", headers=h, data={"event_id": "1", "name": "M"}
    ) as r:
        assert r.status == 200
        assert r.content_type == "application/json"
        with pytest.raises(ValueError, match=r"."):
            json.loads(await r.text())
    assert len(fake.sessions) == 2
    assert fake.duplicate_groups() == []
    # aiohttp silently retries an idempotent request once when a *reused* connection drops,
    # so a GET needs the fault twice to surface
    sid = next(iter(fake.sessions))
    fake.inject("GET /sessions/{id}", Fault.drop_before(), times=2)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await call(http, fake, "GET", f"/sessions/{sid}", h)
    assert [r.status for r in fake.requests[-2:]] == [0, 0]
    # the server keeps serving after drops
    assert (await create(http, fake, h, "after"))[0] == 200


async def test_chaos(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    h = await auth(http, fake)
    fake.chaos(rate=1.0, faults=[Fault.error(503), Fault.error(500)], seed=1)
    statuses = {(await create(http, fake, h))[0] for _ in range(10)}
    assert statuses == {500, 503}
    await get_token(http, fake)  # token route is exempt unless listed
    fake.chaos(rate=1.0, faults=[Fault.error(502)], routes=["GET /sessions"])
    assert (await create(http, fake, h))[0] == 200
    assert (await call(http, fake, "GET", "/sessions?event_id=1", h))[0] == 502
    fake.chaos(rate=0)
    assert (await call(http, fake, "GET", "/sessions?event_id=1", h))[0] == 200
    fake.chaos(rate=0.5, faults=[Fault.error(503)], seed=7)
    results = [(await create(http, fake, h))[0] for _ in range(40)]
    assert 5 < results.count(503) < 35
    fake.clear_faults()
    assert all([(await create(http, fake, h))[0] == 200 for _ in range(5)])


# -- recording / helpers / latency / CLI ---------------------------------------------------------
async def test_recorded_requests(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    h = await auth(http, fake)
    await call(http, fake, "GET", "/sessions?event_id=3&page=1", h | {"X-Custom": "v"})
    await call(http, fake, "GET", "/nowhere", h)
    token_rec, list_rec, missing = fake.requests
    assert isinstance(list_rec, RecordedRequest)
    assert token_rec.form == {"grant_type": "client_credentials"}
    assert list_rec.method == "GET"
    assert list_rec.path == "/sessions"
    assert list_rec.query == {"event_id": "3", "page": "1"}
    assert list_rec.headers["x-custom"] == "v"
    assert list_rec.headers["Authorization"] == h["Authorization"]
    assert (list_rec.status, list_rec.fault, list_rec.acted, list_rec.body) == (
        200,
        None,
        False,
        b"",
    )
    assert missing.status == 404
    fake.reset_requests()
    assert fake.requests == []
    assert fake.token_requests == 1


async def test_duplicate_groups_and_latency(http: aiohttp.ClientSession) -> None:
    async with FakeSwoogo(latency=0.05) as fake:
        a = fake.add_session(event_id=1, name="A", date="2025-01-01", start_time="09:00:00")
        b = fake.add_session(event_id=1, name="A", date="2025-01-01", start_time="09:00:00")
        fake.add_session(event_id=1, name="A", date="2025-01-02", start_time="09:00:00")
        assert fake.duplicate_groups() == [[a["id"], b["id"]]]
        assert fake.duplicate_groups(keys=("event_id",)) == [sorted(fake.sessions)]
        await get_token(http, fake)
        assert fake.latency == 0.05


async def test_concurrent_load(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    h = await auth(http, fake)
    results = await asyncio.gather(*(create(http, fake, h, f"n{i}") for i in range(200)))
    assert {r[0] for r in results} == {200}
    assert len({r[1]["id"] for r in results}) == 200
    assert fake.duplicate_groups() == []


async def test_stats_attribute_and_url(fake: FakeSwoogo, http: aiohttp.ClientSession) -> None:
    h = await auth(http, fake)
    a = fake.add_session(event_id=1, name="A", date="2026-05-01")
    fake.add_session(event_id=1, name="A", date="2026-05-01", start_time=a["start_time"])
    fake.inject("GET /sessions/{id}", Fault.error(503))
    await call(http, fake, "GET", f"/sessions/{a['id']}", h)
    fake.set_rate_limit(1)
    await call(http, fake, "GET", "/sessions?event_id=1", h)
    fake.reset_requests()  # the log, not the counters
    want = {"requests": 3, "token_requests": 1, "tokens_issued": 1, "rate_limited": 1,
            "faults": 1, "sessions": 2, "speakers": 0, "duplicates": 1,
            "late_creates_pending": 0}  # fmt: skip
    assert fake.stats == want
    assert fake.stats_url == fake.base_url.removesuffix("/api/v1") + "/_fake/stats"
    async with http.get(fake.stats_url) as r:  # no token needed, not counted, not logged
        assert (r.status, await r.json()) == (200, want)
    assert fake.requests == []
    assert fake.stats["requests"] == 3


def test_cli_runs_standalone() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "swoogo_async.testing", "--port", "0", "--rate-limit", "50",
         "--no-drift", "--api-key", "k1", "--api-secret", "s1"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1", line)
        assert proc.stdout.readline().strip() == "api_key: k1"
        assert proc.stdout.readline().strip() == "api_secret: s1"
        stats_url = proc.stdout.readline().strip().removeprefix("stats: ")
        assert stats_url == line.removesuffix("/api/v1") + "/_fake/stats"

        async def probe() -> tuple[int, dict[str, int]]:
            async with aiohttp.ClientSession() as s:
                async with s.get(line + "/sessions/1") as r:
                    assert r.headers["X-Rate-Limit-Limit"] == "50"
                    status = r.status
                async with s.post(
                    line + "/oauth2/token",
                    data={"grant_type": "client_credentials"},
                    headers={"Authorization": basic("k1", "s1")},
                ) as r:
                    assert r.status == 200
                async with s.get(stats_url) as r:
                    return status, await r.json()

        status, stats = asyncio.run(probe())
        assert status == 401
        assert (stats["requests"], stats["token_requests"], stats["tokens_issued"]) == (2, 1, 1)
        assert (stats["sessions"], stats["rate_limited"], stats["duplicates"]) == (0, 0, 0)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        if proc.stdout is not None:
            proc.stdout.close()


# -- the fake's own rules -------------------------------------------------------------------------
def test_the_fake_reads_no_field_rules_from_the_sdk() -> None:
    import ast
    from pathlib import Path

    import swoogo_async.testing as testing

    folder = Path(testing.__file__).parent
    borrowed = []
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                package = ["swoogo_async", "testing"][: max(0, 3 - node.level)]
                base = ".".join([*package, node.module or ""]) if node.level else node.module
                targets = [f"{base}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            # Models may be imported to produce JSON; no check, field table or scalar.
            targets = [t or "" for t in targets]
            borrowed += [
                f"{path.name}: {t}"
                for t in targets
                if t.startswith("swoogo_async._api")
                and not t.startswith("swoogo_async._api.models")
            ]
    assert borrowed == []


async def test_a_field_the_sdk_classifies_wrongly_is_refused_by_the_fake(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from swoogo_async import SwoogoClient, ValidationError
    from swoogo_async._api import fields

    # The SDK, wrongly, takes capacity for free text: it sends "lots" as it is.
    monkeypatch.setitem(fields.WRITABLE_FIELDS, "capacity", fields.TEXT)
    wrong: dict[str, Any] = {"capacity": "lots"}
    async with FakeSwoogo() as fake:
        client = SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url)
        async with client:
            with pytest.raises(ValidationError) as info:
                await client.sessions.create(event_id=1, name="Keynote", date="2026-05-01", **wrong)
    assert info.value.status == 422
    assert [e.field for e in info.value.errors] == ["capacity"]
    assert fake.sessions == {}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("capacity", "lots"),
        ("capacity", "-1"),
        ("track_id", "1.5"),
        ("date", "05/01/2026"),
        ("start_time", "9:00 AM"),
        ("end_time", "21:00:00.5"),
        ("use_event_timezone", "true"),
        ("selected_by_default", "yes"),
        ("session_status", "LIVE"),
        ("selection_control", "mandatory"),
        ("timezone", "Mars/Base"),
        ("name", " "),
    ],
)
async def test_the_fake_refuses_values_the_contract_forbids(
    fake: FakeSwoogo, http: aiohttp.ClientSession, field: str, value: str
) -> None:
    h = await auth(http, fake)
    form = {"event_id": "1", "name": "Keynote", "date": "2026-05-01", field: value}
    status, body, _ = await call(http, fake, "POST", "/sessions/create", h, data=form)
    assert status == 422, body
    assert [e["field"] for e in body] == [field]
    assert fake.sessions == {}


def test_the_fake_and_the_sdk_agree_on_every_writable_field() -> None:
    from swoogo_async._api.fields import WRITABLE_FIELDS
    from swoogo_async.testing._forms import SESSION_FORM

    wire = {"id": "int", "count": "int", "flag": "flag", "date": "date", "time": "time"}
    fake_kinds = {
        name: "enum" if isinstance(rule, tuple) else wire.get(rule, "text")
        for name, rule in SESSION_FORM.items()
    }
    sdk_kinds = {name: kind.wire for name, kind in WRITABLE_FIELDS.items() if kind.wire != "custom"}
    assert sdk_kinds == fake_kinds
    sdk_choices = {n: k.choices for n, k in WRITABLE_FIELDS.items() if k.wire == "enum"}
    assert sdk_choices == {n: r for n, r in SESSION_FORM.items() if isinstance(r, tuple)}


# -- the standalone server ----------------------------------------------------------------------
def test_the_standalone_help_is_plain_text() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "swoogo_async.testing", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert "``" not in done.stdout
    assert "api_key: ..." in done.stdout
    assert "stats: <url>" in done.stdout


def test_a_busy_port_is_one_clear_line_and_exit_2() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "swoogo_async.testing", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(
        f"python -m swoogo_async.testing: error: cannot listen on 127.0.0.1:{port}"
    )
    assert "Traceback" not in done.stderr
