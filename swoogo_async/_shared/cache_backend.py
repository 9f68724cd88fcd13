"""The read cache's storage: cashews' memory or Redis backend, and what bindings share.

cashews is imported only when a cache is made. Every backend operation goes through
``CacheCore.safe``: a failure (Redis away or slow) counts, warns once, and reads go to
the server for a while, so an outage costs a web request nothing but a fetch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .._exceptions import InvalidInputError
from .cache_rules import CacheStats, CacheTTL

__all__ = ["CacheCore"]

T = TypeVar("T")
logger = logging.getLogger("swoogo_async")


class _RawBytes:
    """cashews serializer that passes bytes through: its default one unpickles what it reads."""

    async def encode(self, backend: Any, key: str, value: Any, expire: float | None) -> Any:
        return value

    async def decode(self, backend: Any, key: str, value: Any, default: Any) -> Any:
        return value if isinstance(value, bytes) else default


class CacheCore:
    """What every binding of one ``ReadCache`` shares: backend, flights, stats."""

    def __init__(self, url: str, ttl: CacheTTL, clock: Callable[[], float], **opts: Any) -> None:
        try:
            from cashews.backends.memory import Memory

            if url != "memory":
                from cashews.backends.redis import Redis
        except ImportError:
            extras = "cache" if url == "memory" else "cache,redis"
            raise InvalidInputError("cache", f"needs swoogo-async[{extras}]") from None
        self.ttl, self.clock, self.stats = ttl, clock, CacheStats()
        self.shared = url != "memory"
        self.lock_ttl, self.poll = opts["lock_ttl"], opts["poll"]
        self.retry_after, self.down_until = opts["retry_after"], 0.0
        self.prefix: str = opts["prefix"]
        self.backend: Any
        if self.shared:
            limits = {
                "socket_timeout": opts["timeout"],
                "socket_connect_timeout": opts["timeout"],
                # cashews' pool makes a command wait up to 10 s for one of its connections:
                # with Redis frozen, every read would wait that long before going to Swoogo.
                "wait_for_connection_timeout": opts["timeout"],
            }
            # ``suppress=False``: failures reach ``safe``, which degrades them to misses.
            self.backend = Redis(url, suppress=False, serializer=_RawBytes(), **limits)
        else:
            self.backend = Memory(size=opts["size"], check_interval=0)
        self.namespaces: set[str] = set()
        self.flights: dict[str, asyncio.Future[tuple[bytes, Any]]] = {}
        self.refreshing: dict[str, asyncio.Future[tuple[bytes, Any]]] = {}
        self.flight_tags: dict[str, list[str]] = {}
        #: Invalidations the backend did not take (Redis away): sent before it is read again.
        self.unsent: dict[str, bytes] = {}
        self._init = asyncio.Lock()  # bound to a loop on first use, not here
        self._warned = False

    async def flush(self) -> bool:
        """Send the invalidations that failed; True once none is left."""
        if not self.unsent:
            return True
        pairs = dict(self.unsent)

        async def send() -> bool:
            await self.backend.set_many(pairs, expire=self.ttl.version_life)
            return True

        if not await self.safe(send, False):
            return False
        for key, token in pairs.items():
            if self.unsent.get(key) == token:
                del self.unsent[key]
        return not self.unsent

    async def safe(self, op: Callable[[], Awaitable[T]], default: T) -> T:
        """Run one backend operation; a failure counts, warns once and yields ``default``."""
        # After a failure, leave the backend alone a while: an outage costs reads nothing.
        if self.down_until and time.monotonic() < self.down_until:
            return default
        try:
            if not self.backend.is_init:
                async with self._init:
                    if not self.backend.is_init:
                        await self.backend.init()
            return await op()
        except Exception as exc:  # any backend failure degrades to the server
            self.stats.errors += 1
            self.down_until = time.monotonic() + self.retry_after
            if not self._warned:
                self._warned = True
                logger.warning("read cache unavailable, reading from the server: %r", exc)
            return default
