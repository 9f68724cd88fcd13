"""What a test drives the fake with: its clock, triggers, held answers, late commits, stats."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import attrs

from ._store import Store

__all__ = ["PAGINATION_MODES", "ControlMixin", "RecordedRequest"]

#: Ways the fake can misbehave when paginating ``GET /sessions`` and ``GET /speakers``.
#: ``ignore-page``: every page is page 1 (its ``next`` still names page 2), the same page
#: again. ``stuck-current-page``: the right items, but ``_meta.currentPage`` is always 1.
#: ``huge-page-count``: ``_meta.pageCount`` is 10**9 and ``next`` never ends (empty pages).
#: ``always-next``: the real ``pageCount``, but ``next`` is present on every page.
#: ``total-count-low``: ``_meta.totalCount`` is half the truth (a stale count).
#: ``endless``: the true ``totalCount``, ``pageCount`` 10**9, and every page past the real
#: ones full of items with new ids: a listing that never ends.
#: ``endless-no-meta``: the same without ``_meta``, a ``next`` link on every page.
PAGINATION_MODES = frozenset(
    {
        "ignore-page",
        "stuck-current-page",
        "huge-page-count",
        "always-next",
        "total-count-low",
        "endless",
        "endless-no-meta",
    }
)


@attrs.frozen
class RecordedRequest:
    """One request the fake received (``fake.requests``), and how it was answered.

    ``status`` is 0 when no answer reached the client; ``fault`` names the fault
    played, if any; ``acted`` tells whether the request changed the store.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str] | None
    json: Any
    body: bytes
    status: int = 0
    fault: str | None = None
    acted: bool = False


@attrs.define
class _Trigger:
    at: int
    action: Callable[[], object]


class ControlMixin:
    """The fake's test controls; FakeSwoogo provides the state declared here."""

    _store: Store
    requests_total: int
    token_requests: int
    tokens_issued: int
    rate_limited: int
    faults_played: int
    in_flight: int

    def _init_control(self, clock: Callable[[], float] | None) -> None:
        self._clock = clock if clock is not None else time.monotonic
        self._advanced = 0.0
        self._triggers: list[_Trigger] = []
        self._late: list[dict[str, Any]] = []
        self._released: asyncio.Event | None = None
        #: Requests ``Fault.hang()`` holds now.
        self.held = 0
        self._held_changed: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self.pagination: str | None = None

    # -- time -------------------------------------------------------------------------------
    def now(self) -> float:
        """Return the fake's time: its clock plus every ``advance()``."""
        return self._clock() + self._advanced

    def advance(self, seconds: float) -> None:
        """Move the fake's time forward: tokens expire, rate-limit windows reset."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._advanced += seconds

    # -- triggers ---------------------------------------------------------------------------
    def after_requests(self, count: int, action: Callable[[], object]) -> None:
        """Run ``action`` when the ``count``-th request from now arrives, before it is served."""
        if count < 1:
            raise ValueError("count must be >= 1")
        self._triggers.append(_Trigger(self.requests_total + count, action))

    def _fire_triggers(self) -> None:
        due = [t for t in self._triggers if t.at <= self.requests_total]
        if due:
            self._triggers = [t for t in self._triggers if t.at > self.requests_total]
            for trigger in due:
                trigger.action()

    def release_held(self) -> None:
        """Let every request held by ``Fault.hang()`` answer now (if its client still waits)."""
        event, self._released = self._released, None
        if event is not None:
            event.set()

    def _release_event(self) -> asyncio.Event:
        if self._released is None:
            self._released = asyncio.Event()
        return self._released

    async def until_held(self, count: int = 1) -> None:
        """Wait until ``Fault.hang()`` holds at least ``count`` requests."""
        while self.held < count:
            if self._held_changed is None:
                self._held_changed = asyncio.Event()
            await self._held_changed.wait()

    def _hold(self, step: int) -> None:
        self.held += step
        event, self._held_changed = self._held_changed, None
        if event is not None:
            event.set()

    def commit_late_creates(self) -> list[int]:
        """Store the sessions that ``Fault.commit_late()`` held back; return their ids."""
        late, self._late = self._late, []
        for rec in late:
            self._store.sessions[rec["id"]] = rec
        return [rec["id"] for rec in late]

    def _hold_back(self, before: set[int]) -> None:
        for sid in [s for s in self._store.sessions if s not in before]:
            self._late.append(self._store.sessions.pop(sid))

    async def idle(self) -> None:
        """Wait until no request is being handled (a dropped client's handler included)."""
        while self.in_flight:
            if self._idle is None:
                self._idle = asyncio.Event()
            await self._idle.wait()

    def _went_idle(self) -> None:
        event, self._idle = self._idle, None
        if event is not None:
            event.set()

    # -- pagination -------------------------------------------------------------------------
    def misbehave_pagination(self, mode: str | None) -> None:
        """Paginate lists wrongly in one of ``PAGINATION_MODES`` (None: correctly)."""
        if mode is not None and mode not in PAGINATION_MODES:
            raise ValueError(f"unknown pagination mode {mode!r}; one of {sorted(PAGINATION_MODES)}")
        self.pagination = mode

    # -- counters ---------------------------------------------------------------------------
    @property
    def stats(self) -> dict[str, int]:
        """Counters since start, as ``GET /_fake/stats`` serves them."""
        groups = self._store.duplicate_groups(("event_id", "name", "date", "start_time"))
        return {
            "requests": self.requests_total,
            "token_requests": self.token_requests,
            "tokens_issued": self.tokens_issued,
            "rate_limited": self.rate_limited,
            "faults": self.faults_played,
            "sessions": len(self._store.sessions),
            "speakers": len(self._store.speakers),
            "duplicates": sum(len(g) - 1 for g in groups),
            "late_creates_pending": len(self._late),
        }
