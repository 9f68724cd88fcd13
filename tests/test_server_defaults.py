"""Creates in doubt against a server that fills left-out fields its own way (review 2, N1).

A lookup claims a session only if it holds the server's defaults in every field the
caller left out; a session holding the submitted fields but other values elsewhere may
still be this create's, so it is neither claimed nor re-sent over: the outcome is unknown.
"""

from __future__ import annotations

import pytest

from swoogo_async import Response, SwoogoClient, UnknownOutcomeError
from swoogo_async.cli._resume import settle
from swoogo_async.cli._rows import SourceRow
from swoogo_async.testing import FakeSwoogo

from .test_create import ROW, ScriptedApi, _client, _json, _timeout


async def test_a_create_the_server_filled_differently_is_unknown_never_resent() -> None:
    api = ScriptedApi()

    def commit_with_the_servers_default_then_drop(form: dict[str, str]) -> Response | None:
        api.commit({**form, "use_event_timezone": "0"})
        raise _timeout(form)

    api.on_post = commit_with_the_servers_default_then_drop
    async with _client(api) as client:
        with pytest.raises(UnknownOutcomeError) as info:
            await client.sessions.create(**ROW)
    assert info.value.candidates == tuple(api.store)
    assert len(api.store) == 1
    assert api.posts == 1


async def test_a_late_copy_filled_differently_is_reported_after_a_resend() -> None:
    api = ScriptedApi()
    pending: list[dict[str, str]] = []

    def first_post_times_out_and_commits_later(form: dict[str, str]) -> Response | None:
        if api.posts == 1:
            pending.append({**form, "selection_control": "required"})
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
    assert api.posts == 2


async def test_resume_reports_a_row_found_only_loosely_as_unknown(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    stored = fake.add_session(event_id=5, name="Keynote", date="2026-05-01", use_event_timezone=0)
    row = SourceRow(2, 0, {"name": "Keynote", "date": "2026-05-01"})
    claimed: set[int] = set()
    settled = await settle(client, row, 5, "2000-01-01T00:00:00Z", claimed)
    assert settled is not None
    status, record = settled
    assert status == "unknown"
    assert record["error"]["candidates"] == [stored["id"]]
    assert claimed == set()
    assert len(fake.sessions) == 1
