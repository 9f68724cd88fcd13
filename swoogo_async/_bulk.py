"""The streaming bulk engine behind ``sessions.create_many`` and ``sessions.update_many``.

Rows are pulled from the source only when a slot is free, so at most
``concurrency`` rows are in flight and memory stays flat however long the source
is. Each row runs ``create_prepared``/``update_prepared`` once: the retries,
pacing and reconciliation of a single call already happen there, so this layer
adds none. Results are yielded as rows finish (or in input order with
``ordered=True``, where a slow row stalls intake instead of growing a buffer),
and nothing about a row is kept after its result is yielded.

Stopping early (``aclose``, ``break`` inside ``async with``, cancellation) cancels
the rows in flight and waits for them, so no task outlives the run.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs

from ._converter import CUSTOM_FIELD_RE, parse_int, unstructure_session
from ._exceptions import InvalidInputError, SwoogoError, UnknownOutcomeError
from ._fields import WRITABLE_FIELDS, prepare_session_fields
from ._models import Session
from ._ratelimit import bulk_pacing

if TYPE_CHECKING:
    from ._resources import Sessions

__all__ = [
    "BulkProgress",
    "BulkResult",
    "BulkRun",
    "BulkStatus",
    "BulkSummary",
    "ProgressCallback",
    "RowInput",
    "RowSource",
    "create_many",
    "session_row",
    "update_many",
]

BulkStatus: TypeAlias = Literal["created", "updated", "failed", "invalid", "unknown"]
#: One input row: field name to value (text is parsed), or a ``Session``.
RowInput: TypeAlias = "Mapping[str, Any] | Session"
#: Called with the live ``BulkProgress`` after each row finishes.
ProgressCallback: TypeAlias = "Callable[[BulkProgress], None]"
#: What ``create_many``/``update_many`` read rows from: any iterable or async iterable.
RowSource: TypeAlias = "Iterable[RowInput] | AsyncIterable[RowInput]"
_Call: TypeAlias = "Callable[[], Awaitable[Session]]"


@attrs.frozen(slots=True)
class BulkResult:
    """The outcome of one row of a bulk run.

    Attributes:
        index: The row's 0-based position in the source.
        row: The row as given.
        status: ``created``/``updated`` (done), ``invalid`` (rejected before
            sending), ``failed`` (the API refused or could not be reached) or
            ``unknown`` (a create that may or may not have happened; the error
            carries the submitted fields).
        session: The session the server returned, when done.
        error: The error, when not done.
    """

    index: int
    row: RowInput = attrs.field(repr=False)
    status: BulkStatus
    session: Session | None = attrs.field(default=None, repr=False)
    error: SwoogoError | None = None

    @property
    def ok(self) -> bool:
        """Whether the row was created or updated."""
        return self.status in ("created", "updated")


@attrs.define
class BulkSummary:
    """Counts of a bulk run's results; fold results in with ``add``."""

    created: int = 0
    updated: int = 0
    failed: int = 0
    invalid: int = 0
    unknown: int = 0

    def add(self, result: BulkResult) -> BulkResult:
        """Count ``result`` and return it (handy inside a loop)."""
        self.count(result.status)
        return result

    def count(self, status: BulkStatus) -> None:
        """Count one row of ``status``."""
        setattr(self, status, getattr(self, status) + 1)

    @property
    def total(self) -> int:
        """How many results were counted."""
        return self.created + self.updated + self.failed + self.invalid + self.unknown

    @property
    def all_ok(self) -> bool:
        """Whether every counted row was created or updated."""
        return self.failed == self.invalid == self.unknown == 0


@attrs.define
class BulkProgress(BulkSummary):
    """Live counters of a running bulk operation (also readable while it runs).

    Attributes:
        submitted: Rows taken from the source so far.
        done: Rows finished (whatever their status).
        started_at: ``time.monotonic()`` when the run started.
    """

    submitted: int = 0
    done: int = 0
    started_at: float = attrs.field(factory=time.monotonic)

    @property
    def in_flight(self) -> int:
        """Rows taken but not yet finished."""
        return self.submitted - self.done

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started_at

    @property
    def rate(self) -> float:
        """Finished rows per second so far."""
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0

    def eta(self, total: int | None) -> float | None:
        """Seconds until ``total`` rows are done at the current rate, if it can be told."""
        rate = self.rate
        if total is None or rate <= 0:
            return None
        return max(total - self.done, 0) / rate

    def finish(self, result: BulkResult) -> None:
        """Count one finished row."""
        self.done += 1
        self.count(result.status)


