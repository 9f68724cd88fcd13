"""The sessions' and speakers' ``Call`` builders: every argument checked, nothing sent."""

from __future__ import annotations

import contextlib
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
    "update_call",
    "update_session_call",
]

UPDATE_METHOD: Final = "PUT"  # inferred from sibling endpoints (PUT /packages/update/{id})
LIST_COST: Final = 10
MAX_PER_PAGE: Final = 1000
MAX_PER_PAGE_EXPANDED: Final = 200
#: What ``speakers.list`` asks for by default: every field of ``Speaker`` but the
#: expanded ``sessions`` (the API alone would send only the id and the two names).
DEFAULT_SPEAKER_FIELDS: Final = tuple(
    a.name for a in attrs.fields(Speaker) if a.name not in ("sessions", "extra")
)


def _listed(name: str, value: Any) -> list[Any]:
    if not isinstance(value, (str, bytes, bytearray, Mapping)):
        with contextlib.suppress(TypeError):
            return list(value)
    raise InvalidInputError(name, f"expected a list, got {type(value).__name__}")


def _names(name: str, value: str | Iterable[str] | None) -> str | None:
    """Join ``fields``/``expand``/``sort`` names with commas, checking each one."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else _listed(name, value)
    for item in items:
        if not isinstance(item, str) or not item.strip() or "," in item:
            raise InvalidInputError(name, f"expected field names, got {item!r}")
    if not items:
        raise InvalidInputError(name, "must name at least one field")
    return ",".join(item.strip() for item in items)


def _field_query(fields: Any, expand: Any) -> list[tuple[str, str]]:
    pairs = [("fields", _names("fields", fields)), ("expand", _names("expand", expand))]
    return [(name, joined) for name, joined in pairs if joined is not None]


def read_query(fields: Any, expand: Any) -> str:
    """Return the checked query of a single read's ``fields`` and ``expand``."""
    return urlencode(_field_query(fields, expand))


def _page_query(event_id: int, page: int, per_page: int, fields: Any, expand: Any) -> list[Any]:
    check_id("event_id", event_id)
    check_id("page", page)
    extra = _field_query(fields, expand)
    limit = MAX_PER_PAGE if expand is None else MAX_PER_PAGE_EXPANDED
    if type(per_page) is not int or not 1 <= per_page <= limit:
        raise InvalidInputError("per_page", f"must be an integer from 1 to {limit}")
    return [("event_id", event_id), ("page", page), ("per-page", per_page), *extra]


def list_speakers_call(
    event_id: int,
    *,
    page: int = 1,
    per_page: int = 200,
    fields: str | Iterable[str] | None = DEFAULT_SPEAKER_FIELDS,
    expand: str | Iterable[str] | None = None,
) -> Call:
    """Build ``GET /speakers?event_id=…`` (documented; ``event_id`` required) for one page."""
    query = _page_query(event_id, page, per_page, fields, expand)
    return Call("GET", "/speakers", urlencode(query), cost=LIST_COST)


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
    query = _page_query(event_id, page, per_page, fields, expand)
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
    """Build ``POST /sessions/create`` from already checked fields; never retried."""
    body = encode_form(fields)
    return Call("POST", "/sessions/create", body=body, content_type=FORM, idempotent=False)


def update_call(path: str, fields: Mapping[str, Any], *, name: str = "fields") -> Call:
    """Build an update of a record from checked fields: only those fields are sent."""
    if not fields:
        raise InvalidInputError(name, "update needs at least one field to change")
    return Call(UPDATE_METHOD, path, body=encode_form(fields), content_type=FORM)


def update_session_call(session_id: int, fields: Mapping[str, Any]) -> Call:
    """Build ``PUT /sessions/update/{id}`` from already checked fields."""
    check_id("session_id", session_id)
    return update_call(f"/sessions/update/{session_id}", fields)


def add_sessions_call(speaker_id: int, session_ids: Iterable[int]) -> Call:
    """Build ``POST /speakers/{id}/session.json`` with a JSON body."""
    check_id("speaker_id", speaker_id)
    listed = _listed("session_ids", session_ids)
    ids = list(dict.fromkeys(check_id("session_ids", i) for i in listed))
    if not ids:
        raise InvalidInputError("session_ids", "must hold at least one session id")
    body = json.dumps({"session_ids": ids}, separators=(",", ":")).encode()
    # Adding the same sessions twice leaves the speaker as it was: safe to retry.
    return Call("POST", f"/speakers/{speaker_id}/session.json", body=body, content_type=JSON)
