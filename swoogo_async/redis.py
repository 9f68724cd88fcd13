"""``RedisSharedState``: one token and one rate budget for every process on a credential.

Install with ``pip install "swoogo-async[redis]"`` and pass
``SwoogoClient(shared=RedisSharedState(redis.asyncio.Redis(...)))``, or set
``SWOOGO_REDIS_URL`` for every client and the CLI.

- Token: stored with a TTL that ends when it is due for refresh. One process fetches
  (lock: ``SET NX PX`` with a random value, released by compare-and-delete; a holder
  that dies releases by TTL). A 401 deletes the shared token only if it is still the
  one that failed. Only the access token is stored, never the secret.
- Budget: ``Pacer``'s rules in one Lua script on a hash, timed by Redis' ``TIME``, so
  every change is atomic and worker clocks do not matter.
- Keys: ``swoogo:{<sha256(api key)[:16]>}:...``, one Cluster hash slot per credential.
- Redis down or slow: each command is bounded by ``timeout``. With
  ``on_error="fallback"`` (the default) the client carries on with in-process state
  (one WARNING) and tries Redis again after ``retry_after`` seconds; with
  ``on_error="raise"`` the call fails with ``SharedStateError``. Never a hang.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from ._exceptions import SharedStateError
from ._ratelimit import (
    GUARD,
    MAX_WINDOW,
    PROBE_AFTER,
    PROBE_PATIENCE,
    RateHeaders,
    RateLimit,
)
from ._shared import LocalSharedState, credential_id

__all__ = ["BUDGET_SCRIPT", "RedisSharedState"]

T = TypeVar("T")
logger = logging.getLogger("swoogo_async")

#: ``Pacer``'s rules on a Redis hash. ARGV: operation, the time (< 0: Redis' own
#: clock), the budget's settings and ``Pacer``'s constants, then the operation's
#: arguments. Unknown values are -1, as ``None`` is in ``Pacer``.
BUDGET_SCRIPT = """
local k = KEYS[1]
local now = tonumber(ARGV[2])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local RES, BURST, XC, XW = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]),
  tonumber(ARGV[6])
local GUARD, PATIENCE, PROBE_AFTER, MAXW = tonumber(ARGV[7]), tonumber(ARGV[8]),
  tonumber(ARGV[9]), tonumber(ARGV[10])
local f = redis.call('HMGET', k, 'limit', 'window', 'avail', 'reset_at', 'tat', 'inflight',
  'blocked', 'probe_at', 'probe_until', 'unpaced', 'spacing', 'guessed')
local limit = tonumber(f[1]) or (XC > 0 and XC or -1)
local window = tonumber(f[2]) or (XC > 0 and XW or -1)
local avail = tonumber(f[3]) or (XC > 0 and XC or 0)
local reset_at = tonumber(f[4]) or -1
local tat = tonumber(f[5]) or 0
local inflight = tonumber(f[6]) or 0
local blocked = tonumber(f[7]) or 0
local probe_at = tonumber(f[8]) or 0
local probe_until = tonumber(f[9]) or 0
local unpaced = tonumber(f[10]) or 0
local spacing = tonumber(f[11]) or 0
local guessed = tonumber(f[12]) or 0
local op = ARGV[1]
local ok, delay = 1, 0
if op == 'reserve' then
  local cost, within, bulk = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
  if unpaced == 1 then
    ok = 1
  elseif limit < 0 or now < blocked then
    local opens = math.max(probe_at, probe_until)
    if now < opens then
      ok = 0
      delay = math.min(opens, blocked > 0 and blocked or opens) - now
    else
      probe_until = now + PATIENCE
      inflight = inflight + cost
    end
  else
    if reset_at >= 0 and now >= reset_at + GUARD then
      avail = limit
      reset_at = window > 0 and now + window or -1
      guessed = 1
      tat = now
    end
    if avail < cost then
      if reset_at < 0 then reset_at = now + (window > 0 and window or 1) end
      ok = 0
      delay = math.max(reset_at - now, 0) + GUARD
    else
      local rate = -1
      if XC > 0 then
        rate = XC / XW
      elseif bulk == 0 or avail - cost >= limit * RES then
        avail = avail - cost
        inflight = inflight + cost
      else
        local e = reset_at >= 0 and reset_at or now + (window > 0 and window or 1)
        rate = avail / math.max(e - math.max(tat, now), 0.001)
      end
      if rate > 0 then
        local t = math.max(tat, now)
        local interval = 1 / rate
        local tau = math.max(limit * BURST, 1) * interval
        delay = math.max(t - tau - now, 0)
        if delay > within then
          ok = 0
        else
          tat = t + cost * interval
          spacing = interval
          avail = avail - cost
          inflight = inflight + cost
        end
      end
    end
  end
