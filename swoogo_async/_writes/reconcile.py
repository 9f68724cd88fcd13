"""Who matches a create whose outcome is unknown (pure; ``lookup.py`` finds the candidates).

A session is the create's when it holds every submitted field and the server's default in
every other; rows identical in every field stay indistinguishable, so ``create.py`` runs them
one at a time.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._api.endpoints import flatten_form, form_value
from .._api.models import Session

__all__ = ["assign_matches", "comparable", "differing", "matches", "pick_match"]


def comparable(value: Any) -> str:
    """Return a scalar as compared: its form text, trimmed (the server may trim it)."""
    return form_value(value).strip()


def _same(submitted: Any, found: Any) -> bool:
    """Compare as the form sends them, so "20" == 20, 1 == True, 09:00 == 09:00:00."""
    if isinstance(submitted, (Mapping, list, tuple)) or isinstance(found, (Mapping, list, tuple)):
        return sorted((k, v.strip()) for k, v in flatten_form({"v": submitted})) == sorted(
            (k, v.strip()) for k, v in flatten_form({"v": found})
        )
    return comparable(submitted) == comparable(found)


def _held(session: Session, name: str) -> Any:
    return getattr(session, name) if hasattr(session, name) else session.extra.get(name)


def differing(fields: Mapping[str, Any], session: Session) -> dict[str, Any]:
    """Return the submitted fields ``session`` does not hold, as submitted (custom fields
    one by one: only those that differ, inside ``custom_fields``)."""
    out: dict[str, Any] = {}
    for name, submitted in fields.items():
        if name == "event_id":  # the lookup is of the event already
            continue
        if name == "custom_fields":
            stored = session.custom_fields
            changed = {k: v for k, v in submitted.items() if not _same(v, stored.get(k))}
            if changed:
                out[name] = changed
        elif not _same(submitted, _held(session, name)):
            out[name] = submitted
    return out


#: What the server stores in a field a create leaves out (status live, flags 0, nothing
#: else set), as ``comparable`` texts; absent from the answer reads as "". Not here, so any
#: value passes: ``timezone`` (the event's) and what a server may fill in itself
#: (``secure_id``, ``type_id``, ...): a lookup too strict would miss its own session.
_EMPTY = frozenset({""})
_NONE_OR_ZERO = frozenset({"", "0"})
_DEFAULTS: dict[str, frozenset[str]] = {
    "admin_short_name": _EMPTY,
    "badge_name": _EMPTY,
    "description": _EMPTY,
    "notes": _EMPTY,
    "start_time": _EMPTY,
    "end_time": _EMPTY,
    "capacity": _NONE_OR_ZERO,
    "location_id": _NONE_OR_ZERO,
    "track_id": _NONE_OR_ZERO,
    "session_included": _NONE_OR_ZERO,
    "locked_when_saved": _NONE_OR_ZERO,
    "selected_by_default": _NONE_OR_ZERO,
    "prevent_session_conflicts": _NONE_OR_ZERO,
    "use_event_timezone": frozenset({"", "1"}),
    "session_status": frozenset({"", "live"}),
    "selection_control": frozenset({"", "optional"}),
}
_NAMED = frozenset({"admin_short_name", "badge_name"})  # a server may copy the name there


def unsubmitted_values(fields: Mapping[str, Any], session: Session) -> list[str]:
    """Return the fields left out that ``session`` holds a non-default value in: it is then
    another create's (a row with more fields), not this one's."""
    out = []
    for name, defaults in _DEFAULTS.items():
        if name in fields or (name == "use_event_timezone" and "timezone" in fields):
            continue  # the server may clear use_event_timezone to apply the timezone sent
        found = comparable(_held(session, name)).casefold()
        if found not in defaults and not (
            name in _NAMED and found == comparable(fields.get("name")).casefold()
        ):
            out.append(name)
    submitted = fields.get("custom_fields") or {}
    for key, value in session.custom_fields.items():
        if key not in submitted and value not in (None, "", [], {}):
            out.append(key)
    return out


def matches(fields: Mapping[str, Any], session: Session) -> bool:
    """Return whether ``session`` holds every submitted field and defaults in the others."""
    return not differing(fields, session) and not unsubmitted_values(fields, session)


def pick_match(
    fields: Mapping[str, Any],
    candidates: Iterable[Session],
    *,
    since: dt.datetime,
    excluded: frozenset[int],
    loose: bool = False,
) -> list[Session]:
    """Return the candidates that are this create's session (``loose``: those holding every
    submitted field whatever the others hold, enough to doubt the create never landed)."""
    return [
        session
        for session in candidates
        if session.id is not None
        and session.id not in excluded
        and (session.created_at is None or session.created_at >= since)
        and (not differing(fields, session) if loose else matches(fields, session))
    ]


def assign_matches(
    members: Sequence[tuple[Mapping[str, Any], dt.datetime, frozenset[int]]],
    candidates: Sequence[Session],
) -> list[tuple[list[Session], bool, list[int]]]:
    """Return each ``(fields, since, excluded)`` create's matches, whether one is contested
    (another create matches it too: it is neither's), and its ``loose`` candidates' ids."""
    loose = [
        pick_match(fields, candidates, since=since, excluded=excluded, loose=True)
        for fields, since, excluded in members
    ]
    found = [
        [s for s in sessions if not unsubmitted_values(fields, s)]
        for (fields, _, _), sessions in zip(members, loose, strict=True)
    ]
    owners = Counter(s.id for sessions in found for s in sessions)
    return [
        (sessions, any(owners[s.id] > 1 for s in sessions), [s.id for s in near if s.id])
        for sessions, near in zip(found, loose, strict=True)
    ]
