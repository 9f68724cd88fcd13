"""Creates in doubt against a server that fills left-out fields its own way (review 2, N1).

A lookup claims a session only if it holds the server's defaults in every field the
caller left out; a session holding the submitted fields but other values elsewhere may
still be this create's, so it is neither claimed nor re-sent over: the outcome is unknown.
"""

from __future__ import annotations

import pytest

from swoogo_async import Response, UnknownOutcomeError

from .test_create import ROW, ScriptedApi, _client, _timeout


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
