"""What a bulk row becomes before it is sent: checked fields, then a built request.

Everything here runs before a row's request can leave, so an error raised here makes
the row ``invalid`` (and ``--resume`` may send it again); what the returned senders
raise afterwards never does (``bulk.BulkRun._run_row``).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeAlias

from .._api.converter import CUSTOM_FIELD_RE, parse_int, unstructure_session
from .._api.endpoints import create_session_call, update_session_call
from .._api.fields import WRITABLE_FIELDS, prepare_session_fields
from .._api.models import Session
from .._exceptions import InvalidInputError, SwoogoError, UnknownOutcomeError
from .bulk_results import RowInput

__all__ = [
    "UNREADABLE",
    "CreateFn",
    "UpdateFn",
    "check_rows",
    "prepare_create_row",
    "prepare_update",
    "sending_create",
    "sending_update",
    "session_row",
    "unreadable",
]

#: Creates a session from checked fields.
CreateFn: TypeAlias = "Callable[[Mapping[str, Any]], Awaitable[Session]]"
#: Updates a session from its id and checked fields.
UpdateFn: TypeAlias = "Callable[[int, Mapping[str, Any]], Awaitable[Session]]"
#: Errors a malformed row raises while it is read and built; the row is then ``invalid``.
UNREADABLE = (TypeError, ValueError, ArithmeticError, RecursionError)


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


def unreadable(exc: BaseException) -> InvalidInputError:
    error = InvalidInputError("row", f"cannot be read: {type(exc).__name__}: {exc}"[:300])
    error.__cause__ = exc
    return error


def sending_create(
    create: CreateFn, prepared: Mapping[str, Any]
) -> Callable[[], Awaitable[Session]]:
    """Build a create's request now (``InvalidInputError`` if it cannot); return its sender."""
    try:
        create_session_call(prepared)  # built again by ``create``: the same bytes
    except UNREADABLE as exc:
        raise unreadable(exc) from None

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
    """Build an update's request now (``InvalidInputError`` if it cannot); return its sender."""
    try:
        update_session_call(session_id, changes)  # built again by ``update``
    except UNREADABLE as exc:
        raise unreadable(exc) from None
    return lambda: update(session_id, changes)
