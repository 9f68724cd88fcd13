"""Planning an agenda sync: what each row needs so the event matches it (pure, no I/O).

A sync runs in three passes over what it knows, each a method of ``SyncPlanner``:

1. ``scan`` every row once: find keys that two rows share (both rows are then
   ``invalid``) and collect the fields the rows set, so the server is asked for
   those and no more;
2. ``index`` the event's sessions by key;
3. ``plan`` each row: ``create`` when no session has its key, ``update`` (only the
   fields that differ) or ``unchanged`` when one has, ``ambiguous`` when several do.

An import plans with ``update=False``: a row whose key a session has is ``present``
(left as it is), so running an import twice, or after its report was lost, creates
nothing twice. Its key may leave some fields empty (a session without a start time),
compared as empty; a sync's key fields must all be set.

A custom key field that rows set but no session of the event holds would match
nothing and create every row again: the server leaves out a custom field the event
does not have (a misspelt id, one of another event), so ``index`` refuses it, naming
the field. A standard field is always returned (empty when unset), so sessions that
all leave it empty are taken at their word.

Values are compared by ``reconcile.differing``, the rule the duplicate-safe create
uses: as the form sends them, so ``"20"`` equals ``20``, ``true`` equals ``1`` and
``09:00`` equals ``09:00:00``. A field the row leaves empty is not compared, so a
sync never clears anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from .._api.converter import CUSTOM_FIELD_RE
from .._api.fields import WRITABLE_FIELDS
from .._api.models import Session
from .._exceptions import AmbiguousMatchError, InvalidInputError
from .bulk import UNREADABLE, RowInput, prepare_create_row
from .reconcile import comparable, differing

__all__ = ["RowPlan", "SyncPlanner", "changed_names", "parse_key"]

#: Writable fields that cannot identify a row.
_NOT_KEYS = frozenset({"event_id", "custom_fields"})
SyncAction = Literal["create", "update", "unchanged", "present"]


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


def changed_names(changes: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the field names of ``changes``, custom fields by their ``c_`` name."""
    return tuple(n for k, v in changes.items() for n in (v if k == "custom_fields" else (k,)))


@attrs.frozen
class RowPlan:
    """What one row needs.

    Attributes:
        action: ``create``, ``update``, ``unchanged`` or (no updates) ``present``.
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
    """Plans a sync of rows into one event's sessions; see the module docstring."""

    def __init__(self, *, event_id: int, key: tuple[str, ...], update: bool = True) -> None:
        if not isinstance(update, bool):
            raise InvalidInputError("updates", f"expected True or False, got {update!r}")
        self.event_id = event_id
        self.key = key
        self.update = update
        self._key_set: set[str] = set()  # key fields some row sets
        self._first: dict[tuple[str, ...], str] = {}
        self._shared: dict[tuple[str, ...], list[str]] = {}
        self._fields: set[str] = set(key)
        self._index: dict[tuple[str, ...], list[Session]] = {}

    def prepare(self, row: RowInput) -> dict[str, Any]:
        """Return the row's checked fields (``InvalidInputError``: invalid, or another event's)."""
        fields = prepare_create_row(row, self.event_id)
        if fields["event_id"] != self.event_id:
            raise InvalidInputError(
                "event_id", f"is {fields['event_id']}, but this sync is of event {self.event_id}"
            )
        return fields

    def key_of(self, fields: Mapping[str, Any]) -> tuple[str, ...]:
        """Return the row's key as compared (``InvalidInputError``: a key field is empty)."""
        values = []
        for name in self.key:
            text = comparable(_value(fields, name))
            if not text and self.update:
                raise InvalidInputError(name, "is part of the sync key and must not be empty")
            values.append(text)
        if not any(values):
            names = ", ".join(self.key)
            raise InvalidInputError(self.key[0], f"the key ({names}) is empty in this row")
        return tuple(values)

    def scan(self, row: RowInput, label: str) -> None:
        """Note a row's key and fields (first pass); an invalid row is noted as nothing."""
        try:
            fields = self.prepare(row)
            key = self.key_of(fields)
        except (InvalidInputError, *UNREADABLE):
            return  # ``plan`` raises the same error, and the row is reported ``invalid``
        if self.update:
            self._fields.update(changed_names({k: v for k, v in fields.items() if k != "event_id"}))
        self._key_set.update(name for name, value in zip(self.key, key, strict=True) if value)
        first = self._first.setdefault(key, label)
        if first != label:
            self._shared.setdefault(key, [first]).append(label)

    @property
    def read_fields(self) -> list[str]:
        """The ``fields=`` to read the event's sessions with: id and what rows compare.

        Without updates, ``created_at`` too: it tells a session an earlier attempt of
        the row made from one that was there before.
        """
        extra = [] if self.update else ["created_at"]
        return ["id", *extra, *sorted(self._fields)]

    def index(self, sessions: Iterable[Session]) -> None:
        """Index the event's sessions by key.

        A session with an empty key field is left out of a sync's index (no row can
        have that key); an import compares it as empty.

        Raises:
            InvalidInputError: rows set a custom key field that no session holds (see
                the module docstring); nothing may be written.
        """
        held: set[str] = set()
        listed = 0
        for session in sessions:
            if session.id is None:
                continue
            listed += 1
            key = tuple(comparable(_session_value(session, name)) for name in self.key)
            held.update(name for name, value in zip(self.key, key, strict=True) if value)
            if all(key) or (not self.update and any(key)):
                self._index.setdefault(key, []).append(session)
        missing = [
            name
            for name in self.key
            if CUSTOM_FIELD_RE.match(name) and name in self._key_set and name not in held
        ]
        if listed and missing:
            raise InvalidInputError(
                missing[0],
                f"is part of the key, but none of the event's {listed} sessions holds it:"
                " the server does not return it (a misspelt or unknown field?), so no row"
                " could be matched and every one would be created again; nothing was written",
            )

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
