"""The drift rules, wire to Python and back by field type (``STRUCTURE``, ``UNSTRUCTURE``):
``"20"`` for ``20``, flags as ``0``/``1``, ``"0"``/``"1"`` or ``true``/``false``, datetimes
without an offset (UTC). Each tries the usual wire form first; ``(value, type)`` is cattrs'
hook signature."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from .models import SelectionControl, SessionStatus

__all__ = [
    "AS_IS_TYPES",
    "CUSTOM_FIELD_RE",
    "STRUCTURE",
    "UNSTRUCTURE",
    "custom_fields",
    "format_datetime",
    "format_time",
    "parse_bool",
    "parse_int",
]

UTC = dt.timezone.utc
CUSTOM_FIELD_RE = re.compile(r"c_[0-9]+\Z")
_FLAGS: dict[Any, bool] = {
    **dict.fromkeys([1, "1", "true", "True", "TRUE", "yes"], True),
    **dict.fromkeys([0, "0", "false", "False", "FALSE", "no", ""], False),
}
_FLAG_KINDS = frozenset({bool, int, float, str})  # hashed safely: no Decimal('sNaN')


def parse_int(value: Any, _type: Any = None) -> int | None:
    """Read an int that may arrive as a string; ``None`` and ``""`` are None."""
    if type(value) is int or value is None:
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, str):
        value = value.strip()
        return int(value) if value else None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def parse_bool(value: Any, _type: Any = None) -> bool | None:
    """Read a flag sent as ``0``/``1``, ``"0"``/``"1"`` or ``true``/``false``."""
    if type(value) is int and (value == 0 or value == 1):  # the wire's usual form
        return value == 1
    flag = _FLAGS.get(value) if type(value) in _FLAG_KINDS else None
    if flag is not None or value is None:
        return flag
    raise ValueError(f"expected a flag (0/1 or true/false), got {value!r}")


def parse_str(value: Any, _type: Any = None) -> str | None:
    """Read a string; numbers that drifted in are turned back into text."""
    if type(value) is str or value is None:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {value!r}")


def parse_date(value: Any, _type: Any = None) -> dt.date | None:
    """Read ``YYYY-MM-DD`` (a datetime's date part too); empty values are None."""
    if type(value) is str and value:
        return dt.date.fromisoformat(value[:10])
    if value is None or value == "" or type(value) is dt.date:
        return value or None
    raise ValueError(f"expected a date YYYY-MM-DD, got {value!r}")


def parse_time(value: Any, _type: Any = None) -> dt.time | None:
    """Read ``HH:MM:SS`` (or ``HH:MM``); empty values are None."""
    if type(value) is str and value:
        return dt.time.fromisoformat(value)
    if value is None or value == "" or type(value) is dt.time:
        return value or None
    raise ValueError(f"expected a time HH:MM:SS, got {value!r}")


def parse_datetime(value: Any, _type: Any = None) -> dt.datetime | None:
    """Read ``YYYY-MM-DD HH:MM:SS``; a value without an offset is UTC."""
    if type(value) is str and len(value) == 19:  # no offset: UTC, read in one call
        try:
            return dt.datetime.fromisoformat(value + "+00:00")
        except ValueError:
            pass
    if type(value) is str and value:
        parsed = dt.datetime.fromisoformat(value)
    elif isinstance(value, dt.datetime):
        parsed = value
    elif value is None or value == "":
        return None
    else:
        raise ValueError(f"expected a datetime, got {value!r}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_enum(value: Any, tp: Any) -> Any:
    """Read an open enum, ``tp`` its optional type (``SessionStatus | None``); a value this
    release does not know is kept."""
    if value is None or value == "":
        return None
    if isinstance(value, (list, dict)):
        raise ValueError(f"expected one of {[m.value for m in tp.__args__[0]]}, got {value!r}")
    return tp.__args__[0](str(value))


def custom_fields(value: Any, _type: Any = None) -> dict[str, Any]:
    """Read ``custom_fields``; a non-object (PHP renders an empty map as ``[]``) is none."""
    return dict(value) if type(value) is dict or isinstance(value, Mapping) else {}


def format_date(value: dt.date | None) -> str | None:
    """Write a date as ``YYYY-MM-DD``."""
    return None if value is None else value.isoformat()


def format_time(value: dt.time | None) -> str | None:
    """Write a time as ``HH:MM:SS``."""
    return None if value is None else value.replace(tzinfo=None).isoformat("seconds")


def format_datetime(value: dt.datetime | None) -> str | None:
    """Write a datetime as UTC ``YYYY-MM-DD HH:MM:SS``."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "seconds")


def _as_is(value: Any, _type: Any = None) -> Any:
    return value


def _enum_value(value: SessionStatus | SelectionControl | None) -> str | None:
    return None if value is None else value.value


#: Field types whose values (location, track, gender, …) are taken as they come.
AS_IS_TYPES = (Any, dict[str, Any], dict[str, Any] | None)
#: Each field type's rule, wire to Python.
STRUCTURE: dict[Any, Callable[[Any, Any], Any]] = {
    int | None: parse_int,
    str | None: parse_str,
    bool | None: parse_bool,
    dt.date | None: parse_date,
    dt.time | None: parse_time,
    dt.datetime | None: parse_datetime,
    SessionStatus | None: parse_enum,
    SelectionControl | None: parse_enum,
    **dict.fromkeys(AS_IS_TYPES, _as_is),
}
#: Each field type's rule, Python to wire.
UNSTRUCTURE: dict[Any, Callable[[Any], Any]] = {
    int | None: _as_is,
    str | None: _as_is,
    bool | None: _as_is,
    dt.date | None: format_date,
    dt.time | None: format_time,
    dt.datetime | None: format_datetime,
    SessionStatus | None: _enum_value,
    SelectionControl | None: _enum_value,
}
