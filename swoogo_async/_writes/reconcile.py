"""Settling a create whose outcome is unknown (pure parts, plus the client's memory).

The API has no idempotency key. When a create fails after the request may have
reached the server, the session is looked up in its event among the records
created since the attempt began, matching every field the caller submitted and holding
the server's default in every field left out (``matches``: a session with a value the
caller did not send is another create's). This module builds that lookup and judges
its answer; the duplicate-safe create (``create.py``) runs it. Two rows identical in
every field remain indistinguishable: without an idempotency key, that limit is inherent.

Two creates of identical rows could otherwise claim each other's session, so the
client runs creates with the same fingerprint (event, name, date) one at a time
(``keyedlocks.KeyedLocks``) and remembers, for a few seconds, the ids its own creates
returned (``RecentClaims``): a lookup never returns a session this client already handed out.
Only creates with the same fingerprint can match each other (the lookup compares name
and date exactly), and those never overlap, so the claims made under the key before a
create began are all it must exclude; anything older than the clock margin cannot pass
the lookup's ``created_at`` filter, which is why a few seconds of memory suffice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import attrs

from .._api.converter import format_datetime, format_time
from .._api.forms import flatten_form, form_value
from .._api.models import Session

__all__ = [
    "MAX_NAMES_QUERY",
    "WHOLE_SESSION",
    "RecentClaims",
    "assign_matches",
    "batch_fields",
    "batch_searches",
    "comparable",
    "differing",
    "fingerprint",
    "lookup_search",
    "matches",
    "pick_match",
    "unsubmitted_values",
]

#: Submitted fields that are not compared: the lookup is scoped to the event already.
_NOT_COMPARED = frozenset({"event_id"})
_SEARCH_UNSAFE = frozenset("&|*=<>!")


def fingerprint(fields: Mapping[str, Any]) -> tuple[Any, ...]:
    """Return the key under which creates that a lookup could confuse are serialised.

    Coarser than what ``pick_match`` compares (no start time): two rows differing
    only in a field one of them leaves out could match the same session.
    """
    name = fields.get("name")
    return (
        fields.get("event_id"),
        name.casefold() if isinstance(name, str) else name,
        fields.get("date"),
    )


def _searchable(name: Any) -> bool:
    """Whether the server's search can carry ``name`` exactly as sent.

    Not when it holds a character of the search syntax (``&`` joins terms, ``|``
    separates ``*in*`` choices, ``*`` marks operators), nor when it has leading or
    trailing whitespace, which a server may trim from the search value.
    """
    return (
        isinstance(name, str)
        and bool(name)
        and name == name.strip()
        and not (_SEARCH_UNSAFE & set(name))
    )


def lookup_search(fields: Mapping[str, Any], since: dt.datetime) -> list[str]:
    """Return the search expressions that find candidates for ``fields``.

    A name the search cannot carry exactly (``_searchable``) is left out of the
    query; ``pick_match`` still compares it.
    """
    exprs = [f"created_at>={format_datetime(since)}"]
    name = fields.get("name")
    if _searchable(name):
        exprs.append(f"name={name}")
    date = fields.get("date")
    if isinstance(date, dt.date):
        exprs.append(f"date={date.isoformat()}")
    start = fields.get("start_time")
    if isinstance(start, dt.time):
        exprs.append(f"start_time={format_time(start)}")
    return exprs


def comparable(value: Any) -> str:
    """Return a scalar as compared: its form text, trimmed ("20" == 20, 09:00 == 09:00:00)."""
    # The server may trim what it stores; nothing else may differ.
    return form_value(value).strip()


def _same(submitted: Any, found: Any) -> bool:
    """Compare as the form sends them, so "20" == 20, 1 == True, 09:00 == 09:00:00."""
    if isinstance(submitted, (Mapping, list, tuple)) or isinstance(found, (Mapping, list, tuple)):
        return sorted((k, v.strip()) for k, v in flatten_form({"v": submitted})) == sorted(
            (k, v.strip()) for k, v in flatten_form({"v": found})
        )
    return comparable(submitted) == comparable(found)


def _found(session: Session, name: str) -> Any:
    return getattr(session, name) if hasattr(session, name) else session.extra.get(name)


def differing(fields: Mapping[str, Any], session: Session) -> dict[str, Any]:
    """Return the submitted fields ``session`` does not hold, as they were submitted.

    Custom fields are compared one by one; only those that differ are returned,
    inside ``custom_fields``.
    """
    out: dict[str, Any] = {}
    for name, submitted in fields.items():
        if name in _NOT_COMPARED:
            continue
        if name == "custom_fields":
            stored = session.custom_fields
            changed = {k: v for k, v in submitted.items() if not _same(v, stored.get(k))}
            if changed:
                out[name] = changed
        elif not _same(submitted, _found(session, name)):
            out[name] = submitted
    return out


#: What the server stores in a field a create leaves out (the API contract: status
#: live, the event's timezone; flags 0; nothing else set), as ``comparable`` texts.
#: A field absent from the answer reads as None (""): it cannot tell rows apart.
#: Not here, so any value passes: ``timezone`` (the event's, which the caller may not
#: know), and fields a real server may fill in by itself (``secure_id``, ``type_id``,
#: ``webinar_url``, ``sold_out_message``) — a lookup too strict would miss its own
#: session and re-send it.
_EMPTY = frozenset({""})
_NONE_OR_ZERO = frozenset({"", "0"})
_DEFAULTS: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        ("admin_short_name", "badge_name", "description", "notes", "start_time", "end_time"),
        _EMPTY,
    ),
    **dict.fromkeys(
        (
            "capacity",
            "location_id",
            "track_id",
            "session_included",
            "locked_when_saved",
            "selected_by_default",
            "prevent_session_conflicts",
        ),
        _NONE_OR_ZERO,
    ),
    "use_event_timezone": frozenset({"", "1"}),
    "session_status": frozenset({"", "live"}),
    "selection_control": frozenset({"", "optional"}),
}
#: Short names a server may copy from the name when left out.
_NAMED = frozenset({"admin_short_name", "badge_name"})


def unsubmitted_values(fields: Mapping[str, Any], session: Session) -> list[str]:
    """Return the fields the caller left out that ``session`` holds a non-default value in.

    Such a session was made by a create that set them (another client's row with
    more fields), so it is not this create's. ``timezone`` left out is any value
    (the event's applies), and so is ``use_event_timezone`` when a timezone was sent.
    """
    out = []
    for name, defaults in _DEFAULTS.items():
        if name in fields:
            continue
        if name == "use_event_timezone" and "timezone" in fields:
            continue  # the server may clear it to apply the timezone sent
        found = comparable(_found(session, name)).casefold()
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
    """Return the candidates that are this create's session.

    With ``loose``, the candidates that hold every submitted field whatever they hold
    in the others: not enough to claim one (it may be another create's row with more
    fields), but enough to doubt that this create never landed (the server may fill a
    left-out field with a default of its own).
    """
    out = []
    for session in candidates:
        if session.id is None or session.id in excluded:
            continue
        if session.created_at is not None and session.created_at < since:
            continue
        if not differing(fields, session) if loose else matches(fields, session):
            out.append(session)
    return out


#: Longest percent-encoded ``name=*in*a|b|…`` filter one batch search carries: a proxy
#: may refuse a URL over 8 KB, and the query holds the window and ``fields=`` too.
MAX_NAMES_QUERY = 2000


def _name_groups(names: Sequence[str]) -> list[list[str]]:
    """Split ``names`` into groups whose ``*in*`` filter stays within ``MAX_NAMES_QUERY``."""
    groups: list[list[str]] = [[]]
    size = 0
    for name in names:
        cost = len(quote(name, safe="")) + 3  # and its "|", sent as %7C
        if groups[-1] and size + cost > MAX_NAMES_QUERY:
            groups.append([])
            size = 0
        groups[-1].append(name)
        size += cost
    return groups


def batch_searches(members: Sequence[Mapping[str, Any]], since: dt.datetime) -> list[list[str]]:
    """Return the searches that together find the candidates of several creates of one event.

    The creates whose names the search can carry exactly share queries over the
    window since the earliest of them, with ``name=*in*a|b`` filters of the names
    as sent, each within ``MAX_NAMES_QUERY`` (one such create gets ``lookup_search``'s
    narrow query). Each other create gets its own ``lookup_search``, which leaves its
    name out. The caller
    reads them all into one set of candidates, so ``assign_matches`` still sees
    every session two creates could both match.
    """
    named = [m for m in members if _searchable(m.get("name"))]
    searches = [lookup_search(m, since) for m in members if not _searchable(m.get("name"))]
    if len(named) == 1:
        searches.append(lookup_search(named[0], since))
    elif named:
        for names in _name_groups(sorted({m["name"] for m in named})):
            searches.append(
                [f"created_at>={format_datetime(since)}", "name=*in*" + "|".join(names)]
            )
    unique = {tuple(search): search for search in searches}  # rows alike share a query
    return list(unique.values())


#: What a lookup reads of each candidate: every field of the model, so that the session
#: it finds is whole without another call and its unsubmitted fields can be checked
#: (``location`` and ``track`` come only with ``expand``; ``batch_fields`` adds the
#: custom fields).
WHOLE_SESSION = tuple(
    f.name
    for f in attrs.fields(Session)
    if f.name not in ("custom_fields", "extra", "location", "track")
)


def batch_fields(members: Sequence[Mapping[str, Any]]) -> list[str]:
    """Return the ``fields=`` of a batch lookup: the whole session and every member's custom fields.

    Every field, not only those submitted: a candidate must also hold the server's
    default in each field the caller left out (``unsubmitted_values``).
    """
    names = dict.fromkeys((*WHOLE_SESSION, "custom_fields"))
    for fields in members:
        # ``fields=c_1234`` returns that custom field even where ``custom_fields`` is not.
        names.update(dict.fromkeys(fields.get("custom_fields") or ()))
    return list(names)


def assign_matches(
    members: Sequence[tuple[Mapping[str, Any], dt.datetime, frozenset[int]]],
    candidates: Sequence[Session],
) -> list[tuple[list[Session], bool, list[int]]]:
    """Return each ``(fields, since, excluded)`` create's matches, contested flag, loose ids.

    Loose ids: the candidates ``pick_match(..., loose=True)`` returns for it.

    A session that another create of the batch matches too is contested: it belongs
    to neither, since no row may claim another row's session.
    """
    found = [
        pick_match(fields, candidates, since=since, excluded=excluded)
        for fields, since, excluded in members
    ]
    owners = Counter(s.id for sessions in found for s in sessions if s.id is not None)
    contested = {sid for sid, count in owners.items() if count > 1}
    loose = [
        [s.id for s in pick_match(f, candidates, since=since, excluded=ex, loose=True) if s.id]
        for f, since, ex in members
    ]
    return [
        (sessions, any(s.id in contested for s in sessions), ids)
        for sessions, ids in zip(found, loose, strict=True)
    ]


class RecentClaims:
    """Ids this client's creates returned in the last ``keep`` seconds, by fingerprint.

    Looked up per fingerprint, so a create pays for the few claims that share its
    key, never for every create the client made recently.
    """

    def __init__(self, keep: float = 10.0) -> None:
        self.keep = keep
        self._order: deque[tuple[float, Hashable, int]] = deque()
        self._by_key: dict[Hashable, set[int]] = {}

    def add(self, key: Hashable, session_id: int, now: float | None = None) -> None:
        """Remember that ``session_id`` was handed out for ``key``."""
        now = time.monotonic() if now is None else now
        self._prune(now)
        self._order.append((now, key, session_id))
        self._by_key.setdefault(key, set()).add(session_id)

    def recent(self, key: Hashable, now: float | None = None) -> frozenset[int]:
        """Return the ids handed out for ``key`` recently."""
        self._prune(time.monotonic() if now is None else now)
        ids = self._by_key.get(key)
        return frozenset(ids) if ids else frozenset()

    def __len__(self) -> int:
        return len(self._order)

    def _prune(self, now: float) -> None:
        order, by_key, horizon = self._order, self._by_key, now - self.keep
        while order and order[0][0] < horizon:
            _, key, session_id = order.popleft()
            ids = by_key.get(key)
            if ids is not None:
                ids.discard(session_id)
                if not ids:
                    del by_key[key]
