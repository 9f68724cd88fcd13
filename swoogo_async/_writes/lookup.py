"""The lookup of creates in doubt (docs/resilience.md): who matches, searches, the ``Batcher``."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import attrs

from .._api.endpoints import flatten_form, form_value
from .._api.models import Page, Session, format_datetime, format_time
from .._api.pages import Listing
from .._exceptions import LookupIncompleteError

__all__ = ["Batcher", "assign_matches", "comparable", "differing", "lookup_search", "pick_match"]

#: Seconds a batch may wait for more creates in doubt before it is looked up.
BATCH_WINDOW = 5.0
#: Pages (10 credits each) one lookup may read: 1,000 candidates at 200 a page.
LOOKUP_MAX_PAGES = 5
#: A create's matches, whether one also matches another create, its candidates' ids.
LookupResult = tuple[list[Session], bool, list[int]]
_SEARCH_UNSAFE = frozenset("&|*=<>!")
#: Longest percent-encoded ``name=*in*a|b|…`` filter: a proxy may refuse a URL over 8 KB.
MAX_NAMES_QUERY = 2000
#: Read whole (``location``/``track`` need ``expand``): the fields left out are checked too.
_NOT_READ = ("custom_fields", "extra", "location", "track")
_WHOLE_SESSION = tuple(f.name for f in attrs.fields(Session) if f.name not in _NOT_READ)
#: What the server stores in a field a create leaves out (``comparable`` texts; absent: "").
#: Others (``timezone``, ``secure_id``, ...) take any value: a server may fill them in itself.
_BLANK = ("admin_short_name", "badge_name", "description", "notes", "start_time", "end_time")
_ZERO = ("capacity", "location_id", "track_id", "session_included", "locked_when_saved")
_DEFAULTS: dict[str, frozenset[str]] = {
    **dict.fromkeys(_BLANK, frozenset({""})),
    **dict.fromkeys(
        (*_ZERO, "selected_by_default", "prevent_session_conflicts"), frozenset({"", "0"})
    ),
    "use_event_timezone": frozenset({"", "1"}),
    "session_status": frozenset({"", "live"}),
    "selection_control": frozenset({"", "optional"}),
}
_NAMED = frozenset({"admin_short_name", "badge_name"})  # a server may copy the name there


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
    """Return the submitted fields ``session`` does not hold (custom fields one by one)."""
    out: dict[str, Any] = {}
    for name, submitted in fields.items():
        if name == "event_id":  # the lookup is of the event already
            continue
        if name == "custom_fields":
            stored = session.custom_fields
            if changed := {k: v for k, v in submitted.items() if not _same(v, stored.get(k))}:
                out[name] = changed
        elif not _same(submitted, _held(session, name)):
            out[name] = submitted
    return out


def unsubmitted_values(fields: Mapping[str, Any], session: Session) -> list[str]:
    """Return the fields left out that ``session`` holds a non-default value in (not this row's)."""
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


def _searchable(name: Any) -> bool:
    """Whether a search carries ``name`` exactly: no search syntax, no outer whitespace."""
    return isinstance(name, str) and name == name.strip() != "" and not _SEARCH_UNSAFE & set(name)


def lookup_search(fields: Mapping[str, Any], since: dt.datetime) -> list[str]:
    """Return the search for the candidates of ``fields`` (``pick_match`` compares every field)."""
    exprs = [f"created_at>={format_datetime(since)}"]
    name, date, start = fields.get("name"), fields.get("date"), fields.get("start_time")
    if _searchable(name):
        exprs.append(f"name={name}")
    if isinstance(date, dt.date):
        exprs.append(f"date={date.isoformat()}")
    if isinstance(start, dt.time):
        exprs.append(f"start_time={format_time(start)}")
    return exprs


def _name_groups(names: Sequence[str]) -> list[list[str]]:
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
    """Return the searches finding the candidates of one event's creates (names ``*in*a|b``)."""
    named = [m for m in members if _searchable(m.get("name"))]
    searches = [lookup_search(m, since) for m in members if not _searchable(m.get("name"))]
    if len(named) == 1:
        searches.append(lookup_search(named[0], since))
    elif named:
        window = f"created_at>={format_datetime(since)}"
        groups = _name_groups(sorted({m["name"] for m in named}))
        searches += [[window, "name=*in*" + "|".join(names)] for names in groups]
    return list({tuple(search): search for search in searches}.values())  # alike: one query


def batch_fields(members: Sequence[Mapping[str, Any]]) -> list[str]:
    """Return the ``fields=`` of a lookup: the whole session, every member's custom fields."""
    names = dict.fromkeys((*_WHOLE_SESSION, "custom_fields"))
    for fields in members:  # ``fields=c_1234`` returns it even where custom_fields does not
        names.update(dict.fromkeys(fields.get("custom_fields") or ()))
    return list(names)


@attrs.define(eq=False)
class _Member:
    fields: Mapping[str, Any]
    since: dt.datetime
    excluded: frozenset[int]
    ready_at: float  # when its reconcile_delay has passed
    deadline: float
    future: asyncio.Future[LookupResult]


@attrs.define(eq=False)
class _Batch:
    opened: float
    wake: asyncio.Event = attrs.field(factory=asyncio.Event)
    members: list[_Member] = attrs.field(factory=list)
    task: asyncio.Task[None] | None = None


class Batcher:
    """Batches the lookups of one client's creates per event, each judged as if alone."""

    def __init__(
        self,
        list_page: Callable[[int, int, list[str], list[str], float], Awaitable[Page[Session]]],
        clock: Callable[[], float],
        *,
        max_pages: int = LOOKUP_MAX_PAGES,
        window: float = BATCH_WINDOW,
    ) -> None:
        self._list_page, self._clock, self._max_pages = list_page, clock, max_pages
        self.window = window
        self._active: Counter[Any] = Counter()
        self._open: dict[Any, _Batch] = {}
        self.lookups = 0  # list walks made, for tests and figures

    @contextlib.contextmanager
    def running(self, event_id: Any) -> Any:
        """Count a create of ``event_id`` as running inside the block."""
        self._active[event_id] += 1
        try:
            yield
        finally:
            self._active -= Counter({event_id: 1})  # a count that reaches 0 is dropped
            self._poke(event_id)

    def _poke(self, event_id: Any) -> None:
        if (batch := self._open.get(event_id)) is not None:
            batch.wake.set()  # the batch checks again whether it is full or due

    def _due(self, event_id: Any, batch: _Batch) -> float | None:
        """Return the seconds until ``batch`` is overdue (0 if it is; at the latest once a member
        waited half its time left), or None if it is full."""
        latest = (max(m.ready_at, (m.ready_at + m.deadline) / 2) for m in batch.members)
        fire_at = min([batch.opened + self.window, *latest])
        remaining = max(fire_at - self._clock(), 0.0)
        if remaining and len(batch.members) >= self._active.get(event_id, 0):
            return None
        return remaining

    async def look_up(
        self,
        fields: Mapping[str, Any],
        *,
        since: dt.datetime,
        excluded: frozenset[int],
        ready_at: float,
        deadline: float,
    ) -> LookupResult:
        """Return this create's ``LookupResult``, or raise the ``SwoogoError`` that failed it."""
        event_id = fields["event_id"]
        batch = self._open.get(event_id)
        if batch is None:
            batch = self._open[event_id] = _Batch(self._clock())
            batch.task = asyncio.create_task(self._run(event_id, batch))
        future: asyncio.Future[LookupResult] = asyncio.get_running_loop().create_future()
        member = _Member(fields, since, excluded, ready_at, deadline, future)
        batch.members.append(member)
        self._poke(event_id)
        try:
            return await asyncio.wait_for(asyncio.shield(future), max(deadline - self._clock(), 0))
        except asyncio.TimeoutError:
            raise LookupIncompleteError("the deadline passed before the lookup answered") from None
        finally:
            self._leave(event_id, batch, member)

    def _leave(self, event_id: Any, batch: _Batch, member: _Member) -> None:
        if not member.future.cancel():  # answered already; else it drops out of the batch
            return
        if member in batch.members and self._open.get(event_id) is batch:
            batch.members.remove(member)
            if not batch.members and batch.task is not None:
                batch.task.cancel()
                del self._open[event_id]
            else:
                self._poke(event_id)

    async def _run(self, event_id: Any, batch: _Batch) -> None:
        error: Exception = LookupIncompleteError("the shared lookup was abandoned")
        try:
            while batch.members:
                due = self._due(event_id, batch)
                if due is None:
                    # Full may pass (a create ended, the next not begun): check when delays end.
                    due = max(m.ready_at for m in batch.members) - self._clock()
                if due <= 0:
                    break
                batch.wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(batch.wake.wait(), due)
            if self._open.get(event_id) is batch:
                del self._open[event_id]  # later creates in doubt start the next batch
            ready = (m.ready_at for m in batch.members if not m.future.done())
            wait = max(ready, default=0.0) - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            members = [m for m in batch.members if not m.future.done()]
            if not members:
                return
            try:
                candidates = await self._read(event_id, members)
            except Exception as exc:  # every member gets the lookup's error
                error = exc
                return
            results = assign_matches([(m.fields, m.since, m.excluded) for m in members], candidates)
            for m, result in zip(members, results, strict=True):
                if not m.future.done():  # it may have left while the lookup was read
                    m.future.set_result(result)
        finally:
            if self._open.get(event_id) is batch:
                del self._open[event_id]
            for m in batch.members:  # those the lookup did not answer
                if not m.future.done():
                    m.future.set_exception(error)

    async def _read(self, event_id: Any, members: Sequence[_Member]) -> list[Session]:
        self.lookups += 1
        fields = batch_fields([m.fields for m in members])
        deadline = max(m.deadline for m in members)
        candidates: dict[int | None, Session] = {}
        for search in batch_searches([m.fields for m in members], min(m.since for m in members)):
            found = await self._search(event_id, fields, search, deadline)
            candidates.update((s.id, s) for s in found)
        return list(candidates.values())

    async def _search(
        self, event_id: Any, fields: list[str], search: list[str], deadline: float
    ) -> list[Session]:
        listing = Listing(
            lambda n: self._list_page(event_id, n, fields, search, deadline),
            max_pages=self._max_pages,
        )
        # Every copy, in page order: a session seen twice is judged by its later copy.
        found = [s async for page in listing.pages() for s in page.items]
        if not listing.complete:
            raise LookupIncompleteError(f"the lookup read no further: {listing.stopped}")
        return found
