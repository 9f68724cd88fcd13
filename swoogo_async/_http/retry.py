"""When to retry and how long to wait (``RetryPolicy``), the loop that applies it and its log
lines, and the readers of the server's waits and rate-limit headers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import email.utils
import itertools
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import TypeVar

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
from .hooks import RateLimitState, logger
from .transport import Call

__all__ = [
    "RateHeaders",
    "RetryPolicy",
    "log_backoff",
    "log_giveup",
    "parse_retry_after",
    "read_rate_headers",
    "server_retry_after",
]

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a call is retried. Immutable; share one between clients freely.

    Args:
        max_attempts: Attempts per call, the first included (1 turns retries off).
        backoff_base: First backoff ceiling, in seconds; it doubles each attempt.
        backoff_cap: Largest backoff ceiling. Waits are drawn from ``[0, ceiling]`` ("full
            jitter") so clients that failed together do not retry together.
        deadline: Seconds a call may take, every attempt and wait included; no attempt
            starts, and no attempt runs, past it.
        max_server_wait: Longest ``Retry-After``/``X-Rate-Limit-Reset`` slept for; a longer
            one raises ``RateLimitError`` (with ``retry_after``) at once.
        statuses: The HTTP statuses retried (429, 500, 502, 503 and 504).

    Raises:
        InvalidInputError: a value is not a finite number in range (a ``ValueError``).
    """

    max_attempts: int = attrs.field(default=5, validator=number(integer=True, at_least=1))
    backoff_base: float = attrs.field(default=0.25, validator=number(above=0))
    backoff_cap: float = attrs.field(default=10.0, validator=number(above=0))
    deadline: float = attrs.field(default=120.0, validator=number(above=0))
    max_server_wait: float = attrs.field(default=60.0, validator=number(at_least=0))
    statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def for_bulk(self) -> RetryPolicy:
        """Return this policy stretched so a call waits out any 429 within the API's window
        (a reset of up to 600 s), as bulk runs and syncs do. Values already larger are kept."""
        return attrs.evolve(
            self,
            max_attempts=max(self.max_attempts, 8),  # a few 429s in a row must not fail a row
            deadline=max(self.deadline, 660.0),  # the window, and room for the attempt after it
            max_server_wait=max(self.max_server_wait, 600.0),  # the API's documented window
        )

    def gives_up(self, error: SwoogoError, *, idempotent: bool) -> bool:
        """Return whether ``error`` ends the call at once. A call that is not idempotent (a
        create) is repeated only if the server surely did not act: no connection, or a 429."""
        if isinstance(error, ResponseTooLargeError):
            return True  # the same body would come back again
        if isinstance(error, TransportError):
            return not idempotent and error.may_have_acted
        if isinstance(error, RateLimitError):
            return error.retry_after is not None and error.retry_after > self.max_server_wait
        if isinstance(error, ResponseDecodeError) or (
            isinstance(error, APIError) and error.status in self.statuses
        ):
            return not idempotent
        return True

    def waits(
        self,
        *,
        deadline: float,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> Generator[float, SwoogoError | None, None]:
        """Yield the wait before each retry after the error sent in (primed with ``send(None)``),
        a draw under a ceiling doubling from ``backoff_base`` to ``backoff_cap``; for a 429, its
        ``retry_after`` or, if longer, a draw over half the ceiling; end at ``deadline``."""
        error = yield  # type: ignore[misc]
        for retry in itertools.count():
            ceiling = min(self.backoff_base * 2.0 ** min(retry, 64), self.backoff_cap)
            draw = rand()
            if isinstance(error, RateLimitError):
                wait = max(error.retry_after or 0.0, ceiling * (0.5 + 0.5 * draw))
            else:
                wait = draw * ceiling
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
        A plain loop: ``backoff``'s decorator would be built per call (it depends on the call)."""
        waits = self.waits(deadline=deadline, clock=clock, rand=rand)
        waits.send(None)
        tries = 1
        while tries < self.max_attempts and not self.gives_up(error, idempotent=call.idempotent):
            try:
                wait = waits.send(error)
            except StopIteration:  # a wait reaching the deadline
                break
            log_backoff(call, error, tries, wait)
            await asyncio.sleep(wait)
            tries += 1
            try:
                return await attempt()
            except SwoogoError as again:
                error = again
        log_giveup(call, error, tries, clock() - started)
        raise error


def log_backoff(call: Call, error: SwoogoError, tries: int, wait: float) -> None:
    args = (call.method, call.path, type(error).__name__, tries, wait)
    logger.warning("retrying %s %s after %s (attempt %d failed), waiting %.2fs", *args)


def log_giveup(call: Call, error: SwoogoError, tries: int, elapsed: float) -> None:
    level = logging.WARNING if tries > 1 else logging.DEBUG
    args = (call.method, call.path, type(error).__name__, tries, elapsed)
    logger.log(level, "%s %s failed with %s after %d attempt(s) in %.2fs", *args)


def _seconds(value: str) -> float | None:
    seconds = float(value)
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Read the server's wait: ``Retry-After`` (seconds or an HTTP date, compared with
    ``now``), else ``X-Rate-Limit-Reset`` (seconds until the window resets)."""
    value = headers.get("Retry-After", "")  # absent: unreadable as either form
    try:
        return _seconds(value)
    except ValueError:
        with contextlib.suppress(TypeError, ValueError):
            parsed = email.utils.parsedate_to_datetime(value)
            if parsed.tzinfo is None:  # "-0000": UTC, of unknown origin
                parsed = parsed.replace(tzinfo=datetime.timezone.utc)
            return max(parsed.timestamp() - (time.time() if now is None else now), 0.0)
    with contextlib.suppress(ValueError):
        return _seconds(headers.get("X-Rate-Limit-Reset", ""))
    return None


def server_retry_after(known_offset: float | None, headers: Mapping[str, str]) -> float | None:
    """Read a 429's wait; a date is on the server's clock (its ``Date``, else ``known_offset``)."""
    wall_now = time.time()
    offset = read_server_offset(headers, wall_now)
    offset = (known_offset or 0.0) if offset is None else offset
    return parse_retry_after(headers, now=wall_now + offset)


#: (limit, remaining, reset seconds) from a response's ``X-Rate-Limit-*`` headers.
RateHeaders = tuple[int, int, int]


def read_rate_headers(headers: Mapping[str, str]) -> RateHeaders | None:
    """Return a response's (limit, remaining, reset), or None unless all three are readable
    and the limit is above 0 (gateways send 0 for "unlimited": paced, nothing would go)."""
    state = RateLimitState.from_headers(headers)
    limit, remaining, reset = state.limit, state.remaining, state.reset
    if limit is None or remaining is None or reset is None or limit <= 0:
        return None
    return limit, remaining, int(reset)
