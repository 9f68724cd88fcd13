"""Form validation, by the fake's own rules, and Yii2-style errors for the fake Swoogo server."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "CF_KEY",
    "FLAG_FIELDS",
    "NUMERIC",
    "SEARCHABLE",
    "SESSION_DEFAULTS",
    "SESSION_FORM",
    "ApiError",
    "err",
    "parse_custom_fields",
    "utc_now_str",
    "validate_form",
    "yii_error",
]

_STATUS_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    415: "Unsupported Media Type",
    422: "Data Validation Failed.",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def yii_error(status: int, message: str | None = None) -> dict[str, Any]:
    """A Yii2-style error body."""
    name = _STATUS_NAMES.get(status, "Error")
    return {"name": name, "message": message or name, "code": 0, "status": status}


class ApiError(Exception):
    """Raised by store operations; the server turns it into a JSON response."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def utc_now_str() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


# The fake's own rules, written from the API contract (Swoogo's create and update
# session pages), never read from the SDK's field table: a field the SDK classifies
# wrongly must be refused here, not accepted just as wrongly.
#: ``"id"`` and ``"count"``: integers (a count never below 0); ``"flag"``: ``0``/``1``;
#: ``"date"``: ``YYYY-MM-DD``; ``"time"``: ``HH:MM[:SS]``; ``"name"``: text, not blank;
#: ``"timezone"``: a TZ identifier; ``"text"``: any text; a tuple: one of its values.
SESSION_FORM: dict[str, str | tuple[str, ...]] = {
    "event_id": "id",
    "name": "name",
    "admin_short_name": "text",
    "badge_name": "text",
    "description": "text",
    "date": "date",
    "start_time": "time",
    "end_time": "time",
    "use_event_timezone": "flag",
    "timezone": "timezone",
    "capacity": "count",
    "notes": "text",
    "location_id": "id",
    "track_id": "id",
    "type_id": "id",
    "webinar_url": "text",
    "sold_out_message": "text",
    "secure_id": "text",
    "session_status": ("submitted", "approved", "rejected", "converted", "live"),
    "locked_when_saved": "flag",
    "selection_control": ("optional", "included"),
    "selected_by_default": "flag",
    "prevent_session_conflicts": "flag",
    "session_included": "flag",
}
#: What the server itself refuses a create without (the written docs add ``date``).
_REQUIRED = ("event_id", "name")
FLAG_FIELDS = tuple(name for name, rule in SESSION_FORM.items() if rule == "flag")
_INT_FIELDS = tuple(name for name, rule in SESSION_FORM.items() if rule in ("id", "count"))
_ENUMS = {name: rule for name, rule in SESSION_FORM.items() if isinstance(rule, tuple)}
_FORM_FIELDS = frozenset(SESSION_FORM)
SESSION_DEFAULTS: dict[str, Any] = {
    "id": 0,
    "event_id": 0,
    "name": "",
    "admin_short_name": "",
    "badge_name": "",
    "description": None,
    "date": None,
    "start_time": None,
    "end_time": None,
    "use_event_timezone": 1,
    "timezone": "America/New_York",
    "capacity": None,
    "notes": None,
    "location_id": None,
    "track_id": None,
    "type_id": None,
    "webinar_url": None,
    "sold_out_message": None,
    "secure_id": None,
    "session_status": "live",
    "locked_when_saved": 0,
    "selection_control": "optional",
    "selected_by_default": 0,
    "prevent_session_conflicts": 0,
    "session_included": 0,
    "custom_fields": {},
    "created_at": "",
    "updated_at": "",
}
NUMERIC = frozenset(("id", *_INT_FIELDS, *FLAG_FIELDS))
SEARCHABLE = frozenset(k for k in SESSION_DEFAULTS if k != "custom_fields")
CF_KEY = re.compile(r"c_\d+")
_CF_FORM_KEY = re.compile(r"custom_fields((?:\[[^\[\]]*\])+)")
_CF_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_TIME = re.compile(r"(\d{2}):(\d{2})(?::(\d{2}))?")


def _label(field: str) -> str:
    return " ".join("ID" if w == "id" else w.capitalize() for w in field.split("_"))


