"""When to retry, and how long to wait: the rule, its constants, and the loop that applies it.

``gives_up`` ends a call at once, ``max_attempts`` and ``deadline`` bound it, and
``waits`` yields each wait (exponential ceilings with full jitter, or the server's
``Retry-After``); ``RetryPolicy.run_retries`` applies them after a failed first
attempt. Nothing here reads a clock that is not passed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import email.utils
import itertools
import math
import random
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import TYPE_CHECKING, TypeVar

import attrs

from .._checks import number
from .._exceptions import (
    APIError,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLargeError,
    SwoogoError,
    TransportError,
)
from .auth import read_server_offset
from .hooks import RateLimitState
from .log import log_backoff, log_giveup

if TYPE_CHECKING:
    from .transport import Call

__all__ = [
    "BULK_DEADLINE",
    "BULK_MAX_ATTEMPTS",
    "BULK_SERVER_WAIT",
    "RETRY_STATUSES",
    "RateHeaders",
    "RetryPolicy",
    "parse_retry_after",
    "read_rate_headers",
    "server_retry_after",
]

T = TypeVar("T")


RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: The API's documented rate-limit window: the longest reset a bulk row waits out.
BULK_SERVER_WAIT = 600.0
#: A whole window, plus room for the attempt after it.
BULK_DEADLINE = BULK_SERVER_WAIT + 60.0
#: Attempts a bulk row may take: a few 429s in a row must not fail it.
BULK_MAX_ATTEMPTS = 8


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a call is retried. Immutable; share one between clients freely.

    Args:
        max_attempts: Attempts per call, the first included (1 turns retries off).
        backoff_base: First backoff ceiling, in seconds; it doubles each attempt.
        backoff_cap: Largest backoff ceiling. Waits are drawn uniformly from
            ``[0, ceiling]`` ("full jitter") so clients that failed together do not
            retry together.
        deadline: Seconds a call may take, every attempt and wait included; no
            attempt starts, and no attempt runs, past it.
        max_server_wait: Longest ``Retry-After``/``X-Rate-Limit-Reset`` the client
            will sleep for; a longer one raises ``RateLimitError`` at once, carrying
            ``retry_after``, rather than blocking a caller for minutes.
        statuses: The HTTP statuses retried (429, 500, 502, 503 and 504).

    Raises:
        InvalidInputError: a value is not a finite number in range (a ``ValueError``).
    """

    max_attempts: int = attrs.field(default=5, validator=number(integer=True, at_least=1))
    backoff_base: float = attrs.field(default=0.25, validator=number(above=0))
    backoff_cap: float = attrs.field(default=10.0, validator=number(above=0))
    deadline: float = attrs.field(default=120.0, validator=number(above=0))
    max_server_wait: float = attrs.field(default=60.0, validator=number(at_least=0))
    statuses: frozenset[int] = RETRY_STATUSES

    def for_bulk(self) -> RetryPolicy:
        """Return this policy stretched so a call waits out any 429 within the API's window.

        Bulk runs (``create_many``, ``update_many``, ``sync``, the CLI's ``import``
        and ``sync``) use it so that no row fails on a 429 whose reset is at most
        600 s; interactive calls keep the short policy and fail fast. Values already
        larger are kept.
        """
        return attrs.evolve(
            self,
            max_attempts=max(self.max_attempts, BULK_MAX_ATTEMPTS),
            deadline=max(self.deadline, BULK_DEADLINE),
            max_server_wait=max(self.max_server_wait, BULK_SERVER_WAIT),
        )

    def gives_up(self, error: SwoogoError, *, idempotent: bool) -> bool:
        """Return whether ``error`` ends the call at once, whatever attempts are left.

        A request that is not idempotent (a create) is repeated only when the
        server certainly did not act on it: the connection was never made, or the
        server refused it with 429. Anything else is for the caller to reconcile.
        """
        if isinstance(error, ResponseTooLargeError):
            return True  # the same body would come back again
        if isinstance(error, TransportError):
            return not idempotent and error.may_have_acted
        if isinstance(error, RateLimitError):
            hint = error.retry_after
            return hint is not None and hint > self.max_server_wait
        if isinstance(error, ResponseDecodeError) or (
            isinstance(error, APIError) and error.status in self.statuses
        ):
            return not idempotent
        return True

    def wait(self, error: SwoogoError | None, retry: int, rand: float) -> float:
        """Return the wait before retry number ``retry`` (0 first) after ``error``.

        The ceiling grows as ``backoff.expo``'s does, to ``backoff_cap``; other errors
        wait a full-jitter draw under it. A 429 waits its hint
        (``RateLimitError.retry_after``), but never less than half the ceiling plus
        jitter: a hint of 0 (or a reset in the past) is no reason to send again at once.
        """
        ceiling = min(self.backoff_base * 2.0 ** min(retry, 64), self.backoff_cap)
        if isinstance(error, RateLimitError):
            return max(error.retry_after or 0.0, ceiling * (0.5 + 0.5 * rand))
        return rand * ceiling

    def waits(
        self,
        *,
        deadline: float,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> Generator[float, SwoogoError | None, None]:
        """Yield ``wait`` for each error sent in; end when it would pass ``deadline``.

        A wait generator as ``backoff`` drives one: the retry loop starts it with
        ``send(None)`` (hence the bare first ``yield``, as in backoff's own ``expo``),
        then sends each error. When a wait would end at or past ``deadline`` (on
        ``clock``) the generator ends, and the loop gives up with the error rather than
        sleep past the call's deadline.
        """
        error = yield  # type: ignore[misc]
        for retry in itertools.count():
            wait = self.wait(error, retry, rand())
            if clock() + wait >= deadline:
                return
            error = yield wait

    async def run_retries(
        self,
        attempt: Callable[[], Awaitable[T]],
        error: SwoogoError,
        call: Call,
        deadline: float,
        clock: Callable[[], float],
        rand: Callable[[], float],
        started: float,
    ) -> T:
        """Retry a call whose first attempt raised ``error``; raise the last error if it ends.

        Written out rather than ``backoff.on_exception`` per call: the giveup rule depends
        on the call (idempotent or not) and the waits on its deadline, and building
        backoff's decorator for each call cost more than decoding the response.
        """
        waits: Generator[float, SwoogoError | None, None] | None = None
        tries = 1
        while True:
            wait = None
            if (
                tries < self.max_attempts
                and clock() < deadline
                and not self.gives_up(error, idempotent=call.idempotent)
            ):
                if waits is None:
                    waits = self.waits(deadline=deadline, clock=clock, rand=rand)
                    waits.send(None)  # primed, as backoff primes a wait generator
                with contextlib.suppress(StopIteration):  # a wait past the deadline
                    wait = waits.send(error)
            if wait is None:
                log_giveup(call, error, tries, clock() - started)
                raise error
            log_backoff(call, error, tries, wait)
            await asyncio.sleep(wait)
            tries += 1
            try:
                return await attempt()
            except SwoogoError as again:
                error = again


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Read how long the server asked us to wait: ``Retry-After``, else ``X-Rate-Limit-Reset``.

    ``Retry-After`` may be seconds or an HTTP date; ``X-Rate-Limit-Reset`` is
    seconds until the window resets.
    """
    value = headers.get("Retry-After")
    if value:
        try:
            seconds = float(value)
            return max(seconds, 0.0) if math.isfinite(seconds) else None
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(value)
                if parsed.tzinfo is None:  # "-0000": UTC, of unknown origin
                    parsed = parsed.replace(tzinfo=datetime.timezone.utc)
                when = parsed.timestamp()
            except (TypeError, ValueError):
                when = None
            if when is not None and math.isfinite(when):
                return max(when - (time.time() if now is None else now), 0.0)
    value = headers.get("X-Rate-Limit-Reset")
    if value:
        try:
            seconds = float(value)
        except ValueError:
            return None
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    return None


def server_retry_after(known_offset: float | None, headers: Mapping[str, str]) -> float | None:
    """Read a 429's wait; an HTTP date is compared with the server's clock, not ours.

    The offset comes from the response's own ``Date`` header, else ``known_offset``.
    """
    wall_now = time.time()
    offset = read_server_offset(headers, wall_now)
    if offset is None:
        offset = known_offset or 0.0
    return parse_retry_after(headers, now=wall_now + offset)


#: (limit, remaining, reset seconds) from a response's ``X-Rate-Limit-*`` headers.
RateHeaders = tuple[int, int, int]


def read_rate_headers(headers: Mapping[str, str]) -> RateHeaders | None:
    """Return a response's (limit, remaining, reset), or None unless all three are readable.

    A limit of 0 or less is not a budget (gateways send 0 for "unlimited" or at a
    window's edge): pacing against it would never send again, so it reads as unknown.
    """
    state = RateLimitState.from_headers(headers)
    limit, remaining, reset = state.limit, state.remaining, state.reset
    if limit is None or remaining is None or reset is None or limit <= 0:
        return None
    return limit, remaining, int(reset)
