"""The event lease through Redis: redis-py's ``Lock``, extended while its run lives.

A Redis lease also holds this machine's file lease (``state.file_lease``), so a run
here without Redis still waits for it; with Redis away it falls back to the file lease
alone. A lease whose TTL passed while held marks the run's writes as stopped
(``state.check_lease_held``). Imported only by ``swoogo_async.redis`` (the redis extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from redis.asyncio.lock import Lock
from redis.exceptions import LockNotOwnedError, RedisError

from .._exceptions import LeaseBusyError, SharedStateError
from .state import lease_held_until

if TYPE_CHECKING:
    from ..redis import RedisSharedState

__all__ = ["redis_lease"]

logger = logging.getLogger("swoogo_async")


@contextlib.asynccontextmanager
async def redis_lease(state: RedisSharedState, name: str, wait: float) -> AsyncIterator[None]:
    """Hold the lease ``name`` through Redis (see ``RedisSharedState.lease``)."""
    if not state._keys[0]:
        raise RuntimeError("RedisSharedState must be bound to a credential (bind())")
    key = f"{state._keys[0].removesuffix(':token')}:lease:{name}"
    lock = Lock(state.redis, key, timeout=state.lock_ttl, thread_local=False)
    started = time.monotonic()
    try:
        # Surely held until a TTL after the attempt that took it was sent.
        until = [await _acquire(state, lock, name, wait) + state.lock_ttl]
    except (RedisError, OSError, asyncio.TimeoutError) as exc:
        if state.on_error == "raise":
            raise SharedStateError(
                f"Redis did not answer in {state.timeout}s ({type(exc).__name__})"
            ) from None
        logger.warning(
            "Redis unreachable (%s): the lease %s covers this machine only",
            type(exc).__name__,
            name,
        )
        async with state._local.lease(name, wait=wait):
            yield
        return
    keeper = asyncio.create_task(_keep(state, lock, name, until))
    try:
        # The machine's lease too: a run here without Redis (or whose Redis fell
        # away) takes only that one, and must still wait for this run.
        left = max(0.0, started + wait - time.monotonic())
        async with state._local.lease(name, wait=left):
            with lease_held_until(name, until):
                yield
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        # A lease that cannot be released now expires by its TTL.
        with contextlib.suppress(RedisError, OSError, asyncio.TimeoutError):
            await asyncio.wait_for(lock.release(), state.timeout)


async def _acquire(state: RedisSharedState, lock: Lock, name: str, wait: float) -> float:
    """Take ``lock``; return the ``time.monotonic()`` of the attempt that took it."""
    started = time.monotonic()
    pause = 0.05
    while True:
        sent = time.monotonic()
        if await asyncio.wait_for(state._take(lock), state.timeout):
            return sent
        left = started + wait - time.monotonic()
        if left <= 0:
            raise LeaseBusyError(
                f"{name} is held by another run on this credential (waited {wait:g} s)",
                name=name,
                waited=wait,
            )
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, 0.5)


async def _keep(state: RedisSharedState, lock: Lock, name: str, until: list[float]) -> None:
    """Extend the lease's TTL while it is held, so a long run keeps it."""
    while True:
        await asyncio.sleep(state.lock_ttl / 3)
        sent = time.monotonic()
        try:
            await asyncio.wait_for(lock.reacquire(), state.timeout)
            until[0] = max(until[0], sent + state.lock_ttl)
        except LockNotOwnedError:
            until[0] = -math.inf  # the run's writes stop (check_lease_held)
            logger.error("the lease %s expired while held: the run stops writing", name)
            return
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            logger.warning("could not extend the lease %s (%s)", name, type(exc).__name__)
