"""The writable session fields: their kinds, and the checks made before anything is sent.

One table serves ``create``, ``update``, the bulk rows (where values often arrive as
CSV text) and the command line, so all of them accept and reject the same things.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

from ._converter import CUSTOM_FIELD_RE, parse_bool, parse_date, parse_int, parse_time
from ._exceptions import InvalidInputError
from ._models import SelectionControl, SessionStatus
from ._types import UNSET, UnsetType

__all__ = [
    "REQUIRED_ON_CREATE",
    "WRITABLE_FIELDS",
    "SessionCreateFields",
    "SessionUpdateFields",
    "check_id",
    "prepare_session_fields",
]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError("must be a string")


def _nonblank(value: Any) -> str:
    text = value if type(value) is str else _text(value)
    if not text.strip():
        raise ValueError("must not be blank")
    return text


def _int(value: Any) -> int:
    try:
        parsed = parse_int(value)
    except ValueError:
        raise ValueError("must be an integer") from None
    if parsed is None:
        raise ValueError("must be an integer")
    return parsed


def _positive_int(value: Any) -> int:
    if type(value) is int and value > 0:
        return value
    parsed = _int(value)
    if parsed <= 0:
        raise ValueError("must be a positive integer")
    return parsed


def _capacity(value: Any) -> int:
    if type(value) is int and value >= 0:
        return value
    parsed = _int(value)
    if parsed < 0:
        raise ValueError("must not be negative")
    return parsed


def _flag(value: Any) -> bool:
    parsed = parse_bool(value.strip().lower() if isinstance(value, str) else value)
    if parsed is None:
        raise ValueError("must be a flag (true/false or 0/1)")
    return parsed


def _date(value: Any) -> dt.date:
    if type(value) is str:
        known = _DATES_READ.get(value)
        if known is not None:  # a bulk import repeats a few days on every row
            return known
        parsed = _date_text(value)
        if len(_DATES_READ) >= _TIMES_READ_MAX:  # bounded: callers send any text
            _DATES_READ.clear()
        _DATES_READ[value] = parsed
        return parsed
    return _date_text(value)


def _date_text(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValueError("must be a date, not a datetime")
    parsed = parse_date(value.strip() if isinstance(value, str) else value)
    if parsed is None:
        raise ValueError("must be a date (YYYY-MM-DD)")
    return parsed


_HH_MM_SS = re.compile(r"\d\d:\d\d(?::\d\d)?\Z")
_TIMES_READ: dict[str, dt.time] = {}
_DATES_READ: dict[str, dt.date] = {}
_TIMES_READ_MAX = 1024


def _time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        if value.tzinfo is not None:
            raise ValueError("must be a local time without a time zone")
        return value.replace(microsecond=0)
    if isinstance(value, str):
        known = _TIMES_READ.get(value)
        if known is not None:  # a bulk import repeats a few slot times on every row
            return known
        text = value.strip()
        if _HH_MM_SS.match(text):
            # The common shape: one C call instead of strptime's regex machinery.
            try:
                parsed = dt.time.fromisoformat(text)
            except ValueError:
                pass
            else:
                if len(_TIMES_READ) >= _TIMES_READ_MAX:  # bounded: callers send any text
                    _TIMES_READ.clear()
                _TIMES_READ[value] = parsed
                return parsed
        for fmt in ("%H:%M:%S", "%H:%M"):
            try:
                return dt.datetime.strptime(text, fmt).time()
            except ValueError:
                continue
        raise ValueError("must be a time (HH:MM:SS)")
    read = parse_time(value)
    if read is None:
        raise ValueError("must be a time (HH:MM:SS)")
    return _time(read)


def _open_enum(cls: type[SessionStatus] | type[SelectionControl]) -> Callable[[Any], enum.Enum]:
    allowed = ", ".join(m.value for m in cls)

    def check(value: Any) -> enum.Enum:
        if isinstance(value, cls):
            return value
        if isinstance(value, str) and value.strip().lower() in cls._value2member_map_:
            member = cls(value.strip().lower())
            if member.known:
                return member
        raise ValueError(f"must be one of {allowed}")

    return check


def _custom_fields(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("must be a mapping of c_<digits> names to values")
    for key in value:
        if not isinstance(key, str) or not CUSTOM_FIELD_RE.match(key):
            raise ValueError(f"custom field names look like c_1234, got {key!r}")
    return dict(value)


WRITABLE_FIELDS: dict[str, Callable[[Any], Any]] = {
    "event_id": _positive_int,
    "name": _nonblank,
    "admin_short_name": _text,
    "badge_name": _text,
    "description": _text,
    "date": _date,
    "start_time": _time,
    "end_time": _time,
    "use_event_timezone": _flag,
    "timezone": _text,
    "capacity": _capacity,
    "notes": _text,
    "location_id": _positive_int,
    "track_id": _positive_int,
    "type_id": _positive_int,
    "webinar_url": _text,
    "sold_out_message": _text,
    "secure_id": _text,
    "session_status": _open_enum(SessionStatus),
    "selection_control": _open_enum(SelectionControl),
    "session_included": _flag,
    "locked_when_saved": _flag,
    "selected_by_default": _flag,
    "prevent_session_conflicts": _flag,
    "custom_fields": _custom_fields,
}
REQUIRED_ON_CREATE = ("event_id", "name", "date")
_NOT_CLEARABLE = frozenset({"event_id", "name"})


def check_id(name: str, value: Any) -> int:
    """Return ``value`` if it is a positive int id, else raise naming ``name``."""
    if type(value) is not int or value <= 0:
        raise InvalidInputError(name, f"must be a positive integer, got {value!r}")
    return value


def prepare_session_fields(fields: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """Check and normalise session fields; return exactly the fields to send.

    ``UNSET`` values are dropped; ``None`` clears a field (update only); text values
    are parsed (``"2026-05-01"``, ``"09:00"``, ``"true"``, ``"150"``); top-level
    ``c_<digits>`` keys are folded into ``custom_fields``.

    Raises:
        InvalidInputError: naming the first offending field.
    """
    out: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for key, value in fields.items():
        if value is UNSET:
            continue
        check = WRITABLE_FIELDS.get(key)
        if check is None:
            if CUSTOM_FIELD_RE.match(key):
                custom[key] = value
                continue
            raise InvalidInputError(key, "is not a writable session field")
        if value is None:
            if creating or key in _NOT_CLEARABLE:
                raise InvalidInputError(key, "must not be None")
            out[key] = None
            continue
        try:
            out[key] = check(value)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(key, f"{exc} (got {value!r})") from None
    if custom:
        merged = dict(out.get("custom_fields") or {})
        merged.update(_custom_fields(custom))
        out["custom_fields"] = merged
    if creating:
        for key in REQUIRED_ON_CREATE:
            if key not in out:
                raise InvalidInputError(key, "is required")
    start, end = out.get("start_time"), out.get("end_time")
    if isinstance(start, dt.time) and isinstance(end, dt.time) and end < start:
        raise InvalidInputError("end_time", "must not be before start_time")
    return out


class _SessionFieldsBase(TypedDict, total=False):
    admin_short_name: str
    badge_name: str
    description: str
    start_time: dt.time | str
    end_time: dt.time | str
    use_event_timezone: bool
    timezone: str
    capacity: int
    notes: str
    location_id: int
    track_id: int
    type_id: int
    webinar_url: str
    sold_out_message: str
    secure_id: str
    session_status: SessionStatus | str
    selection_control: SelectionControl | str
    session_included: bool
    locked_when_saved: bool
    selected_by_default: bool
    prevent_session_conflicts: bool
    custom_fields: Mapping[str, Any]


class SessionCreateFields(_SessionFieldsBase, total=False):
    """The optional keyword arguments of ``sessions.create``."""


class SessionUpdateFields(TypedDict, total=False):
    """The keyword arguments of ``sessions.update``: ``None`` clears, ``UNSET`` skips."""

    event_id: int | UnsetType
    name: str | UnsetType
    date: dt.date | str | UnsetType | None
    admin_short_name: str | UnsetType | None
    badge_name: str | UnsetType | None
    description: str | UnsetType | None
    start_time: dt.time | str | UnsetType | None
    end_time: dt.time | str | UnsetType | None
    use_event_timezone: bool | UnsetType | None
    timezone: str | UnsetType | None
    capacity: int | UnsetType | None
    notes: str | UnsetType | None
    location_id: int | UnsetType | None
    track_id: int | UnsetType | None
    type_id: int | UnsetType | None
    webinar_url: str | UnsetType | None
    sold_out_message: str | UnsetType | None
    secure_id: str | UnsetType | None
    session_status: SessionStatus | str | UnsetType | None
    selection_control: SelectionControl | str | UnsetType | None
    session_included: bool | UnsetType | None
    locked_when_saved: bool | UnsetType | None
    selected_by_default: bool | UnsetType | None
    prevent_session_conflicts: bool | UnsetType | None
    custom_fields: Mapping[str, Any] | UnsetType | None
