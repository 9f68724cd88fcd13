"""The event lease through Redis: redis-py's ``Lock``, extended while its run lives.

A Redis lease also holds this machine's file lease (``_shared.state.file_lease``), so a run
here without Redis still waits for it; with Redis away it falls back to the file lease
alone. A lease whose TTL passed while held marks the run's writes as stopped
(``_shared.state.check_lease_held``).
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
from redis.exceptions import LockNotOwnedError

from .._shared.state import LEASE_POLL, lease_held_until, lease_pause
from ._scripts import NO_ANSWER

if TYPE_CHECKING:
    from ._state import RedisSharedState

__all__ = ["redis_lease"]

logger = logging.getLogger("swoogo_async")


@contextlib.asynccontextmanager
async def redis_lease(state: RedisSharedState, name: str, wait: float) -> AsyncIterator[None]:
    """Hold the lease ``name`` through Redis (see ``RedisSharedState.lease``)."""
    state._check_bound()
    key = f"{state._keys[0].removesuffix(':token')}:lease:{name}"
    lock = state._lock(key)
    started = time.monotonic()
    try:
        # Surely held until a TTL after the attempt that took it was sent.
        until = [await _acquire(state, lock, name, wait) + state.lock_ttl]
    except NO_ANSWER as exc:
        if state.on_error == "raise":
            raise state._no_answer(type(exc).__name__) from None
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
        with contextlib.suppress(*NO_ANSWER):
            await asyncio.wait_for(lock.release(), state.timeout)


async def _acquire(state: RedisSharedState, lock: Lock, name: str, wait: float) -> float:
    """Take ``lock``; return the ``time.monotonic()`` of the attempt that took it."""
    started = time.monotonic()
    pause = LEASE_POLL[0]
    while True:
        sent = time.monotonic()
        if await asyncio.wait_for(state._take(lock), state.timeout):
            return sent
        pause = await lease_pause(name, "on this credential", started, wait, pause)


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
        except NO_ANSWER as exc:
            logger.warning("could not extend the lease %s (%s)", name, type(exc).__name__)
