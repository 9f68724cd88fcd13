"""The import run: a session per row of a file, recorded in the report as it goes.

Idempotent by design: the import reads each event of the file once (as ``sync``
does, by id) and creates only the rows whose key (``--key``, by default name, date
and start time) no session has; a row whose key a session has is reported
``present`` and nothing is sent for it. So running an import again, or resuming it
from a report that was cut short or lost, creates nothing twice. Two rows of the
file with one key are both ``invalid``.

Writes to one event are one run at a time: the run holds the event's lease
(``SharedState.lease``: Redis when shared, else a file lock on this machine) from
before it reads the event until its last row has finished; a second run waits for
it up to ``--lease-wait`` seconds, then stops with ``LeaseBusyError``, having
written nothing.

Each row is recorded ``attempted`` (synced to disk) before its create can leave, and
its outcome when it finishes. If the report cannot be written (a full disk), no
further row is sent; rows in flight finish, and any outcome the report could not
take is printed to stderr, so nothing already created goes unrecorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
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
from .._writes import DEFAULT_CONCURRENCY, DEFAULT_KEY
from .._writes.bulk_results import BulkProgress, BulkResult, BulkStatus, BulkSummary, RowInput
from .._writes.sync_plan import RowPlan
from ._columns import RowOptions
from ._leases import PROG, EventRows, event_leases, event_of, file_events
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
from ._resume import PriorRun, check_resume, read_report
from ._rows import SourceRow, iter_rows, row_errors

__all__ = [
    "LEASE_WAIT",
    "PROG",
    "ImportOptions",
    "ImportRun",
    "import_file",
    "prepare_import",
    "resume_command",
]

#: Outcomes that leave the row as the file says.
_DONE = frozenset({"created", "updated", "unchanged", "present"})
#: How far the server's clock may be behind this machine's for a session created by a
#: row's attempt to count as created inside that attempt's window.
_CLOCK_SKEW = dt.timedelta(minutes=2)
#: Seconds a run waits for another run's lease on its event(s) by default.
LEASE_WAIT = 60.0


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
    key: tuple[str, ...] = DEFAULT_KEY
    lease_wait: float = LEASE_WAIT


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


class ImportRun:
    """The state of one import: its report, counts and rows in flight.

    ``cli/_sync.py`` runs a sync through the same class, with updates.
    """

    title = "Import"
    command = "import"
    #: Whether a row whose key a session has is updated (sync) or left ``present``.
    updates = False

    def __init__(
        self,
        opts: ImportOptions,
        client: SwoogoClient,
        prior: PriorRun,
        total: int,
        err: TextIO,
        events: list[int] | None = None,
    ) -> None:
        self.opts, self.client, self.prior, self.err = opts, client, prior, err
        self.events = (
            events if events is not None else file_events(opts.file, opts.rows, opts.event_id)
        )
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
        self.stop = asyncio.Event()
        self.progress = BulkProgress()
        self.report_error: ReportError | None = None
        self.credits_at_start = client.credits_spent

    @classmethod
    async def run_file(
        cls,
        opts: ImportOptions,
        client: SwoogoClient,
        prior: PriorRun,
        total: int,
        *,
        out: TextIO,
        err: TextIO,
    ) -> ImportOutcome:
        """Run over ``opts.file`` holding its events' leases; report; print the summary.

        An import creates a session per row its event lacks; a sync (``SyncRun``) also
        updates. The first Ctrl-C stops taking rows and gives those in flight
        ``opts.grace`` seconds before cancelling them; a second cancels them at once.
        Rows cancelled in flight are reported ``unknown`` (a rerun or ``--resume`` finds
        them by key).

        Raises:
            ReportError: the report could not be written (after the summary is printed).
            LeaseBusyError: another run kept one of the file's events (nothing written).
            SwoogoError: an event's sessions could not be read (nothing was written).
        """
        events = file_events(opts.file, opts.rows, opts.event_id)
        async with event_leases(client, events, opts.lease_wait, err):
            return await cls(opts, client, prior, total, err, events).run(out)

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

    async def rows(self, event: int | None) -> AsyncIterator[SourceRow]:
        """Yield the rows of ``event`` not yet done, until the run is stopped.

        An invalid row is refused (every bad field named) in the first event's pass.
        """
        first = not self.events or event == self.events[0]
        with contextlib.closing(iter_rows(self.opts.file, self.opts.rows)) as source:
            for row in source:
                if row.line in self.prior.created:
                    continue
                if self.stop.is_set():
                    return
                row_event = event_of(row, self.opts.event_id)
                if row_event != event and not (first and row_event is None):
                    continue
                errors = row_errors(row, self.opts.event_id)
                if errors or row_event is None:
                    self.refuse(row, errors or [InvalidInputError("event_id", "is missing")])
                    continue
                self.inflight[row.line] = row
                yield row

    def before_write(self, row: RowInput, plan: RowPlan) -> bool:
        """Record the row ``attempted`` on disk before its write leaves; False stops it."""
        assert isinstance(row, SourceRow)
        return self._write(row_record(row, "attempted", session_id=plan.session_id), durable=True)

    async def pump(self) -> None:
        """Run each event's rows through ``sessions.sync`` and record each result."""
        if not self.events:  # no row names a usable event: each is refused
            async for _ in self.rows(None):
                pass
            return
        for event in self.events:
            if self.stop.is_set():
                return
            scan = EventRows(self.opts.file, self.opts.rows, self.opts.event_id, event)
            run = self.client.sessions.sync(
                self.rows(event),
                event_id=event,
                key=self.opts.key,
                concurrency=self.opts.concurrency,
                ordered=self.opts.ordered,
                on_progress=self.sink.update,
                scan=scan,
                before_write=self.before_write,
                updates=self.updates,
                lease_wait=None,  # ``run_file`` holds every event's lease of the file
            )
            run.progress = self.progress  # one set of counters across the events
            # The pacer knows what the run needs from its first row: the rows not done before.
            run.sized(sum(row.line not in self.prior.created for row in scan))
            async with run:
                async for result in run:
                    self.finished(result)

    def finished(self, result: BulkResult) -> int | None:
        """Record a row the engine finished; return its session id."""
        row = result.row
        assert isinstance(row, SourceRow)
        self.inflight.pop(row.line, None)
        error = error_info(result.error) if result.error is not None else None
        session_id = result.id
        status, note = result.status, None
        if status == "present" and self._made_by_earlier_attempt(row, result):
            status, note = "created", "found on the server"
        self.record(
            row, status, session_id=session_id, error=error, changed=result.changed, note=note
        )
        return session_id

    def _made_by_earlier_attempt(self, row: SourceRow, result: BulkResult) -> bool:
        """Whether the session a row found is the one its unsettled earlier attempt created.

        Its key is unique in the file and in the event (else the row is not
        ``present``), so it is the only candidate and no other row's; it counts as this
        row's creation when the server created it after the row was first recorded
        ``attempted`` (on the server's clock, less a margin for the two clocks).
        """
        prior = self.prior.uncertain.get(row.line)
        created = result.session.created_at if result.session is not None else None
        if prior is None or created is None or not prior[1]:
            return False
        try:
            attempted = dt.datetime.strptime(prior[1], "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return False
        if created.tzinfo is None:
            created = created.replace(tzinfo=dt.timezone.utc)
        return created >= attempted.replace(tzinfo=dt.timezone.utc) - _CLOCK_SKEW

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
        if self.opts.key == DEFAULT_KEY and not self.updates:
            return ()
        return ("--key", ",".join(self.opts.key))

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


#: Create a session per row of ``opts.file`` that its event lacks (``ImportRun.run_file``).
import_file = ImportRun.run_file


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
