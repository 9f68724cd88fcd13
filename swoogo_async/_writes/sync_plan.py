"""Planning an agenda sync: what each row needs so the event matches it (pure, no I/O).

A sync runs in three passes over what it knows, each a method of ``SyncPlanner``:

1. ``scan`` every row once: find keys that two rows share (both rows are then
   ``invalid``) and collect the fields the rows set, so the server is asked for
   those and no more;
2. ``index`` the event's sessions by key;
3. ``plan`` each row: ``create`` when no session has its key, ``update`` (only the
   fields that differ) or ``unchanged`` when one has, ``ambiguous`` when several do.

Values are compared by ``_reconcile.differing``, the rule the duplicate-safe create
uses: as the form sends them, so ``"20"`` equals ``20``, ``true`` equals ``1`` and
``09:00`` equals ``09:00:00``. A field the row leaves empty is not compared, so a
sync never clears anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from .._api.converter import CUSTOM_FIELD_RE
from .._api.fields import DEFAULT_KEY, WRITABLE_FIELDS
from .._api.models import Session
from .._exceptions import AmbiguousMatchError, InvalidInputError
from .bulk import UNREADABLE, RowInput, prepare_create_row
from .reconcile import comparable, differing

__all__ = ["DEFAULT_KEY", "RowPlan", "SyncPlanner", "changed_names", "parse_key"]

#: Writable fields that cannot identify a row.
_NOT_KEYS = frozenset({"event_id", "custom_fields"})
SyncAction = Literal["create", "update", "unchanged"]


def parse_key(key: str | Sequence[str]) -> tuple[str, ...]:
    """Return the key's field names (``"name,date"`` or a sequence), checked.

    Raises:
        InvalidInputError: a name is not a writable field or custom field, or repeats.
    """
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
        known = name in WRITABLE_FIELDS and name not in _NOT_KEYS
        if not known and not CUSTOM_FIELD_RE.match(name):
            raise InvalidInputError(
                "key", f"{name!r} is not a session field or a custom field like c_1234"
            )
        if name in out:
            raise InvalidInputError("key", f"names {name!r} twice")
        out.append(name)
    if not out:
        raise InvalidInputError("key", "names no field")
    return tuple(out)


def _value(fields: Mapping[str, Any], name: str) -> Any:
    if CUSTOM_FIELD_RE.match(name):
        return (fields.get("custom_fields") or {}).get(name)
    return fields.get(name)


def _session_value(session: Session, name: str) -> Any:
    if CUSTOM_FIELD_RE.match(name):
        return session.custom_fields.get(name)
    return getattr(session, name, None)


def _show(key: tuple[str, ...]) -> str:
    return "(" + " | ".join(key) + ")"


def changed_names(changes: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the field names of ``changes``, custom fields by their ``c_`` name."""
    names: list[str] = []
    for name, value in changes.items():
        if name == "custom_fields":
            names.extend(value)
        else:
            names.append(name)
    return tuple(names)


@attrs.frozen
class RowPlan:
    """What one row needs.

    Attributes:
        action: ``create``, ``update`` or ``unchanged``.
        fields: The row's checked fields (what a create sends).
        session_id: The session the row's key found, if any.
        changes: For ``update``, the fields to send: only those that differ.
    """

    action: SyncAction
    fields: Mapping[str, Any] = attrs.field(repr=False)
    session_id: int | None = None
    changes: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def changed(self) -> tuple[str, ...]:
        """The names of the fields an update sends."""
        return changed_names(self.changes)


class SyncPlanner:
    """Plans a sync of rows into one event's sessions; see the module docstring."""

    def __init__(self, *, event_id: int, key: tuple[str, ...]) -> None:
        self.event_id = event_id
        self.key = key
        self._first: dict[tuple[str, ...], str] = {}
        self._shared: dict[tuple[str, ...], list[str]] = {}
        self._fields: set[str] = set(key)
        self._index: dict[tuple[str, ...], list[Session]] = {}

    def prepare(self, row: RowInput) -> dict[str, Any]:
        """Return the row's checked fields.

        Raises:
            InvalidInputError: the row is invalid, belongs to another event or has an
                empty key field.
        """
        fields = prepare_create_row(row, self.event_id)
        if fields["event_id"] != self.event_id:
            raise InvalidInputError(
                "event_id", f"is {fields['event_id']}, but this sync is of event {self.event_id}"
            )
        return fields

    def key_of(self, fields: Mapping[str, Any]) -> tuple[str, ...]:
        """Return the row's key as compared.

        Raises:
            InvalidInputError: a key field is empty.
        """
        values = []
        for name in self.key:
            text = comparable(_value(fields, name))
            if not text:
                raise InvalidInputError(name, "is part of the sync key and must not be empty")
            values.append(text)
        return tuple(values)

    def scan(self, row: RowInput, label: str) -> None:
        """Note a row's key and fields (first pass); an invalid row is noted as nothing."""
        try:
            fields = self.prepare(row)
            key = self.key_of(fields)
        except (InvalidInputError, *UNREADABLE):
            return  # ``plan`` raises the same error, and the row is reported ``invalid``
        self._fields.update(changed_names({k: v for k, v in fields.items() if k != "event_id"}))
        first = self._first.setdefault(key, label)
        if first != label:
            self._shared.setdefault(key, [first]).append(label)

    @property
    def read_fields(self) -> list[str]:
        """The ``fields=`` to read the event's sessions with: id and what rows compare."""
        return ["id", *sorted(self._fields)]

    def index(self, sessions: Iterable[Session]) -> None:
        """Index the event's sessions by key (a session with an empty key field is left out)."""
        for session in sessions:
            if session.id is None:
                continue
            key = tuple(comparable(_session_value(session, name)) for name in self.key)
            if all(key):
                self._index.setdefault(key, []).append(session)

    def plan(self, row: RowInput) -> RowPlan:
        """Return what ``row`` needs.

        Raises:
            InvalidInputError: the row is invalid, or another row has its key.
            AmbiguousMatchError: several sessions have its key.
        """
        fields = self.prepare(row)
        key = self.key_of(fields)
        shared = self._shared.get(key)
        if shared is not None:
            raise InvalidInputError(
                "key", f"{', '.join(shared)} have the same key {_show(key)}: which one is meant?"
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
        changes = differing(fields, found[0])
        return RowPlan("update" if changes else "unchanged", fields, ids[0], changes)
