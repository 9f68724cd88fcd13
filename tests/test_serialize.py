"""Models leave the SDK: ``to_dict`` / ``to_json``, and a FastAPI route returning one."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from swoogo_async import (
    InvalidInputError,
    MockTransport,
    Page,
    Request,
    Response,
    SelectionControl,
    Session,
    SessionBatch,
    SessionStatus,
    Speaker,
    SwoogoClient,
    to_dict,
    to_json,
)
from swoogo_async._api.converter import converter

SESSION = Session(
    id=7,
    event_id=12,
    name="Keynote, Zürich",
    date=dt.date(2026, 5, 1),
    start_time=dt.time(9, 30),
    capacity=150,
    use_event_timezone=True,
    session_status=SessionStatus("archived"),  # a status this release does not know
    selection_control=SelectionControl.INCLUDED,
    created_at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
    custom_fields={"c_1001": "Value1", "c_1002": [{"id": 123}]},
    extra={"virtual_room": {"url": "https://x.test"}, "type_code": 4},
)


def test_session_to_dict_is_json_ready_and_keeps_everything() -> None:
    out = to_dict(SESSION)
    assert json.loads(json.dumps(out)) == out  # JSON types only
    assert out["date"] == "2026-05-01"
    assert out["start_time"] == "09:30:00"
    assert out["created_at"] == "2026-01-02 03:04:05"
    assert out["session_status"] == "archived"
    assert out["selection_control"] == "included"
    assert out["use_event_timezone"] is True
    assert out["custom_fields"] == {"c_1001": "Value1", "c_1002": [{"id": 123}]}
    assert out["virtual_room"] == {"url": "https://x.test"}
    assert out["type_code"] == 4
    assert converter().structure(out, Session) == SESSION  # the converter reads it back


def test_speaker_and_page_and_batch() -> None:
    speaker = Speaker(id=3, first_name="Ada", birth_date=dt.date(1815, 12, 10), sessions=[SESSION])
    out = to_dict(speaker)
    assert out["birth_date"] == "1815-12-10"
    assert out["sessions"][0]["name"] == SESSION.name
    assert converter().structure(out, Speaker) == speaker
    page = Page(items=[SESSION], total_count=1, page_count=1, current_page=1, per_page=200)
    assert to_dict(page) == {
        "items": [to_dict(SESSION)],
        "total_count": 1,
        "page_count": 1,
        "current_page": 1,
        "per_page": 200,
        "has_next": None,
    }
    raw_page = Page(
        items=[{"id": 1}], total_count=None, page_count=None, current_page=1, per_page=5
    )
    assert to_dict(raw_page)["items"] == [{"id": 1}]
    batch = SessionBatch(sessions=[SESSION], missing=(9,))
    assert to_dict(batch) == {"sessions": [to_dict(SESSION)], "missing": [9]}


def test_to_json() -> None:
    text = to_json(SESSION)
    assert "Zürich" in text  # characters kept, not escaped
    assert json.loads(text) == to_dict(SESSION)
    assert json.loads(to_json([SESSION, SESSION], indent=2)) == [to_dict(SESSION)] * 2


def test_values_a_caller_put_in_extra_are_written_or_refused() -> None:
    class Stamp(dt.datetime):  # a datetime subclass, as pendulum's
        pass

    s = Session(
        id=1,
        extra={
            "when": dt.date(2026, 1, 1),
            "at": Stamp(2026, 1, 1, 8, tzinfo=dt.timezone.utc),
            "status": SessionStatus.LIVE,
        },
    )
    out = to_dict(s)
    assert (out["when"], out["at"], out["status"]) == ("2026-01-01", "2026-01-01 08:00:00", "live")
    with pytest.raises(InvalidInputError) as info:
        to_dict(Session(id=1, extra={"x": object()}))
    assert info.value.field == "obj"
    with pytest.raises(InvalidInputError):
        to_json(Session(id=1, extra={"x": float("nan")}))


@pytest.mark.parametrize("obj", [{"id": 1}, [1], "s", None])
def test_to_dict_refuses_what_is_not_a_model(obj: Any) -> None:
    with pytest.raises(InvalidInputError) as info:
        to_dict(obj)
    assert info.value.field == "obj"


def _fake_api(request: Request) -> Response:
    if request.url.endswith("/oauth2/token"):
        return Response(200, {}, b'{"access_token":"t","expires_at":"2099-01-01 00:00:00"}')
    body = json.dumps(to_dict(SESSION) | {"id": int(request.url.rsplit("/", 1)[1])})
    return Response(200, {}, body.encode())


def test_fastapi_route_returns_a_session() -> None:
    """The recipe of docs/usage.md: one client for the app's life, ``to_dict`` in the route."""
    from fastapi import FastAPI

    with warnings.catch_warnings():
        # Starlette's test client warns when it finds httpx rather than httpx2.
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with SwoogoClient("k", "s", transport=MockTransport(_fake_api)) as client:
            app.state.swoogo = client
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/sessions/{session_id}")
    async def get_session(session_id: int) -> dict[str, Any]:
        session = await app.state.swoogo.sessions.get(session_id)
        return to_dict(session)

    with TestClient(app) as http:
        response = http.get("/sessions/42")
    assert response.status_code == 200
    assert response.json() == to_dict(SESSION) | {"id": 42}


@pytest.mark.parametrize("gender", ['"f"', "[1]", "7", '{"id": 2, "name": "F"}', "null"])
def test_a_speaker_field_taken_as_it_came_is_written_as_it_is(gender: str) -> None:
    from swoogo_async._api.converter import parse_speaker

    body = f'{{"id": 1, "first_name": "A", "gender": {gender}}}'.encode()
    speaker = parse_speaker(body, method="GET", url="u")
    assert json.loads(to_json(speaker))["gender"] == json.loads(gender)
    assert to_dict(speaker)["gender"] == speaker.gender
