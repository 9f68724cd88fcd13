"""Webhook registrations, pure: the model, field checks, calls and response reading.

Paths: ``GET /webhooks`` (a paginated list) and ``POST /webhooks/create`` (form body)
are documented; ``PUT /webhooks/update/{id}`` and ``DELETE /webhooks/delete/{id}`` are
inferred from the API's naming pattern (``PUT /registrants/update/{id}``), as are the
responses of create and update (the webhook record) and the form encoding of
``headers`` and ``event_ids`` (PHP-style lists, like custom fields).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal
from urllib.parse import urlencode, urlsplit

import attrs

from .._checks import is_header_name, is_header_value
from .._exceptions import InvalidInputError, ResponseDecodeError
from .._http.transport import FORM, Call, check_id
from .._types import UNSET
from .converter import decode_json, structure_record
from .endpoints import LIST_COST, MAX_PER_PAGE, encode_form, update_call
from .models import Page
from .pages import parse_raw_page

__all__ = [
    "ContentType",
    "Webhook",
    "create_webhook_call",
    "delete_webhook_call",
    "list_webhooks_call",
    "parse_webhook",
    "parse_webhook_page",
    "update_webhook_call",
    "webhook_fields",
]

ContentType = Literal["json", "post"]
_OBJECT = re.compile(r"[a-z][a-z0-9_]*")
_FLAGS: Final = (
    "trigger_on_insert",
    "trigger_on_update",
    "trigger_on_delete",
    "public_user",
    "admin_user",
    "api_call",
    "all_fields",
    "use_default_fields",
    "enabled",
)


@attrs.frozen(kw_only=True)
class Webhook:
    """A webhook registration, as ``GET /webhooks`` returns it.

    ``headers`` (``[{"key": …, "value": …}]``) usually holds the receiver's secret: it
    is left out of the repr, as is ``extra`` (fields this SDK does not know).
    """

    id: int | None = None
    name: str | None = None
    url: str | None = None
    trigger_object: str | None = None
    group_id: int | None = None
    headers: list[dict[str, Any]] = attrs.field(factory=list, repr=False)
    trigger_on_insert: bool | None = None
    trigger_on_update: bool | None = None
    trigger_on_delete: bool | None = None
    public_user: bool | None = None
    admin_user: bool | None = None
    api_call: bool | None = None
    all_fields: bool | None = None
    use_default_fields: bool | None = None
    fields: Any = None
    post_field_data: Any = None
    any_event: bool | None = None
    event_ids: Any = None
    enabled: bool | None = None
    content_type: str | None = None
    notes: str | None = None
    custom_fields: Any = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(name, "must be non-empty text")
    return value


def _url(value: Any) -> str:
    parts = urlsplit(_text("url", value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError("url", f"must be an http(s) URL, got {value!r}")
    return str(value)


def _headers(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, Mapping):
        raise InvalidInputError("headers", "must map header names to values")
    out = []
    for key, text in value.items():
        if not is_header_name(key):
            raise InvalidInputError("headers", f"not a header name: {key!r}")
        if not is_header_value(text):
            # The value is usually a secret: never echo it.
            raise InvalidInputError(
                "headers", f"the value of {key} must be text without control characters"
            )
        out.append({"key": key, "value": text})
    return out


def webhook_fields(given: Mapping[str, Any]) -> dict[str, Any]:
    """Check webhook fields and return those to send (``UNSET`` ones are dropped).

    Raises:
        InvalidInputError: a field is unusable (the error names it).
    """
    out: dict[str, Any] = {}
    for name, value in given.items():
        if value is UNSET:
            continue
        if name == "name":
            out[name] = _text(name, value)
        elif name == "url":
            out[name] = _url(value)
        elif name == "trigger_object":
            if not isinstance(value, str) or not _OBJECT.fullmatch(value):
                raise InvalidInputError(
                    name, f"must be an object name like 'session', got {value!r}"
                )
            out[name] = value
        elif name == "content_type":
            if value not in ("json", "post"):
                raise InvalidInputError(name, "must be 'json' or 'post' (a form)")
            out[name] = value
        elif name == "headers":
            out[name] = _headers(value)
        elif name in _FLAGS:
            if type(value) is not bool:
                raise InvalidInputError(name, f"must be True or False, got {value!r}")
            out[name] = value
        elif name == "group_id":
            out[name] = check_id(name, value)
        elif name == "event_ids":
            if value is None:
                out["any_event"] = True
                continue
            if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
                raise InvalidInputError(name, "must be a list of event ids, or None for any")
            ids = [check_id(name, i) for i in value]
            if not ids:
                raise InvalidInputError(name, "must hold at least one event id (None: any event)")
            out.update(any_event=False, event_ids=ids)
        elif name == "notes":
            if value is not None and not isinstance(value, str):
                raise InvalidInputError(name, "must be text or None")
            out[name] = value
        elif name == "extra":
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                raise InvalidInputError(name, "must map field names to values")
            for key in value:
                if key in given and given[key] is not UNSET:
                    raise InvalidInputError(name, f"{key!r} is already given as an argument")
            out.update(value)
        else:  # pragma: no cover - the resource passes only the names above
            raise InvalidInputError(name, "unknown webhook field")
    return out


def parse_webhook(raw: bytes, *, method: str, url: str) -> Webhook:
    """Read a webhook body."""
    payload = decode_json(raw, method=method, url=url)
    try:
        return structure_record(Webhook, payload)
    except ValueError:
        raise ResponseDecodeError(
            status=200, method=method, url=url, body=payload, raw=raw
        ) from None


def parse_webhook_page(
    raw: bytes, *, method: str, url: str, page: int, per_page: int
) -> Page[Webhook]:
    """Read a list envelope of webhooks."""
    plain = parse_raw_page(raw, method=method, url=url, page=page, per_page=per_page)
    return Page(
        items=[structure_record(Webhook, item) for item in plain.items],
        total_count=plain.total_count,
        page_count=plain.page_count,
        current_page=plain.current_page,
        per_page=plain.per_page,
        has_next=plain.has_next,
    )


def list_webhooks_call(
    *, page: int = 1, per_page: int = 200, fields: Iterable[str] | None = None
) -> Call:
    """Build ``GET /webhooks`` for one page (documented; a list call: 10 credits)."""
    check_id("page", page)
    if type(per_page) is not int or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInputError("per_page", f"must be an integer from 1 to {MAX_PER_PAGE}")
    query: list[tuple[str, Any]] = [("page", page), ("per-page", per_page)]
    if fields is not None:
        names = [fields] if isinstance(fields, str) else list(fields)
        if not names or not all(isinstance(n, str) and n and "," not in n for n in names):
            raise InvalidInputError("fields", "expected field names")
        query.append(("fields", ",".join(names)))
    return Call("GET", "/webhooks", urlencode(query), cost=LIST_COST)


def create_webhook_call(fields: Mapping[str, Any]) -> Call:
    """Build ``POST /webhooks/create`` (documented) from checked fields; never retried."""
    body = encode_form(fields)
    return Call("POST", "/webhooks/create", body=body, content_type=FORM, idempotent=False)


def update_webhook_call(webhook_id: int, fields: Mapping[str, Any]) -> Call:
    """Build ``PUT /webhooks/update/{id}`` (inferred) from checked fields."""
    check_id("webhook_id", webhook_id)
    return update_call(f"/webhooks/update/{webhook_id}", fields, name="changes")


def delete_webhook_call(webhook_id: int) -> Call:
    """Build ``DELETE /webhooks/delete/{id}`` (inferred)."""
    check_id("webhook_id", webhook_id)
    return Call("DELETE", f"/webhooks/delete/{webhook_id}")
