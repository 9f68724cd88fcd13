"""Reading import rows from CSV or JSON Lines, one at a time, with their line numbers.

A row's identity is the physical line of the file it starts on (the CSV header is
line 1, so the first data row is line 2); the report and ``--resume`` rely on it,
so a file must not be edited between an import and its resumption. Each row also
carries a short hash of its content, which ``--resume`` checks.

- CSV: the first non-blank record is the header (field names; ``c_<digits>``
  columns are custom fields). Empty cells are left out, not sent. Blank lines are
  skipped. Quoted cells may span lines.
- JSON Lines (``.jsonl``/``.ndjson``): one JSON object per line; ``null`` values
  are left out. Blank lines are skipped.

A file that cannot be read as rows (no header, a duplicate column, a record with
more cells than the header, a line that is not a JSON object) raises
``RowFileError`` naming the line.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TextIO

from .._exceptions import InvalidInputError
from .._fields import prepare_session_fields

__all__ = [
    "FORMATS",
    "RowFileError",
    "SourceRow",
    "check_rows",
    "detect_format",
    "iter_rows",
    "row_digest",
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
    """One row of the input file: its fields, where it starts, and its content hash."""

    __slots__ = ("digest", "fields", "index", "line")

    def __init__(self, line: int, index: int, fields: dict[str, Any]) -> None:
        self.line = line
        self.index = index
        self.fields = fields
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


def iter_rows(path: Path) -> Generator[SourceRow, None, None]:
    """Yield the rows of ``path`` one at a time (the file is never read whole).

    Raises:
        RowFileError: the file is missing, unreadable or malformed.
    """
    fmt = detect_format(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="" if fmt == "csv" else None)
    except OSError as exc:
        raise RowFileError(path, f"cannot open: {exc.strerror or exc}") from None
    with handle:
        try:
            if fmt == "csv":
                yield from _csv_rows(path, handle)
            else:
                yield from _jsonl_rows(path, handle)
        except UnicodeDecodeError as exc:
            raise RowFileError(path, f"not UTF-8 text ({exc.reason})") from None
        except OSError as exc:
            raise RowFileError(path, f"read failed: {exc.strerror or exc}") from None


def _header(path: Path, cells: list[str], line: int) -> list[str]:
    names = [cell.strip() for cell in cells]
    seen: set[str] = set()
    for number, name in enumerate(names, 1):
        if not name:
            raise RowFileError(path, f"header column {number} has no name", line)
        if name in seen:
            raise RowFileError(path, f"header names column {name!r} twice", line)
        seen.add(name)
    return names


def _csv_rows(path: Path, handle: Any) -> Iterator[SourceRow]:
    reader = csv.reader(handle, strict=True)
    header: list[str] | None = None
    index = 0
    start = 1  # the physical line the next record starts on
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cells):
                continue
            if header is None:
                header = _header(path, cells, line)
                continue
            if len(cells) > len(header):
                raise RowFileError(
                    path, f"{len(cells)} cells, but the header has {len(header)} columns", line
                )
            fields = {name: cell for name, cell in zip(header, cells, strict=False) if cell != ""}
            yield SourceRow(line, index, fields)
            index += 1
    except csv.Error as exc:
        raise RowFileError(path, f"malformed CSV ({exc})", reader.line_num) from None
    if header is None:
        raise RowFileError(path, "no header row: the first line must name the columns")


def _jsonl_rows(path: Path, handle: Any) -> Iterator[SourceRow]:
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
        fields = {key: value for key, value in data.items() if value is not None}
        try:
            row = SourceRow(line, index, fields)
        except RecursionError:  # hashing walks the row as deep as it goes
            raise RowFileError(path, "JSON nested too deeply", line) from None
        yield row
        index += 1


def check_rows(path: Path, event_id: int | None, out: TextIO) -> int:
    """Validate every row as a create (nothing is sent), list the bad ones; return their count.

    ``event_id`` fills rows without one, as the import does.
    """
    bad = total = 0
    for row in iter_rows(path):
        total += 1
        fields = dict(row.fields)
        if event_id is not None and fields.get("event_id") in (None, ""):
            fields["event_id"] = event_id
        try:
            prepare_session_fields(fields, creating=True)
        except InvalidInputError as exc:
            bad += 1
            out.write(f"{path}:{row.line}: {exc.field}: {exc.reason}\n")
    verdict = f"{bad} of {total} rows are invalid" if bad else f"all {total} rows are valid"
    out.write(f"Dry run: {verdict}; nothing was sent.\n")
    return bad