def session_row(session: Session) -> dict[str, Any]:
    """Return the writable, non-empty fields of a ``Session`` as a row mapping."""
    data = unstructure_session(session)
    out = {
        key: value
        for key, value in data.items()
        if value is not None and (key in WRITABLE_FIELDS or CUSTOM_FIELD_RE.match(key))
    }
    if not out.get("custom_fields"):
        out.pop("custom_fields", None)
    return out


def _fields_of(row: RowInput) -> dict[str, Any]:
    if isinstance(row, Session):
        return session_row(row)
    if isinstance(row, Mapping):
        return dict(row)
    raise InvalidInputError("row", f"must be a mapping or a Session, got {type(row).__name__}")


def _prepare_create(row: RowInput, event_id: int | None) -> dict[str, Any]:
    fields = _fields_of(row)
    if event_id is not None and fields.get("event_id") in (None, ""):
        fields["event_id"] = event_id
    return prepare_session_fields(fields, creating=True)


def _prepare_update(row: RowInput) -> tuple[int, dict[str, Any]]:
    if isinstance(row, Session):
        session_id: Any = row.id
        fields = session_row(row)
    else:
        fields = _fields_of(row)
        session_id = fields.pop("id", None)
        alias = fields.pop("session_id", None)
        if session_id is None:
            session_id = alias
    try:
        parsed = parse_int(session_id)
    except ValueError:
        parsed = None
    if parsed is None or parsed <= 0:
        raise InvalidInputError("id", f"each update row needs a positive id, got {session_id!r}")
    return parsed, prepare_session_fields(fields, creating=False)


