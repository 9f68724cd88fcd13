"""``SharedState``: the token, budget and leases of one credential, wherever its clients run;
``LocalSharedState`` keeps them in this process (leases: OS file locks), ``redis/`` in Redis."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Protocol

from .._exceptions import LeaseBusyError, SharedStateError
from .._http.auth import TokenStore
from .._http.pacer import AsyncPacer
from .._http.pacing import DEFAULT_RESERVE, Pacer, RateLimit

__all__ = [
    "DEFAULT_LEASE_WAIT",
    "LEASE_POLL",
    "LocalSharedState",
    "SharedState",
    "check_lease_held",
    "credential_id",
    "file_lease",
    "lease_held_until",
    "lease_pause",
]

#: Seconds a sync waits for its event's lease before ``LeaseBusyError``.
DEFAULT_LEASE_WAIT = 60.0
#: Seconds between two tries of a lease another holder has: first, and at most.
LEASE_POLL = (0.05, 0.5)

#: The expiring lease (a Redis lock) this task writes under: name, monotonic time held until.
_HELD: ContextVar[tuple[str, list[float]] | None] = ContextVar("swoogo_lease", default=None)
_NONE = ("", -math.inf)  # no token, no refresh lock


@contextlib.contextmanager
def lease_held_until(name: str, until: list[float]) -> Iterator[None]:
    """Mark this task's writes (and its child tasks') as made under ``name`` until
    ``until[0]``, which the lease's keeper moves on, or to -inf when the lease is lost."""
    token = _HELD.set((name, until))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):  # left from another context: nothing to undo
            _HELD.reset(token)


def check_lease_held() -> None:
    """Raise ``LeaseBusyError`` once this task's lease may have passed to another run: one
    stalled past its lease's TTL (a frozen VM) must not write what it planned from its read."""
    held = _HELD.get()
    if held is not None and time.monotonic() >= held[1][0]:
        raise LeaseBusyError(
            f"the lease {held[0]} expired while this run held it (was it stalled?); another"
            " run may be writing: this row was not sent",
            name=held[0],
            waited=0.0,
        )


def credential_id(api_key: str, base_url: str) -> str:
    """Return a short, stable name of a key on one server that does not reveal the key."""
    return hashlib.sha256(f"{base_url}\n{api_key}".encode()).hexdigest()[:16]


class SharedState(TokenStore, Protocol):
    """Token, rate budget and leases shared by every client on one credential. The token
    methods are ``TokenStore``'s: ``token_get``, ``token_set``, ``token_delete``,
    ``refresh_lock`` and ``refresh_unlock``."""

    def bind(self, api_key: str, rate_limit: RateLimit | None, *, base_url: str) -> SharedState:
        """Return the state for ``api_key``'s credential on ``base_url`` (what one client uses)."""

    def pacer(self) -> AsyncPacer:
        """Return a pacer for one client that follows this (bound) state's budget."""

    async def aclose(self) -> None:
        """Close what this state opened itself (not a connection it was given)."""

    def lease(self, name: str, *, wait: float) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold the lease ``name`` of this credential, in every process, inside the block.

        Raises:
            LeaseBusyError: another holder kept it for ``wait`` seconds.
        """


class LocalSharedState:
    """``SharedState`` in this process's memory: its clients share the token and drive one
    ``Pacer`` per credential; leases are this machine's file locks. ``RedisSharedState``
    falls back to it while Redis is away.

    Args:
        clock: Monotonic clock; injected so tests can move time.
        reserve: Share of the rate held back for interactive calls beyond their demand (``Pacer``).
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
        self.budget = Pacer(reserve=reserve)  # every client bound here drives it
        self._token = self._lock = _NONE  # (value, due at), (holder, expires at)
        self._lease_scope = "unbound"  # the credential the leases belong to (set by bind)

    def __repr__(self) -> str:
        return f"<LocalSharedState credentials={len(self._bound)}>"

    def bind(
        self, api_key: str, rate_limit: RateLimit | None, *, base_url: str
    ) -> LocalSharedState:
        name = credential_id(api_key, base_url)
        if name not in self._bound:
            state = LocalSharedState(
                clock=self._clock, reserve=self._reserve, lock_ttl=self._lock_ttl
            )
            state.budget = Pacer(rate_limit, reserve=self._reserve)
            state._lease_scope = name
            self._bound[name] = state
        return self._bound[name]

    def pacer(self) -> AsyncPacer:
        return AsyncPacer(self.budget, clock=self._clock)

    async def aclose(self) -> None:
        """Nothing to close."""

    async def token_get(self) -> tuple[str, float] | None:
        value, due = self._token
        left = due - self._clock()
        return (value, left) if left > 0 else None

    async def token_set(self, value: str, ttl: float) -> None:
        self._token = (value, self._clock() + ttl)

    async def token_delete(self, value: str) -> None:
        if self._token[0] == value:
            self._token = _NONE

    async def refresh_lock(self) -> str | None:
        now = self._clock()
        if self._lock[1] > now:
            return None
        self._lock = (secrets.token_hex(8), now + self._lock_ttl)
        return self._lock[0]

    async def refresh_unlock(self, lock: str) -> None:
        if self._lock[0] == lock:
            self._lock = _NONE

    def lease(self, name: str, *, wait: float) -> contextlib.AbstractAsyncContextManager[None]:
        return file_lease(self._lease_scope, name, wait=wait)


