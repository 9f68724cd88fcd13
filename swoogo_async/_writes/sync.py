"""Running an agenda sync: read the event once, then create, update or leave each row.

The plan is made by ``sync_plan.SyncPlanner`` (pure); this module feeds it and
runs its verdicts through the bulk engine, so a sync streams, bounds its
concurrency and reports a ``BulkResult`` per row exactly as ``create_many`` does.
Creates go through the duplicate-safe create; an update sends only the fields that
differ; a row found unchanged costs no request at all.

The rows are read twice: once to find keys two rows share and the fields to read
from the server, then to run. A source that can be read only once (an iterator, an
async iterable) is held in memory for that, unless ``scan`` gives the first pass
another way to read the rows (the CLI rereads its file).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import TypeAlias

from .._api.models import Page, Session
from .._api.pages import KeysetWalk
from .._exceptions import AmbiguousMatchError, LookupIncompleteError, SwoogoError
from .._shared.state import check_lease_held
from . import DEFAULT_CONCURRENCY
from .bulk import (
    BulkRun,
    ProgressCallback,
    RowInput,
    RowOutcome,
    RowSource,
    UpdateFn,
    check_rows,
    each_row,
    sending_create,
    sending_update,
)
from .bulk_results import BulkStatus
from .create import Creator
from .sync_plan import RowPlan, SyncPlanner

__all__ = ["BeforeWrite", "sync_rows"]

#: Called with a row and its plan just before its create or update is sent; returning
#: False keeps the row from being sent (it is then reported ``failed``).
BeforeWrite: TypeAlias = "Callable[[RowInput, RowPlan], bool]"


#: The status a planned action reports (in a dry run: what would happen).
_STATUS: dict[str, BulkStatus] = {
    "create": "created",
    "update": "updated",
    "unchanged": "unchanged",
    "present": "present",
}


def _label(row: RowInput, position: int) -> str:
    line = getattr(row, "line", None)
    return f"line {line}" if isinstance(line, int) else f"row {position}"


def sync_rows(
    rows: RowSource,
    *,
    planner: SyncPlanner,
    creator: Creator,
    update: UpdateFn,
    scan: Iterable[RowInput] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    ordered: bool = False,
    on_progress: ProgressCallback | None = None,
    dry_run: bool = False,
    before_write: BeforeWrite | None = None,
    credits: Callable[[], int] | None = None,
    hold: Callable[[], AbstractAsyncContextManager[object]] | None = None,
) -> BulkRun:
    """Make the planner's event match ``rows``; see ``Sessions.sync``.

    ``hold`` (the event's lease) is entered before the event is read and left when
    the last row has finished, so no other run plans from a read this one outdates.
    """
    check_rows("rows", rows)
    if scan is not None:
        check_rows("scan", scan)
    event_id = planner.event_id

    def read_page(after: int, fields: list[str]) -> Awaitable[Page[Session]]:
        # By id, after the last one read: a concurrent delete cannot hide a session.
        return creator.list_page(event_id, 1, fields, [f"id>{after}"], sort="id")

    async def source() -> AsyncIterator[RowInput]:
        # Runs when the engine takes the first row: nothing is read before iteration.
        nonlocal rows
        first_pass: Iterable[RowInput]
        if scan is not None:
            first_pass = scan
        elif isinstance(rows, AsyncIterable) or iter(rows) is rows:
            rows = [row async for row in each_row(rows)]
            first_pass = rows
        else:
            first_pass = rows
        count = 0
        for position, row in enumerate(first_pass):
            planner.scan(row, _label(row, position))
            count = position + 1
        run.sized(count)  # the pacer knows what the run needs from its first row on
        fields = planner.read_fields
        for _ in range(2):  # a listing that changed while read is read once more
            walk = KeysetWalk(lambda after: read_page(after, fields))
            sessions = [s async for page in walk for s in page.items]
            if walk.complete:
                break
        else:
            # A session the walk missed would be created again: write nothing.
            raise LookupIncompleteError(f"the event's sessions could not be read: {walk.stopped}")
        planner.index(sessions)
        async for row in each_row(rows):
            yield row

    def work(row: RowInput) -> Callable[[], Awaitable[Session | RowOutcome]] | RowOutcome:
        try:
            plan = planner.plan(row)
        except AmbiguousMatchError as error:
            return RowOutcome("ambiguous", error=error)
        if plan.action in ("unchanged", "present") or dry_run:
            status = _STATUS[plan.action]
            return RowOutcome(status, plan.found, None, plan.changed, plan.session_id)
        # Built before anything is sent: only this build can make the row ``invalid``.
        send: Callable[[], Awaitable[Session]]
        if plan.action == "create":
            send = sending_create(creator.create, plan.fields)
        else:
            send = sending_update(update, plan.session_id or 0, plan.changes)
        if before_write is not None and not before_write(row, plan):
            return RowOutcome("failed", error=SwoogoError("not sent: the run was stopped"))
        if plan.action == "create":
            return _under_lease(send)
        return lambda: _updated(_under_lease(send), plan)

    run = BulkRun(source(), work, "created", concurrency, ordered, on_progress, credits, hold)
    return run


def _under_lease(send: Callable[[], Awaitable[Session]]) -> Callable[[], Awaitable[Session]]:
    """Send only while the event's lease is surely held: a stalled run's plan is stale."""

    async def guarded() -> Session:
        check_lease_held()
        return await send()

    return guarded


async def _updated(send: Callable[[], Awaitable[Session]], plan: RowPlan) -> RowOutcome:
    session = await send()
    return RowOutcome("updated", session, None, plan.changed, plan.session_id)
