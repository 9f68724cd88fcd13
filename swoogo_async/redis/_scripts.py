"""What ``RedisSharedState`` runs inside Redis, and the errors that mean Redis did not answer.

``budget.lua`` is ``Pacer``'s rules, held equal to them by a test; its constants come
from ``_http.pacing`` so the two never drift.
"""

from __future__ import annotations

import asyncio
from importlib import resources

from redis.exceptions import RedisError

from .._http.pacing import (
    FLOOR,
    GUARD,
    HEADROOM,
    MAX_RUNS,
    MAX_WINDOW,
    MEMORY,
    PROBE_AFTER,
    PROBE_PATIENCE,
    QUIET,
    RELEASE_LAST,
    RELEASE_LAST_MAX,
    SIZED_FLOOR,
    STRAY_AFTER,
    UNLIMITED,
)

__all__ = ["BUDGET_SCRIPT", "COMPARE_AND_DELETE", "CONSTANTS", "NO_ANSWER", "TOKEN_GET"]

#: A command that fails with one of these found Redis away or slower than ``timeout``.
NO_ANSWER = (RedisError, OSError, asyncio.TimeoutError)

#: ``Pacer``'s rules in Lua (see the file for its arguments).
BUDGET_SCRIPT = resources.files("swoogo_async.redis").joinpath("budget.lua").read_text("utf-8")

TOKEN_GET = """
if redis.call('TYPE', KEYS[1]).ok ~= 'string' then return nil end
local v = redis.call('GET', KEYS[1])
if not v then return nil end
return {v, redis.call('PTTL', KEYS[1])}
"""

COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

#: The pacing constants the budget script reads after its own arguments, in order.
CONSTANTS = (
    GUARD,
    PROBE_PATIENCE,
    PROBE_AFTER,
    MAX_WINDOW,
    HEADROOM,
    MEMORY,
    STRAY_AFTER,
    UNLIMITED,
    QUIET,
    FLOOR,
    RELEASE_LAST,
    RELEASE_LAST_MAX,
    MAX_RUNS,
    SIZED_FLOOR,
)