try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: leases cover this process only
    fcntl = None  # type: ignore[assignment]
_HELD_HERE: set[Path] = set()  # used where fcntl is missing


def _try_lock(fd: int, path: Path) -> bool:
    if fcntl is None:  # pragma: no cover - Windows
        free = path not in _HELD_HERE
        _HELD_HERE.add(path)
        return free
    with contextlib.suppress(BlockingIOError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    return False


def _unlock(fd: int, path: Path) -> None:
    if fcntl is None:  # pragma: no cover - Windows
        _HELD_HERE.discard(path)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)


async def lease_pause(name: str, where: str, started: float, wait: float, pause: float) -> float:
    """Wait ``pause`` before the next try at a busy lease; return the pause after that.
    ``LeaseBusyError`` once ``wait`` seconds have passed since ``started`` (monotonic)."""
    left = started + wait - time.monotonic()
    if left <= 0:
        raise LeaseBusyError(
            f"{name} is held by another run {where} (waited {wait:g} s)", name=name, waited=wait
        )
    await asyncio.sleep(min(pause, left))
    return min(pause * 2, LEASE_POLL[1])


@contextlib.asynccontextmanager
async def file_lease(scope: str, name: str, *, wait: float) -> AsyncIterator[None]:
    """Hold ``flock`` on ``name`` of ``scope`` inside the block (the OS drops it however its
    holder exits); the file, in ``$SWOOGO_LEASE_DIR`` or the temporary folder, goes on release."""
    folder = os.environ.get("SWOOGO_LEASE_DIR") or tempfile.gettempdir()
    user = getattr(os, "getuid", lambda: "user")()
    digest = hashlib.sha256(f"{scope}\n{name}".encode()).hexdigest()[:24]
    path = Path(folder) / f"swoogo-async-lease-{user}-{digest}.lock"
    started = time.monotonic()
    pause = LEASE_POLL[0]
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as exc:  # a missing or unwritable folder, a planted symlink
            raise SharedStateError(
                f"cannot open the lease file {path} ($SWOOGO_LEASE_DIR):"
                f" {exc.strerror or type(exc).__name__}"
            ) from None
        if _try_lock(fd, path):
            with contextlib.suppress(FileNotFoundError):
                if os.fstat(fd).st_ino == os.stat(path).st_ino:
                    break
            _unlock(fd, path)  # a releasing holder deleted this file: open the new one
            os.close(fd)
        else:
            os.close(fd)
            pause = await lease_pause(name, "on this machine", started, wait, pause)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        _unlock(fd, path)
        os.close(fd)