def err(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out = {k: _listify(v) for k, v in node.items()}
    if out and all(k.isdigit() for k in out) and sorted(map(int, out)) == list(range(len(out))):
        return [out[str(i)] for i in range(len(out))]
    return out


def parse_custom_fields(
    pairs: Iterable[tuple[str, str]], errors: list[dict[str, str]]
) -> dict[str, Any]:
    """Parse PHP-style ``custom_fields[c_1][0][id]=v`` pairs into nested dicts/lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        m = _CF_FORM_KEY.fullmatch(key)
        if m is None:
            errors.append(err("custom_fields", "Custom Fields must be an array."))
            continue
        segments = _CF_SEGMENT.findall(m.group(1))
        node = root
        for i, seg in enumerate(segments):
            if seg == "":  # PHP "[]" appends
                seg = str(sum(1 for k in node if k.isdigit()))
            if i == len(segments) - 1:
                node[seg] = value
            else:
                child = node.get(seg)
                if not isinstance(child, dict):
                    child = node[seg] = {}
                node = child
    for k in root:
        if not CF_KEY.fullmatch(k):
            errors.append(err("custom_fields", f'Unknown custom field "{k}".'))
    return {k: _listify(v) for k, v in root.items()}


def _validate_value(field: str, raw: str, errors: list[dict[str, str]]) -> tuple[bool, Any]:
    """Validate one submitted form value; returns (ok, canonical value)."""
    label = _label(field)
    if field in _INT_FIELDS:
        if raw == "" and field not in _REQUIRED:
            return True, None
        if raw == "":
            errors.append(err(field, f"{label} cannot be blank."))
            return False, None
        if not re.fullmatch(r"-?\d+", raw.strip()):
            errors.append(err(field, f"{label} must be an integer."))
            return False, None
        val = int(raw)
        if SESSION_FORM[field] == "count" and val < 0:
            errors.append(err(field, f"{label} must be no less than 0."))
            return False, None
        return True, val
    if field in FLAG_FIELDS:
        if raw not in ("0", "1"):
            errors.append(err(field, f'{label} must be either "1" or "0".'))
            return False, None
        return True, int(raw)
    if field in _ENUMS:
        if raw not in _ENUMS[field]:
            errors.append(err(field, f"{label} is invalid."))
            return False, None
        return True, raw
    if SESSION_FORM.get(field) == "date":
        if raw == "":
            return True, None
        try:
            datetime.strptime(raw, "%Y-%m-%d")
        except ValueError:
            errors.append(err(field, f"The format of {label} is invalid."))
            return False, None
        return True, raw
    if SESSION_FORM.get(field) == "time":
        if raw == "":
            return True, None
        m = _TIME.fullmatch(raw)
        if m is None or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3] or 0) > 59:
            errors.append(err(field, f"The format of {label} is invalid."))
            return False, None
        return True, f"{m[1]}:{m[2]}:{m[3] or '00'}"
    if SESSION_FORM.get(field) == "name" and not raw.strip():
        errors.append(err(field, f"{label} cannot be blank."))
        return False, None
    if SESSION_FORM.get(field) == "timezone":
        try:
            ZoneInfo(raw)
        except (ValueError, KeyError, OSError):
            errors.append(err(field, f"{label} is invalid."))
            return False, None
    return True, raw


def validate_form(
    pairs: Sequence[tuple[str, str]], current: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    errors: list[dict[str, str]] = []
    changes: dict[str, Any] = {}
    cf_pairs = [(k, v) for k, v in pairs if k.startswith("custom_fields")]
    for key, raw in pairs:
        if key in _FORM_FIELDS:
            ok, val = _validate_value(key, raw, errors)
            if ok:
                changes[key] = val
    if current is None:
        for req in _REQUIRED:
            if req not in changes and not any(e["field"] == req for e in errors):
                errors.append(err(req, f"{_label(req)} cannot be blank."))
    custom = parse_custom_fields(cf_pairs, errors) if cf_pairs else {}
    merged = {**(current or {}), **changes}
    start, end = merged.get("start_time"), merged.get("end_time")
    if start and end and end < start and ("start_time" in changes or "end_time" in changes):
        errors.append(err("end_time", 'End Time must be greater than or equal to "Start Time".'))
    if errors:
        raise ApiError(422, errors)
    if "selection_control" in changes and "session_included" not in changes:
        changes["session_included"] = int(changes["selection_control"] == "included")
    return changes, custom
