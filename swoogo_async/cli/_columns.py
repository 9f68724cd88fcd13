"""How the command reads a file's columns and cells: the options for files made by hand or by Excel.

- Encoding: ``--encoding`` (default UTF-8, with or without a byte order mark).
- Delimiter: ``--delimiter``, else the one of ``,`` ``;`` tab ``|`` that
  ``csv.Sniffer`` finds in the header line (``,`` when it finds none).
- Column names: matched ignoring case, spaces, underscores and hyphens (``Start Time``
  is ``start_time``), with or without a leading ``Session`` (``Session Name`` is
  ``name``); ``--map COLUMN=FIELD`` renames a column; a column that is not a session
  field is an error up front unless ``--ignore-unknown-columns`` drops it.
- Values: ``--date-format``, ``--time-format`` and ``--thousands-separator``, read
  as ``_cells`` says.

The options are declared once, here: ``row_options_parser`` is the argparse parent
every command that reads rows takes, ``RowOptions.from_args`` reads them back and
``RowOptions.argv`` writes them out again (for the command that resumes an import).
"""

from __future__ import annotations

import argparse
import codecs
import csv
import functools
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .._api.fields import WRITABLE_FIELDS
from .._api.models import CUSTOM_FIELD_RE
from .._exceptions import InvalidInputError
from ._cells import read_cells

__all__ = [
    "DEFAULT_ENCODING",
    "DELIMITERS",
    "ColumnError",
    "RowOptions",
    "fold",
    "is_session_field",
    "plan_columns",
    "resolve_keys",
    "row_options_parser",
    "sniff_delimiter",
]

#: The delimiters a header line is sniffed for, in order of preference on a tie.
DELIMITERS = ",;\t|"
DEFAULT_ENCODING = "utf-8-sig"  # UTF-8, with or without the byte order mark Excel writes
_NAMED_DELIMITERS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


class ColumnError(ValueError):
    """The file's columns (or a row's keys) do not fit the session fields."""


#: What column names are matched without; a byte order mark read as text (``--encoding
#: utf-8`` on Excel's "CSV UTF-8") is no part of a name either.
_IGNORED_IN_NAMES = re.compile(r"[\s_\-\ufeff]+")
#: A leading word a column name may carry: ``Session Name`` is the session's name.
_RESOURCE_WORD = "session"


def fold(name: str) -> str:
    """Return a column name as it is matched: lower case, without spaces, ``_`` or ``-``."""
    return _IGNORED_IN_NAMES.sub("", name).lower()


@functools.cache
def _folded_fields() -> dict[str, str]:
    """Return each writable field under its folded name."""
    return {fold(name): name for name in WRITABLE_FIELDS}


def _field_named(name: str) -> str | None:
    """Return the session field a folded column name means, if any."""
    fields = _folded_fields()
    if name in fields:
        return fields[name]
    custom = re.fullmatch(r"c([0-9]+)", name)
    if custom is not None:
        return f"c_{custom[1]}"
    if name.startswith(_RESOURCE_WORD):
        return fields.get(name[len(_RESOURCE_WORD) :])
    return None


def is_session_field(name: str) -> bool:
    """Tell whether ``name`` is a writable session field or a ``c_<digits>`` custom field."""
    return name in WRITABLE_FIELDS or CUSTOM_FIELD_RE.match(name) is not None


