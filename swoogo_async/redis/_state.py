"""``RedisSharedState``: the token, its refresh lock and the budget in Redis.

Every command of the token and the budget goes through ``_call``, which falls back to
in-process state while Redis is away. The package's docstring (``swoogo_async.redis``)
says what is shared and how.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from redis import asyncio as aioredis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from .._checks import check_number
from .._exceptions import InvalidInputError, SharedStateError
from .._http.auth import usable_token
from .._http.pacer import AsyncPacer
from .._http.pacing import DEFAULT_RESERVE, MIN_BLOCK, Pacer, RateHeaders, RateLimit
from .._shared.state import LocalSharedState, credential_id
from ._lease import redis_lease
from ._scripts import BUDGET_SCRIPT, COMPARE_AND_DELETE, CONSTANTS, NO_ANSWER, TOKEN_GET

__all__ = ["RedisSharedState"]

T = TypeVar("T")
logger = logging.getLogger("swoogo_async")

MAX_COMMANDS = 32  # Redis commands one state keeps in flight at most
_INF = 1e18  # ``within`` for Lua, which has no infinity literal


class RedisSharedState:
    """``SharedState`` in Redis, for several processes on one credential.

    Args:
        redis: A ``redis.asyncio.Redis`` client; the caller closes it.
        on_error: ``"fallback"`` (default): when Redis fails, use in-process state,
            log one WARNING and try Redis again after ``retry_after``;
            ``"raise"``: raise ``SharedStateError``.
        timeout: Seconds each Redis command may take.
        retry_after: Seconds between asking whether Redis is back after it failed.
        lock_ttl: Seconds the token refresh lock lives if its holder dies.
        reserve: Share of the budget's rate held back for interactive calls beyond
            the interactive demand seen (see ``Pacer``); 0 by default.
        prefix: First part of every key.

    Raises:
        InvalidInputError: an option is unusable (``on_error`` not one of the two,
            a time not a finite number > 0, ``reserve`` outside ``[0, 1)``).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        on_error: Literal["fallback", "raise"] = "fallback",
        timeout: float = 1.0,
        retry_after: float = 2.0,
        lock_ttl: float = 30.0,
        reserve: float = DEFAULT_RESERVE,
        prefix: str = "swoogo",
    ) -> None:
        if on_error not in ("fallback", "raise"):
            raise InvalidInputError("on_error", f"must be 'fallback' or 'raise', got {on_error!r}")
        self.on_error = on_error
        self.timeout = check_number("timeout", timeout, above=0)
        self.retry_after = check_number("retry_after", retry_after, at_least=0)
        self.lock_ttl = check_number("lock_ttl", lock_ttl, above=0)
        self.reserve_fraction = check_number("reserve", reserve, at_least=0, below=1)
        self.redis = redis
        self.prefix = prefix
        self.owns_redis = False
        self._budget = redis.register_script(BUDGET_SCRIPT)
        self._token_get = redis.register_script(TOKEN_GET)
        self._cad = redis.register_script(COMPARE_AND_DELETE)
        self._local = LocalSharedState(reserve=reserve, lock_ttl=lock_ttl)
        self._locks: dict[str, Lock] = {}  # refresh locks held in Redis, by holder
        self._down_until = 0.0
        self._probing = False  # a command is asking whether Redis is back
        #: Credits reserved in Redis whose answer Redis has not been told yet, and those
        #: of them answered in-process while Redis was away: Redis still counts the
        #: latter as in flight, which would shrink every window until they stray.
        self._out = 0
        self._owed = 0
        pool = getattr(redis, "connection_pool", None)
        size = getattr(pool, "max_connections", None) or 2 * MAX_COMMANDS
        #: Commands in flight at once, shared by every state bound from this one.
        self._gate = asyncio.Semaphore(max(1, min(MAX_COMMANDS, size // 2)))
        self._keys = ("", "", "")  # token, refresh lock, budget: set by bind()
        self._config: tuple[float, float, int, float] = (reserve, 0.05, 0, 0.0)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisSharedState:
        """Connect to ``url`` (``redis://host:port/db``); the state closes that connection.

        Raises:
            InvalidInputError: the URL or an option is unusable.
        """
        timeout = check_number("timeout", options.get("timeout", 1.0), above=0)
        try:
            client = aioredis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        except ValueError as exc:
            raise InvalidInputError("url", str(exc)) from None
        state = cls(client, **options)
        state.owns_redis = True
        return state

    def __repr__(self) -> str:
        return f"<RedisSharedState prefix={self.prefix!r} on_error={self.on_error!r}>"

    def bind(
        self, api_key: str, rate_limit: RateLimit | None, *, base_url: str
    ) -> RedisSharedState:
        """Return the state for ``api_key``'s credential on ``base_url``."""
        # The copy shares the options, the connection and the command gate.
        bound = copy.copy(self)
        bound._locks = {}
        bound._local = self._local.bind(api_key, rate_limit, base_url=base_url)
        # Used only while Redis is away, when the other processes spend unseen.
        bound._local.budget.others_unseen = True
        tag = f"{self.prefix}:{{{credential_id(api_key, base_url)}}}"
        bound._keys = (f"{tag}:token", f"{tag}:lock", f"{tag}:budget")
        if rate_limit is not None:
            bound._config = (
                self.reserve_fraction,
                rate_limit.burst,
                rate_limit.credits,
                rate_limit.window,
            )
        return bound

    def pacer(self) -> AsyncPacer:
        """Return a pacer for one client that follows the budget in Redis."""
        return AsyncPacer(self._local.budget, budget=self)

    async def aclose(self) -> None:
        """Close the Redis connection if ``from_url`` opened it."""
        if self.owns_redis:
            await self.redis.aclose()

    # -- every command goes through here -------------------------------------------------

    async def _call(
        self, remote: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]
    ) -> T:
        self._check_bound()
        if self._down_until and (time.monotonic() < self._down_until or self._probing):
            return await local()
        # A burst of callers queues here rather than overflow the connection pool (an
        # error that would look like an outage and leave the shared budget).
        async with self._gate:
            return await self._send(remote, local)

    def _check_bound(self) -> None:
        if not self._keys[0]:
            raise RuntimeError("RedisSharedState must be bound to a credential (bind())")

    def _no_answer(self, reason: str) -> SharedStateError:
        """The error of a command that failed with ``reason`` under ``on_error="raise"``."""
        return SharedStateError(f"Redis did not answer in {self.timeout}s ({reason})")

    async def _send(
        self, remote: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]
    ) -> T:
        probe = False
        if self._down_until:
            if time.monotonic() < self._down_until or self._probing:
                return await local()
            # This command asks whether Redis is back; the others stay in-process until
            # it answers, so a Redis that is still away costs one timeout, not many.
            probe = self._probing = True
        try:
            result = await asyncio.wait_for(remote(), self.timeout)
        except NO_ANSWER as exc:
            reason = type(exc).__name__
        else:
            # Only the probe shows that the outage is over (a command already on its
            # way when Redis went away may still come back).
            if probe:
                self._down_until = 0.0
                logger.info("Redis reachable again: sharing the token and rate budget")
                await self._repay()
            return result
        finally:
            if probe:
                self._probing = False
        if self.on_error == "raise":
            raise self._no_answer(reason)
        if not self._down_until:
            # What this process knew of the budget is stale: others spent meanwhile. It
            # asks the server again (one probe) rather than spend from memory.
            self._local.budget.forget()
            logger.warning(
                "Redis unreachable (%s): using in-process token and rate budget,"
                " trying Redis again every %.0fs",
                reason,
                self.retry_after,
            )
        self._down_until = time.monotonic() + self.retry_after
        return await local()

    # -- token ---------------------------------------------------------------------------

    async def token_get(self) -> tuple[str, float] | None:
        """Return the shared token and the seconds until it is due, if there is one."""

        async def remote() -> tuple[str, float] | None:
            try:
                found = await self._token_get(keys=[self._keys[0]])
                value, ttl = usable_token(found[0]), int(found[1]) / 1000.0
            except (TypeError, ValueError, IndexError):
                # A client made with decode_responses=True fails on bytes that are
                # not UTF-8 (a ValueError): as with any malformed token, none.
                return None
            return None if value is None or ttl <= 0 else (value, ttl)

        return await self._call(remote, self._local.token_get)

    async def token_set(self, value: str, ttl: float) -> None:
        """Share ``value`` for ``ttl`` seconds."""

        async def remote() -> None:
            await self.redis.set(self._keys[0], value, px=max(int(ttl * 1000), 1))

        await self._call(remote, lambda: self._local.token_set(value, ttl))

    async def token_delete(self, value: str) -> None:
        """Delete the shared token if it is still ``value``."""

        async def remote() -> None:
            await self._cad(keys=[self._keys[0]], args=[value])

        await self._call(remote, lambda: self._local.token_delete(value))

    async def refresh_lock(self) -> str | None:
        """Take the refresh lock (redis-py's ``Lock``); None if another process holds it."""
        holder = secrets.token_hex(16)

        async def remote() -> str | None:
            lock = self._lock(self._keys[1])
            if not await self._take(lock, holder):
                return None
            self._locks[holder] = lock
            return holder

        return await self._call(remote, self._local.refresh_lock)

    def _lock(self, key: str) -> Lock:
        """A redis-py ``Lock`` on ``key`` that expires ``lock_ttl`` after it is taken."""
        return Lock(self.redis, key, timeout=self.lock_ttl, thread_local=False)

    async def _take(self, lock: Lock, holder: str | None = None) -> bool:
        """Take ``lock`` if it is free, or held by a key without a TTL."""
        if await lock.acquire(blocking=False, token=holder):
            return True
        # Every lock taken here expires; a key without a TTL is garbage that would keep
        # every process out for ever (no token fetched, no run writing): it is no lock.
        if await self.redis.pttl(lock.name) != -1:
            return False
        await self.redis.delete(lock.name)
        return bool(await lock.acquire(blocking=False, token=holder))

    async def refresh_unlock(self, lock: str) -> None:
        """Release ``lock`` if it is still ours (the ``Lock``'s compare-and-delete)."""
        held = self._locks.pop(lock, None)
        if held is None:  # taken in-process while Redis was away
            await self._local.refresh_unlock(lock)
            return

        async def remote() -> None:
            with contextlib.suppress(LockError):  # expired, perhaps taken by another
                await held.release()

        await self._call(remote, lambda: self._local.refresh_unlock(lock))

    # -- budget --------------------------------------------------------------------------

    async def run_script(self, op: str, *args: float, now: float = -1.0) -> tuple[bool, float]:
        """Run one budget operation in Redis; ``now`` replaces Redis' clock (tests)."""
        reply = await self._budget(
            keys=[self._keys[2]],
            args=[op, repr(now), *map(repr, (*self._config, *CONSTANTS, *args))],
        )
        return bool(int(reply[0])), float(reply[1])

    async def _repay(self) -> None:
        """Tell Redis of the reservations answered while it was away (best effort)."""
        owed, self._owed = self._owed, 0
        if owed:
            try:
                await asyncio.wait_for(self.run_script("release", owed, 1), self.timeout)
            except NO_ANSWER:
                self._owed += owed

    def _settle(self, cost: int, *, remote: bool) -> None:
        """Account for the answer to a reservation of ``cost``, told to Redis or not."""
        settled = min(cost, self._out)
        self._out -= settled
        if not remote:
            self._owed += settled

    async def reserve(
        self,
        cost: int,
        *,
        within: float,
        bulk: bool,
        again: bool = False,
        final: bool = False,
        run: int = 0,
        needs: float = 0.0,
    ) -> tuple[bool, float]:
        """Try to reserve ``cost`` credits (see ``Pacer.reserve``)."""
        limit = within if math.isfinite(within) else _INF

        async def remote() -> tuple[bool, float]:
            ok, delay = await self.run_script(
                "reserve", cost, limit, int(bulk), int(again), int(final), run, needs
            )
            self._out += cost if ok else 0
            return ok, delay

        return await self._call(
            remote,
            lambda: self._in_process(
                lambda p, now: p.reserve(
                    cost, now, within, bulk=bulk, again=again, final=final, run=run, needs=needs
                )
            ),
        )

    async def observe(self, rate: RateHeaders | None, cost: int, *, ok: bool) -> None:
        """Fold a response's rate-limit headers into the shared budget."""
        limit, remaining, reset = rate if rate is not None else (-1, 0, 0)
        await self._call(
            lambda: self._told("observe", cost, limit, remaining, reset, cost, int(ok)),
            lambda: self._untold(cost, lambda p, now: p.observe_rate(rate, cost, now, ok=ok)),
        )

    async def limited(self, retry_after: float | None, cost: int) -> None:
        """Block every process until the 429's reset (capped)."""
        # The Lua script caps the block; the floor is applied here, as Pacer.limited does.
        wait = -1.0 if retry_after is None else max(retry_after, MIN_BLOCK)
        await self._call(
            lambda: self._told("limited", cost, wait, cost),
            lambda: self._untold(cost, lambda p, now: p.limited(retry_after, cost, now)),
        )

    async def release(self, cost: int, *, sent: bool) -> None:
        """Forget a reservation that got no response."""
        await self._call(
            lambda: self._told("release", cost, cost, int(sent)),
            lambda: self._untold(cost, lambda p, _: p.release(cost, sent=sent)),
        )

    async def _told(self, op: str, cost: int, *args: float) -> None:
        """Run ``op`` settling a reservation of ``cost`` in Redis."""
        await self.run_script(op, *args)
        self._settle(cost, remote=True)

    async def _untold(self, cost: int, op: Callable[[Pacer, float], None]) -> None:
        """Settle a reservation of ``cost`` in-process (Redis is away)."""
        self._settle(cost, remote=False)
        await self._in_process(op)

    # -- leases --------------------------------------------------------------------------

    def lease(self, name: str, *, wait: float) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold the lease ``name`` of this credential for every process on this Redis.

        Raises:
            LeaseBusyError: another holder kept it for ``wait`` seconds.
            SharedStateError: Redis failed and ``on_error="raise"``.
        """
        return redis_lease(self, name, wait)

    async def _in_process(self, op: Callable[[Pacer, float], T]) -> T:
        """Run ``op`` on the in-process budget (Redis is away), at the monotonic time."""
        return op(self._local.budget, time.monotonic())
