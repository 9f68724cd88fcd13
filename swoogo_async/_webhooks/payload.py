"""Reading a webhook delivery (no I/O here): body to payload, payload to ``WebhookEvent``.

Swoogo publishes the trigger objects and the two body formats (JSON, or a PHP-style
form), not the payload's layout. What is read here, and why:

- the object: a body wrapped in its trigger object's name (``{"session": {...}}``,
  ``session[name]=…``), or a flat record whose type a header, a ``trigger_object``
  key or the receiver's ``object_type`` names;
- the action: an ``action`` key of the body, else the action header (a webhook's own
  custom header can carry it: one webhook per action);
- the delivery's identity: no delivery id is documented, so a hash of the object type,
  the action, the id and the whole payload (canonical JSON). A retry carries the same
  body, so it hashes the same; two edits differ at least in ``updated_at``.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Final, Literal, cast
from urllib.parse import parse_qsl

import attrs

from .._api.converter import converter, structure_session
from .._api.models import Session, Speaker, parse_int
from .._json import loads

__all__ = [
    "ACTIONS",
    "TRIGGER_OBJECTS",
    "Action",
    "BadDelivery",
    "WebhookEvent",
    "decode_body",
    "delivery_key",
    "parse_delivery",
    "parse_php_form",
]

Action = Literal["insert", "update", "delete"]
ACTIONS: Final[dict[str, Action]] = {
    "insert": "insert",
    "inserted": "insert",
    "create": "insert",
    "created": "insert",
    "update": "update",
    "updated": "update",
    "delete": "delete",
    "deleted": "delete",
}
#: The documented trigger objects; a wrapper key among them names the object type.
TRIGGER_OBJECTS: Final = frozenset(
    {
        "event",
        "contact",
        "registrant",
        "speaker",
        "sponsor",
        "session",
        "session_attendance",
        "registrant_line_item",
    }
)
#: Body keys that describe the delivery rather than the object.
_META_KEYS: Final = frozenset({"action", "trigger_object"})
#: PHP's own default (``max_input_vars``): more fields than this is not a webhook body.
MAX_FORM_FIELDS: Final = 1000
MAX_FORM_DEPTH: Final = 16
_FORM: Final = "application/x-www-form-urlencoded"
_NAME = re.compile(r"([^\[]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class BadDelivery(Exception):
    """A delivery that cannot be used: ``status`` is the answer, ``reason`` the log line."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason


@attrs.frozen(kw_only=True)
class WebhookEvent:
    """One webhook delivery, read.

    Args:
        action: ``"insert"``, ``"update"`` or ``"delete"``; ``None`` when the delivery
            does not say (see docs/webhooks.md: a custom header can).
        object_type: The trigger object (``"session"``, ``"speaker"``, …), or ``None``.
        id: The object's id, when the payload has a usable one.
        event_id: The Swoogo event the object belongs to, when the payload says.
        data: A ``Session`` or ``Speaker`` for those objects (unknown fields in
            ``extra``), the record as a dict for any other.
        raw: The whole decoded payload, as it came.
        key: The delivery's dedupe key (a retry of it has the same key).
    """

    action: Action | None
    object_type: str | None
    id: int | None
    event_id: int | None
    data: Session | Speaker | dict[str, Any]
    raw: dict[str, Any] = attrs.field(repr=False)
    key: str


def parse_php_form(body: bytes) -> dict[str, Any]:
    """Decode a form body the way PHP does: ``a[b][0]=x`` nests, ``a[]=x`` appends.

    Raises:
        BadDelivery: not UTF-8, too many fields, or nested too deeply (400).
    """
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict"
        )
    except UnicodeDecodeError:
        raise BadDelivery(400, "form body is not UTF-8") from None
    except ValueError:
        raise BadDelivery(400, f"form body has more than {MAX_FORM_FIELDS} fields") from None
    root: dict[str, Any] = {}
    for name, value in pairs:
        match = _NAME.match(name)
        if match is None:
            root[name] = value
            continue
        path = [match[1], *_SEGMENT.findall(match[2])]
        if len(path) > MAX_FORM_DEPTH:
            raise BadDelivery(400, f"form field nested deeper than {MAX_FORM_DEPTH} levels")
        node = root
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                # A scalar and a nested value under one name: the later one wins, as in PHP.
                child = node[key] = {}
            node = child
        last = path[-1]
        if last == "":  # ``a[]=x`` appends
            last = str(sum(1 for k in node if k.isdigit()))
        node[last] = value
    return cast("dict[str, Any]", _lists(root))


