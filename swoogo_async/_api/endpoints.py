"""Pure request building for each endpoint (no I/O here).

Every function turns arguments into a ``Call`` (method, path, query, body, credit
cost, idempotency). The client adds the base URL and the Bearer header, sends, and
hands the bytes to the ``Parse`` function it was given (``converter.parse_session``,
``pages.parse_page``, ...).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, TypedDict
from urllib.parse import urlencode

import attrs

from .._exceptions import InvalidInputError
from .._http.transport import FORM, JSON, Call, check_id
from .forms import encode_form
from .models import Speaker

__all__ = [
    "DEFAULT_SPEAKER_FIELDS",
    "LIST_COST",
    "MAX_PER_PAGE",
    "UPDATE_METHOD",
    "SessionListOptions",
    "add_sessions_call",
    "create_session_call",
    "list_sessions_call",
    "list_speakers_call",
    "read_query",
    "update_session_call",
]


#: The update method is inferred from sibling endpoints (``PUT /packages/update/{id}``).
UPDATE_METHOD: Final = "PUT"
LIST_COST: Final = 10
MAX_PER_PAGE: Final = 1000
MAX_PER_PAGE_EXPANDED: Final = 200
#: What ``speakers.list`` asks for by default: every field of ``Speaker`` but the
#: expanded ``sessions`` (the API alone would send only id and the two names).
DEFAULT_SPEAKER_FIELDS: Final = tuple(
    a.name for a in attrs.fields(Speaker) if a.name not in ("sessions", "extra")
)


def _listed(name: str, value: Any) -> list[Any]:
    """Return ``value`` as a list, or raise naming the argument if it is not iterable."""
    if isinstance(value, (bytes, bytearray, Mapping)):
        raise InvalidInputError(name, f"expected a list, got {type(value).__name__}")
    try:
        return list(value)
    except TypeError:
        raise InvalidInputError(name, f"expected a list, got {type(value).__name__}") from None


def _names(name: str, value: str | Iterable[str] | None) -> str | None:
    """Join ``fields``/``expand`` names with commas, checking each one."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else _listed(name, value)
    cleaned: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip() or "," in item:
            raise InvalidInputError(name, f"expected field names, got {item!r}")
        cleaned.append(item.strip())
    if not cleaned:
        raise InvalidInputError(name, "must name at least one field")
    return ",".join(cleaned)


def _field_query(fields: Any, expand: Any) -> list[tuple[str, str]]:
    """Return the ``fields`` and ``expand`` query pairs (checked) that are given."""
    query: list[tuple[str, str]] = []
    for name, value in (("fields", fields), ("expand", expand)):
        joined = _names(name, value)
        if joined is not None:
            query.append((name, joined))
    return query


def read_query(fields: Any, expand: Any) -> str:
    """Return the query of a single read's ``fields`` and ``expand``, each checked.

    A resource builds the ``GET /{resource}/{id}`` call itself and asks for this only
    when one of them is given.
    """
    return urlencode(_field_query(fields, expand))


def _per_page(per_page: int, query: list[tuple[str, str]]) -> tuple[str, str]:
    limit = MAX_PER_PAGE_EXPANDED if any(k == "expand" for k, _ in query) else MAX_PER_PAGE
    if type(per_page) is not int or not 1 <= per_page <= limit:
        raise InvalidInputError("per_page", f"must be an integer from 1 to {limit}")
    return ("per-page", str(per_page))


def list_speakers_call(
    event_id: int,
    *,
    page: int = 1,
    per_page: int = 200,
    fields: str | Iterable[str] | None = DEFAULT_SPEAKER_FIELDS,
    expand: str | Iterable[str] | None = None,
) -> Call:
    """Build ``GET /speakers?event_id=…`` (documented; ``event_id`` required) for one page."""
    check_id("event_id", event_id)
    check_id("page", page)
    extra = _field_query(fields, expand)
    query = [("event_id", str(event_id)), ("page", str(page)), _per_page(per_page, extra)]
    return Call("GET", "/speakers", urlencode(query + extra), cost=LIST_COST)


class SessionListOptions(TypedDict, total=False):
    """The options of a sessions listing (see ``list_sessions_call``, ``Sessions.list``)."""

    fields: str | Iterable[str] | None
    expand: str | Iterable[str] | None
    search: str | Sequence[str] | None
    search_condition: str | None
    sort: str | Iterable[str] | None
    ids: Iterable[int] | None
    per_page: int


def list_sessions_call(
    event_id: int,
    *,
    page: int = 1,
    per_page: int = 200,
    fields: str | Iterable[str] | None = None,
    expand: str | Iterable[str] | None = None,
    search: str | Sequence[str] | None = None,
    search_condition: str | None = None,
    sort: str | Iterable[str] | None = None,
    ids: Iterable[int] | None = None,
) -> Call:
    """Build ``GET /sessions?event_id=…`` for one page."""
    check_id("event_id", event_id)
    check_id("page", page)
    extra = _field_query(fields, expand)
    query = [("event_id", str(event_id)), ("page", str(page)), _per_page(per_page, extra), *extra]
    if search is not None:
        expressions = [search] if isinstance(search, str) else _listed("search", search)
        if not expressions or not all(isinstance(e, str) and e for e in expressions):
            raise InvalidInputError("search", "expected search expressions like 'name=Keynote'")
        query.append(("search", "&".join(expressions)))
    if search_condition is not None:
        if search_condition not in ("and", "or"):
            raise InvalidInputError("search_condition", "must be 'and' or 'or'")
        query.append(("searchCondition", search_condition))
    joined = _names("sort", sort)
    if joined is not None:
        query.append(("sort", joined))
    if ids is not None:
        id_list = [check_id("ids", i) for i in _listed("ids", ids)]
        if not 1 <= len(id_list) <= 100:
            raise InvalidInputError("ids", "must hold from 1 to 100 ids")
        query.append(("ids", ",".join(map(str, id_list))))
    return Call("GET", "/sessions", urlencode(query), cost=LIST_COST)


def create_session_call(fields: Mapping[str, Any]) -> Call:
    """Build ``POST /sessions/create`` from already checked fields."""
    return Call(
        "POST", "/sessions/create", body=encode_form(fields), content_type=FORM, idempotent=False
    )


def update_session_call(session_id: int, fields: Mapping[str, Any]) -> Call:
    """Build the update call from already checked fields; only those fields are sent."""
    check_id("session_id", session_id)
    if not fields:
        raise InvalidInputError("fields", "update needs at least one field to change")
    return Call(
        UPDATE_METHOD,
        f"/sessions/update/{session_id}",
        body=encode_form(fields),
        content_type=FORM,
    )


def add_sessions_call(speaker_id: int, session_ids: Iterable[int]) -> Call:
    """Build ``POST /speakers/{id}/session.json`` with a JSON body."""
    check_id("speaker_id", speaker_id)
    if isinstance(session_ids, str):
        raise InvalidInputError("session_ids", "expected a list of session ids")
    ids = list(
        dict.fromkeys(check_id("session_ids", i) for i in _listed("session_ids", session_ids))
    )
    if not ids:
        raise InvalidInputError("session_ids", "must hold at least one session id")
    body = json.dumps({"session_ids": ids}, separators=(",", ":")).encode()
    # Adding the same sessions twice leaves the speaker as it was: safe to retry.
    return Call("POST", f"/speakers/{speaker_id}/session.json", body=body, content_type=JSON)
