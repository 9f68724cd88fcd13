"""Scalar conversion rules: how each wire value becomes a Python value, and back.

The API drifts (``"20"`` or ``20``; ``0``/``1``, ``"0"``/``"1"`` or ``true``/``false``)
and sends datetimes without an offset (read as UTC). The ``parse_*`` functions are the
general rules; the ``_fast_*`` hooks take the canonical wire form inline and defer to
them for anything else; the ``_out_*`` hooks write values back out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from ._models import SelectionControl, SessionStatus

__all__ = [
    "CUSTOM_FIELD_RE",
    "UTC",
    "format_datetime",
    "format_time",
    "parse_bool",
    "parse_date",
    "parse_datetime",
    "parse_int",
    "parse_str",
    "parse_time",
]

UTC = dt.timezone.utc
CUSTOM_FIELD_RE = re.compile(r"c_[0-9]+\Z")
_TRUE = frozenset({"1", "true", "True", "TRUE", "yes"})
_FALSE = frozenset({"0", "false", "False", "FALSE", "no", ""})


def parse_int(value: Any, _type: Any = None) -> int | None:
    """Read an int that may arrive as a string; ``None`` and ``""`` are None."""
    if value is None or type(value) is int:
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
    if value is None or type(value) is bool:
        return value
    if value == 1 and not isinstance(value, str):
        return True
    if value == 0 and not isinstance(value, str):
        return False
    if isinstance(value, str):
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    raise ValueError(f"expected a flag (0/1 or true/false), got {value!r}")


def parse_date(value: Any, _type: Any = None) -> dt.date | None:
    """Read ``YYYY-MM-DD``; empty values are None."""
    if value is None or type(value) is dt.date:
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10]) if value else None
    raise ValueError(f"expected a date YYYY-MM-DD, got {value!r}")


def parse_time(value: Any, _type: Any = None) -> dt.time | None:
    """Read ``HH:MM:SS`` (or ``HH:MM``); empty values are None."""
    if value is None or type(value) is dt.time:
        return value
    if isinstance(value, str):
        return dt.time.fromisoformat(value) if value else None
    raise ValueError(f"expected a time HH:MM:SS, got {value!r}")


def parse_datetime(value: Any, _type: Any = None) -> dt.datetime | None:
    """Read ``YYYY-MM-DD HH:MM:SS``; a value without an offset is UTC."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        if not value:
            return None
        parsed = dt.datetime.fromisoformat(value)
    else:
        raise ValueError(f"expected a datetime, got {value!r}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed


def parse_str(value: Any, _type: Any = None) -> str | None:
    """Read a string; numbers that drifted in are turned back into text."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {value!r}")


def format_time(value: dt.time) -> str:
    """Write a time as ``HH:MM:SS``."""
    return value.strftime("%H:%M:%S")


def format_datetime(value: dt.datetime) -> str:
    """Write a datetime as UTC ``YYYY-MM-DD HH:MM:SS``."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _status(value: Any, _type: Any = None) -> SessionStatus | None:
    return None if value is None or value == "" else SessionStatus(str(value))


def _selection(value: Any, _type: Any = None) -> SelectionControl | None:
    return None if value is None or value == "" else SelectionControl(str(value))


def _any(value: Any, _type: Any = None) -> Any:
    return value


# -- hot-path hooks --------------------------------------------------------------------------
# Each handles the canonical wire form inline and hands anything else to the general
# ``parse_*`` rule above, so drift behaves exactly as those rules say.

_date_from_iso = dt.date.fromisoformat
_time_from_iso = dt.time.fromisoformat
_datetime_from_iso = dt.datetime.fromisoformat
_FLAGS: dict[int, bool] = {0: False, 1: True}
_STATUSES: Mapping[str, Any] = SessionStatus._value2member_map_
_SELECTIONS: Mapping[str, Any] = SelectionControl._value2member_map_
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _fast_int(value: Any, _type: Any = None) -> int | None:
    if type(value) is int or value is None:
        return value
    return parse_int(value)


def _fast_str(value: Any, _type: Any = None) -> str | None:
    if type(value) is str or value is None:
        return value
    return parse_str(value)


def _fast_bool(value: Any, _type: Any = None) -> bool | None:
    if type(value) is int:
        flag = _FLAGS.get(value)
        if flag is not None:
            return flag
    return parse_bool(value)


def _fast_date(value: Any, _type: Any = None) -> dt.date | None:
    if type(value) is str and len(value) == 10:
        return _date_from_iso(value)
    return parse_date(value)


def _fast_time(value: Any, _type: Any = None) -> dt.time | None:
    if type(value) is str and value:
        return _time_from_iso(value)
    return parse_time(value)


def _fast_datetime(value: Any, _type: Any = None) -> dt.datetime | None:
    if type(value) is str and len(value) == 19:
        # ``YYYY-MM-DD HH:MM:SS`` carries no offset: read it as UTC in one C call.
        try:
            return _datetime_from_iso(value + "+00:00")
        except ValueError:
            pass
    return parse_datetime(value)


def _fast_status(value: Any, _type: Any = None) -> SessionStatus | None:
    member = _STATUSES.get(value) if type(value) is str else None
    return member if member is not None else _status(value)


def _fast_selection(value: Any, _type: Any = None) -> SelectionControl | None:
    member = _SELECTIONS.get(value) if type(value) is str else None
    return member if member is not None else _selection(value)


def _custom_fields(value: Any, _type: Any = None) -> dict[str, Any]:
    # A non-object (PHP renders an empty map as ``[]``) means no custom fields.
    return dict(value) if isinstance(value, Mapping) else {}


def _out_date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _out_time(value: dt.time | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.isoformat("seconds")
    return format_time(value)


def _out_datetime(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is UTC and value.year >= 1000:
        return value.isoformat(" ", "seconds")[:19]
    return format_datetime(value)


def _out_enum(value: SessionStatus | SelectionControl | None) -> str | None:
    return None if value is None else value.value
