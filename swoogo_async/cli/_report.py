"""The import report: JSON Lines, one line per event in a row's life.

Before a row's create request leaves, an ``attempted`` line is written and synced
to disk; when the row finishes, its outcome line follows. So a hard kill (SIGKILL,
OOM, power loss) leaves, for every row that may have reached the server, at least
its ``attempted`` line, and ``--resume`` looks such rows up before sending them
again. Every line is one ``write``, flushed at once::

    {"line": 12, "index": 10, "status": "created", "session_id": 1042, "name": "Keynote",
     "hash": "5f0c…", "at": "2026-05-01T09:00:00Z", "error": null}

``status`` is ``attempted`` or an outcome (``created``, ``failed``, ``invalid``,
``unknown``, ``present`` (the event has a session with the row's key: nothing sent)
and ``ambiguous``; a sync also reports ``updated`` with the ``changed`` fields and
``unchanged``). ``error`` is ``{"type", "message", "field", "status"}``; for an
``unknown`` row it also holds the submitted ``fields`` (and any ``candidates``), so
nothing is lost; an ``ambiguous`` row's ``candidates`` are the sessions sharing its
key. No credential or token ever appears in it. Reading a report back
is ``_resume.py``'s job.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import errno
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TextIO

import attrs

from .._api.endpoints import form_value
from .._exceptions import (
    AmbiguousMatchError,
    APIError,
    InvalidInputError,
    SwoogoError,
    UnknownOutcomeError,
)
from .._exceptions import ValidationError as APIValidationError
from .._writes.bulk_results import BulkSummary
from ._progress import format_duration
from ._rows import SourceRow

__all__ = [
    "MAX_PROBLEMS_SHOWN",
    "ImportOutcome",
    "ReportError",
    "ReportWriter",
    "default_report_path",
    "error_info",
    "invalid_info",
    "jsonable",
    "print_summary",
    "row_record",
    "utc_stamp",
]


MAX_PROBLEMS_SHOWN = 10


class ReportError(Exception):
    """A report cannot be read or written."""


def utc_stamp(now: dt.datetime | None = None) -> str:
    """Return ``now`` (default: the current time) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_report_path(
    now: dt.datetime | None = None, directory: Path | None = None, command: str = "import"
) -> Path:
    """Return ``swoogo-<command>-report-<UTC timestamp>.jsonl`` in ``directory`` (the cwd)."""
    stamp = utc_stamp(now).replace(":", "").replace("-", "")
    return (directory or Path.cwd()) / f"swoogo-{command}-report-{stamp}.jsonl"


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
    if isinstance(error, AmbiguousMatchError):
        info["candidates"] = list(error.candidates)
    return info


def invalid_info(errors: Sequence[InvalidInputError]) -> dict[str, Any]:
    """Describe a row's bad fields (at least one) for the report: each one, in ``errors``."""
    return {
        "type": type(errors[0]).__name__,
        "message": "; ".join(str(error) for error in errors),
        "field": errors[0].field,
        "status": None,
        "errors": [{"field": error.field, "message": error.reason} for error in errors],
    }


def row_record(
    row: SourceRow,
    status: str,
    *,
    session_id: int | None = None,
    error: dict[str, Any] | None = None,
    note: str | None = None,
    changed: tuple[str, ...] = (),
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
    if changed:
        record["changed"] = list(changed)
    if note is not None:
        record["note"] = note
    return record


def _sync(file: IO[str]) -> None:
    """Sync ``file`` to disk; a file that cannot be synced (a pipe, a tty) is left as is."""
    try:
        os.fsync(file.fileno())
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise


class ReportWriter:
    """Append report lines to a file, each flushed as it is written.

    Raises:
        ReportError: on any failure to write (a full disk, ``/dev/full``).
    """

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

    def write(self, record: Mapping[str, Any], *, durable: bool = False) -> None:
        """Write one line and flush it; ``durable`` also syncs it to disk."""
        try:
            self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            self._file.flush()
            if durable:
                _sync(self._file)
        except OSError as exc:
            raise ReportError(
                f"cannot write the report {self.path}: {exc.strerror or exc}"
            ) from None
        self.lines += 1

    def copy_from(self, path: Path) -> None:
        """Append the lines of another report (a cut line too: it still names its row)."""
        try:
            with path.open(encoding="utf-8") as old:
                for text in old:
                    if text.strip():
                        self._file.write(text if text.endswith("\n") else text + "\n")
            self._file.flush()
            _sync(self._file)
        except OSError as exc:
            raise ReportError(
                f"cannot write the report {self.path}: {exc.strerror or exc}"
            ) from None

    def close(self) -> None:
        """Flush to disk and close."""
        if not self._file.closed:
            with contextlib.suppress(OSError):  # already reported by ``write``, or a pipe
                self._file.flush()
                os.fsync(self._file.fileno())
            with contextlib.suppress(OSError):
                self._file.close()

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@attrs.define
class ImportOutcome:
    """The counts of one import (or sync) run."""

    summary: BulkSummary
    skipped: int
    elapsed: float
    report: Path
    interrupted: bool
    credits: int | None = None
    title: str = "Import"

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
        f"\n{outcome.title} {state} in {format_duration(outcome.elapsed)}"
        f" ({outcome.elapsed:.1f} s, {rate:.1f} rows/s)\n"
        f"  created            {s.created:>8}\n"
    )
    if outcome.title != "Import":
        out.write(f"  updated            {s.updated:>8}\n  unchanged          {s.unchanged:>8}\n")
    else:
        out.write(f"  already present    {s.present:>8}\n")
    out.write(f"  failed             {s.failed:>8}\n  invalid            {s.invalid:>8}\n")
    out.write(f"  ambiguous          {s.ambiguous:>8}\n")
    out.write(f"  unknown outcome    {s.unknown:>8}\n  skipped (resumed)  {outcome.skipped:>8}\n")
    if outcome.credits is not None:
        per_row = outcome.credits / s.total if s.total else 0.0
        out.write(f"  credits spent      {outcome.credits:>8}  ({per_row:.2f} per row)\n")
    out.write(f"  report             {outcome.report}\n")
    if problems:
        more = " (the first few; all are in the report)"
        verb = "created" if outcome.title == "Import" else "synced"
        shown = more if len(problems) >= MAX_PROBLEMS_SHOWN else ""
        out.write(f"Rows not {verb}{shown}:\n")
        for problem in problems:
            out.write(f"  {problem}\n")
