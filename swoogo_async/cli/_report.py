"""The import report (JSON Lines, one line per finished row) and resuming from one.

Each line is written in one ``write`` and flushed as its row finishes, so a crash
or Ctrl-C leaves a report whose every line is complete JSON::

    {"line": 12, "index": 10, "status": "created", "session_id": 1042, "name": "Keynote",
     "hash": "5f0c…", "at": "2026-05-01T09:00:00Z", "error": null}

``error`` is ``{"type", "message", "field", "status"}``; for an ``unknown`` row it
also holds the submitted ``fields`` (and any ``candidates``), so nothing is lost.
No credential or token ever appears in it.

Resuming reads a report back: a line reported ``created`` is skipped, provided the
file still has the same row there (same hash); a line reported ``unknown`` is
looked up on the server before it is sent again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

import attrs

from .._bulk import BulkStatus, BulkSummary
from .._exceptions import APIError, InvalidInputError, SwoogoError, UnknownOutcomeError
from .._exceptions import ValidationError as APIValidationError
from .._fields import prepare_session_fields
from .._forms import form_value
from .._models import Session
from ._progress import format_duration
from ._rows import SourceRow

if TYPE_CHECKING:
    from .._resources import Sessions

__all__ = [
    "MAX_PROBLEMS_SHOWN",
    "ImportOutcome",
    "PriorRun",
    "ReportError",
    "ReportWriter",
    "ResumeMismatchError",
    "check_resume",
    "default_report_path",
    "error_info",
    "find_existing",
    "jsonable",
    "print_summary",
    "read_report",
    "row_record",
    "settle",
    "utc_stamp",
]


MAX_PROBLEMS_SHOWN = 10
_LINE_RE = re.compile(r'\s*\{\s*"line"\s*:\s*(\d+)\s*,')
#: How far before an ``unknown`` report line a lookup searches for the session: the
#: create may have started up to a whole retry deadline (and a pacing wait) earlier.
LOOKUP_MARGIN = dt.timedelta(minutes=15)


class ReportError(Exception):
    """A report cannot be read or written."""


class ResumeMismatchError(ReportError):
    """The file no longer has, at some line, the row the report says was created."""


def utc_stamp(now: dt.datetime | None = None) -> str:
    """Return ``now`` (default: the current time) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_report_path(now: dt.datetime | None = None, directory: Path | None = None) -> Path:
    """Return ``swoogo-import-report-<UTC timestamp>.jsonl`` in ``directory`` (the cwd)."""
    stamp = utc_stamp(now).replace(":", "").replace("-", "")
    return (directory or Path.cwd()) / f"swoogo-import-report-{stamp}.jsonl"


def jsonable(value: Any) -> Any:
    """Return ``value`` with dates, times and enums turned into the text the API is sent."""
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dt.date, dt.time, enum.Enum)):
        return form_value(value)
    return str(value)


def error_info(error: SwoogoError) -> dict[str, Any]:
    """Describe ``error`` for the report."""
    info: dict[str, Any] = {
        "type": type(error).__name__,
        "message": str(error),
        "field": None,
        "status": None,
    }
    if isinstance(error, InvalidInputError):
        info["field"] = error.field
    if isinstance(error, APIError):
        info["status"] = error.status
    if isinstance(error, APIValidationError) and error.errors:
        info["field"] = error.errors[0].field
        info["errors"] = [{"field": e.field, "message": e.message} for e in error.errors]
    if isinstance(error, UnknownOutcomeError):
        cause = error.cause
        if isinstance(cause, APIError):
            info["status"] = cause.status
        info["fields"] = jsonable(error.fields)
        info["candidates"] = list(error.candidates)
    return info


