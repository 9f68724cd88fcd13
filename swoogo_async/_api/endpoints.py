"""Every ``Call`` builder but the webhooks' (sessions, speakers, the escape hatch
``client.request``) and the form encoding they send: arguments checked, nothing sent."""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import json
import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, TypedDict
from urllib.parse import quote_plus, urlencode

import attrs

from .._exceptions import InvalidInputError
from .._http.transport import FORM, JSON, Call, check_id
from .converter import decode_json
from .models import Speaker

__all__ = [
    "DEFAULT_SPEAKER_FIELDS",
    "LIST_COST",
    "MAX_IDS",
    "MAX_PER_PAGE",
    "Params",
    "SessionListOptions",
    "add_sessions_call",
    "as_list",
    "call_cost",
    "create_session_call",
    "encode_form",
    "encode_params",
    "flatten_form",
    "form_value",
    "join_names",
    "list_sessions_call",
    "list_speakers_call",
    "page_calls",
    "parse_json",
    "parse_json_at",
    "raw_item_key",
    "read_query",
    "request_call",
    "update_call",
    "update_session_call",
]

UPDATE_METHOD: Final = "PUT"  # inferred from sibling endpoints (PUT /packages/update/{id})
LIST_COST: Final = 10
MAX_PER_PAGE: Final = 1000
MAX_PER_PAGE_EXPANDED: Final = 200
MAX_IDS: Final = 100  # documented: what ``ids=`` takes at most
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
# Repeating one leaves the server as one request would: retried on any transient failure.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE"})
Params = Mapping[str, Any]
#: ``speakers.list``'s default: all but ``sessions`` (alone, the API sends the id and names).
DEFAULT_SPEAKER_FIELDS: Final = tuple(
    a.name for a in attrs.fields(Speaker) if a.name not in ("sessions", "extra")
)


def as_list(name: str, value: Any) -> list[Any]:
    """Return an iterable argument (not text, not a mapping) as a list, or raise naming it."""
    if not isinstance(value, (str, bytes, bytearray, Mapping)):
        with contextlib.suppress(TypeError):
            return list(value)
    raise InvalidInputError(name, f"expected a list, got {type(value).__name__}")


def join_names(name: str, value: str | Iterable[str] | None) -> str | None:
    """Join ``fields``/``expand``/``sort`` names with commas, checking each one."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else as_list(name, value)
    for item in items:
        if not isinstance(item, str) or not item.strip() or "," in item:
            raise InvalidInputError(name, f"expected field names, got {item!r}")
    if not items:
        raise InvalidInputError(name, "must name at least one field")
    return ",".join(item.strip() for item in items)


def _query(pairs: Iterable[tuple[str, Any]]) -> str:
    return urlencode([(name, value) for name, value in pairs if value is not None])


def read_query(fields: Any, expand: Any) -> str:
    """Return the checked query of a single read's ``fields`` and ``expand``."""
    fields, expand = join_names("fields", fields), join_names("expand", expand)
    return _query([("fields", fields), ("expand", expand)])


def _page_query(event_id: int, page: int, per_page: int, fields: Any, expand: Any) -> list[Any]:
    check_id("event_id", event_id)
    check_id("page", page)
    names = [("fields", join_names("fields", fields)), ("expand", join_names("expand", expand))]
    limit = MAX_PER_PAGE if expand is None else MAX_PER_PAGE_EXPANDED
    if type(per_page) is not int or not 1 <= per_page <= limit:
        raise InvalidInputError("per_page", f"must be an integer from 1 to {limit}")
    return [("event_id", event_id), ("page", page), ("per-page", per_page), *names]


