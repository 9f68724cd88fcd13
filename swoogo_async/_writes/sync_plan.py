"""Planning a sync, pure (docs/sync.md): ``scan`` the rows, ``index`` the event's sessions by
key, then ``plan`` each row. Values compare as the duplicate-safe create compares them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from .._api.fields import WRITABLE_FIELDS
from .._api.models import CUSTOM_FIELD_RE, Session
from .._exceptions import AmbiguousMatchError, InvalidInputError
from .bulk import UNREADABLE, RowInput, prepare_create_row
from .reconcile import comparable, differing

__all__ = ["RowPlan", "SyncPlanner", "changed_names", "parse_key"]

_NOT_KEYS = frozenset({"event_id", "custom_fields"})  # writable, but identify no row
SyncAction = Literal["create", "update", "unchanged", "present"]


def parse_key(key: str | Sequence[str]) -> tuple[str, ...]:
    """Return the key's field names (``"name,date"`` or a sequence), checked (each a session
    field or custom field, once): ``InvalidInputError`` otherwise."""
    if isinstance(key, str):
        names = key.split(",")
    elif isinstance(key, Sequence):
        names = list(key)
    else:
        raise InvalidInputError("key", f"expected 'name,date' or a list of names, got {key!r}")
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
        self.event_id = event_id
        self.key = key
        self.update = update
        self._first: dict[tuple[str, ...], str] = {}  # key -> the first row's label
        self._shared: dict[tuple[str, ...], list[str]] = {}  # key -> labels of rows sharing it
        self._fields: set[str] = set(key)
        self._index: dict[tuple[str, ...], list[Session]] = {}

    def _read(self, row: RowInput) -> tuple[dict[str, Any], tuple[str, ...]]:
        """Return the row's checked fields and its key as compared (``InvalidInputError``: an
        invalid row, another event's, or an empty key field)."""
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
        """The ``fields=`` to read the event with: id, what rows compare, and for an import
        ``created_at`` (whether an earlier attempt made a session)."""
        extra = [] if self.update else ["created_at"]
        return ["id", *extra, *sorted(self._fields)]

    def index(self, sessions: Iterable[Session]) -> None:
        """Index the event's sessions by key (a sync leaves out one with an empty key field;
        an import compares it as empty). ``InvalidInputError`` if rows set a custom key field
        no session holds: the server leaves out a field the event lacks (misspelt?), so every
        row would be created again."""
        held: set[str] = set()
        listed = 0
        for session in sessions:
            if session.id is None:
                continue
            listed += 1
            key = tuple(comparable(_value(session, name)) for name in self.key)
            held.update(name for name, value in zip(self.key, key, strict=True) if value)
            if all(key) or (not self.update and any(key)):
                self._index.setdefault(key, []).append(session)
        rows_set = {n for key in self._first for n, v in zip(self.key, key, strict=True) if v}
        missing = [n for n in self.key if n in rows_set - held and CUSTOM_FIELD_RE.match(n)]
        if listed and missing:
            raise InvalidInputError(
                missing[0],
                f"is part of the key, but none of the event's {listed} sessions holds it:"
                " the server does not return it (a misspelt or unknown field?), so no row"
                " could be matched and every one would be created again; nothing was written",
            )

    def plan(self, row: RowInput) -> RowPlan:
        """Return what ``row`` needs; ``InvalidInputError`` if the row is invalid or another row
        has its key, ``AmbiguousMatchError`` if several sessions have it."""
        fields, key = self._read(row)
        shared = self._shared.get(key)
        if shared is not None:
            raise InvalidInputError(
                "key",
                f"{', '.join(shared)} have the same key ({' | '.join(key)}): which one is meant?",
            )
        found = self._index.get(key)
        if not found:
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
