"""``ReadCache``: the opt-in read cache, in this process or shared through Redis.

A client with a cache sends every call through ``ReadCache.execute``: a ``GET`` is looked
up (keys, tags: ``cache_rules``); a write, once sent, gives each tag it touched a new random
version. An entry holds the versions read *before* its fetch and is served only while they
are current, so a write landing during a fetch still voids it. Storage, expiry and the Redis
lock are cashews' (``cache_backend``). Single flight: misses of a key share
one fetch task; through Redis one process holds the key's lock, the others poll. What Redis
holds is untrusted: anything that does not parse or decode is a miss.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import attrs

from .._checks import check_number
from .._exceptions import ClientStateError, InvalidInputError
from .._http.options import CallOptions
from .._http.transport import Call, Parse, Send
from . import cache_rules as rules
from .cache_backend import CacheCore
from .cache_rules import CacheStats, CacheTTL
from .state import credential_id

__all__ = ["CacheStats", "CacheTTL", "ReadCache"]

T = TypeVar("T")
logger = logging.getLogger("swoogo_async")


class ReadCache:
    """An opt-in read cache for ``SwoogoClient(cache=...)``; see ``docs/caching.md``.

    Args:
        backend: ``"memory"`` (this process, the default) or a Redis URL
            (``redis://``, ``rediss://``, ``unix://``) to share entries between processes;
            the same Redis as ``RedisSharedState`` is fine (its keys are separate).
        ttl: Seconds each kind of read stays fresh (``CacheTTL``).
        size: Entries the in-memory backend keeps (least recently used go first).
        clock: Wall clock (seconds); entries are timed by it. Injected in tests.
        lock_ttl: Seconds a process's fetch lock lives in Redis if it dies holding it.
        timeout: Seconds each Redis command may take; a slower one counts as Redis away
            (generous, so a loaded machine does not turn every reader into a fetch).
        poll: Seconds between looks at Redis while another process fetches a key.
        retry_after: Seconds the backend is left alone after it failed (reads go to Swoogo).
        prefix: First part of every key.

    Raises:
        InvalidInputError: an option is unusable, or the ``cache`` extra is missing.
    """

    def __init__(
        self,
        backend: str = "memory",
        *,
        ttl: CacheTTL | None = None,
        size: int = 10_000,
        clock: Callable[[], float] = time.time,
        lock_ttl: float = 30.0,
        timeout: float = 2.0,
        poll: float = 0.01,
        retry_after: float = 5.0,
        prefix: str = "swoogo-cache",
    ) -> None:
        if backend != "memory" and not str(backend).startswith(("redis://", "rediss://", "unix:")):
            raise InvalidInputError("cache", "must be 'memory' or a redis:// URL")
        if ttl is not None and not isinstance(ttl, CacheTTL):
            raise InvalidInputError("ttl", f"expected a CacheTTL, got {type(ttl).__name__}")
        check_number("size", size, integer=True, at_least=1)
        times = {"lock_ttl": lock_ttl, "timeout": timeout, "poll": poll, "retry_after": retry_after}
        for name, value in times.items():  # finite, and > 0 but for retry_after
            check_number(name, value, at_least=0, above=None if name == "retry_after" else 0)
        self._core = CacheCore(backend, ttl or CacheTTL(), clock, size=size, prefix=prefix, **times)
        self._ns: str | None = None

    def __repr__(self) -> str:
        kind, ns = "redis" if self._core.shared else "memory", self._ns or "unbound"
        return f"<ReadCache {kind} credential={ns}>"

    @property
    def stats(self) -> CacheStats:
        """Hits, misses and credits saved in this process (shared by every binding)."""
        return self._core.stats

    def bind(self, api_key: str, *, base_url: str) -> ReadCache:
        """Return this cache seen by one credential on one server (what a client uses)."""
        view = object.__new__(ReadCache)
        view._core, view._ns = self._core, credential_id(api_key, base_url)
        self._core.namespaces.add(view._ns)
        return view

    async def drain(self) -> None:
        """Wait until the fetches and background refreshes running now have ended."""
        running = [*self._core.flights.values(), *self._core.refreshing.values()]
        await asyncio.gather(*running, return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel background refreshes and close the backend's connections."""
        core = self._core
        for flight in [*core.flights.values(), *core.refreshing.values()]:
            flight.cancel()
        if core.backend.is_init:
            # cashews closes its Redis client with redis-py's deprecated ``close()``.
            with warnings.catch_warnings(), contextlib.suppress(Exception):
                warnings.simplefilter("ignore", DeprecationWarning)
                await core.backend.close()

    async def invalidate_session(self, session_id: int, event_id: int | None) -> None:
        """Drop the cached reads of a session and its event's lists (every event's if None)."""
        await self._bump(rules.changed("s", [session_id], event_id))

    async def invalidate_speaker(self, speaker_id: int, *, event_id: int | None = None) -> None:
        """Drop the cached reads of a speaker and its event's lists (every event's if None)."""
        await self._bump(rules.changed("p", [speaker_id], event_id))

    def _key(self, ns: str, kind: str, name: str) -> str:
        return f"{self._core.prefix}:{{{ns}}}:{kind}:{name}"

    async def _bump(self, tags: Iterable[str]) -> None:
        core = self._core
        spaces = [self._ns] if self._ns is not None else sorted(core.namespaces)
        if not spaces:  # silence here would leave every process serving the old state
            raise ClientStateError("no client uses this cache yet: nothing to invalidate")
        pairs = {
            self._key(ns, "v", tag): secrets.token_hex(8).encode() for ns in spaces for tag in tags
        }
        # Readers from now on must not join a fetch sent before the write: they fetch anew.
        for key in [k for k, tags in core.flight_tags.items() if not pairs.keys().isdisjoint(tags)]:
            del core.flights[key], core.flight_tags[key]
        # An invalidation Redis did not take is kept and sent before this cache reads Redis
        # again: else the old entries would be served once Redis is back.
        core.unsent.update(pairs)
        await core.flush()

    async def execute(
        self,
        send: Send,
        call: Call,
        parse: Parse[T],
        *,
        deadline: float | None = None,
        options: CallOptions | None = None,
    ) -> T:
        """Run ``call`` through the cache; ``send`` is the client's uncached send."""
        core, ns = self._core, self._ns
        assert ns is not None, "a client binds its cache"
        run = _Run(send, call, parse, deadline)
        if not call.cost or call.method in ("HEAD", "OPTIONS"):  # the token call; other reads
            return await run.fetch()  # type: ignore[no-any-return]
        if call.method != "GET":
            result: Any = None  # a write that failed may have acted all the same
            try:
                result = await run.fetch()
                return result  # type: ignore[no-any-return]
            finally:
                await self._bump(rules.write_tags(call, result))
        kind, tags = rules.classify(call)
        ttl = getattr(core.ttl, kind)
        # A caller's own deadline marks the write machinery's lookups: they read the server.
        if deadline is not None or ttl == 0 or (options is not None and options.cache is False):
            core.stats.bypassed += 1
            return await run.fetch()  # type: ignore[no-any-return]
        max_age = options.max_age if options is not None else None
        fresh = ttl if max_age is None else min(ttl, max_age)
        key = self._key(ns, "e", rules.entry_name(call, options.headers if options else None))
        tag_keys = [self._key(ns, "v", tag) for tag in tags]
        entry = await self._read(key, tag_keys)
        if entry is not None:
            age = core.clock() - entry[0]
            is_fresh = age <= fresh and fresh > 0
            if is_fresh or (max_age is None and age <= ttl + core.ttl.grace):
                try:
                    value = run.decode(entry[1])
                except Exception:  # an entry that does not decode is a miss
                    core.stats.invalid += 1
                else:
                    core.stats.credits_saved += call.cost
                    if is_fresh:
                        core.stats.hits += 1
                    else:
                        core.stats.stale_hits += 1
                        if key not in core.refreshing:
                            self._fly(key, tag_keys, run, ttl, ttl, wait=False)
                    return value  # type: ignore[no-any-return]
        flight = core.flights.get(key)
        if flight is None:
            flight = self._fly(key, tag_keys, run, ttl, fresh, wait=True)
            body, value = await asyncio.shield(flight)
            return value  # type: ignore[no-any-return]  # this call's own parse made it
        core.stats.coalesced += 1
        core.stats.credits_saved += call.cost
        body, _ = await asyncio.shield(flight)
        return run.decode(body)  # type: ignore[no-any-return]

    async def _read(self, key: str, tag_keys: list[str]) -> tuple[float, bytes] | None:
        """Return the entry at ``key`` if it parses and its tag versions are current."""
        core = self._core
        if not await core.flush():  # entries older than an unsent invalidation: not served
            return None
        values = await core.safe(lambda: core.backend.get_many(key, *tag_keys), None)
        if not values or values[0] is None:
            return None
        entry = rules.unpack(values[0])
        if entry is None or entry[0] > core.clock() + rules.SKEW:  # "from the future": not ours
            core.stats.invalid += 1
            return None
        current = entry[1] == [rules.version(v) for v in values[1:]]
        return (entry[0], entry[2]) if current else None

    def _fly(
        self, key: str, tag_keys: list[str], run: _Run, ttl: float, fresh: float, *, wait: bool
    ) -> asyncio.Future[tuple[bytes, Any]]:
        """Start the one fetch (or refresh) of ``key`` that concurrent readers here share."""
        core = self._core
        flights = core.flights if wait else core.refreshing
        flight = asyncio.ensure_future(self._fill(key, tag_keys, run, ttl, fresh, wait=wait))
        flights[key] = flight
        if wait:
            core.flight_tags[key] = tag_keys

        def landed(done: asyncio.Future[tuple[bytes, Any]]) -> None:
            if flights.get(key) is done:
                del flights[key]
                core.flight_tags.pop(key, None)
            error = None if done.cancelled() else done.exception()
            if error is not None and not wait and not isinstance(error, (_Busy, ClientStateError)):
                logger.warning("read cache refresh failed: %r", error)

        flight.add_done_callback(landed)
        return flight

    async def _fill(
        self, key: str, tag_keys: list[str], run: _Run, ttl: float, fresh: float, *, wait: bool
    ) -> tuple[bytes, Any]:
        """Fetch ``key`` (under the Redis lock when shared) and store it; or find it stored."""
        core = self._core
        lock, holder = key.replace(":e:", ":l:", 1), secrets.token_hex(8)
        locked = False
        if core.shared:
            # Other processes may be fetching this key: only the lock holder asks the server,
            # and a holder looks once more, as another may have stored it just before.
            give_up = time.monotonic() + core.lock_ttl  # then the holder is stuck: fetch
            while not (locked := await self._lock(lock, holder)) and time.monotonic() < give_up:
                if not wait:
                    raise _Busy  # another process refreshes it; the stale entry stays
                await asyncio.sleep(core.poll)
                if found := await self._stored(key, tag_keys, run, fresh, wait):
                    return found
            if locked and (found := await self._stored(key, tag_keys, run, fresh, wait)):
                await core.safe(lambda: core.backend.unlock(lock, holder), None)
                return found
        try:
            versions = await self._versions(tag_keys)
            core.stats.misses += wait
            core.stats.refreshes += not wait
            body, value = await run.fetch(keep_body=True)
            packed = rules.pack(core.clock(), versions, body)
            life = ttl + core.ttl.grace
            # Not over a newer entry: a write detached this fetch, or a version is unknown.
            if "?" not in versions and (
                not wait or core.flights.get(key) is asyncio.current_task()
            ):
                await core.safe(lambda: core.backend.set(key, packed, expire=life), None)
            return body, value
        finally:
            if locked:
                await core.safe(lambda: core.backend.unlock(lock, holder), None)

    async def _stored(
        self, key: str, tag_keys: list[str], run: _Run, fresh: float, wait: bool
    ) -> tuple[bytes, Any] | None:
        """Return the entry another process stored, if it is fresh enough and decodes."""
        entry, core = await self._read(key, tag_keys), self._core
        if entry is None or fresh <= 0 or core.clock() - entry[0] > fresh:
            return None
        try:
            found = entry[1], run.decode(entry[1])
        except Exception:  # what another process stored is untrusted too
            core.stats.invalid += 1
            return None
        core.stats.coalesced += wait
        core.stats.credits_saved += run.call.cost if wait else 0
        return found

    async def _versions(self, tag_keys: list[str]) -> list[str]:
        """Read the current version of each tag, giving a version to a tag that has none.

        A missing version never means "unchanged": one lost to eviction or expiry
        leaves its entries unservable rather than older than a write.
        """
        core = self._core
        values = await core.safe(lambda: core.backend.get_many(*tag_keys), None)
        if values and None in values:
            set_nx = functools.partial(core.backend.set, exist=False, expire=core.ttl.version_life)
            for tag_key, value in zip(tag_keys, values, strict=True):
                if value is None:
                    token = secrets.token_hex(8).encode()
                    await core.safe(functools.partial(set_nx, tag_key, token), None)
            values = await core.safe(lambda: core.backend.get_many(*tag_keys), None)
        return [rules.version(v) for v in values] if values else ["?"] * len(tag_keys)

    async def _lock(self, lock: str, holder: str) -> bool:
        core = self._core
        # Redis away: fetch as if holding the lock rather than wait for one that never comes.
        return bool(
            await core.safe(lambda: core.backend.set_lock(lock, holder, core.lock_ttl), True)
        )


class _Busy(Exception):
    """Another process holds the refresh lock: this background refresh just ends."""


@attrs.define
class _Run:
    """One call as the client would send it without a cache."""

    send: Send
    call: Call
    parse: Parse[Any]
    deadline: float | None

    def decode(self, body: bytes) -> Any:
        """Parse a stored body as the call's own response would be."""
        call = self.call
        where = f"{call.path}?{call.query}" if call.query else call.path
        return self.parse(body, method=call.method, url=where)

    async def fetch(self, *, keep_body: bool = False) -> Any:
        parse = functools.partial(_with_body, self.parse) if keep_body else self.parse
        return await self.send(self.call, parse, deadline=self.deadline)


def _with_body(parse: Parse[Any], raw: bytes, *, method: str, url: str) -> tuple[bytes, Any]:
    return raw, parse(raw, method=method, url=url)