elseif op == 'observe' then
  local lh, rem, rst, cost, good = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]),
    tonumber(ARGV[14]), tonumber(ARGV[15])
  inflight = math.max(inflight - cost, 0)
  probe_until = 0
  if lh < 0 then
    if good == 1 and limit < 0 and XC == 0 then unpaced = 1 end
  else
    unpaced = 0
    if blocked > 0 and rem > 0 then
      blocked = 0
      reset_at = -1
    end
    if XC == 0 then
      limit = lh
      window = math.min(math.max(window, rst, 1), MAXW)
    end
    local ra = now + math.min(rst, MAXW)
    if reset_at < 0 or ra > reset_at + 1 then
      reset_at = ra
      avail = rem - inflight
      tat = math.min(tat, now)
    else
      if guessed == 1 then reset_at = ra else reset_at = math.min(reset_at, ra) end
      avail = math.min(avail, rem - inflight)
    end
    guessed = 0
  end
elseif op == 'limited' then
  local ra, cost = tonumber(ARGV[11]), tonumber(ARGV[12])
  inflight = math.max(inflight - cost, 0)
  probe_until = 0
  unpaced = 0
  avail = 0
  local wait = ra >= 0 and ra or (window > 0 and window or 1)
  wait = math.min(wait, MAXW)
  if window < 0 then window = math.max(wait, 1) end
  reset_at = now + wait
  blocked = reset_at
  probe_at = now + math.min(wait, PROBE_AFTER)
elseif op == 'release' then
  local cost, sent = tonumber(ARGV[11]), tonumber(ARGV[12])
  inflight = math.max(inflight - cost, 0)
  probe_until = 0
  if sent == 0 then
    avail = avail + cost
    tat = math.max(tat - cost * spacing, 0)
  end
end
local function s(x) return string.format('%.17g', x) end
redis.call('HSET', k, 'limit', s(limit), 'window', s(window), 'avail', s(avail),
  'reset_at', s(reset_at), 'tat', s(tat), 'inflight', s(inflight), 'blocked', s(blocked),
  'probe_at', s(probe_at), 'probe_until', s(probe_until), 'unpaced', s(unpaced),
  'spacing', s(spacing), 'guessed', s(guessed))
