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
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any, NamedTuple, Protocol

from .pacing import LIMIT_HEADER, UNLIMITED, Pacer
from .retry import RateHeaders, read_rate_headers

__all__ = ["AsyncPacer", "BulkMark", "SharedBudget", "bulk_pacing"]


class BulkMark:
    """One bulk run's mark on its calls: what it still needs. A sized run counts a credit per
    row not yet finished (a retry or a lookup costs credits no size foresaw), so its last
    calls may take the floor; an unsized one turns ``final`` when its source ends."""

    def __init__(self) -> None:
        self.final = False
        self.run = secrets.randbits(52) + 1  # its id on the budget
        self.total: int | None = None  # credits the run needs in all, if sized
        self.calls = 0  # rows given a call
        self.done = 0  # rows given a call that finished
        self._ended: asyncio.Future[None] | None = None
        self._exhausted = False

    def size(self, credits: int) -> None:
        """Say the run needs at most ``credits`` in all (the smallest count said holds)."""
        self.total = max(0, credits if self.total is None else min(self.total, credits))

    def skip(self, credits: int = 1) -> None:
        """Say a row settled without a call: the run needs ``credits`` fewer."""
        if self.total is not None:
            self.total = max(self.total - credits, 0)

    def called(self) -> None:
        """Say a row is given a call; one beyond the size unsizes the run."""
        self.calls += 1
        if self.total is not None and self.calls > self.total:
            self.total = None

    def finished(self) -> None:  # whatever its outcome
        self.done += 1

    def needs(self) -> float | None:
        """Return the credits the run still needs (the calling row included), or None."""
        return None if self.total is None else float(max(self.total - self.done, 0))

    def end(self, calls: int | None = None) -> None:
        """Say the source is exhausted: ``calls``, the rows given a call in all, sizes the
        run exactly; without it, the run turns ``final``."""
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
            if self._exhausted:
                self._ended.set_result(None)
        return self._ended


_BULK: contextvars.ContextVar[BulkMark | None] = contextvars.ContextVar("swoogo_bulk", default=None)


@contextlib.contextmanager
def bulk_pacing(mark: BulkMark | None = None) -> Iterator[None]:
    """Mark the calls made inside as bulk work: they leave interactive calls their share.
    ``mark`` is the run's, shared by all its calls (a fresh one if None)."""
    token = _BULK.set(mark if mark is not None else BulkMark())
    try:
        yield
    finally:
        _BULK.reset(token)


class SharedBudget(Protocol):
    """A budget held outside this process (e.g. in Redis): ``Pacer``'s ``reserve``,
    ``observe_rate``, ``limited`` and ``release``, shared."""

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
    ) -> tuple[bool, float]: ...
    async def observe(self, rate: RateHeaders | None, cost: int, *, ok: bool) -> None: ...
    async def limited(self, retry_after: float | None, cost: int) -> None: ...
    async def release(self, cost: int, *, sent: bool) -> None: ...


class _Waiter(NamedTuple):
    """A call waiting for credits, ordered by arrival. Its future's result: True for a turn
    handed to it (passed on if it cannot use it), False for its own timer or its run's end."""

    arrival: int
    cost: int
    future: asyncio.Future[bool]


class AsyncPacer:
    """Sleep as ``pacer`` (or a shared ``budget`` instead) says; one per client. Calls refused
    credits wait in arrival order, one queue for interactive calls and one per bulk run. What
    is learned wakes each queue's head: granted, it wakes the next while credits are left;
    refused, it keeps its place and passes the turn to a cheaper call behind it. Each waiter
    also asks again on its own timer (when the window resets)."""

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

    @property
    def paced(self) -> bool:
        """Whether calls must ``acquire`` first: not while the budget is unlimited."""
        return self._free is None and (self.budget is not None or not self.pacer.unpaced)

    async def acquire(self, cost: int, within: float = math.inf) -> float | None:
        """Wait until ``cost`` credits may be spent and reserve them: return None; or, reserving
        nothing, the wait if known to pass ``within``, or 0.0 once ``within`` ran out waiting."""
        if not self.paced:
            return None
        mark = _BULK.get()
        start = self._clock()
        again = False
        arrival = -1  # its place among the waiters, kept while it waits again
        turn = False  # woken to ask again: a turn it passes on if it cannot use it
        try:
            while True:
                now = self._clock()
                left = within - (now - start)
                final = mark is not None and mark.final
                needs = mark.needs() if mark is not None else None
                run = mark.run if mark is not None and (needs is not None or final) else 0
                bulk, needs = mark is not None, needs or 0.0
                if self.budget is None:
                    ok, delay = self.pacer.reserve(
                        cost, now, left, bulk=bulk, again=again, final=final, run=run, needs=needs
                    )
                else:
                    ok, delay = await self.budget.reserve(
                        cost, within=left, bulk=bulk, again=again, final=final, run=run, needs=needs
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
                            self.release(cost, sent=False)  # cancelled before it was sent
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
                # A bulk call waiting for the floor asks again when its run's source ends.
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
        for waiter in self._queues.get(mark, ()):
            if not waiter.future.done() and (below is None or waiter.cost < below):
                self._leave(mark, waiter)
                waiter.future.set_result(True)
                return

    def _wake(self) -> None:  # something was learned
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

    def _leave(self, mark: BulkMark | None, waiter: _Waiter) -> None:
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
            # A failed update (on_error="raise") is not the caller's: the next reserve raises it.
            task.exception()
        self._wake()

    def observe(self, headers: Mapping[str, str], cost: int, *, ok: bool = True) -> None:
        """Record a response's headers."""
        if self._free is not None:
            limit = headers.get(LIMIT_HEADER)
            if limit is None or limit == self._free:
                return  # still unlimited (or silent): this call was never reserved
            self._free = None
        rate = read_rate_headers(headers)
        if self.budget is None:
            self.pacer.observe_rate(rate, cost, self._clock(), ok=ok)
            self._wake()
        else:
            self._share(self.budget.observe(rate, cost, ok=ok))
        if rate is not None and rate[0] >= UNLIMITED and self.pacer.explicit is None:
            self._free = headers.get(LIMIT_HEADER)

    def limited(self, retry_after: float | None, cost: int) -> None:
        """Record a 429."""
        if self._free is not None:
            self._free = None
            cost = 0  # reserved nowhere
        if self.budget is None:
            self.pacer.limited(retry_after, cost, self._clock())
            self._wake()
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
