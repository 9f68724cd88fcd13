"""The async side of pacing: sleep as ``pacing.Pacer`` says, here or on a shared budget."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import contextvars
import itertools
import math
import secrets
import time
import weakref
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any, Protocol

from .pacing import LIMIT_HEADER, UNLIMITED, Pacer
from .retry import RateHeaders, read_rate_headers

__all__ = ["AsyncPacer", "BulkMark", "SharedBudget", "bulk_pacing"]


class BulkMark:
    """One bulk run's mark on its calls: what the run still needs, once that is known.

    A sized run (``size``) counts a credit per row not yet finished (rows, not grants: a
    retry or a lookup costs credits no size foresaw); its calls tell the pacer, so they
    may take the floor while the run can finish in the window. More rows than the size
    said unsize it (a list that grew while read). An unsized run turns ``final`` once its
    source is exhausted. The run's tasks share this object (a context variable is copied
    into each task); calls waiting for the floor wake when the source is exhausted.
    """

    def __init__(self) -> None:
        self.final = False
        #: The run's id on the budget: its needs if sized, and whether it took the floor.
        self.run = secrets.randbits(52) + 1
        self.total: int | None = None  # credits the run needs in all, if sized
        self.calls = 0  # rows given a call
        self.done = 0  # rows given a call that finished
        self._ended: asyncio.Future[None] | None = None
        self._exhausted = False

    def size(self, credits: int) -> None:
        """Say that the run needs at most ``credits`` in all (the smallest count said holds)."""
        credits = max(credits, 0)
        self.total = credits if self.total is None else min(self.total, credits)

    def skip(self, credits: int = 1) -> None:
        """Say that a row settled without a call: the run needs ``credits`` fewer."""
        if self.total is not None:
            self.total = max(self.total - credits, 0)

    def called(self) -> None:
        """Say that a row is given a call; one beyond the size unsizes the run."""
        self.calls += 1
        if self.total is not None and self.calls > self.total:
            self.total = None

    def finished(self) -> None:
        """Say that a row given a call finished (whatever its outcome)."""
        self.done += 1

    def needs(self) -> float | None:
        """Return the credits the run still needs (the calling row included), or None."""
        return None if self.total is None else float(max(self.total - self.done, 0))

    def end(self, calls: int | None = None) -> None:
        """Say that the run's source is exhausted: its remaining calls are its last.

        ``calls``, the rows it gave a call in all, sizes the run exactly; an unsized run
        without it turns ``final``."""
        self._exhausted = True
        if calls is not None:
            self.total = calls
        else:
            self.final = True
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(None)

    def ended(self) -> asyncio.Future[None]:
        """Return a future done once ``end`` is called."""
        if self._ended is None:
            self._ended = asyncio.get_running_loop().create_future()
            if self.final or self._exhausted:
                self._ended.set_result(None)
        return self._ended


_BULK: contextvars.ContextVar[BulkMark | None] = contextvars.ContextVar("swoogo_bulk", default=None)


@contextlib.contextmanager
def bulk_pacing(mark: BulkMark | None = None) -> Iterator[None]:
    """Mark the calls made inside as bulk work: they leave interactive calls their share.

    Args:
        mark: The run's mark, shared by all its calls (a fresh one if None): what the
            run still needs, which lets its last calls take the floor at once.
    """
    token = _BULK.set(mark if mark is not None else BulkMark())
    try:
        yield
    finally:
        _BULK.reset(token)


class SharedBudget(Protocol):
    """A budget held outside this process (e.g. in Redis), following ``Pacer``'s rules."""

    async def reserve(
        self,
        cost: int,
        *,
        within: float,
        bulk: bool,
        again: bool,
        final: bool = False,
        run: int = 0,
        needs: float = 0.0,
    ) -> tuple[bool, float]:
        """Do what ``Pacer.reserve`` does, on the shared state."""

    async def observe(self, rate: RateHeaders | None, cost: int, *, ok: bool) -> None:
        """Do what ``Pacer.observe_rate`` does, on the shared state."""

    async def limited(self, retry_after: float | None, cost: int) -> None:
        """Do what ``Pacer.limited`` does, on the shared state."""

    async def release(self, cost: int, *, sent: bool) -> None:
        """Do what ``Pacer.release`` does, on the shared state."""


class _Waiter:
    """A call waiting for credits. Its future's result: True for a turn handed to it
    (passed on if it cannot use it), False for its own timer or its run's end."""

    __slots__ = ("arrival", "cost", "future")

    def __init__(self, arrival: int, cost: int, future: asyncio.Future[bool]) -> None:
        self.arrival, self.cost, self.future = arrival, cost, future

    def __lt__(self, other: _Waiter) -> bool:
        return self.arrival < other.arrival


