"""The async side of pacing: sleep as ``pacing.Pacer`` says, here or on a shared budget."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import secrets
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any, Protocol

from .pacing import LIMIT_HEADER, UNLIMITED, Pacer
from .retry import RateHeaders, read_rate_headers

__all__ = ["AsyncPacer", "BulkMark", "SharedBudget", "bulk_pacing"]


class BulkMark:
    """One bulk run's mark on its calls: what the run still needs, once that is known.

    A sized run (``size``) counts the credits it still needs, a credit per row not yet
    finished: its calls tell the pacer, which lets them take the floor while the run can
    finish in the window. Rows, not grants, are counted: a retried attempt or a lookup
    costs credits no size foresaw, and would make the run say it needs nothing while
    rows are left. A run that gives more rows a call than its size said is unsized
    from then on (a list that grew while it was read). An unsized
    run turns ``final`` once its source is exhausted: its remaining calls take the floor.
    Its calls' tasks share this object (a context variable is copied into each task,
    so a count kept later must live in a shared object); calls waiting for the floor
    wake when the source is exhausted.
    """

    def __init__(self) -> None:
        self.final = False
        #: The run's id on the budget (a sized run's needs are kept under it).
        self.run = secrets.randbits(52) + 1
        self.total: int | None = None  # credits the run needs in all, if sized
        self.calls = 0  # rows given a call
        self.done = 0  # rows given a call that finished
        self._ended: asyncio.Future[None] | None = None
        self._exhausted = False

    def size(self, credits: int) -> None:
        """Say that the run needs at most ``credits`` in all (a credit per row to send).

        Said more than once, the smallest count holds.
        """
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
        """Return the credits the run still needs (its rows not yet finished, the calling
        one included), or None if it is unsized."""
        return None if self.total is None else float(max(self.total - self.done, 0))

    def end(self, calls: int | None = None) -> None:
        """Say that the run's source is exhausted: its remaining calls are its last.

        ``calls``: the rows it gave a call in all, which sizes the run exactly (a sized
        run may have counted rows that never reached it); an unsized run without it
        turns ``final``.
        """
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


class AsyncPacer:
    """Sleep as the pacing rules say; shared by every coroutine of one client.

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
        self._learned: asyncio.Future[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        #: The ``X-Rate-Limit-Limit`` of an unlimited budget: while the server repeats
        #: it, nothing is paced and nothing is shared (no Redis command per call).
        self._free: str | None = None

    async def acquire(self, cost: int, within: float = math.inf) -> float | None:
        """Wait until ``cost`` credits may be spent, and reserve them.

        Returns:
            None once reserved; or, without waiting, the seconds the wait would
            take when that is more than ``within`` (nothing is reserved then).
        """
        if self._free is not None or (self.budget is None and self.pacer.unpaced):
            return None
        clock = self._clock
        mark = _BULK.get()
        bulk = mark is not None
        start = clock()
        again = False
        while True:
            now = clock()
            left = within - (now - start)
            final = mark is not None and mark.final
            needs = mark.needs() if mark is not None else None
            run = mark.run if needs is not None and mark is not None else 0
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
                if delay > 0:
                    try:
                        await asyncio.sleep(delay)
                    except BaseException:
                        # Cancelled while waiting its turn: nothing was sent.
                        self.release(cost, sent=False)
                        raise
                return None
            if delay > left:
                return delay
            # Wake early when a response teaches something (the probe answered).
            if self._learned is None:
                self._learned = asyncio.get_running_loop().create_future()
            # asyncio.wait, not wait_for: wait_for may swallow a cancellation that meets
            # the wake-up, and a cancelled waiter would then wait on forever.
            # A bulk call waiting for the floor wakes too when its run's source is exhausted.
            wakes = [self._learned]
            if mark is not None and not mark.ended().done():
                wakes.append(mark.ended())
            await asyncio.wait(wakes, timeout=max(delay, 0.001))

    def _wake(self) -> None:
        if self._learned is not None:
            self._learned.set_result(None)
            self._learned = None

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
