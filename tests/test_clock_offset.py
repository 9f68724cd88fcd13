"""The lookup's window when the server's ``Date`` cannot be trusted (review 2, N2/N3).

An offset is relied on only when read from a valid ``Date`` within
``MAX_TRUSTED_OFFSET``; otherwise the window is measured on the local clock with
``UNTRUSTED_CLOCK_MARGIN``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from typing import Any

from swoogo_async import MockTransport, Request, Response, RetryPolicy, SwoogoClient
from swoogo_async._http.auth import MAX_TRUSTED_OFFSET, trusted_offset

from .test_create import BASE, ROW, ScriptedApi, _json, _timeout

STAMP = "%Y-%m-%d %H:%M:%S"


def _client(api: ScriptedApi, date_offset: float | None) -> SwoogoClient:
    """Return a client whose every answer carries a ``Date`` ``date_offset`` s off (or none)."""

    def dated(request: Request) -> Response:
        response = api(request)
        if date_offset is None:
            return response
        date = email.utils.formatdate(time.time() + date_offset, usegmt=True)
        return Response(response.status, {**response.headers, "Date": date}, response.body)

    retry = RetryPolicy(max_attempts=5, backoff_base=0.001, deadline=60)
    transport = MockTransport(dated)
    return SwoogoClient(
        "k", "s", base_url=BASE, transport=transport, retry=retry, reconcile_delay=0
    )


def _ago(seconds: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=seconds)).strftime(STAMP)


def test_an_offset_is_trusted_only_when_read_and_within_the_bound() -> None:
    assert trusted_offset(None) is None
    assert trusted_offset(-MAX_TRUSTED_OFFSET) == -MAX_TRUSTED_OFFSET
    assert trusted_offset(2 * 86400.0) is None


async def test_no_date_and_a_client_clock_ahead_finds_the_create_once() -> None:
    api = ScriptedApi()

    def commit_on_a_clock_5s_behind_then_drop(form: dict[str, str]) -> Response | None:
        record: dict[str, Any] = api.commit(form)
        record["created_at"] = _ago(5)
        raise _timeout(form)

    api.on_post = commit_on_a_clock_5s_behind_then_drop
    async with _client(api, date_offset=None) as client:
        session = await client.sessions.create(**ROW)
    assert list(api.store) == [session.id]
    assert api.posts == 1


async def test_a_date_two_days_behind_never_claims_an_older_identical_session() -> None:
    api = ScriptedApi()
    older = api.commit({"event_id": "5", "name": "Keynote", "date": "2026-05-01"})
    older["created_at"] = _ago(86400)

    def first_post_fails_unacted(form: dict[str, str]) -> Response | None:
        return _json({"message": "unavailable"}, 503) if api.posts == 1 else None

    api.on_post = first_post_fails_unacted
    async with _client(api, date_offset=-2 * 86400) as client:
        session = await client.sessions.create(**ROW)
    assert session.id != older["id"]
    assert sorted(api.store) == sorted([older["id"], session.id])
