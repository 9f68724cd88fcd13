"""The streaming bulk engine behind ``create_many``, ``update_many`` and ``sync`` (docs/bulk.md)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sized
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict

from .._api.converter import unstructure_session
from .._api.endpoints import create_session_call, update_session_call
from .._api.fields import WRITABLE_FIELDS, prepare_session_fields
from .._api.models import CUSTOM_FIELD_RE, Session, parse_int
from .._checks import check_number
from .._exceptions import InvalidInputError, SwoogoError, UnknownOutcomeError
from .._http.pacer import BulkMark, bulk_pacing
from . import DEFAULT_CONCURRENCY
from .bulk_results import BulkProgress, BulkResult, BulkStatus, BulkSummary, RowInput

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable

    from typing_extensions import Unpack

__all__ = [
    "UNREADABLE",
    "BulkRun",
    "ProgressCallback",
    "RowSource",
    "RunOptions",
    "UpdateFn",
    "check_rows",
    "each_row",
    "prepare_create_row",
    "prepare_update",
    "sending_create",
    "sending_update",
    "session_row",
]

#: Errors a malformed row raises while it is read and built; the row is then ``invalid``.
UNREADABLE = (TypeError, ValueError, ArithmeticError, RecursionError)
CreateFn: TypeAlias = "Callable[[Mapping[str, Any]], Awaitable[Session]]"
UpdateFn: TypeAlias = "Callable[[int, Mapping[str, Any]], Awaitable[Session]]"
#: Called with the live ``BulkProgress`` after each row finishes.
ProgressCallback: TypeAlias = "Callable[[BulkProgress], None]"
#: What ``create_many``/``update_many`` read rows from: any iterable or async iterable.
RowSource: TypeAlias = "Iterable[RowInput] | AsyncIterable[RowInput]"
_Send: TypeAlias = "Callable[[], Awaitable[Session]]"
_Call: TypeAlias = "Callable[[], Awaitable[Session | BulkResult]]"
#: Checks and builds a row: returns the call that sends it, or its result if none is sent.
_Work: TypeAlias = "Callable[[int, RowInput], _Call | BulkResult]"


class RunOptions(TypedDict, total=False):
    """A run's options, as ``BulkRun`` takes them (``hold``: a lease held while it runs)."""

    concurrency: int
    ordered: bool
    on_progress: ProgressCallback | None
    credits: Callable[[], int] | None
    hold: Callable[[], AbstractAsyncContextManager[object]] | None


class BulkRun(AsyncIterator[BulkResult], AbstractAsyncContextManager["BulkRun"]):
    """A running bulk operation: an async iterator of ``BulkResult``, with live ``progress``.

    ``async with sessions.create_many(rows) as run: async for r in run: ...`` (or ``async
    for`` alone when read to the end); leaving the block early cancels the rows in flight."""

    def __init__(
        self, rows: RowSource, work: _Work, done: BulkStatus, **run: Unpack[RunOptions]
    ) -> None:
        concurrency = run.get("concurrency", DEFAULT_CONCURRENCY)
        check_number("concurrency", concurrency, at_least=1, integer=True)
        check_rows("rows", rows)
        self._rows, self._work, self._done, self._concurrency = rows, work, done, concurrency
        self._ordered, self._hold = run.get("ordered", False), run.get("hold")
        self._on_progress, self._credits = run.get("on_progress"), run.get("credits")
        self._mark = BulkMark()  # ends once the source is exhausted
        if isinstance(rows, Sized):
            with contextlib.suppress(Exception):  # a size is only a hint to the pacer
                self.sized(len(rows))
        self.progress = BulkProgress()
        self._results = self._run()

    def sized(self, rows: int) -> None:
        """Say, before the first row is taken, that the source holds at most ``rows`` rows."""
        self._mark.size(rows)

    async def __anext__(self) -> BulkResult:
        return await anext(self._results)

    async def aclose(self) -> None:
        """Stop the run: cancel the rows in flight and wait for them."""
        await self._results.aclose()

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
        try:
            work = self._work(index, row)
        except InvalidInputError as error:
            work = BulkResult(index, row, "invalid", error=error)
        except UNREADABLE as exc:
            invalid = InvalidInputError("row", f"cannot be read: {type(exc).__name__}: {exc}"[:300])
            invalid.__cause__ = exc
            work = BulkResult(index, row, "invalid", error=invalid)
        if not isinstance(work, BulkResult):
            return work
        self._mark.skip()  # settled without a call
        return self._finish(work)

    async def _run_row(self, index: int, row: RowInput, call: _Call) -> BulkResult:
        try:  # its request may leave now: no error makes it ``invalid``
            with bulk_pacing(self._mark):  # the run's last calls may take the floor
                try:
                    got = await call()
                finally:
                    self._mark.finished()
        except UnknownOutcomeError as error:
            return self._finish(BulkResult(index, row, "unknown", error=error))
        except SwoogoError as error:
            return self._finish(BulkResult(index, row, "failed", error=error))
        except Exception as exc:  # a create's is wrapped by ``sending_create``; an update's:
            unexpected = SwoogoError(f"failed unexpectedly: {type(exc).__name__}: {exc}"[:300])
            unexpected.__cause__ = exc
            return self._finish(BulkResult(index, row, "failed", error=unexpected))
        result = got if isinstance(got, BulkResult) else BulkResult(index, row, self._done, got)
        return self._finish(result)

    async def _run(self) -> AsyncGenerator[BulkResult, None]:
        async with self._hold() if self._hold is not None else contextlib.nullcontext():
            self.progress.started_at = time.monotonic()
            self._credits_at_start = self._credits() if self._credits is not None else 0
            intake = each_row(self._rows)
            live: set[asyncio.Task[BulkResult]] = set()

            def settled(task: asyncio.Task[BulkResult]) -> None:
                live.discard(task)
                if not task.cancelled():
                    task.exception()  # observed, yielded or not: no error goes unlogged

            # Ordered: every row in input order. Unordered: rows as they finish.
            window: deque[asyncio.Task[BulkResult] | BulkResult] = deque()
            ready: asyncio.Queue[asyncio.Task[BulkResult] | BulkResult] = asyncio.Queue()
            taken = 0  # rows taken from the source and not yet yielded: at most concurrency
            exhausted = False
            try:
                while True:
                    while not exhausted and taken < self._concurrency:
                        try:
                            # Reading the source (a sync's read of its event) is bulk work.
                            with bulk_pacing(self._mark):
                                row = await anext(intake)
                        except StopAsyncIteration:
                            exhausted = True
                            # A sized run is now sized exactly; an unsized one turns final.
                            mark = self._mark
                            mark.end(mark.calls if mark.total is not None else None)
                            break
                        index = self.progress.submitted
                        taken += 1
                        self.progress.submitted += 1
                        work = self._prepare(index, row)
                        if isinstance(work, BulkResult):
                            (window.append if self._ordered else ready.put_nowait)(work)
                            continue
                        self._mark.called()
                        task = asyncio.create_task(self._run_row(index, row, work))
                        live.add(task)
                        task.add_done_callback(settled)
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
                finally:
                    await intake.aclose()


