"""The sync run: make an event's sessions match a file, recorded in the report as it goes.

It is the import's run (``ImportRun``: the event read first, the event's lease, the
report, Ctrl-C, the summary) with updates: a row whose key a session has is updated
(only the fields that differ) or left ``unchanged`` (no request, no disk sync). A
row is recorded ``attempted`` (synced to disk) only when it is about to be written.
``--resume`` skips the lines a report shows done; a row whose outcome was unknown
needs no lookup of its own, since the run reads the event afresh first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import attrs

from .._client.client import SwoogoClient
from ._columns import RowOptions
from ._import import ImportOptions, ImportRun
from ._report import error_info
from ._rows import SourceRow, iter_rows, row_errors

__all__ = ["RowFile", "SyncOptions", "SyncRun", "dry_run_sync", "sync_file"]


@attrs.define
class SyncOptions(ImportOptions):
    """What ``sync`` runs: the import's options (the key included) and the dry-run switch."""

    dry_run: bool = False


class RowFile:
    """The rows of a file, read afresh on each iteration (the sync reads them twice)."""

    def __init__(self, path: Path, opts: RowOptions) -> None:
        self.path = path
        self.opts = opts

    def __iter__(self) -> Iterator[SourceRow]:
        return iter_rows(self.path, self.opts)


class SyncRun(ImportRun):
    """One sync: ``ImportRun`` with updates."""

    title = "Sync"
    command = "sync"
    updates = True


#: Make the event match ``opts.file`` (``ImportRun.run_file`` with updates).
sync_file = SyncRun.run_file


async def dry_run_sync(opts: SyncOptions, client: SwoogoClient, out: TextIO) -> int:
    """Read the event, print the plan (counts, and each row that would change); return bad rows.

    Nothing is written, not even a report.
    """
    assert opts.event_id is not None
    counts: dict[str, int] = {}
    start = client.credits_spent
    run = client.sessions.sync(
        RowFile(opts.file, opts.rows),
        event_id=opts.event_id,
        key=opts.key,
        ordered=True,
        dry_run=True,
    )
    async with run:
        async for result in run:
            counts[result.status] = counts.get(result.status, 0) + 1
            row = result.row
            assert isinstance(row, SourceRow)
            where = f"{opts.file}:{row.line}"
            errors = row_errors(row, opts.event_id)
            if errors:  # what the run would refuse before planning (every bad field)
                counts[result.status] -= 1
                counts["invalid"] = counts.get("invalid", 0) + 1
                for error in errors:
                    out.write(f"{where}: invalid: {error.field}: {error.reason}\n")
            elif result.status == "created":
                out.write(f"{where}: create\n")
            elif result.status == "updated":
                out.write(f"{where}: update {result.session_id}: {', '.join(result.changed)}\n")
            elif result.error is not None:
                out.write(f"{where}: {result.status}: {error_info(result.error)['message']}\n")
    order = ("created", "updated", "unchanged", "invalid", "ambiguous")  # a sync has no present
    words = {"created": "to create", "updated": "to update"}
    summary = ", ".join(f"{counts.get(s, 0)} {words.get(s, s)}" for s in order)
    out.write(
        f"Dry run: {summary}; read with {client.credits_spent - start} credits; nothing was"
        " written.\n"
    )
    return counts.get("invalid", 0) + counts.get("ambiguous", 0)