redis.call('PEXPIRE', k, math.floor(2 * MAXW * 1000))
return {ok, s(delay), s(avail)}
"""

_TOKEN_GET = """
local v = redis.call('GET', KEYS[1])
if not v then return nil end
return {v, redis.call('PTTL', KEYS[1])}
"""

_COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_CONSTANTS = (GUARD, PROBE_PATIENCE, PROBE_AFTER, MAX_WINDOW)
_INF = 1e18  # ``within`` for Lua, which has no infinity literal


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisSharedState:
    """``SharedState`` in Redis, for several processes on one credential.

    Args:
        redis: A ``redis.asyncio.Redis`` client; the caller closes it.
        on_error: ``"fallback"`` (default): when Redis fails, use in-process state,
            log one WARNING and try Redis again after ``retry_after``;
            ``"raise"``: raise ``SharedStateError``.
        timeout: Seconds each Redis command may take.
        retry_after: Seconds to stay on in-process state after Redis failed.
        lock_ttl: Seconds the token refresh lock lives if its holder dies.
        reserve: Fraction of each window bulk work leaves to interactive calls.
        prefix: First part of every key.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        on_error: Literal["fallback", "raise"] = "fallback",
        timeout: float = 0.5,
        retry_after: float = 30.0,
        lock_ttl: float = 30.0,
        reserve: float = 0.1,
        prefix: str = "swoogo",
    ) -> None:
        if on_error not in ("fallback", "raise"):
            raise ValueError("on_error must be 'fallback' or 'raise'")
        self.redis = redis
        self.on_error = on_error
        self.timeout = timeout
        self.retry_after = retry_after
        self.lock_ttl = lock_ttl
        self.reserve_fraction = reserve
        self.prefix = prefix
        self.owns_redis = False
        self._budget = redis.register_script(BUDGET_SCRIPT)
        self._token_get = redis.register_script(_TOKEN_GET)
        self._cad = redis.register_script(_COMPARE_AND_DELETE)
        self._local = LocalSharedState(reserve=reserve, lock_ttl=lock_ttl)
        self._down_until = 0.0
        self._keys: tuple[str, str, str] | None = None
        self._config: tuple[float, float, int, float] = (reserve, 0.05, 0, 0.0)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisSharedState:
        """Connect to ``url`` (``redis://host:port/db``); the state closes that connection."""
        timeout = float(options.get("timeout", 0.5))
        client = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        state = cls(client, **options)
        state.owns_redis = True
        return state

    def __repr__(self) -> str:
        return f"<RedisSharedState prefix={self.prefix!r} on_error={self.on_error!r}>"

    def bind(self, api_key: str, rate_limit: RateLimit | None) -> RedisSharedState:
        """Return the state for ``api_key``'s credential."""
        bound = RedisSharedState(
            self.redis,
            on_error=self.on_error,
            timeout=self.timeout,
            retry_after=self.retry_after,
            lock_ttl=self.lock_ttl,
            reserve=self.reserve_fraction,
            prefix=self.prefix,
        )
        bound.owns_redis = self.owns_redis
        bound._local = self._local.bind(api_key, rate_limit)
        tag = f"{self.prefix}:{{{credential_id(api_key)}}}"
        bound._keys = (f"{tag}:token", f"{tag}:lock", f"{tag}:budget")
        if rate_limit is not None:
            bound._config = (
                self.reserve_fraction,
                rate_limit.burst,
                rate_limit.credits,
                rate_limit.window,
            )
        return bound

    async def aclose(self) -> None:
        """Close the Redis connection if ``from_url`` opened it."""
        if self.owns_redis:
            await self.redis.aclose()

    # -- every command goes through here -------------------------------------------------

    async def _call(
        self, remote: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]
    ) -> T:
        if self._keys is None:
            raise RuntimeError("RedisSharedState must be bound to a credential (bind())")
        if self._down_until > time.monotonic():
            return await local()
        try:
            return await asyncio.wait_for(remote(), self.timeout)
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            reason = type(exc).__name__
        if self.on_error == "raise":
            raise SharedStateError(f"Redis did not answer in {self.timeout}s ({reason})")
        if self._down_until == 0.0:
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
            assert self._keys is not None
            found = await self._token_get(keys=[self._keys[0]])
            if not found or int(found[1]) <= 0:
                return None
            return _text(found[0]), int(found[1]) / 1000.0

        return await self._call(remote, self._local.token_get)

    async def token_set(self, value: str, ttl: float) -> None:
        """Share ``value`` for ``ttl`` seconds."""

        async def remote() -> None:
            assert self._keys is not None
            await self.redis.set(self._keys[0], value, px=max(int(ttl * 1000), 1))

        await self._call(remote, lambda: self._local.token_set(value, ttl))

    async def token_delete(self, value: str) -> None:
        """Delete the shared token if it is still ``value``."""

        async def remote() -> None:
            assert self._keys is not None
            await self._cad(keys=[self._keys[0]], args=[value])

        await self._call(remote, lambda: self._local.token_delete(value))

    async def refresh_lock(self) -> str | None:
        """Take the refresh lock (``SET NX PX``); None if another process holds it."""
        holder = secrets.token_hex(16)

        async def remote() -> str | None:
            assert self._keys is not None
            taken = await self.redis.set(
                self._keys[1], holder, nx=True, px=max(int(self.lock_ttl * 1000), 1)
            )
            return holder if taken else None

        return await self._call(remote, self._local.refresh_lock)

    async def refresh_unlock(self, lock: str) -> None:
        """Release ``lock`` if it is still ours (compare-and-delete)."""

        async def remote() -> None:
            assert self._keys is not None
            await self._cad(keys=[self._keys[1]], args=[lock])

        await self._call(remote, lambda: self._local.refresh_unlock(lock))

    # -- budget --------------------------------------------------------------------------

    async def run_script(self, op: str, *args: float, now: float = -1.0) -> tuple[bool, float]:
        """Run one budget operation in Redis; ``now`` replaces Redis' clock (tests)."""
        assert self._keys is not None
        reply = await self._budget(
            keys=[self._keys[2]],
            args=[op, repr(now), *map(repr, (*self._config, *_CONSTANTS, *args))],
        )
        return bool(int(reply[0])), float(_text(reply[1]))

    async def reserve(self, cost: int, *, within: float, bulk: bool) -> tuple[bool, float]:
        """Try to reserve ``cost`` credits (see ``Pacer.reserve``)."""
        limit = within if math.isfinite(within) else _INF
        return await self._call(
            lambda: self.run_script("reserve", cost, limit, int(bulk)),
            lambda: self._local.reserve(cost, within=within, bulk=bulk),
        )

    async def observe(self, rate: RateHeaders | None, cost: int, *, ok: bool) -> None:
        """Fold a response's rate-limit headers into the shared budget."""
        limit, remaining, reset = rate if rate is not None else (-1, 0, 0)
        await self._call(
            lambda: self.run_script("observe", limit, remaining, reset, cost, int(ok)),
            lambda: self._local.observe(rate, cost, ok=ok),
        )

    async def limited(self, retry_after: float | None, cost: int) -> None:
        """Block every process until the 429's reset (capped)."""
        wait = -1.0 if retry_after is None else retry_after
        await self._call(
            lambda: self.run_script("limited", wait, cost),
            lambda: self._local.limited(retry_after, cost),
        )

    async def release(self, cost: int, *, sent: bool) -> None:
        """Forget a reservation that got no response."""
        await self._call(
            lambda: self.run_script("release", cost, int(sent)),
            lambda: self._local.release(cost, sent=sent),
        )
