"""Scalar conversion rules: how each wire value becomes a Python value, and back.

The API drifts (``"20"`` or ``20``; ``0``/``1``, ``"0"``/``"1"`` or ``true``/``false``)
and sends datetimes without an offset (read as UTC). Each rule takes the canonical wire
form first, so the common case costs one type check. The ``(value, type)`` signature is
cattrs' hook signature: the converter registers these functions directly.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .models import SelectionControl, SessionStatus

__all__ = [
    "CUSTOM_FIELD_RE",
    "UTC",
    "custom_fields",
    "format_date",
    "format_datetime",
    "format_time",
    "parse_bool",
    "parse_date",
    "parse_datetime",
    "parse_int",
    "parse_selection",
    "parse_status",
    "parse_str",
    "parse_time",
]

UTC = dt.timezone.utc
CUSTOM_FIELD_RE = re.compile(r"c_[0-9]+\Z")
_FLAGS: dict[Any, bool] = {
    **dict.fromkeys([1, "1", "true", "True", "TRUE", "yes"], True),
    **dict.fromkeys([0, "0", "false", "False", "FALSE", "no", ""], False),
}
_FLAG_KINDS = frozenset({bool, int, float, str})  # hashed safely: no Decimal('sNaN')
# Looked up once: reading a classmethod off its class builds a bound method per call.
_date_from_iso = dt.date.fromisoformat
_time_from_iso = dt.time.fromisoformat
_datetime_from_iso = dt.datetime.fromisoformat
E = TypeVar("E", SessionStatus, SelectionControl)


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
        return _date_from_iso(value[:10])
    if value is None or value == "" or type(value) is dt.date:
        return value or None
    raise ValueError(f"expected a date YYYY-MM-DD, got {value!r}")


def parse_time(value: Any, _type: Any = None) -> dt.time | None:
    """Read ``HH:MM:SS`` (or ``HH:MM``); empty values are None."""
    if type(value) is str and value:
        return _time_from_iso(value)
    if value is None or value == "" or type(value) is dt.time:
        return value or None
    raise ValueError(f"expected a time HH:MM:SS, got {value!r}")


def parse_datetime(value: Any, _type: Any = None) -> dt.datetime | None:
    """Read ``YYYY-MM-DD HH:MM:SS``; a value without an offset is UTC."""
    if type(value) is str and len(value) == 19:
        # ``YYYY-MM-DD HH:MM:SS`` carries no offset: UTC, read in one call (``replace``
        # costs more than the parse). Anything else of that length is read below.
        try:
            return _datetime_from_iso(value + "+00:00")
        except ValueError:
            pass
    if type(value) is str and value:
        parsed = _datetime_from_iso(value)
    elif isinstance(value, dt.datetime):
        parsed = value
    elif value is None or value == "":
        return None
    else:
        raise ValueError(f"expected a datetime, got {value!r}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _open_enum(cls: type[E]) -> Callable[[Any, Any], E | None]:
    members: Mapping[str, Any] = cls._value2member_map_

    def parse(value: Any, _type: Any = None) -> E | None:
        member = members.get(value) if type(value) is str else None
        if member is not None:
            return member  # type: ignore[no-any-return]
        if value is None or value == "":
            return None
        if isinstance(value, (list, dict)):
            raise ValueError(f"expected one of {[m.value for m in cls]}, got {value!r}")
        return cls(str(value))  # open: a value this release does not know is kept

    parse.__doc__ = f"Read a {cls.__name__}; a value this release does not know is kept."
    return parse


parse_status = _open_enum(SessionStatus)
parse_selection = _open_enum(SelectionControl)


def custom_fields(value: Any, _type: Any = None) -> dict[str, Any]:
    """Read ``custom_fields``; a non-object (PHP renders an empty map as ``[]``) is none."""
    # ``type() is dict`` first: the ABC ``isinstance`` costs more than the copy.
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
