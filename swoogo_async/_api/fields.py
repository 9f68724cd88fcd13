"""The writable session fields: ``SessionUpdateFields`` is the table, its metadata the checks."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import re
import reprlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Annotated, Any, NamedTuple, TypedDict, get_type_hints

from .._exceptions import InvalidInputError
from .._types import UNSET, UnsetType
from .models import CUSTOM_FIELD_RE, SelectionControl, SessionStatus, parse_bool, parse_int

__all__ = [
    "REQUIRED_ON_CREATE",
    "WRITABLE_FIELDS",
    "SessionCreateFields",
    "SessionUpdateFields",
    "prepare_session_fields",
]

_INTEGER = re.compile(r"\s*-?[0-9]+\s*\Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?\Z")
# Bounded, so that a deeply nested value cannot crash its own error message.
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 80, 80


class Kind(NamedTuple):
    """A writable field's check (the value to send, or ``ValueError``) and wire shape."""

    wire: str  # "int", "flag", "enum", "date", "time", "text" or "custom"
    check: Callable[[Any], Any]
    choices: tuple[str, ...] = ()  # an "enum" field's values


def _text(value: Any, *, blank: bool = True) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not blank and not value.strip():
        raise ValueError("must not be blank")
    return value


def _int_from(low: int, message: str) -> Kind:
    def check(value: Any) -> int:
        parsed = None
        if isinstance(value, (int, float)) or (isinstance(value, str) and _INTEGER.match(value)):
            parsed = parse_int(value)
        if parsed is None:
            raise ValueError("must be an integer")
        if parsed < low:
            raise ValueError(message)
        return parsed

    return Kind("int", check)


def _flag(value: Any) -> bool:
    parsed = None
    if isinstance(value, (str, int, float)):
        with contextlib.suppress(ValueError):  # one message, to which the caller adds the value
            parsed = parse_bool(value.strip().lower() if isinstance(value, str) else value)
    if parsed is None:
        raise ValueError("must be a flag (true/false or 0/1)")
    return parsed


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValueError("must be a date, not a datetime")
    if type(value) is dt.date:
        return value
    text = value.strip() if isinstance(value, str) else ""
    if not _DATE.match(text):
        raise ValueError("must be a date (YYYY-MM-DD)")
    return dt.date.fromisoformat(text)


def _local(value: dt.time | dt.datetime) -> None:
    if value.tzinfo is not None:
        raise ValueError("must be the event's local time, without a UTC offset")


def _time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        _local(value)
        return value.replace(microsecond=0)
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if match is None:  # exactly a time: nothing before or after it
        raise ValueError("must be a time (HH:MM:SS)")
    hour, minute, second = match.groups()
    return dt.time(int(hour), int(minute), int(second or 0))


def _enum(cls: type[SessionStatus] | type[SelectionControl]) -> Kind:
    allowed = tuple(m.value for m in cls)

    def check(value: Any) -> SessionStatus | SelectionControl:
        if isinstance(value, cls):
            return value
        if isinstance(value, str) and value.strip().lower() in allowed:
            return cls(value.strip().lower())
        raise ValueError(f"must be one of {', '.join(allowed)}")

    return Kind("enum", check, allowed)


def _custom_value(value: Any, depth: int = 0) -> None:
    """Refuse a custom-field value the form encoding cannot send faithfully."""
    if isinstance(value, (dt.time, dt.datetime)):
        _local(value)
    elif isinstance(value, (float, Decimal)):
        if not (value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)):
            raise ValueError(f"must be a finite number, got {value!r}")
    elif isinstance(value, (list, tuple, Mapping)) and depth < 8:
        if isinstance(value, Mapping) and not all(isinstance(k, (str, int)) for k in value):
            raise ValueError("nested names must be strings")
        for item in value.values() if isinstance(value, Mapping) else value:
            _custom_value(item, depth + 1)
    elif not (value is None or isinstance(value, (str, int, dt.date))):  # bool is an int
        raise ValueError(f"unsupported value of type {type(value).__name__}")


