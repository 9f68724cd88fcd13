"""The escape hatch (``client.request``, ``client.paginate``): a checked ``Call`` for any path."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlencode

from .._exceptions import InvalidInputError
from .._http.transport import FORM, JSON, Call, check_id
from .converter import decode_json
from .endpoints import LIST_COST
from .forms import encode_form

__all__ = [
    "Params",
    "call_cost",
    "encode_params",
    "page_calls",
    "parse_json",
    "parse_json_at",
    "raw_item_key",
    "request_call",
]

METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
# Repeating one leaves the server as one request would: retried on any transient failure.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE"})

Params = Mapping[str, Any]


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
    if cost is None:
        cost = call_cost(method, path)
    elif isinstance(cost, bool) or not isinstance(cost, int) or cost < 1:
        # 0 is the token request's own cost: it would skip the token.
        raise InvalidInputError("cost", f"must be a whole number of credits >= 1, got {cost!r}")
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
    try:
        return ("content", json.dumps(item, sort_keys=True, default=str))
    except (TypeError, ValueError):
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