#: The pacers following each in-process ``Pacer`` (the clients of one ``LocalSharedState``
#: share it): when one of them sees it turn unlimited or limited, all their flags follow.
_FOLLOWERS: weakref.WeakKeyDictionary[Pacer, weakref.WeakSet[AsyncPacer]]
_FOLLOWERS = weakref.WeakKeyDictionary()


class AsyncPacer:
    """Sleep as the pacing rules say; shared by every coroutine of one client.

    Calls refused credits wait in queues: one for interactive calls, one per bulk run,
    each in arrival order. A response (or a settled reservation) wakes the head of each
    queue, not every waiter: the woken call asks again, and if granted, wakes the next
    while credits are left; refused, it keeps its place (a cheaper call behind it gets
    the turn). Each waiter also asks again on its own timer (when the window resets).

    Args:
        pacer: The in-process state, used when ``budget`` is None.
        clock: Monotonic clock; injected so tests can move time.
        budget: A shared budget to follow instead of ``pacer``.
    """

    def __init__(
        self,
        pacer: Pacer,
        *,
        clock: Callable[[], float] = time.monotonic,
        budget: SharedBudget | None = None,
    ) -> None:
        self.pacer = pacer
        self.budget = budget
        self._clock = clock
        self._queues: dict[BulkMark | None, list[_Waiter]] = {}  # None: interactive calls
        self._arrivals = itertools.count()
        self._pending: set[asyncio.Task[None]] = set()
        #: The ``X-Rate-Limit-Limit`` of an unlimited budget: while the server repeats
        #: it, nothing is paced and nothing is shared (no Redis command per call).
        self._free: str | None = None
        self._unpaced = False  # the in-process pacer paces nothing (only without budget)
        #: Whether calls must ``acquire`` before they are sent; False while the budget is
        #: unlimited. The pipeline reads it as data: an unpaced call costs one test.
        self.paced = True
        if budget is None:
            _FOLLOWERS.setdefault(pacer, weakref.WeakSet()).add(self)
            self._follow(pacer.unpaced)

    def _follow(self, unpaced: bool) -> None:
        self._unpaced = unpaced
        self.paced = self._free is None and not unpaced

    async def acquire(self, cost: int, within: float = math.inf) -> float | None:
        """Wait until ``cost`` credits may be spent, and reserve them.

        Returns:
            None once reserved; or, reserving nothing, the wait when known to be more
            than ``within``, or 0.0 once ``within`` ran out waiting (for a guessed wait).
        """
        if self._free is not None or (self.budget is None and self.pacer.unpaced):
            return None
        clock = self._clock
        mark = _BULK.get()
        bulk = mark is not None
        start = clock()
        again = False
        arrival = -1  # its place among the waiters, kept while it waits again
        turn = False  # woken to ask again: a turn it passes on if it cannot use it
        try:
            while True:
                now = clock()
                left = within - (now - start)
                final = mark is not None and mark.final
                needs = mark.needs() if mark is not None else None
                run = mark.run if mark is not None and (needs is not None or final) else 0
                if self.budget is None:
                    ok, delay = self.pacer.reserve(
                        cost,
                        now,
                        left,
                        bulk=bulk,
                        again=again,
                        final=final,
                        run=run,
                        needs=needs or 0.0,
                    )
                else:
                    ok, delay = await self.budget.reserve(
                        cost,
                        within=left,
                        bulk=bulk,
                        again=again,
                        final=final,
                        run=run,
                        needs=needs or 0.0,
                    )
                again = True
                if ok:
                    turn = False
                    if arrival >= 0 and self._left():
                        self._wake_one(mark)  # the next in its queue may find credits too
                    if delay > 0:
                        try:
                            await asyncio.sleep(delay)
                        except BaseException:
                            # Cancelled while waiting its turn: nothing was sent.
                            self.release(cost, sent=False)
                            raise
                    return None
                if turn:
                    turn = False
                    self._wake_one(mark, below=cost)  # a cheaper call may fit
                if delay > left or left <= 0.0:  # a guess is cut to ``left``: 0.0 when past it
                    return delay
                if arrival < 0:
                    arrival = next(self._arrivals)
                turn = await self._wait(mark, arrival, cost, max(delay, 0.001))
        except BaseException:
            if turn:
                self._wake_one(mark)  # woken, then cancelled: the turn passes on
            raise

    async def _wait(self, mark: BulkMark | None, arrival: int, cost: int, delay: float) -> bool:
        """Wait in ``mark``'s queue until woken or ``delay`` has passed; return the result."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter(arrival, cost, loop.create_future())
        queue = self._queues.get(mark)
        if queue is None:
            queue = self._queues[mark] = []
            if mark is not None and not mark.ended().done():
                # A bulk call waiting for the floor asks again when its run's source
                # is exhausted.
                mark.ended().add_done_callback(self._on_end)
        bisect.insort(queue, waiter)
        timer = loop.call_later(delay, self._expire, mark, waiter)
        try:
            return await waiter.future
        except BaseException:
            future = waiter.future
            if future.done() and not future.cancelled() and future.result():
                self._wake_one(mark)  # woken, then cancelled: the turn passes on
            else:
                self._leave(mark, waiter)
            raise
        finally:
            timer.cancel()

    def _left(self) -> bool:
        """Whether a waiter may find credits (always, when they are counted elsewhere)."""
        return self.budget is not None or self.pacer.unpaced or self.pacer.available > 0

    def _wake_one(self, mark: BulkMark | None, below: int | None = None) -> None:
        """Hand a turn to the first waiter of ``mark``'s queue (costing less than ``below``)."""
        queue = self._queues.get(mark)
        if queue is None:
            return
        for index, waiter in enumerate(queue):
            if waiter.future.done():  # cancelled, not yet out of the queue
                continue
            if below is None or waiter.cost < below:
                del queue[index]
                self._leave(mark)
                waiter.future.set_result(True)
                return

    def _wake(self) -> None:
        """Something was learned: wake the head of each queue, interactive calls first."""
        if self._queues:
            for mark in sorted(self._queues, key=bool):  # None (interactive calls) first
                self._wake_one(mark)

    def _expire(self, mark: BulkMark | None, waiter: _Waiter) -> None:
        if not waiter.future.done():  # not woken meanwhile
            self._leave(mark, waiter)
            waiter.future.set_result(False)

    def _on_end(self, ended: asyncio.Future[None]) -> None:
        for mark in list(self._queues):
            if mark is not None and mark._ended is ended:
                self._wake_one(mark)

    def _leave(self, mark: BulkMark | None, waiter: _Waiter | None = None) -> None:
        """Take ``waiter`` (if still there) out of its queue; drop the queue if empty."""
        queue = self._queues.get(mark, [])
        if waiter in queue:
            queue.remove(waiter)
        if mark in self._queues and not queue:
            del self._queues[mark]
            if mark is not None and mark._ended is not None:
                mark._ended.remove_done_callback(self._on_end)

    def _share(self, update: Coroutine[Any, Any, None]) -> None:
        """Run ``update`` on the shared budget without making the caller wait for it."""
        task = asyncio.ensure_future(update)
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled():
            # A shared update that failed (on_error="raise") is not the caller's
            # error; the next reservation meets the same failure and raises it.
            task.exception()
        self._wake()

    def _observed(self) -> None:
        """After the in-process pacer learned something: follow it, and wake waiters."""
        unpaced = self.pacer.unpaced
        if unpaced is not self._unpaced:
            for follower in _FOLLOWERS.get(self.pacer, ()):
                follower._follow(unpaced)
        self._wake()

    def observe(self, headers: Mapping[str, str], cost: int, *, ok: bool = True) -> None:
        """Record a response's headers."""
        if self._free is not None:
            limit = headers.get(LIMIT_HEADER)
            if limit is None or limit == self._free:
                return  # still unlimited (or silent): this call was never reserved
            self._free = None
            self._follow(self._unpaced)
        rate = read_rate_headers(headers)
        if self.budget is None:
            self.pacer.observe_rate(rate, cost, self._clock(), ok=ok)
            self._observed()
        else:
            self._share(self.budget.observe(rate, cost, ok=ok))
        if rate is not None and rate[0] >= UNLIMITED and self.pacer.explicit is None:
            self._free = headers.get(LIMIT_HEADER)
            self._follow(self._unpaced)

    def limited(self, retry_after: float | None, cost: int) -> None:
        """Record a 429."""
        if self._free is not None:
            self._free = None
            self._follow(self._unpaced)
            cost = 0  # reserved nowhere
        if self.budget is None:
            self.pacer.limited(retry_after, cost, self._clock())
            self._observed()
        else:
            self._share(self.budget.limited(retry_after, cost))

    def release(self, cost: int, *, sent: bool) -> None:
        """Record a reservation that got no response."""
        if self._free is not None:
            return
        if self.budget is None:
            self.pacer.release(cost, sent=sent)
            self._wake()
        else:
            self._share(self.budget.release(cost, sent=sent))

    async def aclose(self) -> None:
        """Wait for updates still on their way to the shared budget."""
        while self._pending:
            await asyncio.wait(list(self._pending))
