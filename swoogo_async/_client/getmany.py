"""``sessions.get_many``: many sessions by id, 100 per list call, every id accounted for."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._api.endpoints import _listed, _names, list_sessions_call
from .._api.models import Session
from .._api.pages import SessionBatch, parse_page
from .._exceptions import InvalidInputError
from .._http.transport import check_id

if TYPE_CHECKING:
    from .client import SwoogoClient

__all__ = ["MAX_IDS_PER_CALL", "get_many"]

#: Documented: ``ids=`` takes at most 100 ids.
MAX_IDS_PER_CALL = 100


def _fields_with_id(fields: Any) -> str | None:
    joined = _names("fields", fields)
    if joined is None:
        return None
    names = joined.split(",")
    # Found sessions are matched to the ids asked for: the id must come back.
    return joined if "id" in names else ",".join(["id", *names])


async def get_many(
    client: SwoogoClient, ids: Iterable[int], *, event_id: int, fields: Any = None
) -> SessionBatch:
    """Fetch sessions by id with the ``ids=`` filter; see ``Sessions.get_many``."""
    check_id("event_id", event_id)
    if isinstance(ids, (str, bytes)):
        raise InvalidInputError("ids", "expected a list of session ids")
    wanted = list(dict.fromkeys(check_id("ids", i) for i in _listed("ids", ids)))
    joined = _fields_with_id(fields)
    found: dict[int, Session] = {}
    for start in range(0, len(wanted), MAX_IDS_PER_CALL):
        chunk = wanted[start : start + MAX_IDS_PER_CALL]
        call = list_sessions_call(event_id, per_page=len(chunk), fields=joined, ids=chunk)
        page = await client.send(call, functools.partial(parse_page, page=1, per_page=len(chunk)))
        asked = set(chunk)
        for session in page.items:
            # A server that ignored ids= sends others too: only those asked for count.
            if session.id in asked:
                found.setdefault(session.id, session)
    return SessionBatch(
        sessions=[found[i] for i in wanted if i in found],
        missing=tuple(i for i in wanted if i not in found),
    )