def sniff_delimiter(line: str) -> str:
    """Return the delimiter of the header ``line`` by ``csv.Sniffer`` (``,`` if it finds none).

    Only the header is sniffed: data cells (free text, times, decimals) hold the
    candidate characters far more often than column names do.
    """
    try:
        return csv.Sniffer().sniff(line, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


@attrs.frozen
class RowOptions:
    """How to read the rows of a file (the defaults read a plain UTF-8 file as is).

    Attributes:
        encoding: The text encoding of the file.
        delimiter: The CSV delimiter; None sniffs it from the header line.
        column_map: (column name, field) pairs from ``--map``.
        ignore_unknown: Drop columns that are not session fields instead of failing.
        date_format: A strptime format for the ``date`` column.
        time_format: A strptime format for the time columns.
        thousands_separator: The character grouping thousands in number columns.
    """

    encoding: str = DEFAULT_ENCODING
    delimiter: str | None = None
    column_map: tuple[tuple[str, str], ...] = ()
    ignore_unknown: bool = False
    date_format: str | None = None
    time_format: str | None = None
    thousands_separator: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RowOptions:
        """Read the options ``row_options_parser`` added."""
        return cls(
            encoding=args.encoding,
            delimiter=args.delimiter,
            column_map=tuple((args.column_map or {}).items()),
            ignore_unknown=args.ignore_unknown_columns,
            date_format=args.date_format,
            time_format=args.time_format,
            thousands_separator=args.thousands_separator,
        )

    def argv(self) -> list[str]:
        """Return the command-line arguments that give these options."""
        args: list[str] = []
        if self.encoding != DEFAULT_ENCODING:
            args += ["--encoding", self.encoding]
        if self.delimiter is not None:
            args += ["--delimiter", "tab" if self.delimiter == "\t" else self.delimiter]
        for column, field in self.column_map:
            args += ["--map", f"{column}={field}"]
        if self.ignore_unknown:
            args.append("--ignore-unknown-columns")
        if self.date_format is not None:
            args += ["--date-format", self.date_format]
        if self.time_format is not None:
            args += ["--time-format", self.time_format]
        if self.thousands_separator is not None:
            args += ["--thousands-separator", self.thousands_separator]
        return args

    @functools.cached_property
    def _renames(self) -> dict[str, str]:
        return {fold(column): field for column, field in self.column_map}

    def field_for(self, column: str) -> str:
        """Return the field a column (or JSON key) of the file feeds (else the name as is)."""
        name = fold(column)
        return self._renames.get(name) or _field_named(name) or column.strip()

    def read_values(self, fields: dict[str, Any]) -> list[InvalidInputError]:
        """Rewrite the row's dates, times and numbers in place; return the cells that do not fit."""
        return read_cells(
            fields,
            date_format=self.date_format,
            time_format=self.time_format,
            thousands_separator=self.thousands_separator,
        )


def _unknown_message(what: str, names: Sequence[str]) -> str:
    listed = ", ".join(repr(n) for n in names)
    verb = "is not a session field" if len(names) == 1 else "are not session fields"
    return (
        f"{what} {listed} {verb}: map a column to a field with --map"
        f" {shlex.quote(names[0].strip() + '=FIELD')}, or drop unknown columns with"
        " --ignore-unknown-columns"
    )


def plan_columns(
    cells: Sequence[str], opts: RowOptions, dropped: set[str] | None = None
) -> list[tuple[int, str]]:
    """Return (position, field) for each header cell whose column is read.

    The columns ``--ignore-unknown-columns`` drops are added to ``dropped``.

    Raises:
        ColumnError: a column has no name, is not a field, or feeds the same field as
            another; or a ``--map`` names a column the header lacks.
    """
    plan: list[tuple[int, str]] = []
    owner: dict[str, str] = {}
    unknown: list[str] = []
    for position, cell in enumerate(cells):
        field = opts.field_for(cell)
        if not field and not opts.ignore_unknown:
            raise ColumnError(f"header column {position + 1} has no name")
        if not is_session_field(field):
            unknown.append(cell)
            continue
        if field in owner:
            raise ColumnError(
                f"columns {owner[field]!r} and {cell!r} both give the field {field!r}"
                " (column names are matched ignoring case, spaces, underscores and hyphens)"
            )
        owner[field] = cell
        plan.append((position, field))
    names = {fold(cell) for cell in cells}
    missing = [column for column, _ in opts.column_map if fold(column) not in names]
    if missing:
        listed = ", ".join(map(repr, missing))
        raise ColumnError(f"--map names {listed}, which is not a column of the header")
    if unknown and not opts.ignore_unknown:
        if len(cells) == 1 and any(d in cells[0] for d in DELIMITERS):
            raise ColumnError(
                f"the header was read as one column, {cells[0]!r}: give the file's"
                " delimiter with --delimiter"
            )
        raise ColumnError(_unknown_message("column" if len(unknown) == 1 else "columns", unknown))
    if dropped is not None:
        dropped.update(unknown)
    return plan


def resolve_keys(
    data: Mapping[str, Any], opts: RowOptions, dropped: set[str] | None = None
) -> dict[str, Any]:
    """Return a JSON object's non-null values under the fields their keys name.

    The keys ``--ignore-unknown-columns`` drops are added to ``dropped``.

    Raises:
        ColumnError: a key is not a field, or two keys give the same field.
    """
    fields: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in data.items():
        if value is None:
            continue
        field = opts.field_for(key)
        if not is_session_field(field):
            unknown.append(key)
        elif field in fields:
            raise ColumnError(
                f"two keys give the field {field!r} (keys are matched ignoring case,"
                " spaces, underscores and hyphens)"
            )
        else:
            fields[field] = value
    if unknown and not opts.ignore_unknown:
        raise ColumnError(_unknown_message("key" if len(unknown) == 1 else "keys", unknown))
    if unknown and dropped is not None:
        dropped.update(unknown)
    return fields


def _delimiter(text: str) -> str:
    value = _NAMED_DELIMITERS.get(text.lower(), text)
    if len(value) != 1 or value in '"\r\n':
        raise argparse.ArgumentTypeError(
            f"expected one character (or tab, comma, semicolon, pipe), got {text!r}"
        )
    return value


def _encoding(text: str) -> str:
    try:
        codecs.lookup(text)
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown encoding {text!r}") from None
    return text


def _date_format(text: str) -> str:
    if "%" not in text:
        raise argparse.ArgumentTypeError(f"expected a strptime format like %m/%d/%Y, got {text!r}")
    return text


def _time_format(text: str) -> str:
    if "%" not in text:
        raise argparse.ArgumentTypeError(f"expected a strptime format like %I:%M %p, got {text!r}")
    return text


def _separator(text: str) -> str:
    if len(text) != 1 or text.isdigit() or text in "+-":
        raise argparse.ArgumentTypeError(f"expected one character such as , or ., got {text!r}")
    return text


class _MapAction(argparse.Action):
    """Collect ``--map COLUMN=FIELD`` into a dict; a column mapped twice is an error."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        column, sep, field = str(values).rpartition("=")
        column, field = column.strip(), field.strip()
        if not sep or not fold(column):
            parser.error(f"--map: expected COLUMN=FIELD, got {values!r}")
        if not is_session_field(field):
            parser.error(f"--map {values}: {field!r} is not a session field")
        mapping: dict[str, str] = dict(getattr(namespace, self.dest, None) or {})
        for seen, given in mapping.items():
            if fold(seen) == fold(column) and given != field:
                parser.error(f"--map: column {seen!r} is mapped twice")
        mapping[column] = field
        setattr(namespace, self.dest, mapping)


def row_options_parser() -> argparse.ArgumentParser:
    """Return the argparse parent that adds the row-reading options to a command."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("reading FILE")
    group.add_argument(
        "--encoding",
        type=_encoding,
        default=DEFAULT_ENCODING,
        help="text encoding, e.g. cp1252 for Excel's plain CSV (default: UTF-8, BOM or not)",
    )
    group.add_argument(
        "--delimiter",
        type=_delimiter,
        help="CSV delimiter: a character or tab (default: sniffed from the header: , ; tab |)",
    )
    group.add_argument(
        "--map",
        dest="column_map",
        action=_MapAction,
        metavar="COLUMN=FIELD",
        help="read COLUMN as the session field FIELD (repeatable)",
    )
    group.add_argument(
        "--ignore-unknown-columns",
        action="store_true",
        help="drop columns that are not session fields (default: refuse the file)",
    )
    group.add_argument(
        "--date-format",
        type=_date_format,
        metavar="FORMAT",
        help="strptime format of the date column, e.g. %%m/%%d/%%Y (default: YYYY-MM-DD)",
    )
    group.add_argument(
        "--time-format",
        type=_time_format,
        metavar="FORMAT",
        help="strptime format of the time columns, e.g. %%I:%%M %%p (default: 21:00, 21:00:00,"
        " 9:00 PM or 9:00:00 PM)",
    )
    group.add_argument(
        "--thousands-separator",
        type=_separator,
        metavar="CHAR",
        help="read numbers like 1,500 (with CHAR ,) in number columns",
    )
    return parent
