"""Resuming an import from its report: what is settled, and what must be looked up.

A line reported ``created`` is skipped, provided the file still has the same row
there (same hash). A row with an ``attempted`` line and no outcome (the run was
killed), an ``unknown`` outcome, or a line cut short by a crash may exist on the
server: it is looked up, every submitted field compared, before it is sent again.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .._api.fields import prepare_session_fields
from .._api.models import Session
from .._exceptions import InvalidInputError, SwoogoError
from .._writes.bulk import BulkStatus
from .._writes.create import find_matches
from ._report import ReportError, error_info
from ._rows import SourceRow

if TYPE_CHECKING:
    from .._client.client import SwoogoClient

__all__ = [
    "PriorRun",
    "ResumeMismatchError",
    "check_resume",
    "find_existing",
    "read_report",
    "settle",
]

_LINE_RE = re.compile(r'\s*\{\s*"line"\s*:\s*(\d+)\s*,')
#: How far before a row's first ``attempted``/``unknown`` line a lookup searches for its
#: session: the create may have started up to a whole retry deadline (and a pacing wait)
#: earlier.
LOOKUP_MARGIN = dt.timedelta(minutes=15)
#: Outcomes that show the server did not keep the row.
_NOT_CREATED = frozenset({"failed", "invalid", "ambiguous"})
#: Outcomes that settle a row: it matches the server (a sync reports the last two).
_DONE = frozenset({"created", "updated", "unchanged"})


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


async def find_existing(
    client: SwoogoClient, fields: Mapping[str, Any], *, since: str, claimed: set[int]
) -> tuple[list[Session], list[Session]]:
    """Return the sessions an earlier, unsettled create of ``fields`` may have made: strict, loose.

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
    return await find_matches(client, prepared, since=start, excluded=frozenset(claimed))


async def settle(
    client: SwoogoClient, row: SourceRow, event_id: int | None, since: str, claimed: set[int]
) -> tuple[BulkStatus, dict[str, Any]] | None:
    """Look up a row whose earlier outcome was unknown, before it is sent again.

    Returns:
        None to send the row (no such session exists, or the row is invalid), else the
        status and ``row_record`` arguments to report it with: ``created`` if exactly
        one unclaimed session matches (it is then claimed), ``unknown`` if several do,
        if only loose matches exist (``find_matches``) or if the lookup failed.
    """
    fields = dict(row.fields)
    if event_id is not None:
        fields.setdefault("event_id", event_id)
    try:
        matches, loose = await find_existing(client, fields, since=since, claimed=claimed)
    except InvalidInputError:
        return None
    except SwoogoError as exc:
        return "unknown", {"error": error_info(exc), "note": "lookup before resending failed"}
    if not matches and not loose:
        return None
    if len(matches) == 1 and matches[0].id is not None:
        claimed.add(matches[0].id)
        return "created", {"session_id": matches[0].id, "note": "found on the server"}
    if matches:
        ids = [s.id for s in matches]
        message = f"several sessions match: {ids}"
    else:  # never claimed, never re-sent: the server may fill a left-out field its own way
        ids = [s.id for s in loose]
        message = f"sessions {ids} hold the row's fields but other values in fields it left out"
    error = {"type": "Ambiguous", "message": message, "field": None, "status": None}
    return "unknown", {"error": {**error, "candidates": ids}}
