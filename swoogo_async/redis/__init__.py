"""``RedisSharedState``: one token and one rate budget for every process on a credential.

Install with ``pip install "swoogo-async[redis]"`` and pass
``SwoogoClient(shared=RedisSharedState(redis.asyncio.Redis(...)))``, or set
``SWOOGO_REDIS_URL`` for every client and the CLI.

- Token: stored with a TTL that ends when it is due for refresh. One process fetches
  (redis-py's ``Lock``: a holder that dies releases by TTL). A 401 deletes the shared
  token only if it is still the one that failed. Only the access token is stored,
  never the secret.
- Budget: ``Pacer``'s rules in one Lua script on a hash (``budget.lua``), timed by
  Redis' ``TIME``, so every change is atomic and worker clocks do not matter.
  Interactive demand is kept beside the budget, so bulk work in every process leaves
  interactive calls their share.
- Untrusted values: whatever Redis holds under these keys is checked when read; a
  malformed token, budget field or lock is treated as absent.
- Leases (``lease(name)``, one writer per event): redis-py's ``Lock`` with a TTL of
  ``lock_ttl``, extended while held (``_lease.py``).
- Keys: ``swoogo:{<sha256(base URL, api key)[:16]>}:...``, one Cluster hash slot per
  credential and server (staging and production never share a token or a budget).
- Redis down or slow: each command is bounded by ``timeout``. With
  ``on_error="fallback"`` (the default) the client carries on with in-process state
  (one WARNING) and, every ``retry_after`` seconds, one command asks whether Redis is
  back (the others stay in-process meanwhile); with
  ``on_error="raise"`` the call fails with ``SharedStateError``. Never a hang.

Importing this package imports redis-py: without the extra it raises
``ModuleNotFoundError`` naming ``redis`` and the extra. ``import swoogo_async`` never imports it.
"""

try:
    import redis.asyncio  # noqa: F401  (the extra: what the modules below import)
except ModuleNotFoundError as exc:
    if (exc.name or "").partition(".")[0] != "redis":
        raise
    raise ModuleNotFoundError(
        "swoogo_async.redis needs redis-py: pip install 'swoogo-async[redis]'", name="redis"
    ) from None

from ._scripts import BUDGET_SCRIPT
from ._state import RedisSharedState

__all__ = ["BUDGET_SCRIPT", "RedisSharedState"]