def list_speakers_call(
    event_id: int, *, page: int, per_page: int, fields: Any, expand: Any
) -> Call:
    """Build ``GET /speakers?event_id=…`` (documented; ``event_id`` required) for one page."""
    query = _page_query(event_id, page, per_page, fields, expand)
    return Call("GET", "/speakers", _query(query), cost=LIST_COST)


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
        expressions = [search] if isinstance(search, str) else as_list("search", search)
        if not expressions or not all(isinstance(e, str) and e for e in expressions):
            raise InvalidInputError("search", "expected search expressions like 'name=Keynote'")
        query.append(("search", "&".join(expressions)))
    if search_condition not in (None, "and", "or"):
        raise InvalidInputError("search_condition", "must be 'and' or 'or'")
    query += [("searchCondition", search_condition), ("sort", join_names("sort", sort))]
    if ids is not None:
        id_list = [check_id("ids", i) for i in as_list("ids", ids)]
        if not 1 <= len(id_list) <= MAX_IDS:
            raise InvalidInputError("ids", f"must hold from 1 to {MAX_IDS} ids")
        query.append(("ids", ",".join(map(str, id_list))))
    return Call("GET", "/sessions", _query(query), cost=LIST_COST)


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
    return update_call(f"/sessions/update/{check_id('session_id', session_id)}", fields)


def add_sessions_call(speaker_id: int, session_ids: Iterable[int]) -> Call:
    """Build ``POST /speakers/{id}/session.json`` with a JSON body."""
    check_id("speaker_id", speaker_id)
    listed = as_list("session_ids", session_ids)
    ids = list(dict.fromkeys(check_id("session_ids", i) for i in listed))
    if not ids:
        raise InvalidInputError("session_ids", "must hold at least one session id")
    body = json.dumps({"session_ids": ids}, separators=(",", ":")).encode()
    # Adding the same sessions twice leaves the speaker as it was: safe to retry.
    return Call("POST", f"/speakers/{speaker_id}/session.json", body=body, content_type=JSON)


def form_value(value: Any) -> str:
    """Return the text a scalar is sent as: flags ``0``/``1``, ``HH:MM:SS``, ``None`` empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(" ", "seconds")
    if isinstance(value, dt.time):
        return value.replace(tzinfo=None).isoformat("seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def flatten_form(value: Mapping[str, Any], prefix: Any = None) -> Iterator[tuple[str, str]]:
    """Yield a form's ``(key, text)`` pairs, nested PHP-style (``a[b][0][c]``)."""
    if isinstance(value, Mapping):
        items: Any = value.items()
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        items = enumerate(value)
    else:
        yield prefix, form_value(value)
        return
    if not value and prefix is not None:
        yield prefix, ""  # an empty container is sent as an empty value: it clears
    for key, item in items:
        yield from flatten_form(item, key if prefix is None else f"{prefix}[{key}]")


def encode_form(fields: Mapping[str, Any]) -> bytes:
    """Encode fields as ``application/x-www-form-urlencoded`` bytes."""
    pairs = flatten_form(fields)
    return "&".join(f"{quote_plus(k, safe='[]')}={quote_plus(v)}" for k, v in pairs).encode()


# The escape hatch (``client.request``, ``client.paginate``): a checked ``Call`` for any path.
def _mapping(name: str, value: Any) -> Mapping[str, Any]:
    if value is not None and not isinstance(value, Mapping):
        raise InvalidInputError(name, f"expected a mapping, got {type(value).__name__}")
    return value or {}


def _param_value(name: str, value: Any, *, listed: bool = True) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"  # the API's flags
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError(f"params[{name!r}]", f"must be a finite number, got {value!r}")
    if isinstance(value, (str, int, float)):
        return str(value)
    if listed and isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        # Swoogo's lists are comma-separated, one level: a nested list cannot be sent as written.
        return ",".join(_param_value(name, item, listed=False) for item in value)
    nested = "" if listed else "a nested "
    message = f"expected text, a number or a flat list of them, got {nested}{type(value).__name__}"
    raise InvalidInputError(f"params[{name!r}]", message)


def encode_params(params: Params | None) -> str:
    """Return a query string: flat lists comma-joined, flags 1/0, ``None`` values left out."""
    pairs: list[tuple[str, str]] = []
    for name, value in _mapping("params", params).items():
        if not isinstance(name, str) or not name:
            raise InvalidInputError("params", f"invalid parameter name {name!r}")
        if value is not None:
            pairs.append((name, _param_value(name, value)))
    return urlencode(pairs)


