"""Reading import rows from CSV or JSON Lines, one at a time, with their line numbers.

A row's identity is the physical line of the file it starts on (the CSV header is
line 1, so the first data row is line 2); the report and ``--resume`` rely on it,
so a file must not be edited between an import and its resumption. Each row also
carries a short hash of its content, which ``--resume`` checks.

- CSV: the first non-blank record is the header (column names, matched to session
  fields as ``_columns`` says; ``c_<digits>`` columns are custom fields). Empty
  cells are left out, not sent. Blank lines are skipped. Quoted cells may span lines.
- JSON Lines (``.jsonl``/``.ndjson``): one JSON object per line; ``null`` values
  are left out. Blank lines are skipped.

A file that cannot be read as rows (not in the encoding given, no header, a column
that is not a field, a record with more cells than the header, a line that is not
a JSON object, no rows at all) raises ``RowFileError`` naming the line.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import itertools
import json
from collections.abc import Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TextIO

from .._api.fields import REQUIRED_ON_CREATE, prepare_session_fields
from .._exceptions import InvalidInputError
from ._columns import ColumnError, RowOptions, plan_columns, resolve_keys, sniff_delimiter

__all__ = [
    "FORMATS",
    "RowFileError",
    "SourceRow",
    "check_rows",
    "detect_format",
    "dropped_note",
    "iter_rows",
    "row_digest",
    "row_errors",
]

FORMATS: dict[str, Literal["csv", "jsonl"]] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


class RowFileError(Exception):
    """The file cannot be read as rows."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class SourceRow(Mapping[str, Any]):
    """One row of the input file: its fields, where it starts, and its content hash.

    ``problems`` are the values that could not be read as the options say (a date
    not in ``--date-format``): the row is invalid for those reasons.
    """

    __slots__ = ("digest", "fields", "index", "line", "problems")

    def __init__(
        self,
        line: int,
        index: int,
        fields: dict[str, Any],
        problems: Sequence[InvalidInputError] = (),
    ) -> None:
        self.line = line
        self.index = index
        self.fields = fields
        self.problems = tuple(problems)
        self.digest = row_digest(fields)

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __repr__(self) -> str:
        return f"SourceRow(line={self.line}, index={self.index}, fields={self.fields!r})"


