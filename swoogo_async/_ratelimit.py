"""Pacing against the API's credit budget, shared by every coroutine of a client.

The API grants L credits per window of W seconds (2,000 per 10 minutes; a list call
costs 10) and reports ``X-Rate-Limit-Limit``, ``-Remaining`` and ``-Reset`` on every
response. ``Pacer`` is the pure state machine (time is passed in); ``AsyncPacer``
adds the sleeping. The rules:

- Until the first response says what the budget is, one request goes out alone
  (a probe); the rest wait for what it learns.
- ``available`` counts the credits we may still spend in the server's current
  window: set from the headers, lowered on each reservation, never raised by a
  late response. When it runs out, requests wait for the window to reset.
- While more than ``reserve`` (half) of the budget is left, requests go out at once:
  a web app's bursts are never slowed. Below that, the rest of the window's credits
  are spread evenly over the time left (GCRA, small burst allowance), so a sustained
  load runs at the budget's rate and never into 429.
- An explicit ``RateLimit`` spaces requests evenly at its rate from the start.
- The reset instant is the earliest ``now + X-Rate-Limit-Reset`` seen in the window:
  the header is rounded up to whole seconds, so the earliest sighting is the closest.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping

import attrs

__all__ = ["AsyncPacer", "Pacer", "RateLimit"]

_GUARD = 0.05  # seconds past the estimated reset before spending the new window
PROBE_PATIENCE = 1.0  # seconds callers wait on a probe before sending another


@attrs.frozen
class RateLimit:
    """An explicit budget: ``credits`` per ``window`` seconds.

    Args:
        credits: Request credits per window (a list call costs 10, others 1).
        window: Window length in seconds.
        burst: Fraction of the budget that may go out back to back.
    """

    credits: int = attrs.field(validator=attrs.validators.ge(1))
    window: float = attrs.field(validator=attrs.validators.gt(0))
    burst: float = attrs.field(default=0.05, validator=attrs.validators.ge(0))


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value))
    except (ValueError, OverflowError):
        return None


class Pacer:
    """Pure pacing state. Every method takes the current monotonic time."""

    def __init__(
        self, explicit: RateLimit | None = None, *, burst: float = 0.05, reserve: float = 0.5
    ) -> None:
        self.explicit = explicit
        self.reserve_fraction = reserve
        self.limit: int | None = explicit.credits if explicit else None
        self.window: float | None = explicit.window if explicit else None
        self.burst = explicit.burst if explicit else burst
        self.available: float = float(explicit.credits) if explicit else 0.0
        self.reset_at: float | None = None
        self.tat = 0.0
        self.inflight = 0
        self.probing = False
        self.unpaced = False
        self.spacing = 0.0  # seconds per credit of the latest paced reservation

    @property
    def known(self) -> bool:
        """Whether a budget is known (explicitly, or from a response)."""
        return self.limit is not None

    def reserve(self, cost: int, now: float, within: float = math.inf) -> tuple[bool, float]:
        """Try to reserve ``cost`` credits, to be sent within ``within`` seconds.

        Returns:
            ``(True, delay)``: reserved; send after ``delay`` seconds.
            ``(False, delay)``: not reserved; ask again after ``delay`` seconds
            (``inf`` means: after the probe in flight has answered). A reservation
            that would have to wait longer than ``within`` is not made, and leaves
            no trace in the schedule.
        """
        if self.unpaced:
            return True, 0.0
        if self.limit is None:
            if self.probing:
                return False, math.inf
            self.probing = True
            self.inflight += cost
            return True, 0.0
        self._roll(now)
        if self.available < cost:
            if self.reset_at is None:
                # Explicit budget spent with no reset known: a window from now.
                self.reset_at = now + (self.window or 1.0)
            return False, max(self.reset_at - now, 0.0) + _GUARD
        tat = max(self.tat, now)
        if self.explicit is not None:
            rate = self.explicit.credits / self.explicit.window
        elif self.available - cost >= self.limit * self.reserve_fraction:
            # Plenty left in this window: spend it now, as an unpaced client would.
            self.tat = now
            self.spacing = 0.0
            self.available -= cost
            self.inflight += cost
            return True, 0.0
        else:
            # Spread what is left evenly between the next free slot and the reset.
            end = self.reset_at if self.reset_at is not None else tat + (self.window or 1.0)
            rate = self.available / max(end - tat, 1e-3)
        interval = 1.0 / rate
        tau = max(self.limit * self.burst, 1.0) * interval
        delay = max(tat - tau - now, 0.0)
        if delay > within:
            return False, delay
        self.tat = tat + cost * interval
        self.spacing = interval
        self.available -= cost
        self.inflight += cost
        return True, delay

    def _roll(self, now: float) -> None:
        """Start the next window once the estimated reset has passed."""
        if self.reset_at is not None and now >= self.reset_at + _GUARD:
            assert self.limit is not None
            self.available = float(self.limit)
            self.reset_at = now + self.window if self.window else None
            self.tat = now

    def observe(
        self, headers: Mapping[str, str], cost: int, now: float, *, ok: bool = True
    ) -> None:
        """Learn from a response's rate-limit headers; ``cost`` was its reservation.

        ``ok`` says whether the response was a success: only a success without the
        headers (not, say, a proxy's error page) shows that the API does not send them.
        """
        self.inflight = max(self.inflight - cost, 0)
        self.probing = False
        limit = _header_int(headers, "X-Rate-Limit-Limit")
        remaining = _header_int(headers, "X-Rate-Limit-Remaining")
        reset = _header_int(headers, "X-Rate-Limit-Reset")
        if limit is None or remaining is None or reset is None:
            if ok and self.limit is None and self.explicit is None:
                # The server does not say: nothing to pace against.
                self.unpaced = True
            return
        self.unpaced = False
        if self.explicit is None:
            self.limit = limit
            self.window = max(self.window or 0.0, float(reset), 1.0)
        reset_at = now + reset
        others = max(self.inflight, 0)
        if self.reset_at is None or reset_at > self.reset_at + 1.0:
            # First sighting, or the server has moved to a new window.
            self.reset_at = reset_at
            self.available = float(remaining - others)
            self.tat = min(self.tat, now)
        else:
            self.reset_at = min(self.reset_at, reset_at)
            self.available = min(self.available, float(remaining - others))

    def limited(self, retry_after: float | None, cost: int, now: float) -> None:
        """Learn from a 429: nothing is left until ``retry_after`` has passed."""
        self.inflight = max(self.inflight - cost, 0)
        self.probing = False
        if self.limit is None:
            self.limit = 1
        self.unpaced = False
        self.available = 0.0
        wait = retry_after if retry_after is not None else (self.window or 1.0)
        if self.window is None:
            self.window = max(wait, 1.0)
        self.reset_at = now + wait

    def release(self, cost: int, *, sent: bool) -> None:
        """Forget a reservation that got no response (error or cancellation).

        A reservation that was never sent gives its credits back and its place in
        the schedule.
        """
        self.inflight = max(self.inflight - cost, 0)
        self.probing = False
        if not sent:
            self.available += cost
            self.tat = max(self.tat - cost * self.spacing, 0.0)


class AsyncPacer:
    """Sleep as ``Pacer`` says; shared by every coroutine of one client."""

    def __init__(self, pacer: Pacer, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.pacer = pacer
        self._clock = clock
        self._learned: asyncio.Event | None = None

    async def acquire(self, cost: int, within: float = math.inf) -> float | None:
        """Wait until ``cost`` credits may be spent, and reserve them.

        Returns:
            None once reserved; or, without waiting, the seconds the wait would
            take when that is more than ``within`` (nothing is reserved then).
        """
        pacer = self.pacer
        clock = self._clock
        start = clock()
        while True:
            now = clock()
            left = within - (now - start)
            ok, delay = pacer.reserve(cost, now, left)
            if not ok and not math.isinf(delay) and delay > left:
                return delay
            if ok:
                if delay > 0:
                    try:
                        await asyncio.sleep(delay)
                    except BaseException:
                        # Cancelled while waiting its turn: nothing was sent.
                        pacer.release(cost, sent=False)
                        raise
                return None
            if math.isinf(delay):
                if self._learned is None:
                    self._learned = asyncio.Event()
                try:
                    await asyncio.wait_for(self._learned.wait(), min(PROBE_PATIENCE, max(left, 0)))
                except asyncio.TimeoutError:
                    if left <= PROBE_PATIENCE:
                        return PROBE_PATIENCE
                    # The probe is slow (a hung request): let another one go out
                    # rather than stall every caller behind it.
                    pacer.probing = False
            else:
                await asyncio.sleep(delay)

    def _wake(self) -> None:
        if self._learned is not None:
            self._learned.set()
            self._learned = None

    def observe(self, headers: Mapping[str, str], cost: int, *, ok: bool = True) -> None:
        """Record a response's headers."""
        self.pacer.observe(headers, cost, self._clock(), ok=ok)
        self._wake()

    def limited(self, retry_after: float | None, cost: int) -> None:
        """Record a 429."""
        self.pacer.limited(retry_after, cost, self._clock())
        self._wake()

    def release(self, cost: int, *, sent: bool) -> None:
        """Record a reservation that got no response."""
        self.pacer.release(cost, sent=sent)
        self._wake()