def session_row(session: Session) -> dict[str, Any]:
    """Return the writable, non-empty fields of a ``Session`` as a row mapping."""
    out = {
        key: value
        for key, value in unstructure_session(session).items()
        if value is not None and (key in WRITABLE_FIELDS or CUSTOM_FIELD_RE.match(key))
    }
    if not out.get("custom_fields"):
        out.pop("custom_fields", None)
    return out


def check_rows(name: str, rows: object) -> None:
    """Refuse a ``rows`` that is not an iterable or async iterable of rows."""
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, (Iterable, AsyncIterable)):
        raise InvalidInputError(
            name, f"expected an iterable or async iterable of rows, got {type(rows).__name__}"
        )


def _fields_of(row: RowInput) -> dict[str, Any]:
    if isinstance(row, Session):
        return session_row(row)
    if isinstance(row, Mapping):
        return dict(row)
    raise InvalidInputError("row", f"must be a mapping or a Session, got {type(row).__name__}")


def prepare_create_row(row: RowInput, event_id: int | None) -> dict[str, Any]:
    """Return a row's checked create fields (``event_id`` fills a row without one)."""
    fields = _fields_of(row)
    if event_id is not None and fields.get("event_id") in (None, ""):
        fields["event_id"] = event_id
    return prepare_session_fields(fields, creating=True)


def prepare_update(row: RowInput) -> tuple[int, dict[str, Any]]:
    """Return an update row's session id (``id`` or ``session_id``) and checked fields."""
    fields = _fields_of(row)
    session_id, alias = fields.pop("id", None), fields.pop("session_id", None)
    if isinstance(row, Session):
        session_id = row.id
    elif session_id is None:
        session_id = alias
    parsed = None
    with contextlib.suppress(ValueError):
        parsed = parse_int(session_id)
    if parsed is None or parsed <= 0:
        raise InvalidInputError("id", f"each update row needs a positive id, got {session_id!r}")
    return parsed, prepare_session_fields(fields, creating=False)


def sending_create(create: CreateFn, prepared: Mapping[str, Any]) -> _Send:
    """Build a create's request now, only to check it; return its sender."""
    create_session_call(prepared)

    async def send() -> Session:
        try:
            return await create(prepared)
        except SwoogoError:
            raise
        except Exception as exc:  # the POST may have left: the session may exist
            raise UnknownOutcomeError(
                f"create of {prepared.get('name')!r} failed unexpectedly after it may have"
                f" been sent ({type(exc).__name__}: {exc})"[:300],
                fields=prepared,
                cause=exc,
            ) from exc

    return send


def sending_update(update: UpdateFn, session_id: int, changes: Mapping[str, Any]) -> _Send:
    """Build an update's request now, only to check it; return its sender."""
    update_session_call(session_id, changes)
    return lambda: update(session_id, changes)


async def each_row(rows: RowSource) -> AsyncGenerator[RowInput, None]:
    """Yield the rows of a source, sync or async, and close it however reading ends."""
    if isinstance(rows, AsyncIterable):
        source = aiter(rows)
        try:
            async for row in source:
                yield row
        finally:
            if (aclose := getattr(source, "aclose", None)) is not None:
                await aclose()
    else:
        iterator = iter(rows)
        try:
            for row in iterator:
                yield row
        finally:
            if (close := getattr(iterator, "close", None)) is not None:
                close()


async def _cancel_all(tasks: set[asyncio.Task[BulkResult]]) -> None:
    """Cancel ``tasks`` and wait until every one has finished, even if cancelled itself."""
    for task in tasks:
        task.cancel()
    gathered = asyncio.gather(*tasks, return_exceptions=True)
    cancelled = False
    while not gathered.done():  # no row may outlive the run
        try:
            await asyncio.shield(gathered)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
