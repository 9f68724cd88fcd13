"""How the command reads a row's date, time and number cells as the session fields take them.

- Dates: ``--date-format`` (strptime), else ``YYYY-MM-DD``.
- Times: ``--time-format`` (strptime), else Excel's shapes: ``21:00``, ``21:00:00``,
  ``9:00 PM``, ``9:00:00 PM`` (also ``9:00PM``, ``9:00 p.m.`` and ``9 PM``).
- Numbers: ``--thousands-separator`` reads ``1,500`` in number columns.

A cell that does not fit is a problem of its row, naming the option that would read it.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from typing import Any

import attrs

from .._api.fields import WRITABLE_FIELDS
from .._exceptions import InvalidInputError

__all__ = ["read_cells"]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
#: ``21:00``, ``9:00``, ``21:00:00``: 24-hour times, which the session fields read as they are.
_TWENTY_FOUR_HOUR = re.compile(r"[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?\Z")
#: ``9:00 AM``, ``9:00:00 p.m.``, ``9 AM``: 12-hour times as Excel and people write them.
_TWELVE_HOUR = re.compile(
    r"([0-9]{1,2})(?::([0-9]{2})(?::([0-9]{2}))?)?\s*([ap])\.?\s*m\.?\Z", re.IGNORECASE
)


def _iso_date(text: str) -> str | None:
    return text if _ISO_DATE.match(text) else None


def _excel_time(text: str) -> str | None:
    """Return a time in one of Excel's shapes as the field reads it (24-hour), or None."""
    if _TWENTY_FOUR_HOUR.match(text):
        return text  # the field's own check says whether 25:00 is a time
    match = _TWELVE_HOUR.match(text)
    if match is None:
        return None
    hour, minute, second, half = match.groups()
    if not 1 <= int(hour) <= 12:
        return None
    hour24 = int(hour) % 12 + (12 if half.lower() == "p" else 0)
    return f"{hour24:02d}:{minute or '00'}:{second or '00'}"


@attrs.frozen
class _Reader:
    """How one kind of cell is read: by its option's strptime format, else by default."""

    wire: str
    option: str
    shape: str
    example: str
    default: Callable[[str], str | None]
    parsed: Callable[[dt.datetime], str]

    def read(self, value: str, form: str | None) -> tuple[str | None, str | None]:
        """Return (the cell as the field reads it, None) or (None, why it cannot be)."""
        text = value.strip()
        if form is not None:
            try:
                return self.parsed(dt.datetime.strptime(text, form)), None
            except ValueError:
                return None, f"does not match {self.option} {form!r} (got {value!r})"
        read = self.default(text)
        if read is None:
            hint = f"give the file's format with {self.option}, e.g. {self.example}"
            return None, f"must be {self.shape}; {hint} (got {value!r})"
        return read, None


_DATES = _Reader(
    "date", "--date-format", "a date (YYYY-MM-DD)", "%d/%m/%Y", _iso_date,
    lambda parsed: parsed.date().isoformat(),
)  # fmt: skip
_TIMES = _Reader(
    "time", "--time-format", "a time (21:00, 21:00:00 or 9:00 PM)", "%I:%M %p", _excel_time,
    lambda parsed: parsed.time().isoformat(),
)  # fmt: skip


@functools.cache
def _fields_of_kind(wire: str) -> frozenset[str]:
    """Return the writable fields of one kind (``"date"``, ``"int"``) in the one table."""
    return frozenset(name for name, kind in WRITABLE_FIELDS.items() if kind.wire == wire)


@functools.cache
def _thousands(separator: str) -> re.Pattern[str]:
    return re.compile(rf"[+-]?\d{{1,3}}(?:{re.escape(separator)}\d{{3}})+")


def read_cells(
    fields: dict[str, Any],
    *,
    date_format: str | None = None,
    time_format: str | None = None,
    thousands_separator: str | None = None,
) -> list[InvalidInputError]:
    """Rewrite the row's dates, times and numbers in place; return the cells that do not fit."""
    problems: list[InvalidInputError] = []
    for reader, form in ((_DATES, date_format), (_TIMES, time_format)):
        for name in sorted(_fields_of_kind(reader.wire).intersection(fields)):
            value = fields[name]
            if not isinstance(value, str):
                continue
            read, problem = reader.read(value, form)
            if problem is not None:
                problems.append(InvalidInputError(name, problem))
            else:
                fields[name] = read
    if thousands_separator is not None:
        pattern = _thousands(thousands_separator)
        for name in _fields_of_kind("int").intersection(fields):
            value = fields[name]
            if isinstance(value, str) and pattern.fullmatch(value.strip()):
                fields[name] = value.strip().replace(thousands_separator, "")
    return problems