def _check_path(path: Any) -> str:
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        raise InvalidInputError("path", f"expected a path such as '/speakers', got {path!r}")
    if any(c in path for c in "?#") or any(c <= " " or c == "\x7f" for c in path):
        raise InvalidInputError("path", "must be a bare path: query in params=, no spaces/controls")
    if any(part in (".", "..") for part in path.split("/")):
        raise InvalidInputError("path", "must not hold '.' or '..' segments")
    return path.rstrip("/") or "/"


def call_cost(method: str, path: str) -> int:
    """Return the documented credit cost: 10 for a ``GET`` on a collection, else 1."""
    last = path.rsplit("/", 1)[-1]
    listing = method == "GET" and not last.isdigit() and not last.endswith(".json")
    return LIST_COST if listing else 1


def request_call(
    method: str,
    path: str,
    *,
    params: Params | None = None,
    data: Mapping[str, Any] | None = None,
    json_body: Any = None,
    cost: int | None = None,
    idempotent: bool | None = None,
) -> Call:
    """Build a ``Call`` for any endpoint, checking every argument before anything is sent."""
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise InvalidInputError("method", f"expected one of {sorted(METHODS)}, got {method!r}")
    method, path, query = method.upper(), _check_path(path), encode_params(params)
    body, content_type = None, None
    if data is not None and json_body is not None:
        raise InvalidInputError("data", "give data= (a form) or json=, not both")
    if (data is not None or json_body is not None) and method in ("GET", "HEAD"):
        raise InvalidInputError("data" if data is not None else "json", f"{method} sends no body")
    if data is not None:
        form = _mapping("data", data)
        try:
            body, content_type = encode_form(form), FORM
        except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
            raise InvalidInputError("data", f"cannot be sent as a form: {exc}"[:300]) from None
    elif json_body is not None:
        try:
            body = json.dumps(json_body, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError, RecursionError) as exc:  # RecursionError: too deep
            raise InvalidInputError("json", f"cannot be sent as JSON: {exc}"[:300]) from None
        content_type = JSON
    # At least 1: 0 is the token request's own cost, which skips the token.
    cost = call_cost(method, path) if cost is None else check_id("cost", cost)
    if idempotent is None:
        idempotent = method in IDEMPOTENT_METHODS
    elif not isinstance(idempotent, bool):
        # A truthy "no" would let an ambiguous POST be sent again.
        raise InvalidInputError("idempotent", f"must be True, False or None, got {idempotent!r}")
    return Call(method, path, query, body, content_type, cost, idempotent)


def parse_json(raw: bytes, *, method: str, url: str) -> Any:
    """Return the decoded JSON body; an empty body (a 204, a HEAD) gives None."""
    return decode_json(raw, method=method, url=url) if raw.strip() else None


def raw_item_key(item: dict[str, Any]) -> Hashable | None:
    """An item's identity: its ``id``, or (no id) its whole content."""
    ident = item.get("id")
    if isinstance(ident, (int, str)) and not isinstance(ident, bool):
        return ("id", str(ident))
    with contextlib.suppress(TypeError, ValueError):
        return ("content", json.dumps(item, sort_keys=True, default=str))
    return None


def page_calls(
    path: str, params: Params | None, *, per_page: int, max_pages: int | None, cost: int | None
) -> Callable[[int], Call]:
    """Check the arguments of ``paginate``; return the call of its page ``n``."""
    fixed = dict(_mapping("params", params))
    if any(str(k).lower() in ("page", "per-page") for k in fixed):
        raise InvalidInputError("params", "page and per-page are set by the walk (per_page=)")
    check_id("per_page", per_page)
    if max_pages is not None:
        check_id("max_pages", max_pages)
    request_call("GET", path, params=fixed, cost=cost)  # check before any request
    return lambda number: request_call(
        "GET", path, params={**fixed, "page": number, "per-page": per_page}, cost=cost
    )


def parse_json_at(raw: bytes, *, method: str, url: str) -> tuple[bytes, Any, str, str]:
    """Return the body, its decoded JSON, and where it came from."""
    return raw, decode_json(raw, method=method, url=url), method, url
