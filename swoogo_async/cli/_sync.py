"""The sync run: make an event's sessions match a file, recorded in the report as it goes.

It is the import's run (``ImportRun``: the report, Ctrl-C, the summary) with two
differences. Rows go through ``sessions.sync``, which reads the event first and then
creates, updates or leaves each row. And a row is recorded ``attempted`` (synced to
disk) only when it is about to be written: an unchanged row costs no request and no
disk sync. ``--resume`` skips the lines a report shows done; a row whose outcome was
unknown needs no lookup of its own, since the run reads the event afresh first.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TextIO

import attrs

from .._client.client import SwoogoClient
from .._writes.bulk import RowInput
from .._writes.sync_plan import DEFAULT_KEY, RowPlan
from ._columns import RowOptions
from ._import import ImportOptions, ImportRun
from ._report import ImportOutcome, error_info, row_record
from ._resume import PriorRun
from ._rows import SourceRow, iter_rows, row_errors

__all__ = ["RowFile", "SyncOptions", "SyncRun", "dry_run_sync", "sync_file"]


@attrs.define
class SyncOptions(ImportOptions):
    """What ``sync`` runs: the import's options, the key and the dry-run switch."""

    key: tuple[str, ...] = DEFAULT_KEY
    dry_run: bool = False


class RowFile:
    """The rows of a file, read afresh on each iteration (the sync reads them twice)."""

    def __init__(self, path: Path, opts: RowOptions) -> None:
        self.path = path
        self.opts = opts

    def __iter__(self) -> Iterator[SourceRow]:
        return iter_rows(self.path, self.opts)


class SyncRun(ImportRun):
    """One sync: ``ImportRun`` with the rows sent through ``sessions.sync``."""

    title = "Sync"
    command = "sync"

    def extra_args(self) -> tuple[str, ...]:
        assert isinstance(self.opts, SyncOptions)
        return ("--key", ",".join(self.opts.key))

    async def rows(self) -> AsyncIterator[SourceRow]:
        """Yield the rows not yet done, until the run is stopped."""
        with contextlib.closing(iter_rows(self.opts.file, self.opts.rows)) as source:
            for row in source:
                if row.line in self.prior.created:
                    continue
                if self.stop.is_set():
                    return
                errors = row_errors(row, self.opts.event_id)
                if errors:
                    self.refuse(row, errors)  # every bad field named, as import does
                    continue
                self.inflight[row.line] = row
                yield row

    def before_write(self, row: RowInput, plan: RowPlan) -> bool:
        """Record the row ``attempted`` on disk before its write leaves; False stops it."""
        assert isinstance(row, SourceRow)
        return self._write(row_record(row, "attempted", session_id=plan.session_id), durable=True)

    async def pump(self) -> None:
        """Run the rows through ``sessions.sync`` and record each result."""
        assert isinstance(self.opts, SyncOptions)
        run = self.client.sessions.sync(
            self.rows(),
            event_id=self.require_event(),
            key=self.opts.key,
            concurrency=self.opts.concurrency,
            ordered=self.opts.ordered,
            on_progress=self.sink.update,
            scan=RowFile(self.opts.file, self.opts.rows),
            before_write=self.before_write,
        )
        self.progress = run.progress
        async with run:
            async for result in run:
                self.finished(result)

    def require_event(self) -> int:
        assert self.opts.event_id is not None  # the parser requires --event-id
        return self.opts.event_id


async def sync_file(
    opts: SyncOptions,
    client: SwoogoClient,
    prior: PriorRun,
    total: int,
    *,
    out: TextIO,
    err: TextIO,
) -> ImportOutcome:
    """Make the event match ``opts.file``; write the report; print the summary.

    Ctrl-C behaves as in ``import_file``.

    Raises:
        ReportError: the report could not be written (after the summary is printed).
        SwoogoError: the event's sessions could not be read (nothing was written).
    """
    return await SyncRun(opts, client, prior, total, err).run(out)


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
    order = ("created", "updated", "unchanged", "invalid", "ambiguous")
    words = {"created": "to create", "updated": "to update"}
    summary = ", ".join(f"{counts.get(s, 0)} {words.get(s, s)}" for s in order)
    out.write(
        f"Dry run: {summary}; read with {client.credits_spent - start} credits; nothing was"
        " written.\n"
    )
    return counts.get("invalid", 0) + counts.get("ambiguous", 0)
