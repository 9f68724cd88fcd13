"""One lookup for the creates in doubt of one event, and its searches (docs/resilience.md).

A batch is looked up once every running create of its event waits in it, or ``BATCH_WINDOW``
after it opened (sooner if a member would wait over half its time left), never before each
member's ``reconcile_delay``. Each member is judged as a lone lookup would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import attrs

from .._api.models import Page, Session, format_datetime, format_time
from .._api.pages import Listing
from .._exceptions import LookupIncompleteError
from .reconcile import assign_matches

__all__ = ["BATCH_WINDOW", "MAX_NAMES_QUERY", "Batcher", "batch_searches", "lookup_search"]

#: Seconds a batch may wait for more creates in doubt before it is looked up.
BATCH_WINDOW = 5.0
#: Pages (10 credits each) one lookup may read: 1,000 candidates at 200 a page.
LOOKUP_MAX_PAGES = 5
#: ``Creator.list_page``: page ``n`` of an event's sessions (event_id, n, fields, search, deadline).
ListFn = Callable[[int, int, list[str], list[str], float], Awaitable[Page[Session]]]
#: A create's matches, whether one also matches another create, its candidates' ids.
LookupResult = tuple[list[Session], bool, list[int]]
_SEARCH_UNSAFE = frozenset("&|*=<>!")


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


#: Longest percent-encoded ``name=*in*a|b|…`` filter: a proxy may refuse a URL over 8 KB.
MAX_NAMES_QUERY = 2000


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
    """Return the searches that together find the candidates of creates of one event: shared
    ``name=*in*a|b`` queries for searchable names, ``lookup_search`` for a lone or other one."""
    named = [m for m in members if _searchable(m.get("name"))]
    searches = [lookup_search(m, since) for m in members if not _searchable(m.get("name"))]
    if len(named) == 1:
        searches.append(lookup_search(named[0], since))
    elif named:
        window = f"created_at>={format_datetime(since)}"
        groups = _name_groups(sorted({m["name"] for m in named}))
        searches += [[window, "name=*in*" + "|".join(names)] for names in groups]
    unique = {tuple(search): search for search in searches}  # rows alike share a query
    return list(unique.values())


#: Read whole (``location``/``track`` need ``expand``): the fields left out are checked too.
_NOT_READ = ("custom_fields", "extra", "location", "track")
_WHOLE_SESSION = tuple(f.name for f in attrs.fields(Session) if f.name not in _NOT_READ)


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
    """Batches the lookups of one client's creates, per event (see the module docstring)."""

    def __init__(
        self,
        list_page: ListFn,
        clock: Callable[[], float],
        *,
        max_pages: int = LOOKUP_MAX_PAGES,
        window: float = BATCH_WINDOW,
    ) -> None:
        self._list_page = list_page
        self._clock = clock
        self._max_pages = max_pages
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
            self._active[event_id] -= 1
            if not self._active[event_id]:
                del self._active[event_id]
            self._poke(event_id)

    def _poke(self, event_id: Any) -> None:
        batch = self._open.get(event_id)
        if batch is not None:
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
        """Return this create's ``LookupResult``; raise ``SwoogoError`` if the lookup failed
        (``LookupIncompleteError``: a listing not read to its end, or the deadline passed)."""
        event_id = fields["event_id"]
        batch = self._open.get(event_id)
        if batch is None:
            batch = self._open[event_id] = _Batch(self._clock())
            batch.task = asyncio.create_task(self._run(event_id, batch))
        future: asyncio.Future[LookupResult] = asyncio.get_running_loop().create_future()
        member = _Member(fields, since, excluded, ready_at, deadline, future)
        batch.members.append(member)
        self._poke(event_id)
        timeout = max(deadline - self._clock(), 0.0)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            raise LookupIncompleteError(
                "the call's deadline passed before the lookup answered"
            ) from None
        finally:
            self._leave(event_id, batch, member)

    def _leave(self, event_id: Any, batch: _Batch, member: _Member) -> None:
        if member.future.done():
            return
        member.future.cancel()  # cancelled or out of time: drop out of the batch
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
        found = await listing.collect()
        if not listing.complete:
            raise LookupIncompleteError(f"the lookup read no further: {listing.stopped}")
        return found
