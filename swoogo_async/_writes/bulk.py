"""The streaming bulk engine behind ``sessions.create_many`` and ``sessions.update_many``.

Rows are pulled from the source only when a slot is free, so at most
``concurrency`` rows are in flight and memory stays flat however long the source
is. Each row runs the single-call create or update it is given once (the engine
takes callables, not the resource class): the retries, pacing and reconciliation
of a single call already happen there, so this layer adds none. Every row gets a
result: a row that cannot even be read (a non-string key, ``Decimal('sNaN')``)
is ``invalid``, never the end of the run. A row is built (checked and encoded)
before anything is sent, and only an error of that build makes it ``invalid``:
whatever goes wrong once its request may have left makes a create ``unknown``
and an update ``failed``, so ``--resume`` never re-sends a row the server may
hold. Results are yielded as rows finish (or in input order with
``ordered=True``, where a slow row stalls intake instead of growing a buffer),
and nothing about a row is kept after its result is yielded.

Stopping early (``aclose``, ``break`` inside ``async with``, cancellation) cancels
the rows in flight and waits for them, so no task outlives the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Sized,
)
from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, TypeAlias

import attrs

from .._api.models import Session
from .._exceptions import InvalidInputError, SwoogoError, UnknownOutcomeError
from .._http.pacer import BulkMark, bulk_pacing
from . import DEFAULT_CONCURRENCY
from .bulk_results import (
    BulkProgress,
    BulkResult,
    BulkStatus,
    BulkSummary,
    RowInput,
    RowOutcome,
)
from .bulk_rows import (
    UNREADABLE,
    CreateFn,
    UpdateFn,
    check_rows,
    prepare_create_row,
    prepare_update,
    sending_create,
    sending_update,
    session_row,
    unreadable,
)

__all__ = [
    "UNREADABLE",
    "BulkProgress",
    "BulkResult",
    "BulkRun",
    "BulkStatus",
    "BulkSummary",
    "CreateFn",
    "ProgressCallback",
    "RowInput",
    "RowOutcome",
    "RowSource",
    "UpdateFn",
    "check_rows",
    "create_many",
    "each_row",
    "prepare_create_row",
    "sending_create",
    "sending_update",
    "session_row",
    "update_many",
]

#: Called with the live ``BulkProgress`` after each row finishes.
ProgressCallback: TypeAlias = "Callable[[BulkProgress], None]"
#: What ``create_many``/``update_many`` read rows from: any iterable or async iterable.
RowSource: TypeAlias = "Iterable[RowInput] | AsyncIterable[RowInput]"
_Call: TypeAlias = "Callable[[], Awaitable[Session | RowOutcome]]"
#: Checks and builds a row and returns the call that sends it, or the row's outcome when
#: nothing is to be sent (raises ``InvalidInputError`` if the row is invalid). Only this
#: build may make a row ``invalid``: the call it returns runs after nothing is left to check.
_Work: TypeAlias = "Callable[[RowInput], _Call | RowOutcome]"


class BulkRun:
    """A running bulk operation: an async iterator of ``BulkResult``.

    Use it as ``async with sessions.create_many(rows) as run: async for r in run:``
    (or ``async for`` alone when it is read to the end); leaving the block early
    cancels the rows in flight. ``progress`` is live.
    """

    def __init__(
        self,
        rows: RowSource,
        work: _Work,
        done: Literal["created", "updated"],
        concurrency: int,
        ordered: bool,
        on_progress: ProgressCallback | None,
        credits: Callable[[], int] | None = None,
        hold: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    ) -> None:
        if type(concurrency) is not int or concurrency < 1:
            raise InvalidInputError(
                "concurrency", f"must be a positive integer, got {concurrency!r}"
            )
        check_rows("rows", rows)
        self._rows = rows
        self._work = work
        self._done: Literal["created", "updated"] = done
        self._concurrency = concurrency
        self._ordered = ordered
        self._on_progress = on_progress
        self._credits = credits
        self._credits_at_start = 0
        # Held from the first row taken until the last one finished (a sync's event lease).
        self._hold = hold
        self._mark = BulkMark()  # ends once the source is exhausted
        if isinstance(rows, Sized):
            # A size is a hint to the pacer: a source that cannot tell it runs unsized.
            with contextlib.suppress(Exception):
                self.sized(len(rows))
        self.progress = BulkProgress()
        self._results = self._run()

    def sized(self, rows: int) -> None:
        """Say that the source holds at most ``rows`` rows, before the first is taken.

        The pacer then knows from the start what the run still needs (a credit per row
        not yet finished), so the run's last window is spent at once when it fits. Without
        a size, that is known only once the source is exhausted.
        """
        self._mark.size(rows)

    def __aiter__(self) -> BulkRun:
        return self

    async def __anext__(self) -> BulkResult:
        return await anext(self._results)

    async def aclose(self) -> None:
        """Stop the run: cancel the rows in flight and wait for them."""
        await self._results.aclose()

    async def __aenter__(self) -> BulkRun:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def summary(self) -> BulkSummary:
        """Run to the end and return the counts (results are dropped)."""
        summary = BulkSummary()
        async with self:
            async for result in self:
                summary.add(result)
        return summary

    def _finish(self, result: BulkResult) -> BulkResult:
        if self._credits is not None:
            self.progress.credits = self._credits() - self._credits_at_start
        self.progress.finish(result)
        if self._on_progress is not None:
            self._on_progress(self.progress)
        return result

    def _prepare(self, index: int, row: RowInput) -> BulkResult | _Call:
        """Check a row; return its result if it is settled already, else the call to make."""
        try:
            work = self._work(row)
            if isinstance(work, RowOutcome):
                self._mark.skip()  # settled without a call
                return self._finish(_result(index, row, work))
            return work
        except InvalidInputError as error:
            self._mark.skip()
            return self._finish(BulkResult(index, row, "invalid", None, error))
        except UNREADABLE as exc:
            self._mark.skip()
            return self._finish(BulkResult(index, row, "invalid", None, unreadable(exc)))

    async def _run_row(self, index: int, row: RowInput, call: _Call) -> BulkResult:
        # The row was built by ``_prepare``: from here on its request may leave, so no
        # error makes it ``invalid`` (which would let ``--resume`` re-send it blindly).
        result: BulkResult
        try:
            # Leave interactive calls their share; the run's last calls may take the floor.
            with bulk_pacing(self._mark):
                try:
                    outcome = await call()
                finally:
                    self._mark.finished()
        except UnknownOutcomeError as error:
            result = BulkResult(index, row, "unknown", None, error)
        except SwoogoError as error:
            result = BulkResult(index, row, "failed", None, error)
        except Exception as exc:  # a create's is wrapped by ``sending_create``; an update's:
            result = BulkResult(index, row, "failed", None, _unexpected(exc))
        else:
            if isinstance(outcome, RowOutcome):
                result = _result(index, row, outcome)
            else:
                result = BulkResult(index, row, self._done, outcome)
        return self._finish(result)

    async def _intake(self) -> AsyncGenerator[tuple[int, RowInput], None]:
        """Yield ``(index, row)`` pairs, pulling from the source one at a time."""
        index = 0
        async with contextlib.aclosing(each_row(self._rows)) as rows:
            async for row in rows:
                yield index, row
                index += 1

    async def _run(self) -> AsyncGenerator[BulkResult, None]:
        async with contextlib.AsyncExitStack() as stack:
            if self._hold is not None:
                await stack.enter_async_context(self._hold())
            async with contextlib.aclosing(self._stream()) as results:
                async for result in results:
                    yield result

    async def _stream(self) -> AsyncGenerator[BulkResult, None]:
        self.progress.started_at = time.monotonic()
        if self._credits is not None:
            self._credits_at_start = self._credits()
        intake = self._intake()
        live: set[asyncio.Task[BulkResult]] = set()
        # Ordered: every row in input order. Unordered: rows as they finish.
        window: deque[asyncio.Task[BulkResult] | BulkResult] = deque()
        ready: asyncio.Queue[asyncio.Task[BulkResult] | BulkResult] = asyncio.Queue()
        taken = 0  # rows taken from the source and not yet yielded: at most ``concurrency``
        exhausted = False
        calls = 0  # rows given a call
        try:
            while True:
                while not exhausted and taken < self._concurrency:
                    try:
                        # Calls made to read the source (a sync's read of its event) are
                        # the run's bulk work, not interactive demand.
                        with bulk_pacing(self._mark):
                            index, row = await anext(intake)
                    except StopAsyncIteration:
                        exhausted = True
                        # A sized run is now sized exactly; an unsized one turns final.
                        self._mark.end(calls if self._mark.total is not None else None)
                        break
                    taken += 1
                    self.progress.submitted += 1
                    work = self._prepare(index, row)
                    if isinstance(work, BulkResult):
                        (window.append if self._ordered else ready.put_nowait)(work)
                        continue
                    calls += 1
                    self._mark.called()
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


async def each_row(rows: RowSource) -> AsyncGenerator[RowInput, None]:
    """Yield the rows of a source, sync or async, and close it however reading ends."""
    if isinstance(rows, AsyncIterable):
        source = aiter(rows)
        try:
            async for row in source:
                yield row
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()
    else:
        iterator: Iterator[RowInput] = iter(rows)
        try:
            for row in iterator:
                yield row
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()


def _result(index: int, row: RowInput, outcome: RowOutcome) -> BulkResult:
    # RowOutcome's fields are BulkResult's after the index and the row, in order.
    return BulkResult(index, row, *attrs.astuple(outcome, recurse=False))


def _unexpected(exc: Exception) -> SwoogoError:
    error = SwoogoError(f"failed unexpectedly: {type(exc).__name__}: {exc}"[:300])
    error.__cause__ = exc
    return error


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
    create: CreateFn,
    rows: RowSource,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    ordered: bool = False,
    on_progress: ProgressCallback | None = None,
    event_id: int | None = None,
    credits: Callable[[], int] | None = None,
) -> BulkRun:
    """Create a session per row with ``create``; see ``Sessions.create_many``."""

    def work(row: RowInput) -> _Call:
        return sending_create(create, prepare_create_row(row, event_id))

    return BulkRun(rows, work, "created", concurrency, ordered, on_progress, credits)


def update_many(
    update: UpdateFn,
    rows: RowSource,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    ordered: bool = False,
    on_progress: ProgressCallback | None = None,
    credits: Callable[[], int] | None = None,
) -> BulkRun:
    """Update one session per row with ``update``; see ``Sessions.update_many``."""

    def work(row: RowInput) -> _Call:
        return sending_update(update, *prepare_update(row))

    return BulkRun(rows, work, "updated", concurrency, ordered, on_progress, credits)
