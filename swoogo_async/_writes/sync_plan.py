"""A sync (docs/sync.md): the pure ``SyncPlanner`` and ``sync_rows``, which runs it in bulk."""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs

from .._api.fields import WRITABLE_FIELDS
from .._api.models import CUSTOM_FIELD_RE, Session
from .._api.pages import KeysetWalk
from .._exceptions import AmbiguousMatchError, InvalidInputError, LookupIncompleteError, SwoogoError
from .._shared.state import check_lease_held
from .bulk import (
    UNREADABLE,
    BulkRun,
    check_rows,
    each_row,
    prepare_create_row,
    sending_create,
    sending_update,
)
from .bulk_results import BulkResult, BulkStatus, RowInput
from .lookup import comparable, differing

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping

    from typing_extensions import Unpack

    from .bulk import RowSource, RunOptions, UpdateFn
    from .create import Creator

__all__ = ["BeforeWrite", "RowPlan", "SyncPlanner", "parse_key", "sync_rows"]

_NOT_KEYS = frozenset({"event_id", "custom_fields"})  # writable, but identify no row
SyncAction = Literal["create", "update", "unchanged", "present"]
#: Called with a row and its plan just before its write is sent; False keeps it unsent.
BeforeWrite: TypeAlias = "Callable[[RowInput, RowPlan], bool]"


def parse_key(key: str | Sequence[str]) -> tuple[str, ...]:
    """Return the field names of ``key`` (``"name,date"`` or a sequence), each checked."""
    if not isinstance(key, Sequence):
        raise InvalidInputError("key", f"expected 'name,date' or a list of names, got {key!r}")
    names = key.split(",") if isinstance(key, str) else list(key)
    out: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise InvalidInputError("key", f"field names must be strings, got {name!r}")
        name = name.strip()
        if name in _NOT_KEYS or not (name in WRITABLE_FIELDS or CUSTOM_FIELD_RE.match(name)):
            raise InvalidInputError(
                "key", f"{name!r} is not a session field or a custom field like c_1234"
            )
        if name in out:
            raise InvalidInputError("key", f"names {name!r} twice")
        out.append(name)
    if not out:
        raise InvalidInputError("key", "names no field")
    return tuple(out)


def _value(fields: Mapping[str, Any] | Session, name: str) -> Any:
    if isinstance(fields, Session):
        custom, value = fields.custom_fields, getattr(fields, name, None)
    else:
        custom, value = fields.get("custom_fields") or {}, fields.get(name)
    return custom.get(name) if CUSTOM_FIELD_RE.match(name) else value