def _lists(value: Any) -> Any:
    """Turn every dict keyed ``"0"`` .. ``"n-1"`` into a list, as PHP arrays read in JSON."""
    if not isinstance(value, dict):
        return value
    items = {k: _lists(v) for k, v in value.items()}
    if items and all(k == str(i) for i, k in enumerate(items)):
        return list(items.values())
    return items


def decode_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """Decode a JSON or form body into a dict; with no content type, go by its first byte.

    Raises:
        BadDelivery: malformed (400), not an object (400) or another content type (415).
    """
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in ("", "application/octet-stream"):  # not said: a sender's default
        kind = "application/json" if body.lstrip()[:1] in (b"{", b"[") else _FORM
    if kind == "application/json" or kind.endswith("+json"):
        try:
            payload = loads(body)
        except ValueError:
            raise BadDelivery(400, "malformed JSON body") from None
    elif kind == _FORM:
        payload = parse_php_form(body)
    else:
        raise BadDelivery(415, f"unsupported content type {kind!r}")
    if not isinstance(payload, dict):
        raise BadDelivery(400, f"body is a JSON {type(payload).__name__}, not an object")
    return payload


def _object(payload: dict[str, Any], hinted: str | None) -> tuple[str | None, dict[str, Any]]:
    """Return the object type and its record."""
    named = payload.get("trigger_object")
    kind = hinted or (named if isinstance(named, str) and named else None)
    if kind is not None:
        record = payload.get(kind)
        return kind, record if isinstance(record, dict) else payload
    wrappers = [k for k, v in payload.items() if k in TRIGGER_OBJECTS and isinstance(v, dict)]
    if len(wrappers) == 1 and set(payload) - _META_KEYS == {wrappers[0]}:
        return wrappers[0], payload[wrappers[0]]
    return None, payload


def _positive(value: Any) -> int | None:
    try:
        number = parse_int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number is not None and number > 0 else None


def delivery_key(
    object_type: str | None, action: str | None, ident: int | None, payload: dict[str, Any]
) -> str:
    """Hash what identifies a delivery; a retry of it (same body) gives the same key."""
    canonical = json.dumps(
        [object_type, action, ident, payload],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_delivery(
    payload: dict[str, Any],
    *,
    object_type: str | None = None,
    action: str | None = None,
) -> WebhookEvent:
    """Turn a decoded payload into a ``WebhookEvent``.

    ``object_type`` and ``action`` are hints from headers or configuration; a body's
    ``action`` key wins over the action hint.

    Raises:
        BadDelivery: the record cannot be read as its type (422).
    """
    kind, record = _object(payload, object_type)
    said = payload.get("action")
    if not isinstance(said, str):
        said = action
    normal = ACTIONS.get(said.strip().lower()) if isinstance(said, str) else None
    ident = _positive(record.get("id"))
    data: Session | Speaker | dict[str, Any]
    try:
        if kind == "session":
            data = structure_session(record)
        elif kind == "speaker":
            data = converter().structure(record, Speaker)
        else:
            data = dict(record)
    except (ValueError, TypeError):
        raise BadDelivery(422, f"the {kind} record cannot be read") from None
    try:
        key = delivery_key(kind, normal, ident, payload)
    except UnicodeEncodeError:  # a lone surrogate (``"\ud800"``): no text, no key
        raise BadDelivery(400, "body holds a string that is not Unicode text") from None
    return WebhookEvent(
        action=normal,
        object_type=kind,
        id=ident,
        event_id=_positive(record.get("event_id")),
        data=data,
        raw=payload,
        key=key,
    )
