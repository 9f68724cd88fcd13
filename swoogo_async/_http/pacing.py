"""The pacing rules, pure: ``Pacer`` is their one statement (``redis/budget.lua`` mirrors it,
held equal by a test). Their reasons: docs/resilience.md, "Pacing against the rate limit"."""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs

from .._checks import number
from .retry import RateHeaders, read_rate_headers

__all__ = ["Pacer", "RateHeaders", "RateLimit", "read_rate_headers"]

GUARD = 0.05  # seconds past the estimated reset before spending the new window
PROBE_PATIENCE = 1.0  # seconds a probe may go unanswered before another goes out
PROBE_AFTER = 5.0  # seconds after an absurd 429 before one probe asks if the block is over
MAX_WINDOW = 600.0  # the documented window: no block or learned window is longer
MIN_BLOCK = 1.0  # seconds a 429 blocks at least: a reset of 0 is no reason to hammer
DEFAULT_RESERVE = 0.0  # share of the budget's rate held back beyond the demand seen
HEADROOM = 2.0  # interactive demand held back: this many times the rate seen
MEMORY = 0.25  # the demand rate forgets with a time constant of this share of the window
FLOOR = 0.3  # share of the budget's rate held back from bulk calls until the reset
SIZED_FLOOR = 0.6  # ...from a sized run's, which takes it once the run fits in the window
RELEASE_LAST = 0.05  # nothing is held back in a window's final share (of its length)...
RELEASE_LAST_MAX = 0.5  # ...or its final seconds, if fewer
QUIET = 0.01  # interactive credits left in memory below which a new stretch begins
MAX_RUNS = 64  # sized bulk runs followed at once; a run beyond them is paced as an unsized one
STRAY_AFTER = 30.0  # seconds after the last grant that unanswered reservations are presumed lost
UNLIMITED = 10**8  # a limit this large is no budget: nothing to pace against
MAX_CREDITS = 10**9  # a RateLimit's credits: far above any real budget, still exact as a float
LIMIT_HEADER = "X-Rate-Limit-Limit"


@attrs.frozen
class RateLimit:
    """An explicit budget: ``credits`` per ``window`` seconds.

    Args:
        credits: Request credits per window (a list call costs 10, others 1).
        window: Window length in seconds, at most a day.
        burst: Fraction of the budget that may go out back to back (0 to 1).

    Raises:
        InvalidInputError: a value is not a finite number in range (a ``ValueError``).
    """

    credits: int = attrs.field(validator=number(integer=True, at_least=1, at_most=MAX_CREDITS))
    window: float = attrs.field(validator=number(above=0, at_most=86400.0))
    burst: float = attrs.field(default=0.05, validator=number(at_least=0, at_most=1))


