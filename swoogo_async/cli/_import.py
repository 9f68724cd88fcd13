"""The import run: a session per row of a file, recorded in the report as it goes.

Each row is recorded ``attempted`` (synced to disk) before its create can leave, and
its outcome when it finishes. If the report cannot be written (a full disk), no
further row is sent; rows in flight finish, and any outcome the report could not
take is printed to stderr, so nothing already created goes unrecorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TextIO

import attrs

from .._client.client import SwoogoClient
from .._exceptions import InvalidInputError
from .._writes.bulk import BulkProgress, BulkResult, BulkStatus, BulkSummary
from .._writes.lookup import DEFAULT_CONCURRENCY
from ._columns import RowOptions
from ._progress import ProgressSink, make_progress
from ._report import (
    MAX_PROBLEMS_SHOWN,
    ImportOutcome,
    ReportError,
    ReportWriter,
    default_report_path,
    error_info,
    invalid_info,
    print_summary,
    row_record,
)
from ._resume import PriorRun, check_resume, read_report, settle
from ._rows import SourceRow, iter_rows, row_errors

__all__ = ["PROG", "ImportOptions", "ImportRun", "import_file", "prepare_import", "resume_command"]

PROG = "swoogo-async"
#: Outcomes that leave the row as the file says.
_DONE = frozenset({"created", "updated", "unchanged"})


@attrs.define
class ImportOptions:
    """What ``import`` (and ``demo``) run."""

    file: Path
    event_id: int | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    report: Path | None = None
    resume: Path | None = None
    ordered: bool = False
    progress: bool = True
    grace: float = 5.0
    base_url: str | None = None
    rows: RowOptions = attrs.field(factory=RowOptions)


def prepare_import(opts: ImportOptions, *, dropped: set[str] | None = None) -> tuple[PriorRun, int]:
    """Read the report to resume from and check the file against it; return the row count.

    The columns ``--ignore-unknown-columns`` drops are added to ``dropped``.

    Raises:
        RowFileError, ReportError: the file or report is unusable (nothing was sent).
    """
    prior = read_report(opts.resume) if opts.resume is not None else PriorRun()
    return prior, check_resume(prior, iter_rows(opts.file, opts.rows, dropped=dropped), opts.file)


def resume_command(
    opts: ImportOptions, report: Path, command: str = "import", extra: tuple[str, ...] = ()
) -> str:
    """Return the command line that resumes this import (or sync) from ``report``."""
    args = [PROG, command, str(opts.file)]
    if opts.event_id is not None:
        args += ["--event-id", str(opts.event_id)]
    if opts.base_url:
        args += ["--base-url", opts.base_url]
    return shlex.join([*args, *opts.rows.argv(), *extra, "--resume", str(report)])


async def import_file(
    opts: ImportOptions,
    client: SwoogoClient,
    prior: PriorRun,
    total: int,
    *,
    out: TextIO,
    err: TextIO,
) -> ImportOutcome:
    """Create a session per row of ``opts.file``; write the report; print the summary.

    The first Ctrl-C stops taking rows and gives those in flight ``opts.grace``
    seconds before cancelling them; a second cancels them at once. Rows cancelled in
    flight are reported ``unknown`` (``--resume`` looks them up before resending).

    Raises:
        ReportError: the report could not be written (after the summary is printed).
    """
    run = ImportRun(opts, client, prior, total, err)
    return await run.run(out)


class ImportRun:
    """The state of one import: its report, counts and rows in flight.

    ``cli/_sync.py`` runs a sync through the same class, replacing ``rows`` and ``pump``.
    """

    title = "Import"
    command = "import"

    def __init__(
        self, opts: ImportOptions, client: SwoogoClient, prior: PriorRun, total: int, err: TextIO
    ) -> None:
        self.opts, self.client, self.prior, self.err = opts, client, prior, err
        self.report_path = opts.report or opts.resume or default_report_path(command=self.command)
        self.writer = ReportWriter(self.report_path, append=True)
        if opts.resume is not None and not _same_file(opts.resume, self.report_path):
            # The new report starts with the old one, so that it alone can be resumed from.
            self.writer.copy_from(opts.resume)
        self.sink: ProgressSink = make_progress(
            total - len(prior.created), enabled=opts.progress, stream=err
        )
        self.summary = BulkSummary()
        self.problems: list[str] = []
        self.inflight: dict[int, SourceRow] = {}
        self.claimed = prior.claimed_ids() if prior.uncertain else None
        self.stop = asyncio.Event()
        self.progress = BulkProgress()
        self.report_error: ReportError | None = None
        self.credits_at_start = client.credits_spent

    def _write(self, record: dict[str, Any], *, durable: bool = False) -> bool:
        """Write a report line; on failure stop the run and keep the line on stderr."""
        if self.report_error is None:
            try:
                self.writer.write(record, durable=durable)
                return True
            except ReportError as exc:
                self.report_error = exc
                self.stop.set()
                self.err.write(f"\n{PROG}: error: {exc}; no further row is sent\n")
        if record["status"] != "attempted":
            self.err.write(f"unrecorded outcome: {json.dumps(record, default=str)}\n")
        return False

    def record(self, row: SourceRow, status: BulkStatus, **kw: Any) -> None:
        """Report one row's outcome and count it."""
        self._write(row_record(row, status, **kw))
        self.summary.count(status)
        if status not in _DONE and len(self.problems) < MAX_PROBLEMS_SHOWN:
            error = kw.get("error") or {}
            self.problems.append(f"line {row.line}: {status}: {error.get('message', '')}")

    def refuse(self, row: SourceRow, errors: list[InvalidInputError]) -> None:
        """Report an invalid row with every bad field (the engine would name only the first)."""
        self.record(row, "invalid", error=invalid_info(errors))
        # The row never reaches the engine: count it in the run's live counters, so
        # that the progress display covers every row of the file.
        self.progress.submitted += 1
        self.progress.finish(BulkResult(row.index, row, "invalid", None, errors[0]))
        self.sink.update(self.progress)

    async def rows(self) -> AsyncIterator[SourceRow]:
        """Yield the rows to send, each recorded ``attempted`` on disk first."""
        prior, claimed = self.prior, self.claimed
        with contextlib.closing(iter_rows(self.opts.file, self.opts.rows)) as source:
            for row in source:
                if row.line in prior.created:
                    continue
                if self.stop.is_set():
                    return
                if claimed is not None and row.line in prior.uncertain:
                    since = prior.uncertain[row.line][1]
                    settled = await settle(self.client, row, self.opts.event_id, since, claimed)
                    if settled is not None:
                        self.record(row, settled[0], **settled[1])
                        continue
                errors = row_errors(row, self.opts.event_id)
                if errors:
                    self.refuse(row, errors)
                    continue
                # The bulk engine sends a row as soon as it takes it: record it first.
                if not self._write(row_record(row, "attempted"), durable=True):
                    return
                self.inflight[row.line] = row
                yield row

    async def pump(self) -> None:
        """Run the rows through ``create_many`` and record each result."""
        run = self.client.sessions.create_many(
            self.rows(),
            concurrency=self.opts.concurrency,
            ordered=self.opts.ordered,
            on_progress=self.sink.update,
            event_id=self.opts.event_id,
        )
        self.progress = run.progress
        async with run:
            async for result in run:
                session_id = self.finished(result)
                if self.claimed is not None and session_id is not None:
                    self.claimed.add(session_id)

    def finished(self, result: BulkResult) -> int | None:
        """Record a row the engine finished; return its session id."""
        row = result.row
        assert isinstance(row, SourceRow)
        self.inflight.pop(row.line, None)
        error = error_info(result.error) if result.error is not None else None
        session_id = result.id
        self.record(row, result.status, session_id=session_id, error=error, changed=result.changed)
        return session_id

    async def run(self, out: TextIO) -> ImportOutcome:
        """Run the import under the Ctrl-C handling; print the summary."""
        started = time.monotonic()
        task = asyncio.create_task(self.pump())
        interrupted = False
        loop = asyncio.get_running_loop()

        def on_sigint() -> None:
            nonlocal interrupted
            if interrupted:
                task.cancel()
                return
            interrupted = True
            self.stop.set()
            self.err.write(
                f"\nInterrupted: finishing {len(self.inflight)} row(s) in flight (up to"
                f" {self.opts.grace:g} s; Ctrl-C again to stop now)\n"
            )
            loop.call_later(self.opts.grace, task.cancel)

        handled = _add_sigint(loop, on_sigint)
        try:
            await task
        except asyncio.CancelledError:
            if not task.done():  # this coroutine itself was cancelled
                interrupted = True
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                raise
            if not interrupted:
                raise
        finally:
            if handled:
                loop.remove_signal_handler(signal.SIGINT)
            outcome = self._finish(out, time.monotonic() - started, interrupted)
        if self.report_error is not None:
            raise self.report_error
        return outcome

    def extra_args(self) -> tuple[str, ...]:
        """Options beyond the common ones that a resumed run needs."""
        return ()

    def _finish(self, out: TextIO, elapsed: float, interrupted: bool) -> ImportOutcome:
        for row in self.inflight.values():
            info = {"type": "Interrupted", "field": None, "status": None, "fields": row.fields}
            info["message"] = "stopped while in flight: the session may or may not exist"
            self.record(row, "unknown", error=info)
        self.sink.close(self.progress)
        self.writer.close()
        outcome = ImportOutcome(
            self.summary,
            len(self.prior.created),
            elapsed,
            self.report_path,
            interrupted,
            self.client.credits_spent - self.credits_at_start,
            self.title,
        )
        print_summary(outcome, self.problems, out)
        if interrupted:
            command = resume_command(self.opts, self.report_path, self.command, self.extra_args())
            out.write(f"To resume: {command}\n")
        out.flush()
        return outcome


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _add_sigint(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> bool:
    try:
        loop.add_signal_handler(signal.SIGINT, callback)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
        return False
    return True
