"""What clients on one credential must agree on, wherever they run.

Swoogo grants one token stream and one rate budget per API credential, however
many processes use it. ``SharedState`` is the seam: the token (get, set with
expiry, compare-and-delete, a refresh lock so exactly one holder fetches) and the
budget (``Pacer``'s rules on state everyone sees, a 429 blocking everyone).

A client without ``shared=`` keeps both in-process (``TokenManager`` and
``Pacer`` on their own, no awaits added). ``LocalSharedState`` is the same state
behind the protocol: several clients of one process share its token and its one
``Pacer`` per credential (driven directly, without a second copy of the rules), and
``swoogo_async.redis.RedisSharedState`` falls back to it when Redis is away.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Protocol

from .._http.auth import TokenStore
from .._http.pacer import AsyncPacer
from .._http.pacing import DEFAULT_RESERVE, Pacer, RateLimit

__all__ = ["LocalSharedState", "SharedState", "credential_id"]


def credential_id(api_key: str, base_url: str) -> str:
    """Return a short, stable name for a credential on one server that does not reveal the key.

    Two servers may accept one API key (staging and production): each has its own
    tokens and its own budget, so the server is part of the name.
    """
    return hashlib.sha256(f"{base_url}\n{api_key}".encode()).hexdigest()[:16]


class SharedState(TokenStore, Protocol):
    """Token and rate budget shared by every client on one credential."""

    def bind(self, api_key: str, rate_limit: RateLimit | None, *, base_url: str) -> SharedState:
        """Return the state for ``api_key``'s credential on ``base_url`` (what one client uses)."""

    def pacer(self) -> AsyncPacer:
        """Return a pacer for one client that follows this (bound) state's budget."""

    async def aclose(self) -> None:
        """Close what this state opened itself (not a connection it was given)."""


class LocalSharedState:
    """``SharedState`` in this process's memory.

    Args:
        clock: Monotonic clock; injected so tests can move time.
        reserve: Share of the budget's rate held back for interactive calls beyond the
            interactive demand seen (see ``Pacer``); 0 by default.
        lock_ttl: Seconds the refresh lock lasts if its holder never releases it.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        reserve: float = DEFAULT_RESERVE,
        lock_ttl: float = 30.0,
    ) -> None:
        self._clock = clock
        self._reserve = reserve
        self._lock_ttl = lock_ttl
        self._bound: dict[str, LocalSharedState] = {}
        #: The credential's budget in this process: every client bound here drives it.
        self.budget = Pacer(reserve=reserve)
        self._token: tuple[str, float] | None = None  # value, due at
        self._lock: tuple[str, float] | None = None  # holder, expires at

    def __repr__(self) -> str:
        return f"<LocalSharedState credentials={len(self._bound)}>"

    def bind(
        self, api_key: str, rate_limit: RateLimit | None, *, base_url: str
    ) -> LocalSharedState:
        """Return the state for ``api_key``'s credential on ``base_url`` (one per pair)."""
        name = credential_id(api_key, base_url)
        state = self._bound.get(name)
        if state is None:
            state = LocalSharedState(
                clock=self._clock, reserve=self._reserve, lock_ttl=self._lock_ttl
            )
            state.budget = Pacer(rate_limit, reserve=self._reserve)
            self._bound[name] = state
        return state

    def pacer(self) -> AsyncPacer:
        """Return a pacer for one client that drives this state's ``Pacer`` directly."""
        return AsyncPacer(self.budget, clock=self._clock)

    async def aclose(self) -> None:
        """Nothing to close."""

    # -- token ---------------------------------------------------------------------------

    async def token_get(self) -> tuple[str, float] | None:
        """Return the shared token and the seconds until it is due, if there is one."""
        if self._token is None:
            return None
        value, due = self._token
        left = due - self._clock()
        return (value, left) if left > 0 else None

    async def token_set(self, value: str, ttl: float) -> None:
        """Share ``value`` for ``ttl`` seconds."""
        self._token = (value, self._clock() + ttl)

    async def token_delete(self, value: str) -> None:
        """Delete the shared token if it is still ``value``."""
        if self._token is not None and self._token[0] == value:
            self._token = None

    async def refresh_lock(self) -> str | None:
        """Take the refresh lock; None if another holder has it."""
        now = self._clock()
        if self._lock is not None and self._lock[1] > now:
            return None
        holder = secrets.token_hex(8)
        self._lock = (holder, now + self._lock_ttl)
        return holder

    async def refresh_unlock(self, lock: str) -> None:
        """Release ``lock`` if it is still ours."""
        if self._lock is not None and self._lock[0] == lock:
            self._lock = None