class Pacer:
    """Pure pacing state. Every method takes the current monotonic time."""

    def __init__(self, explicit: RateLimit | None = None, *, reserve: float = DEFAULT_RESERVE):
        self.explicit = explicit
        self.reserve_fraction = reserve
        #: Others may spend this budget unseen: bulk calls go out one answer at a time.
        self.others_unseen = False
        self.forget()

    def forget(self) -> None:
        """Forget what was learned (others may have spent meanwhile): probe again."""
        explicit = self.explicit
        self.limit: int | None = explicit.credits if explicit else None
        self.window: float | None = explicit.window if explicit else None
        self.available: float = float(explicit.credits) if explicit else 0.0
        self.reset_at: float | None = None
        self.guessed = False  # reset_at is our guess at a new window, not a sighting
        self.tat = 0.0
        self.inflight = 0
        self.granted = 0  # credits reserved since the window began
        self.granted_at = 0.0  # when the latest reservation was made
        self.unpaced = False
        self.spacing = 0.0  # seconds per credit of the latest paced reservation
        self.blocked_until = 0.0  # after a 429: nothing (but probes if absurd) until then
        self.probe_at = 0.0  # during a block, no probe before then
        self.probe_until = 0.0  # a probe is out until then (answered or given up)
        self.demand = 0.0  # interactive credits per second (a decaying sum), as of demand_at
        self.demand_at = 0.0
        self.demand_since = 0.0  # the first interactive call after a quiet spell
        self.runs: dict[int, tuple[float, float]] = {}  # sized runs: id -> (needs, asked at)
        self.took: frozenset[int] | None = None  # the runs that took the floor this window

    def interactive_rate(self, now: float) -> float:
        """Return the interactive credits per second seen lately (decayed to ``now``)."""
        if self.demand <= 0.0:
            return 0.0
        memory = self._memory()
        # A short history has not filled the sum: divide by how full it can be (>= half).
        seen = max(now - self.demand_since, memory / 2)
        return self._decayed(now, memory) / (1.0 - math.exp(-seen / memory))

    def _decayed(self, now: float, memory: float) -> float:
        return self.demand * math.exp(-max(now - self.demand_at, 0.0) / memory)

    def _memory(self) -> float:
        return max((self.window or 1.0) * MEMORY, 1.0)

    def held_back(self, now: float, *, final: bool = False, sized: bool = False) -> float:
        """Return the credits bulk work leaves interactive calls (``final``: the demand only)."""
        if self.reset_at is None:
            return 0.0
        return self._held_rate(now, final, sized) * max(self._releases() - now, 0.0)

    def _held_rate(self, now: float, final: bool, sized: bool) -> float:
        rate = HEADROOM * self.interactive_rate(now)
        share = 0.0 if final else (SIZED_FLOOR if sized else FLOOR) + self.reserve_fraction
        if share > 0.0 and self.window and self.limit:
            rate += share * self.limit / self.window
        return rate

    def _releases(self) -> float:
        # Bulk work's own final seconds, early enough to reach the server before the reset.
        assert self.reset_at is not None
        return self.reset_at - min(RELEASE_LAST_MAX, RELEASE_LAST * (self.window or 1.0))

    def reserve(
        self,
        cost: int,
        now: float,
        within: float = math.inf,
        *,
        bulk: bool = False,
        again: bool = False,
        final: bool = False,
        run: int = 0,
        needs: float = 0.0,
    ) -> tuple[bool, float]:
        """Try to reserve ``cost`` credits, to be sent within ``within`` seconds.

        ``again``: refused before (interactive demand counts once). ``run`` (> 0) names a bulk
        call's run, ``needs`` what a sized run still needs, this call included; ``final``: among
        an unsized run's last calls. Returns ``(True, delay)``: send after ``delay``; or
        ``(False, delay)``: ask again after ``delay`` (cut to ``within`` while an answer is
        out), or sooner if a response taught something."""
        if self.unpaced:
            return True, 0.0
        if self.limit is None or now < self.blocked_until:
            # Nothing known to be spendable: one probe at a time asks the server.
            opens = max(self.probe_at, self.probe_until)
            if now < opens:
                # Until the probe is answered or given up, or the block (if still on) ends.
                ends = self.blocked_until if self.blocked_until > now else math.inf
                wait = min(opens, ends) - now
                return False, min(wait, max(within, 0.0)) if now < self.probe_until else wait
            self.probe_until = now + PROBE_PATIENCE
            self._grant(cost, now)
            return True, 0.0
        if self.reset_at is not None and now >= self.reset_at + GUARD:  # the next window
            self._new_window(self.limit, now)
            self.reset_at = now + self.window if self.window else None
            self.guessed = True
            self.tat = now
        if not bulk and not again:
            memory = self._memory()
            decayed = self._decayed(now, memory)
            if decayed * memory < QUIET:
                self.demand_since = now
            self.demand, self.demand_at = decayed + cost / memory, now
        if self.available < cost:
            if self.reset_at is None:  # an explicit budget spent: a window from now
                self.reset_at = now + (self.window or 1.0)
            return False, max(self.reset_at - now, 0.0) + GUARD
        if self.explicit is not None:
            return self._spaced(self.explicit, cost, now, within)
        if bulk:
            if self.others_unseen and self._unanswered(now):
                return False, min(PROBE_PATIENCE, max(within, 0.0))  # a guess, as a probe's
            rid = 0 if final else run  # a run in the table is sized
            finishing, committed, ids = self._finishing(rid, max(needs, cost), now)
            spare = self.available - cost - committed  # what finishing runs leave
            wait = self._opens(spare, now, False, rid in self.runs)
            if wait and (finishing or final) and (self.took is None or run in self.took):
                # The window's one set of runs that may finish into the floor.
                wait = 0.0 if finishing else self._opens(spare, now, True)
                self.took = self.took if wait or self.took else frozenset(ids | {run})
            if wait:
                return False, wait  # unbooked, until the share held back has shrunk
            left, seen = self.runs.pop(rid, (0.0, 0.0))
            if left > cost:  # a run that needs no more is forgotten
                self.runs[rid] = (left - cost, seen)
        self._grant(cost, now)
        return True, 0.0

    def _opens(self, spare: float, now: float, final: bool, sized: bool = False) -> float:
        """Return how long a bulk call leaving ``spare`` credits waits (0.0: none)."""
        if self.reset_at is None or spare >= self.held_back(now, final=final, sized=sized):
            return 0.0
        rate = self._held_rate(now, final, sized)
        return max(self._releases() - (max(spare, 0.0) / rate if rate else 0.0) - now, 0.0)

    def _finishing(self, run: int, needs: float, now: float) -> tuple[bool, float, set[int]]:
        """Record ``run``'s needs; return whether it may finish, what the others that may still
        need, and those runs: the least needing whose needs fit (once ``took``, among those)."""
        for other in [r for r, (_, seen) in self.runs.items() if now - seen > STRAY_AFTER]:
            del self.runs[other]
        if run > 0 and (run in self.runs or len(self.runs) < MAX_RUNS):
            # Needs only shrink: a call may have read them before another's grant counted.
            needs = min(needs, self.runs[run][0]) if run in self.runs else needs
            self.runs[run] = (needs, now)
        free = self.available - self.held_back(now, final=True)
        took, total, ids = self.took, 0.0, set[int]()
        fits = sorted((n, r) for r, (n, _) in self.runs.items() if took is None or r in took)
        for left, other in fits:
            if total + left > free:
                break
            total += left
            ids.add(other)
        found = run in ids
        return found, total - (needs if found else 0.0), ids

    def _spaced(self, rate: RateLimit, cost: int, now: float, within: float) -> tuple[bool, float]:
        """Reserve at the explicit rate (GCRA), after a burst allowance."""
        interval = rate.window / rate.credits
        tat = max(self.tat, now)
        tau = max(rate.credits * rate.burst, 1.0) * interval
        delay = max(tat - tau - now, 0.0)
        if delay > within:
            return False, delay
        self.tat = tat + cost * interval
        self.spacing = interval
        self._grant(cost, now)
        return True, delay

    def _grant(self, cost: int, now: float) -> None:
        self.available -= cost
        self.inflight += cost
        self.granted += cost
        self.granted_at = now

    def _unanswered(self, now: float) -> int:
        """Reservations still out, forgetting those of a holder that has gone quiet."""
        if self.inflight and now - self.granted_at > STRAY_AFTER:
            self.inflight = 0
        return self.inflight

    def _new_window(self, credits: float, now: float) -> None:
        # A reservation made before the reset may reach the server after it; one from an
        # earlier window still unanswered is presumed lost (its caller gave up on it).
        self.inflight = min(self._unanswered(now), self.granted)
        for run in self.took or ():  # a live one says its needs again with its next call
            self.runs.pop(run, None)
        self.granted, self.took = 0, None
        self.available = float(credits - self.inflight)

    def observe(
        self, headers: Mapping[str, str], cost: int, now: float, *, ok: bool = True
    ) -> None:
        """Learn from a response's headers (``observe_rate`` after parsing them)."""
        self.observe_rate(read_rate_headers(headers), cost, now, ok=ok)

    def observe_rate(self, rate: RateHeaders | None, cost: int, now: float, *, ok: bool) -> None:
        """Learn from a response's rate headers; ``cost`` was its reservation. Only a success
        (``ok``) without them, not a proxy's error page, shows the API sends none."""
        self.release(cost, sent=True)
        if rate is None or (rate[0] >= UNLIMITED and self.explicit is None):
            if self.explicit is None and (rate is not None or (ok and self.limit is None)):
                self.unpaced, self.inflight = True, 0  # nothing to pace against
            return
        limit, remaining, reset = rate
        self.unpaced = False
        if self.blocked_until and remaining > 0:
            # Credits left on the server: the block is over; adopt the server's view.
            self.blocked_until = 0.0
            self.reset_at = None
        if self.explicit is None:
            self.limit = limit
            self.window = min(max(self.window or 0.0, float(reset), 1.0), MAX_WINDOW)
        reset_at = now + min(reset, MAX_WINDOW)
        if self.reset_at is None or reset_at > self.reset_at + max((self.window or 0.0) / 2, 1.0):
            # First sighting, or a new window (a late answer only looks a little later).
            self.reset_at = reset_at
            self._new_window(remaining, now)
            self.tat = min(self.tat, now)
        else:
            if self.guessed and self.window and reset_at < self.reset_at - self.window / 2:
                return  # a late answer from the window before the one we rolled into
            # A sighting bounds the reset from above (rounded up): keep the lowest, not a guess.
            self.reset_at = reset_at if self.guessed else min(self.reset_at, reset_at)
            # The server's count may miss calls in flight: it only lowers ours.
            self.available = min(self.available, float(remaining))
        self.guessed = False

    def limited(self, retry_after: float | None, cost: int, now: float) -> None:
        """Learn from a 429: block every caller until ``retry_after`` (capped) has passed."""
        self.release(cost, sent=True)
        self.unpaced = False
        self.available = 0.0
        wait = retry_after if retry_after is not None else (self.window or 1.0)
        # A reset beyond the window (or the documented one) is no answer to wait out.
        absurd = wait > (self.window or MAX_WINDOW) + 1.0
        wait = min(max(wait, MIN_BLOCK), MAX_WINDOW)
        self.window = self.window or max(wait, 1.0)
        self.reset_at = self.blocked_until = now + wait
        self.probe_at = now + min(wait, PROBE_AFTER) if absurd else self.blocked_until

    def release(self, cost: int, *, sent: bool) -> None:
        """Forget a reservation (answered, or failed or cancelled); one never sent gives
        back its credits and its place in the schedule."""
        self.inflight = max(self.inflight - cost, 0)
        self.probe_until = 0.0
        if not sent:
            self.available += cost
            self.tat = max(self.tat - cost * self.spacing, 0.0)