def row_digest(fields: Mapping[str, Any]) -> str:
    """Return a short, stable hash of a row's content (key order does not matter)."""
    canonical = json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def detect_format(path: Path) -> Literal["csv", "jsonl"]:
    """Return the file's format from its suffix, or raise ``RowFileError``."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RowFileError(path, "expected a .csv, .jsonl or .ndjson file")
    return fmt


def iter_rows(
    path: Path, opts: RowOptions | None = None, *, dropped: set[str] | None = None
) -> Generator[SourceRow, None, None]:
    """Yield the rows of ``path`` one at a time (the file is never read whole).

    The names of the columns (or keys) ``--ignore-unknown-columns`` drops are added to
    ``dropped``, so that the command can say which it left out.

    Raises:
        RowFileError: the file is missing, unreadable, malformed or has no rows.
    """
    opts = opts or RowOptions()
    fmt = detect_format(path)
    try:
        handle = path.open(encoding=opts.encoding, newline="" if fmt == "csv" else None)
    except OSError as exc:
        raise RowFileError(path, f"cannot open: {exc.strerror or exc}") from None
    with handle:
        try:
            if fmt == "csv":
                yield from _csv_rows(path, handle, opts, dropped)
            else:
                yield from _jsonl_rows(path, handle, opts, dropped)
        except UnicodeDecodeError as exc:
            raise _decode_error(path, opts.encoding, exc) from None
        except OSError as exc:
            raise RowFileError(path, f"read failed: {exc.strerror or exc}") from None


def _decode_error(path: Path, encoding: str, exc: UnicodeDecodeError) -> RowFileError:
    """Return the error naming the line and byte where ``path`` stops being ``encoding``."""
    name = "UTF-8" if codecs.lookup(encoding).name.startswith("utf-8") else encoding
    hint = "; give the file's encoding with --encoding (Excel's plain CSV is --encoding cp1252)"
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, line = 0, 1
    try:
        with path.open("rb") as raw:
            # The reader decodes in blocks; only here, on the error path, is it redone
            # a line at a time to say where the bad byte is.
            for chunk in itertools.chain(raw, [b""]):
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as err:
                    at = offset - pending + err.start
                    bad = err.object[err.start : err.end].hex()
                    message = f"not {name} text: byte {at} (0x{bad}): {err.reason}{hint}"
                    return RowFileError(path, message, line)
                offset += len(chunk)
                line += chunk.count(b"\n")
    except OSError:
        pass
    return RowFileError(path, f"not {name} text ({exc.reason}){hint}")


def _lines_to_header(handle: TextIO) -> list[str]:
    """Read the lines up to the first non-blank one (the header), to sniff its delimiter."""
    lines: list[str] = []
    while True:
        text = handle.readline()
        lines.append(text)
        if not text or text.strip():
            return lines


def _csv_rows(
    path: Path, handle: TextIO, opts: RowOptions, dropped: set[str] | None
) -> Iterator[SourceRow]:
    head = _lines_to_header(handle)
    delimiter = opts.delimiter or sniff_delimiter(head[-1])
    reader = csv.reader(itertools.chain(head, handle), delimiter=delimiter, strict=True)
    plan: list[tuple[int, str]] | None = None
    width = index = 0
    start = 1  # the physical line the next record starts on
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cells):
                continue
            if plan is None:
                try:
                    plan = plan_columns(cells, opts, dropped)
                except ColumnError as exc:
                    raise RowFileError(path, str(exc), line) from None
                width = len(cells)
                continue
            if len(cells) > width:
                raise RowFileError(
                    path, f"{len(cells)} cells, but the header has {width} columns", line
                )
            fields = {name: cells[at] for at, name in plan if at < len(cells) and cells[at] != ""}
            yield SourceRow(line, index, fields, opts.read_values(fields))
            index += 1
    except csv.Error as exc:
        raise RowFileError(path, f"malformed CSV ({exc})", reader.line_num) from None
    if plan is None:
        raise RowFileError(path, "is empty: no header row naming the columns, and no rows")
    if not index:
        raise RowFileError(path, "has a header but no rows: nothing to import")


def _jsonl_rows(
    path: Path, handle: TextIO, opts: RowOptions, dropped: set[str] | None
) -> Iterator[SourceRow]:
    index = 0
    for line, text in enumerate(handle, 1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise RowFileError(path, f"not valid JSON ({exc})", line) from None
        except RecursionError:
            raise RowFileError(path, "JSON nested too deeply", line) from None
        if not isinstance(data, dict):
            raise RowFileError(path, f"expected a JSON object, got {type(data).__name__}", line)
        try:
            fields = resolve_keys(data, opts, dropped)
        except ColumnError as exc:
            raise RowFileError(path, str(exc), line) from None
        try:
            row = SourceRow(line, index, fields, opts.read_values(fields))
        except RecursionError:  # hashing walks the row as deep as it goes
            raise RowFileError(path, "JSON nested too deeply", line) from None
        yield row
        index += 1
    if not index:
        raise RowFileError(path, "has no rows: nothing to import")


def row_errors(row: SourceRow, event_id: int | None) -> list[InvalidInputError]:
    """Return every reason ``row`` cannot be created, in column order (none if it can).

    ``event_id`` fills a row without one, as the import does.
    """
    fields = dict(row.fields)
    if event_id is not None and fields.get("event_id") in (None, ""):
        fields["event_id"] = event_id
    errors = list(row.problems)
    try:
        prepare_session_fields(fields, creating=True)
    except InvalidInputError as exc:
        first = exc
    else:
        return errors
    # The validation stops at the first bad field: check each alone to name them all.
    bad = {error.field for error in errors}
    good: dict[str, Any] = {}
    for name, value in fields.items():
        if name in bad:
            continue
        try:
            prepare_session_fields({name: value}, creating=False)
        except InvalidInputError as exc:
            errors.append(exc)
            bad.add(name)
        else:
            good[name] = value
    errors += [InvalidInputError(k, "is required") for k in REQUIRED_ON_CREATE if k not in fields]
    try:
        prepare_session_fields(good, creating=False)  # the checks across fields
    except InvalidInputError as exc:
        errors.append(exc)
    if not errors:
        errors.append(first)
    order = {name: position for position, name in enumerate(fields)}
    return sorted(errors, key=lambda error: order.get(error.field, len(order)))


def dropped_note(dropped: set[str]) -> str:
    """Say which columns ``--ignore-unknown-columns`` left out (nothing is dropped unsaid)."""
    names = ", ".join(repr(name) for name in sorted(dropped))
    return f"Ignored (not session fields, --ignore-unknown-columns): {names}"


def check_rows(
    path: Path, event_id: int | None, out: TextIO, opts: RowOptions | None = None
) -> int:
    """Validate every row as a create (nothing is sent), list each bad field; return the bad rows.

    ``event_id`` fills rows without one, as the import does.
    """
    bad = total = 0
    dropped: set[str] = set()
    for row in iter_rows(path, opts, dropped=dropped):
        total += 1
        errors = row_errors(row, event_id)
        if errors:
            bad += 1
            out.writelines(f"{path}:{row.line}: {e.field}: {e.reason}\n" for e in errors)
    if dropped:
        out.write(f"{dropped_note(dropped)}\n")
    verdict = f"{bad} of {total} rows are invalid" if bad else f"all {total} rows are valid"
    out.write(f"Dry run: {verdict}; nothing was sent.\n")
    return bad
