"""Resuming an import or sync from its report: the lines it may skip.

A line reported done (``created``, ``present``; a sync's ``updated``, ``unchanged``)
is skipped, provided the file still has the same row there (same hash). This is only
a fast path: every other row, including one with an ``attempted`` line and no
outcome (the run was killed), an ``unknown`` outcome or a line cut short by a crash,
goes through the run, which reads the event first and finds a session the earlier
attempt made by the row's key. Nothing depends on the report being intact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ._report import ReportError
from ._rows import SourceRow

__all__ = [
    "PriorRun",
    "ResumeMismatchError",
    "check_resume",
    "read_report",
]

_LINE_RE = re.compile(r'\s*\{\s*"line"\s*:\s*(\d+)\s*,')
#: Outcomes that show the server did not keep the row.
_NOT_CREATED = frozenset({"failed", "invalid", "ambiguous"})
#: Outcomes that settle a row: it matches the server (a sync reports the last two).
_DONE = frozenset({"created", "updated", "unchanged", "present"})


class ResumeMismatchError(ReportError):
    """The file no longer has, at some line, the row the report says was created."""


@attrs.define
class PriorRun:
    """What an earlier report says: created lines, and lines whose outcome is unknown.

    Attributes:
        created: line -> (row hash, session id) for every line reported created (or,
            by a sync, updated or unchanged).
        uncertain: line -> (row hash, time of the earliest ``attempted``/``unknown``
            line) for rows that may have reached the server but are not reported
            ``created`` (or whose line was cut short); an empty hash or time means
            it was lost.
    """

    created: dict[int, tuple[str, int | None]] = attrs.field(factory=dict)
    uncertain: dict[int, tuple[str, str]] = attrs.field(factory=dict)


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
    if status in _DONE:
        session_id = record.get("session_id")
        prior.created[line] = (digest, session_id if type(session_id) is int else None)
        prior.uncertain.pop(line, None)
    elif status in _NOT_CREATED:
        prior.uncertain.pop(line, None)
    elif line not in prior.created and line not in prior.uncertain:
        # ``attempted`` with no outcome yet, ``unknown``, or a status this version does
        # not know: the row may exist, so it is looked up before it is sent again.
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
