"""Where a receiver remembers the deliveries it has taken: in process, or in Redis.

A delivery is *claimed* before it is processed and the claim kept for ``ttl`` seconds:
a retry that arrives meanwhile finds the claim and is acknowledged without being
processed again. A failed processing *releases* its claim, so Swoogo's retry of it is
processed. Redis claims are ``SET NX EX`` with a random value and are released by
compare-and-delete, so a claim that outlived its TTL and was taken again is never
deleted by its first owner. While a delivery is processed its Redis claim lives only
``processing_ttl`` seconds, renewed as long as its process lives, and gets its full
``ttl`` when processing is *done*: a process killed mid-delivery (a deploy, the OOM
killer) cannot leave a claim that acknowledges every retry unprocessed for a day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from .._checks import check_number
from .._exceptions import InvalidInputError

__all__ = ["DEFAULT_TTL", "Dedupe", "LocalDedupe", "RedisDedupe"]

logger = logging.getLogger("swoogo_async.webhooks")

#: A day: longer than any retry schedule a webhook sender keeps up.
DEFAULT_TTL = 86_400.0

#: Marks a claim taken in the local fallback while Redis was away.
_LOCAL = "local:"

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_EXPIRE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class Dedupe(Protocol):
    """Claims on delivery keys (``LocalDedupe``, ``RedisDedupe``, or your own)."""

    async def claim(self, key: str) -> str | None:
        """Claim ``key``; return the claim's token, or None if it is claimed (a duplicate)."""
        ...

    async def release(self, key: str, token: str) -> None:
        """Drop the claim ``token`` holds on ``key`` (its processing failed)."""
        ...

    # Optional: ``async def done(self, key, token)``, called when processing succeeded
    # (a store whose claims already last their whole TTL needs none).


class LocalDedupe:
    """Claims in this process: at most ``max_entries``, each for ``ttl`` seconds.

    When full, the oldest claim is forgotten first (a retry that late is processed
    again: size it above the deliveries one TTL brings).
    """

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_number("ttl", ttl, above=0)
        check_number("max_entries", max_entries, integer=True, at_least=1)
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        #: key -> (expiry, claim token)
        self._until: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._until)

    async def claim(self, key: str) -> str | None:
        """Claim ``key``; return the claim's token, or None if it is claimed (a duplicate)."""
        return self.claim_now(key)

    def claim_now(self, key: str) -> str | None:
        """Claim ``key`` without awaiting (the same as ``claim``)."""
        now = self._clock()
        until = self._until
        # Insertion order is expiry order (one TTL for all): drop the expired from the front.
        while until and next(iter(until.values()))[0] <= now:
            until.popitem(last=False)
        if key in until:
            return None
        while len(until) >= self.max_entries:
            until.popitem(last=False)
        token = secrets.token_hex(8)
        until[key] = (now + self.ttl, token)
        return token

    async def release(self, key: str, token: str) -> None:
        """Drop the claim ``token`` holds on ``key`` (not a later claim of the same key)."""
        held = self._until.get(key)
        if held is not None and held[1] == token:
            del self._until[key]


class RedisDedupe:
    """Claims in Redis, shared by every process that receives the same webhooks.

    Args:
        redis: A ``redis.asyncio.Redis`` client (the caller owns and closes it).
        ttl: Seconds a processed delivery's claim lasts.
        processing_ttl: Seconds a claim lives while its delivery is processed, renewed
            every third of it while the process lives: how soon a retry is processed
            after a process died mid-delivery.
        prefix: Key prefix; a claim is ``<prefix><delivery key>``.
        timeout: Seconds each Redis command may take.

    When Redis fails or is slow, claims fall back to a ``LocalDedupe`` (one warning per
    outage): a delivery is then deduplicated in this process only, never refused.
    """

    def __init__(
        self,
        redis: Any,
        *,
        ttl: float = DEFAULT_TTL,
        processing_ttl: float = 30.0,
        prefix: str = "swoogo:webhook:",
        timeout: float = 1.0,
    ) -> None:
        for method in ("set", "eval"):
            if not callable(getattr(redis, method, None)):
                raise InvalidInputError("redis", "must be a redis.asyncio.Redis client")
        check_number("ttl", ttl, above=0)
        check_number("timeout", timeout, above=0)
        check_number("processing_ttl", processing_ttl, above=0)
        if not isinstance(prefix, str):
            raise InvalidInputError("prefix", f"expected a str, got {type(prefix).__name__}")
        from redis.exceptions import RedisError  # the redis extra: the caller passed a client

        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)
        self._redis = redis
        self.ttl = ttl
        self.prefix = prefix
        self.timeout = timeout
        self._seconds = max(1, round(ttl))
        self.processing_ttl = processing_ttl
        self._processing_ms = max(1, round(processing_ttl * 1000))
        self._keepers: dict[str, asyncio.Task[None]] = {}
        self._local = LocalDedupe(ttl=ttl)
        self._down = False

    def __repr__(self) -> str:
        return f"<RedisDedupe prefix={self.prefix!r} ttl={self.ttl!r}>"

    def _failed(self, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            logger.warning(
                "webhook dedupe: Redis unavailable (%s); deduplicating in this process",
                type(exc).__name__,
            )

    async def claim(self, key: str) -> str | None:
        """Claim ``key`` with ``SET NX EX``; return the token, or None if already claimed."""
        token = secrets.token_hex(8)
        try:
            taken = await asyncio.wait_for(
                self._redis.set(self.prefix + key, token, nx=True, px=self._processing_ms),
                self.timeout,
            )
        except self._errors as exc:
            self._failed(exc)
            local = self._local.claim_now(key)
            return None if local is None else _LOCAL + local
        if self._down:
            self._down = False
            logger.warning("webhook dedupe: Redis is back")
        if not taken:
            return None
        self._keepers[token] = asyncio.ensure_future(self._keep(key, token))
        return token

    async def _keep(self, key: str, token: str) -> None:
        """Renew a claim being processed, so that it outlives a slow handler, not its process."""
        while True:
            await asyncio.sleep(self.processing_ttl / 3)
            with contextlib.suppress(*self._errors):
                await asyncio.wait_for(
                    self._redis.eval(_EXPIRE, 1, self.prefix + key, token, self._processing_ms),
                    self.timeout,
                )

    async def _stop(self, token: str) -> None:
        keeper = self._keepers.pop(token, None)
        if keeper is not None:
            keeper.cancel()
            await asyncio.wait([keeper])

    async def done(self, key: str, token: str) -> None:
        """Keep a processed delivery's claim for the whole ``ttl``."""
        await self._stop(token)
        if token.startswith(_LOCAL):
            return
        try:
            await asyncio.wait_for(
                self._redis.eval(_EXPIRE, 1, self.prefix + key, token, self._seconds * 1000),
                self.timeout,
            )
        except self._errors as exc:
            # The claim then ends after processing_ttl, and a later retry is processed again.
            self._failed(exc)

    async def release(self, key: str, token: str) -> None:
        """Drop the claim ``token`` holds on ``key`` (compare-and-delete)."""
        await self._stop(token)
        if token.startswith(_LOCAL):
            await self._local.release(key, token[len(_LOCAL) :])
            return
        try:
            await asyncio.wait_for(
                self._redis.eval(_RELEASE, 1, self.prefix + key, token), self.timeout
            )
        except self._errors as exc:
            # The claim then lasts its TTL and a retry is acknowledged unprocessed: say so.
            logger.error(
                "webhook dedupe: could not release a failed delivery's claim (%s);"
                " its retries will be acknowledged without processing for %ss",
                type(exc).__name__,
                self._seconds,
            )
            self._failed(exc)