def _custom_fields(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("must be a mapping of c_<digits> names to values")
    for key, item in value.items():
        if not isinstance(key, str) or not CUSTOM_FIELD_RE.match(key):
            raise ValueError(f"custom field names look like c_1234, got {key!r}")
        _checked(key, _custom_value, item)
    return dict(value)


TEXT = Kind("text", _text)
ID = _int_from(1, "must be a positive integer")
# ``None`` clears a field on update (create refuses it); ``UNSET`` leaves it out.
_Text = Annotated[str | UnsetType | None, TEXT]
_Id = Annotated[int | UnsetType | None, ID]
_Flag = Annotated[bool | UnsetType | None, Kind("flag", _flag)]
_Time = Annotated[dt.time | str | UnsetType | None, Kind("time", _time)]


class SessionCreateFields(TypedDict, total=False):
    """The optional keyword arguments of ``sessions.create``."""

    admin_short_name: _Text
    badge_name: _Text
    description: _Text
    start_time: _Time
    end_time: _Time
    use_event_timezone: _Flag
    timezone: _Text
    capacity: Annotated[int | UnsetType | None, _int_from(0, "must not be negative")]
    notes: _Text
    location_id: _Id
    track_id: _Id
    type_id: _Id
    webinar_url: _Text
    sold_out_message: _Text
    secure_id: _Text
    session_status: Annotated[SessionStatus | str | UnsetType | None, _enum(SessionStatus)]
    selection_control: Annotated[SelectionControl | str | UnsetType | None, _enum(SelectionControl)]
    session_included: _Flag
    locked_when_saved: _Flag
    selected_by_default: _Flag
    prevent_session_conflicts: _Flag
    custom_fields: Annotated[Mapping[str, Any] | UnsetType | None, Kind("custom", _custom_fields)]


class SessionUpdateFields(SessionCreateFields, total=False):
    """The keyword arguments of ``sessions.update``: ``None`` clears, ``UNSET`` skips."""

    event_id: Annotated[int | UnsetType, ID]
    name: Annotated[str | UnsetType, Kind("text", functools.partial(_text, blank=False))]
    date: Annotated[dt.date | str | UnsetType | None, Kind("date", _date)]


#: Every writable field and its kind, in the order the table declares them.
WRITABLE_FIELDS: dict[str, Kind] = {
    name: hint.__metadata__[0]
    for name, hint in get_type_hints(SessionUpdateFields, include_extras=True).items()
}
REQUIRED_ON_CREATE = ("event_id", "name", "date")
_NOT_CLEARABLE = frozenset({"event_id", "name"})


def prepare_session_fields(fields: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """Return the fields to send, or raise ``InvalidInputError`` naming the first bad one:
    ``UNSET`` dropped, ``None`` clears (update only), text parsed, ``c_<digits>`` keys nested."""
    out: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for key, value in fields.items():
        if value is UNSET:
            continue
        if not isinstance(key, str):
            raise InvalidInputError(repr(key), "field names must be strings")
        kind = WRITABLE_FIELDS.get(key)
        if kind is None and CUSTOM_FIELD_RE.match(key):
            custom[key] = value
        elif kind is None:
            raise InvalidInputError(key, "is not a writable session field")
        elif value is not None:
            out[key] = _checked(key, kind.check, value)
        elif creating or key in _NOT_CLEARABLE:
            raise InvalidInputError(key, "must not be None")
        else:
            out[key] = None
    if custom:
        out["custom_fields"] = {**(out.get("custom_fields") or {}), **_custom_fields(custom)}
    missing = [key for key in REQUIRED_ON_CREATE if creating and key not in out]
    if missing:
        raise InvalidInputError(missing[0], "is required")
    start, end = out.get("start_time"), out.get("end_time")
    if isinstance(start, dt.time) and isinstance(end, dt.time) and end < start:
        raise InvalidInputError("end_time", "must not be before start_time")
    return out


def _checked(key: str, check: Callable[[Any], Any], value: Any) -> Any:
    try:
        return check(value)
    except InvalidInputError:
        raise
    except (ValueError, TypeError, ArithmeticError) as exc:
        text = _REPR.repr(value)
        text = text if len(text) <= 80 else text[:77] + "..."
        raise InvalidInputError(key, f"{exc} (got {text})") from None