def row_record(
    row: SourceRow,
    status: str,
    *,
    session_id: int | None = None,
    error: dict[str, Any] | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Return the report line for one finished row."""
    name = row.fields.get("name")
    record: dict[str, Any] = {
        "line": row.line,
        "index": row.index,
        "status": status,
        "session_id": session_id,
        "name": name if isinstance(name, str) else None,
        "hash": row.digest,
        "at": utc_stamp(),
        "error": error,
    }
    if note is not None:
        record["note"] = note
    return record


class ReportWriter:
    """Append report lines to a file, each flushed as it is written."""

    def __init__(self, path: Path, *, append: bool) -> None:
        self.path = path
        self.lines = 0
        try:
            self._file: IO[str] = path.open("a" if append else "x", encoding="utf-8")
            if append and self._file.tell() > 0:
                self._end_last_line()
        except OSError as exc:
            raise ReportError(f"cannot write the report {path}: {exc.strerror or exc}") from None

    def _end_last_line(self) -> None:
        # A run killed mid-write may have left a partial last line: start a fresh one.
        with self.path.open("rb") as existing:
            existing.seek(-1, os.SEEK_END)
            if existing.read(1) != b"\n":
                self._file.write("\n")

    def write(self, record: Mapping[str, Any]) -> None:
        """Write one line and flush it."""
        self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._file.flush()
        self.lines += 1

    def copy_from(self, path: Path) -> None:
        """Append the lines of another report (a cut line too: it still names its row)."""
        with path.open(encoding="utf-8") as old:
            for text in old:
                if text.strip():
                    self._file.write(text if text.endswith("\n") else text + "\n")
        self._file.flush()

    def close(self) -> None:
        """Flush to disk and close."""
        if not self._file.closed:
            self._file.flush()
            with contextlib.suppress(OSError):  # e.g. a pipe
                os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@attrs.define
class PriorRun:
    """What an earlier report says: created lines, and lines whose outcome is unknown.

    Attributes:
        created: line -> (row hash, session id) for every line reported created.
        uncertain: line -> (row hash, time of the earliest ``unknown`` report) for
            lines reported ``unknown`` (or cut short) and never ``created``; an
            empty hash or time means it was lost.
    """

    created: dict[int, tuple[str, int | None]] = attrs.field(factory=dict)
    uncertain: dict[int, tuple[str, str]] = attrs.field(factory=dict)

    def claimed_ids(self) -> set[int]:
        """Session ids already attributed to a row."""
        return {sid for _, sid in self.created.values() if sid is not None}


def read_report(path: Path) -> PriorRun:
    """Read a report for ``--resume``.

    A line cut short by a crash cannot say how its row ended: if its line number
    can still be read, that row is treated as ``unknown`` (looked up before it is
    sent again), so a cut ``created`` line never leads to a duplicate.

    Raises:
        ReportError: the report is missing, or no line of it is a report line.
    """
    prior = PriorRun()
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot read the report {path}: {exc.strerror or exc}") from None
    good = 0
    cut: list[int] = []
    with handle:
        for text in handle:
            if not text.strip():
                continue
            try:
                record = json.loads(text)
                line, status, digest = record["line"], record["status"], record["hash"]
                if type(line) is not int or not isinstance(digest, str):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                match = _LINE_RE.match(text)
                if match is not None:
                    cut.append(int(match[1]))
                continue
            good += 1
            _fold(prior, line, status, digest, record)
    if not good and (cut or path.stat().st_size):
        raise ReportError(f"{path} is not an import report")
    for line in cut:
        if line not in prior.created:
            prior.uncertain.setdefault(line, ("", ""))
    return prior


def _fold(prior: PriorRun, line: int, status: str, digest: str, record: Mapping[str, Any]) -> None:
    if status == "created":
        session_id = record.get("session_id")
        prior.created[line] = (digest, session_id if type(session_id) is int else None)
        prior.uncertain.pop(line, None)
    elif status == "unknown" and line not in prior.created and line not in prior.uncertain:
        prior.uncertain[line] = (digest, str(record.get("at") or ""))


def check_resume(prior: PriorRun, rows: Iterable[SourceRow], file: Path) -> int:
    """Check that every line the report names still holds the same row; return the row count.

    Raises:
        ResumeMismatchError: a reported row is gone or changed.
    """
    remaining = set(prior.created) | set(prior.uncertain)
    count = 0
    for row in rows:
        count += 1
        expected = prior.created.get(row.line) or prior.uncertain.get(row.line)
        if expected is None:
            continue
        remaining.discard(row.line)
        if expected[0] and expected[0] != row.digest:
            raise ResumeMismatchError(
                f"{file}:{row.line} is not the row the report recorded there (hash"
                f" {row.digest} != {expected[0]}): the file was edited since the import."
                " Rows are identified by line number, so resuming could skip or repeat"
                " rows; refusing."
            )
    if remaining:
        first = min(remaining)
        raise ResumeMismatchError(
            f"the report names line {first} of {file}, but no row starts there: the file"
            " was edited since the import; refusing to resume."
        )
    return count


async def find_existing(
    sessions: Sessions, fields: Mapping[str, Any], *, since: str, claimed: set[int]
) -> list[Session]:
    """Return the sessions that an earlier, unsettled create of ``fields`` may have made.

    ``since`` is the report's ``at`` of that outcome; sessions already attributed to
    another row (``claimed``) are left out.

    Raises:
        InvalidInputError: the row is invalid (it cannot have been created).
        SwoogoError: the lookup failed.
    """
    prepared = prepare_session_fields(fields, creating=True)
    try:
        stamp = dt.datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        start = stamp - LOOKUP_MARGIN
    except ValueError:  # the time was lost with a cut line: search all the event's sessions
        start = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    return await sessions.find_matches(prepared, since=start, excluded=frozenset(claimed))


@attrs.define
class ImportOutcome:
    """The counts of one import run."""

    summary: BulkSummary
    skipped: int
    elapsed: float
    report: Path
    interrupted: bool

    @property
    def exit_code(self) -> int:
        """0 if every row was created (or skipped), 1 if not, 130 if interrupted."""
        if self.interrupted:
            return 130
        return 0 if self.summary.all_ok else 1


def print_summary(outcome: ImportOutcome, problems: list[str], out: TextIO) -> None:
    """Print the counts, the report path and the first few rows that were not created."""
    s = outcome.summary
    rate = s.total / outcome.elapsed if outcome.elapsed > 0 else 0.0
    state = "interrupted" if outcome.interrupted else "finished"
    out.write(
        f"\nImport {state} in {format_duration(outcome.elapsed)} ({outcome.elapsed:.1f} s,"
        f" {rate:.1f} rows/s)\n"
        f"  created            {s.created:>8}\n"
        f"  failed             {s.failed:>8}\n"
        f"  invalid            {s.invalid:>8}\n"
        f"  unknown outcome    {s.unknown:>8}\n"
        f"  skipped (resumed)  {outcome.skipped:>8}\n"
        f"  report             {outcome.report}\n"
    )
    if problems:
        more = " (the first few; all are in the report)"
        out.write(f"Rows not created{more if len(problems) >= MAX_PROBLEMS_SHOWN else ''}:\n")
        for problem in problems:
            out.write(f"  {problem}\n")


async def settle(
    sessions: Sessions, row: SourceRow, event_id: int | None, since: str, claimed: set[int]
) -> tuple[BulkStatus, dict[str, Any]] | None:
    """Look up a row whose earlier outcome was unknown, before it is sent again.

    Returns:
        None to send the row (no such session exists, or the row is invalid), else the
        status and ``row_record`` arguments to report it with: ``created`` if exactly
        one unclaimed session matches (it is then claimed), ``unknown`` if several do
        or the lookup failed.
    """
    fields = dict(row.fields)
    if event_id is not None:
        fields.setdefault("event_id", event_id)
    try:
        matches = await find_existing(sessions, fields, since=since, claimed=claimed)
    except InvalidInputError:
        return None
    except SwoogoError as exc:
        return "unknown", {"error": error_info(exc), "note": "lookup before resending failed"}
    if not matches:
        return None
    if len(matches) == 1 and matches[0].id is not None:
        claimed.add(matches[0].id)
        return "created", {"session_id": matches[0].id, "note": "found on the server"}
    ids = [s.id for s in matches]
    message = f"several sessions match: {ids}"
    error = {"type": "Ambiguous", "message": message, "field": None, "status": None}
    return "unknown", {"error": {**error, "candidates": ids}}