class BulkRun:
    """A running bulk operation: an async iterator of ``BulkResult``.

    Use it as ``async with sessions.create_many(rows) as run: async for r in run:``
    (or ``async for`` alone when it is read to the end); leaving the block early
    cancels the rows in flight. ``progress`` is live.
    """

    def __init__(
        self,
        sessions: Sessions,
        rows: RowSource,
        creating: bool,
        concurrency: int,
        ordered: bool,
        on_progress: ProgressCallback | None,
        event_id: int | None,
    ) -> None:
        if type(concurrency) is not int or concurrency < 1:
            raise InvalidInputError(
                "concurrency", f"must be a positive integer, got {concurrency!r}"
            )
        self._sessions = sessions
        self._rows = rows
        self._creating = creating
        self._concurrency = concurrency
        self._ordered = ordered
        self._on_progress = on_progress
        self._event_id = event_id
        self.progress = BulkProgress()
        self._results = self._run()

    def __aiter__(self) -> BulkRun:
        return self

    async def __anext__(self) -> BulkResult:
        return await anext(self._results)

    async def aclose(self) -> None:
        """Stop the run: cancel the rows in flight and wait for them."""
        await self._results.aclose()

    async def __aenter__(self) -> BulkRun:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def summary(self) -> BulkSummary:
        """Run to the end and return the counts (results are dropped)."""
        summary = BulkSummary()
        async with self:
            async for result in self:
                summary.add(result)
        return summary

    def _finish(self, result: BulkResult) -> BulkResult:
        self.progress.finish(result)
        if self._on_progress is not None:
            self._on_progress(self.progress)
        return result

    def _prepare(self, index: int, row: RowInput) -> BulkResult | _Call:
        """Check a row; return its result if it is invalid, else the call to make."""
        sessions = self._sessions
        try:
            if self._creating:
                prepared = _prepare_create(row, self._event_id)
                return lambda: sessions.create_prepared(prepared)
            session_id, changes = _prepare_update(row)
            return lambda: sessions.update_prepared(session_id, changes)
        except InvalidInputError as error:
            return self._finish(BulkResult(index, row, "invalid", None, error))

    async def _run_row(self, index: int, row: RowInput, call: _Call) -> BulkResult:
        result: BulkResult
        try:
            with bulk_pacing():  # leave the last part of each window to interactive calls
                session = await call()
        except InvalidInputError as error:
            result = BulkResult(index, row, "invalid", None, error)
        except UnknownOutcomeError as error:
            result = BulkResult(index, row, "unknown", None, error)
        except SwoogoError as error:
            result = BulkResult(index, row, "failed", None, error)
        else:
            result = BulkResult(index, row, "created" if self._creating else "updated", session)
        return self._finish(result)

    async def _intake(self) -> AsyncGenerator[tuple[int, RowInput], None]:
        """Yield ``(index, row)`` pairs, pulling from the source one at a time."""
        rows = self._rows
        if isinstance(rows, AsyncIterable):
            source = aiter(rows)
            try:
                index = 0
                async for row in source:
                    yield index, row
                    index += 1
            finally:
                aclose = getattr(source, "aclose", None)
                if aclose is not None:
                    await aclose()
        else:
            iterator: Iterator[RowInput] = iter(rows)
            try:
                for index, row in enumerate(iterator):
                    yield index, row
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()

    async def _run(self) -> AsyncGenerator[BulkResult, None]:
        self.progress.started_at = time.monotonic()
        intake = self._intake()
        live: set[asyncio.Task[BulkResult]] = set()
        # Ordered: every row in input order. Unordered: rows as they finish.
        window: deque[asyncio.Task[BulkResult] | BulkResult] = deque()
        ready: asyncio.Queue[asyncio.Task[BulkResult] | BulkResult] = asyncio.Queue()
        taken = 0  # rows taken from the source and not yet yielded: at most ``concurrency``
        exhausted = False
        try:
            while True:
                while not exhausted and taken < self._concurrency:
                    try:
                        index, row = await anext(intake)
                    except StopAsyncIteration:
                        exhausted = True
                        break
                    taken += 1
                    self.progress.submitted += 1
                    work = self._prepare(index, row)
                    if isinstance(work, BulkResult):
                        (window.append if self._ordered else ready.put_nowait)(work)
                        continue
                    task = asyncio.create_task(self._run_row(index, row, work))
                    live.add(task)
                    task.add_done_callback(live.discard)
                    if self._ordered:
                        window.append(task)
                    else:
                        task.add_done_callback(ready.put_nowait)
                if not taken:
                    return
                item = window.popleft() if self._ordered else await ready.get()
                result = item if isinstance(item, BulkResult) else await item
                taken -= 1
                yield result
        finally:
            try:
                await _cancel_all(live)
                # Retrieve what finished but was never yielded, so no error goes unobserved.
                for item in (*window, *_drain(ready)):
                    if isinstance(item, asyncio.Task) and item.done() and not item.cancelled():
                        item.exception()
            finally:
                await intake.aclose()


def _drain(queue: asyncio.Queue[Any]) -> list[Any]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


async def _cancel_all(tasks: Iterable[asyncio.Task[BulkResult]]) -> None:
    """Cancel ``tasks`` and wait until every one has finished."""
    tasks = list(tasks)
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    gathered = asyncio.gather(*tasks, return_exceptions=True)
    cancelled = False
    # Even if this is cancelled itself, keep waiting: no row may outlive the run.
    while not gathered.done():
        try:
            await asyncio.shield(gathered)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


def create_many(
    sessions: Sessions,
    rows: RowSource,
    *,
    concurrency: int = 8,
    ordered: bool = False,
    on_progress: ProgressCallback | None = None,
    event_id: int | None = None,
) -> BulkRun:
    """Create a session per row, ``concurrency`` at a time; see ``Sessions.create_many``."""
    return BulkRun(sessions, rows, True, concurrency, ordered, on_progress, event_id)


def update_many(
    sessions: Sessions,
    rows: RowSource,
    *,
    concurrency: int = 8,
    ordered: bool = False,
    on_progress: ProgressCallback | None = None,
) -> BulkRun:
    """Update one session per row (each row carries its ``id``); see ``Sessions.update_many``."""
    return BulkRun(sessions, rows, False, concurrency, ordered, on_progress, None)