def changed_names(changes: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the field names of ``changes``, custom fields by their ``c_`` name."""
    return tuple(n for k, v in changes.items() for n in (v if k == "custom_fields" else (k,)))


@attrs.frozen
class RowPlan:
    """What one row needs.

    Attributes:
        action: ``create``, ``update``, ``unchanged`` or (an import) ``present``.
        fields: The row's checked fields (what a create sends).
        session_id: The session the row's key found, if any.
        changes: For ``update``, the fields to send: only those that differ.
        found: For ``present``, the session as read (key fields and ``created_at``).
    """

    action: SyncAction
    fields: Mapping[str, Any] = attrs.field(repr=False)
    session_id: int | None = None
    changes: Mapping[str, Any] = attrs.field(factory=dict)
    found: Session | None = attrs.field(default=None, repr=False)

    @property
    def changed(self) -> tuple[str, ...]:
        """The names of the fields an update sends."""
        return changed_names(self.changes)


class SyncPlanner:
    """Plans a sync of rows into one event's sessions: ``scan``, ``index``, then ``plan``."""

    def __init__(self, *, event_id: int, key: tuple[str, ...], update: bool = True) -> None:
        if not isinstance(update, bool):
            raise InvalidInputError("updates", f"expected True or False, got {update!r}")
        self.event_id, self.key, self.update = event_id, key, update
        self._first: dict[tuple[str, ...], str] = {}  # key -> the first row's label
        self._shared: dict[tuple[str, ...], list[str]] = {}  # key -> labels of rows sharing it
        self._fields: set[str] = set(key)
        self._index: dict[tuple[str, ...], list[Session]] = {}

    def _read(self, row: RowInput) -> tuple[dict[str, Any], tuple[str, ...]]:
        fields = prepare_create_row(row, self.event_id)
        if fields["event_id"] != self.event_id:
            raise InvalidInputError(
                "event_id", f"is {fields['event_id']}, but this sync is of event {self.event_id}"
            )
        key = tuple(comparable(_value(fields, name)) for name in self.key)
        empty = [name for name, text in zip(self.key, key, strict=True) if not text]
        if empty and self.update:
            raise InvalidInputError(empty[0], "is part of the sync key and must not be empty")
        if len(empty) == len(key):
            names = ", ".join(self.key)
            raise InvalidInputError(self.key[0], f"the key ({names}) is empty in this row")
        return fields, key

    def scan(self, row: RowInput, label: str) -> None:
        """Note a row's key and fields (first pass); an invalid row is noted as nothing."""
        try:
            fields, key = self._read(row)
        except (InvalidInputError, *UNREADABLE):
            return  # ``plan`` raises the same error, and the row is reported ``invalid``
        if self.update:
            self._fields.update(changed_names({k: v for k, v in fields.items() if k != "event_id"}))
        first = self._first.setdefault(key, label)
        if first != label:
            self._shared.setdefault(key, [first]).append(label)

    @property
    def read_fields(self) -> list[str]:
        """The ``fields=`` the event is read with: id, what rows compare, an import's created_at."""
        extra = [] if self.update else ["created_at"]
        return ["id", *extra, *sorted(self._fields)]

    def index(self, sessions: Iterable[Session]) -> None:
        """Index sessions by key (an import's may lack some); refuse a custom key none holds."""
        listed = [session for session in sessions if session.id is not None]
        held: set[str] = set()
        for session in listed:
            key = tuple(comparable(_value(session, name)) for name in self.key)
            held.update(name for name, value in zip(self.key, key, strict=True) if value)
            if all(key) or (not self.update and any(key)):
                self._index.setdefault(key, []).append(session)
        rows_set = {n for key in self._first for n, v in zip(self.key, key, strict=True) if v}
        missing = [n for n in self.key if n in rows_set - held and CUSTOM_FIELD_RE.match(n)]
        if listed and missing:
            raise InvalidInputError(
                missing[0],
                f"is part of the key, but none of the event's {len(listed)} sessions holds it:"
                " the server does not return it (a misspelt or unknown field?), so no row"
                " could be matched and every one would be created again; nothing was written",
            )

    def plan(self, row: RowInput) -> RowPlan:
        """Return what ``row`` needs; raise ``InvalidInputError`` or ``AmbiguousMatchError``."""
        fields, key = self._read(row)
        if (shared := self._shared.get(key)) is not None:
            raise InvalidInputError(
                "key",
                f"{', '.join(shared)} have the same key ({' | '.join(key)}): which one is meant?",
            )
        if not (found := self._index.get(key)):
            return RowPlan("create", fields)
        ids = tuple(s.id for s in found if s.id is not None)
        if len(found) > 1:
            raise AmbiguousMatchError(
                f"sessions {', '.join(map(str, ids))} all have the key {key}; nothing was written",
                key=key,
                candidates=ids,
            )
        if not self.update:
            return RowPlan("present", fields, ids[0], found=found[0])
        changes = differing(fields, found[0])
        return RowPlan("update" if changes else "unchanged", fields, ids[0], changes)


def _status(action: SyncAction) -> BulkStatus:  # in a dry run: what would happen
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
    """Make the planner's event match ``rows``; see ``Sessions.sync``."""
    check_rows("rows", rows)
    if scan is not None:
        check_rows("scan", scan)

    async def source() -> AsyncIterator[RowInput]:
        nonlocal rows  # runs when the engine takes the first row: nothing is read before
        first_pass = scan
        if first_pass is None:
            if isinstance(rows, AsyncIterable) or iter(rows) is rows:
                rows = [row async for row in each_row(rows)]  # read once, kept for two passes
            first_pass = rows
        position = -1
        for position, row in enumerate(first_pass):
            line = getattr(row, "line", None)
            planner.scan(row, f"line {line}" if isinstance(line, int) else f"row {position}")
        bulk.sized(position + 1)  # the pacer knows what the run needs from its first row on
        for _ in range(2):  # a listing that changed while read is read once more
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
