"""Running a sync (docs/sync.md): read the event once under its lease, plan each row, and
write through the bulk engine, which reports a ``BulkResult`` per row."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, TypeAlias

from .._api.pages import KeysetWalk
from .._exceptions import AmbiguousMatchError, LookupIncompleteError, SwoogoError
from .._shared.state import check_lease_held
from .bulk import BulkRun, check_rows, each_row, sending_create, sending_update
from .bulk_results import BulkResult, BulkStatus, RowInput
from .sync_plan import RowPlan, SyncAction, SyncPlanner

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .bulk import RowSource, RunOptions, UpdateFn
    from .create import Creator

__all__ = ["BeforeWrite", "sync_rows"]

#: Called with a row and its plan just before its write is sent; False keeps it unsent.
BeforeWrite: TypeAlias = "Callable[[RowInput, RowPlan], bool]"


def _status(action: SyncAction) -> BulkStatus:
    """The status a planned action reports (in a dry run: what would happen)."""
    return "created" if action == "create" else "updated" if action == "update" else action


def sync_rows(
    rows: RowSource,
    *,
    planner: SyncPlanner,
    creator: Creator,
    update: UpdateFn,
    scan: Iterable[RowInput] | None = None,
    dry_run: bool = False,
    before_write: BeforeWrite | None = None,
    **run: Unpack[RunOptions],
) -> BulkRun:
    """Make the planner's event match ``rows``; see ``Sessions.sync``. ``hold`` (the event's
    lease) is held from before the event is read until the last row has finished."""
    check_rows("rows", rows)
    if scan is not None:
        check_rows("scan", scan)

    async def source() -> AsyncIterator[RowInput]:
        nonlocal rows  # runs when the engine takes the first row: nothing is read before
        first_pass: Iterable[RowInput]
        if scan is not None:
            first_pass = scan
        elif isinstance(rows, AsyncIterable) or iter(rows) is rows:
            rows = first_pass = [row async for row in each_row(rows)]
        else:
            first_pass = rows
        position = -1
        for position, row in enumerate(first_pass):
            line = getattr(row, "line", None)
            planner.scan(row, f"line {line}" if isinstance(line, int) else f"row {position}")
        bulk.sized(position + 1)  # the pacer knows what the run needs from its first row on
        for _ in range(2):  # a listing that changed while read is read once more
            # By id, after the last one read: a concurrent delete cannot hide a session.
            walk = KeysetWalk(
                lambda after: creator.list_page(
                    planner.event_id, 1, planner.read_fields, [f"id>{after}"], sort="id"
                )
            )
            sessions = [s async for page in walk for s in page.items]
            if walk.complete:
                break
        else:  # a session the walk missed would be created again: write nothing
            raise LookupIncompleteError(f"the event's sessions could not be read: {walk.stopped}")
        planner.index(sessions)
        async for row in each_row(rows):
            yield row

    def work(index: int, row: RowInput) -> Callable[[], Awaitable[BulkResult]] | BulkResult:
        try:
            plan = planner.plan(row)
        except AmbiguousMatchError as error:
            return BulkResult(index, row, "ambiguous", error=error)
        status = _status(plan.action)
        if plan.action in ("unchanged", "present") or dry_run:
            return BulkResult(index, row, status, plan.found, None, plan.changed, plan.session_id)
        # Built before anything is sent: only this build can make the row ``invalid``.
        if plan.action == "create":
            send = sending_create(creator.create, plan.fields)
        else:
            send = sending_update(update, plan.session_id or 0, plan.changes)
        if before_write is not None and not before_write(row, plan):
            stopped = SwoogoError("not sent: the run was stopped")
            return BulkResult(index, row, "failed", error=stopped)

        async def write() -> BulkResult:
            check_lease_held()  # a run stalled past its lease plans from a stale read
            session = await send()
            return BulkResult(index, row, status, session, None, plan.changed, plan.session_id)

        return write

    bulk = BulkRun(source(), work, "created", **run)
    return bulk
