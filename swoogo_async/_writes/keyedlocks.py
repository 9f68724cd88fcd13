"""One lock per key, for the creates a lookup could confuse (see ``reconcile.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Any

__all__ = ["KeyedLocks"]


class KeyedLocks:
    """One lock per key, alive only while someone holds or waits for it.

    Nearly every create has a key of its own, so the lock is usually free: it is then
    held without an ``asyncio.Lock`` at all, and one is made only when a second user
    of the key arrives.
    """

    def __init__(self) -> None:
        self._locks: dict[Hashable, list[Any]] = {}  # key -> [None | _ALONE | Lock, users]

    def __len__(self) -> int:
        return len(self._locks)

    def hold(self, key: Hashable) -> _Held:
        """Return an async context manager that holds the lock for ``key``."""
        return _Held(self._locks, key)


# Held by one user, with no ``asyncio.Lock`` made for it.
_ALONE = object()


class _Held:
    """``async with locks.hold(key)``: a class, not a generator, on the create path."""

    __slots__ = ("_entry", "_key", "_locks")

    def __init__(self, locks: dict[Hashable, list[Any]], key: Hashable) -> None:
        self._locks = locks
        self._key = key
        entry = locks.get(key)
        if entry is None:
            entry = locks[key] = [None, 0]
        entry[1] += 1
        self._entry = entry

    async def __aenter__(self) -> None:
        entry = self._entry
        lock = entry[0]
        if lock is None:  # free: take it, nothing to wait on
            entry[0] = _ALONE
            return
        try:
            if lock is _ALONE:
                # Held without a lock: make one, taken on the holder's behalf (a free
                # lock is taken without suspending), and wait on it.
                lock = entry[0] = asyncio.Lock()
                await lock.acquire()
            await lock.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, *exc: object) -> None:
        entry = self._entry
        lock = entry[0]
        if lock is _ALONE:
            entry[0] = None
        else:
            lock.release()
        self._leave()

    def _leave(self) -> None:
        entry = self._entry
        entry[1] -= 1
        if entry[1] == 0:
            del self._locks[self._key]
