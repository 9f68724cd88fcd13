"""A bulk row: its checks and build before it is sent, and the result and counts it makes.

An error raised while a row is checked and built makes it ``invalid`` (``--resume`` may
send it again); what the returned senders raise afterwards never does.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal, TypeAlias, get_args

import attrs

from .._api.converter import CUSTOM_FIELD_RE, parse_int, unstructure_session
from .._api.endpoints import create_session_call, update_session_call
from .._api.fields import WRITABLE_FIELDS, prepare_session_fields
from .._api.models import Session
from .._exceptions import InvalidInputError, SwoogoError, UnknownOutcomeError

__all__ = [
    "UNREADABLE",
    "BulkProgress",
    "BulkResult",
    "BulkStatus",
    "BulkSummary",
    "CreateFn",
    "RowInput",
    "RowOutcome",
    "UpdateFn",
    "check_rows",
    "prepare_create_row",
    "prepare_update",
    "sending_create",
    "sending_update",
    "session_row",
    "unreadable",
]

BulkStatus: TypeAlias = Literal[
    "created", "updated", "unchanged", "present", "failed", "invalid", "ambiguous", "unknown"
]
#: One input row: field name to value (text is parsed), or a ``Session``.
RowInput: TypeAlias = "Mapping[str, Any] | Session"
CreateFn: TypeAlias = "Callable[[Mapping[str, Any]], Awaitable[Session]]"
UpdateFn: TypeAlias = "Callable[[int, Mapping[str, Any]], Awaitable[Session]]"
#: Errors a malformed row raises while it is read and built; the row is then ``invalid``.
UNREADABLE = (TypeError, ValueError, ArithmeticError, RecursionError)


@attrs.frozen(slots=True)
class BulkResult:
    """The outcome of one row of a bulk run.

    Attributes:
        index: The row's 0-based position in the source.
        row: The row as given.
        status: ``created``/``updated`` (done); ``unchanged`` (a sync found the session
            as the row says) or ``present`` (an import found the row's key): nothing sent;
            ``invalid`` (rejected before sending); ``failed`` (refused or unreachable);
            ``ambiguous`` (several sessions have the row's key; nothing sent); ``unknown``
            (a create that may have happened; the error carries the submitted fields).
        session: The session the server returned, when done.
        error: The error, when not done.
        changed: The fields a sync's update sent (or would send, in a dry run).
        session_id: The session's id, when one is known (also for ``unchanged``).
    """

    index: int
    row: RowInput = attrs.field(repr=False)
    status: BulkStatus
    session: Session | None = attrs.field(default=None, repr=False)
    error: SwoogoError | None = None
    changed: tuple[str, ...] = ()
    session_id: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the row was created, updated, or found unchanged or already present."""
        return self.status in ("created", "updated", "unchanged", "present")

    @property
    def id(self) -> int | None:
        """The session's id, from ``session`` or ``session_id``."""
        if self.session is not None and self.session.id is not None:
            return self.session.id
        return self.session_id


@attrs.frozen(slots=True)
class RowOutcome:
    """What a row settled on: a ``BulkResult`` without its index and row, in order."""

    status: BulkStatus
    session: Session | None = None
    error: SwoogoError | None = None
    changed: tuple[str, ...] = ()
    session_id: int | None = None


@attrs.define
class BulkSummary:
    """Counts of a bulk run's results; fold results in with ``add``."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    present: int = 0
    failed: int = 0
    invalid: int = 0
    ambiguous: int = 0
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
        return sum(getattr(self, status) for status in get_args(BulkStatus))

    @property
    def all_ok(self) -> bool:
        """Whether every counted row was created, updated or found unchanged."""
        return self.failed == self.invalid == self.ambiguous == self.unknown == 0


@attrs.define
class BulkProgress(BulkSummary):
    """Live counters of a running bulk operation.

    Attributes:
        submitted: Rows taken from the source so far.
        done: Rows finished (whatever their status).
        started_at: ``time.monotonic()`` when the run started.
        credits: Rate-limit credits the client spent since the run started (all its
            requests in that time, by the documented costs).
    """

    submitted: int = 0
    done: int = 0
    started_at: float = attrs.field(factory=time.monotonic)
    credits: int = 0

    @property
    def credits_per_row(self) -> float:
        """Credits spent per finished row so far."""
        return self.credits / self.done if self.done else 0.0

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
        return None if total is None or rate <= 0 else max(total - self.done, 0) / rate

    def finish(self, result: BulkResult) -> None:
        """Count one finished row."""
        self.done += 1
        self.count(result.status)


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
    if isinstance(row, Session):
        session_id: Any = row.id
    else:
        session_id = fields.pop("id", None)
        alias = fields.pop("session_id", None)
        session_id = alias if session_id is None else session_id
    try:
        parsed = parse_int(session_id)
    except ValueError:
        parsed = None
    if parsed is None or parsed <= 0:
        raise InvalidInputError("id", f"each update row needs a positive id, got {session_id!r}")
    return parsed, prepare_session_fields(fields, creating=False)


def unreadable(exc: BaseException) -> InvalidInputError:
    error = InvalidInputError("row", f"cannot be read: {type(exc).__name__}: {exc}"[:300])
    error.__cause__ = exc
    return error


def _check_built(build: Callable[[], object]) -> None:
    """Build the request now, only to check it (``InvalidInputError`` if it cannot be)."""
    try:
        build()
    except UNREADABLE as exc:
        raise unreadable(exc) from None


def sending_create(
    create: CreateFn, prepared: Mapping[str, Any]
) -> Callable[[], Awaitable[Session]]:
    """Check that a create's request builds; return its sender."""
    _check_built(lambda: create_session_call(prepared))  # built again by ``create``: same bytes

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


def sending_update(
    update: UpdateFn, session_id: int, changes: Mapping[str, Any]
) -> Callable[[], Awaitable[Session]]:
    """Check that an update's request builds; return its sender."""
    _check_built(lambda: update_session_call(session_id, changes))
    return lambda: update(session_id, changes)
