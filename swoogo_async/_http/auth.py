"""OAuth client-credentials tokens: the token request and response, the server's clock
offset, and ``TokenManager``, which shares one token (fetched once) between coroutines."""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime as dt
import email.utils
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol
from urllib.parse import quote_plus

import attrs

from .._exceptions import AuthenticationError, ClientStateError, ResponseDecodeError
from .._json import loads
from .hooks import cancelled_by_caller

__all__ = [
    "MAX_TRUSTED_OFFSET",
    "TOKEN_FORM",
    "Token",
    "TokenManager",
    "TokenStore",
    "basic_auth_header",
    "parse_token_response",
    "read_server_offset",
    "trusted_offset",
    "usable_token",
]

TOKEN_FORM = b"grant_type=client_credentials"
DOCUMENTED_LIFETIME = 1800.0  # "Tokens expire after 30 minutes."
MAX_LIFETIME = 86400.0
MAX_TOKEN_LENGTH = 8192
#: A ``Date`` further off is more likely wrong (a cached answer) than the server's time.
MAX_TRUSTED_OFFSET = 300.0


def basic_auth_header(api_key: str, api_secret: str) -> str:
    """Return the Basic header value: each part URL-encoded before base64."""
    raw = f"{quote_plus(api_key)}:{quote_plus(api_secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@attrs.frozen(slots=True, eq=False)
class Token:
    """An access token (never in a repr) and the monotonic times it is due and expires."""

    value: str = attrs.field(repr=False)
    refresh_at: float
    expires_at: float

    def due(self, now: float) -> bool:
        return now >= self.refresh_at


def parse_token_response(
    body: bytes, headers: Mapping[str, str], *, now: float, wall_now: float, margin: float = 60.0
) -> Token:
    """Read a token response into a ``Token`` on the monotonic clock ``now``: it lives until
    ``expires_at`` (UTC, against the server's ``Date``, else ``wall_now``; absurd: 30 minutes),
    due ``margin`` s (at most a tenth) early. No usable token: ``ResponseDecodeError``, no body."""
    try:
        payload: Any = loads(body)
        value = payload["access_token"]
    except (ValueError, KeyError, TypeError):
        raise _withheld(b"not a valid token response") from None
    if usable_token(value) is None:
        raise _withheld(b"access_token empty or not a header value")
    expires_wall = _read_expires_at(payload.get("expires_at"))
    reference = wall_now + (read_server_offset(headers, wall_now) or 0.0)
    lifetime = DOCUMENTED_LIFETIME if expires_wall is None else expires_wall - reference
    if not 0.0 < lifetime <= MAX_LIFETIME:  # the zone was read differently from ours
        lifetime = DOCUMENTED_LIFETIME
    early = max(min(margin, lifetime * 0.1), 0.05)
    return Token(value=value, refresh_at=now + lifetime - early, expires_at=now + lifetime)


def usable_token(value: object) -> str | None:
    """Return ``value`` if it is fit for an ``Authorization`` header, else None."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")  # a character per byte: non-ASCII is refused below
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TOKEN_LENGTH:
        return None
    return value if value.isascii() and value.isprintable() and value.strip() == value else None


def _read_expires_at(value: object) -> float | None:
    """Read ``expires_at`` as a UTC timestamp: the documented form, or ISO 8601."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    # fromisoformat does not load _strptime; strptime reads what only it reads (2026-5-1 9:00).
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


def trusted_offset(offset: float | None) -> float | None:
    """Return ``offset`` if a lookup may rely on it (read, and within the bound), else None."""
    return offset if offset is not None and abs(offset) <= MAX_TRUSTED_OFFSET else None


def read_server_offset(headers: Mapping[str, str], wall_now: float) -> float | None:
    """Return the server's clock minus ours from a ``Date`` header, or None without one."""
    try:
        return email.utils.parsedate_to_datetime(headers.get("Date", "")).timestamp() - wall_now
    except (TypeError, ValueError, OverflowError):
        return None


class TokenStore(Protocol):
    """Where clients on one credential share the token (never the secret), e.g. Redis:
    ``token_get`` gives it and the seconds until it is due; ``token_delete``/``refresh_unlock``
    delete only their own value; ``refresh_lock`` is None while another holds the expiring lock."""

    async def token_get(self) -> tuple[str, float] | None: ...
    async def token_set(self, value: str, ttl: float) -> None: ...
    async def token_delete(self, value: str) -> None: ...
    async def refresh_lock(self) -> str | None: ...
    async def refresh_unlock(self, lock: str) -> None: ...


class TokenManager:
    """Hold the client's one token, from ``fetch`` or ``store`` (shared between processes),
    refreshed once at a time. A 401 for the token is final: every later ``get`` raises it."""

    def __init__(self, fetch: Callable[[], Awaitable[Token]], *, store: TokenStore | None) -> None:
        self._fetch = fetch
        self.clock: Callable[[], float] = time.monotonic  # tests replace it to move time
        self._store = store
        #: The token in use, if any: callers may read it as data while it is not due.
        self.current: Token | None = None
        self._closed = False
        self._inflight: asyncio.Task[Token] | None = None
        self._denied: AuthenticationError | None = None
        self._dead: str | None = None  # a token a 401 proved dead, to drop from the store
        self.fetches = 0

    async def get(self) -> Token:
        """Return a fresh token, fetching one (once, for every waiter) if needed; raise
        ``ClientStateError`` if the client closed while this caller waited for the fetch."""
        token = self.current
        if token is not None and not token.due(self.clock()):
            return token
        if self._denied is not None:
            raise copy.copy(self._denied)  # a fresh traceback each time
        task = self._inflight
        if task is None:
            task = self._inflight = asyncio.ensure_future(self._run_fetch())
            # If every waiter is cancelled, nobody reads a failure: read it here.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        try:
            # Shield: one waiter being cancelled must not cancel the fetch the others share.
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if self._closed and not cancelled_by_caller():  # aclose() cancelled the fetch
                closed = "the client was closed while this call waited for a token"
                raise ClientStateError(closed) from None
            raise

    async def _run_fetch(self) -> Token:
        try:
            fetch = self._fetch_counted() if self._store is None else self._via_store(self._store)
            token = self.current = await fetch
            return token
        except AuthenticationError as exc:
            self._denied = exc  # the credentials are refused: asking again cannot help
            raise
        finally:
            self._inflight = None

    async def _fetch_counted(self) -> Token:
        self.fetches += 1
        return await self._fetch()

    async def _via_store(self, store: TokenStore) -> Token:
        """Take the shared token, or be the one process that fetches it."""
        dead, self._dead = self._dead, None
        if dead is not None:
            await store.token_delete(dead)
        while True:
            token = await self._shared_token(store)
            if token is not None:
                return token
            lock = await store.refresh_lock()
            if lock is not None:
                try:
                    # Re-check: the previous holder may have shared one just now.
                    token = await self._shared_token(store)
                    if token is None:
                        token = await self._fetch_counted()
                        await store.token_set(token.value, token.refresh_at - self.clock())
                    return token
                finally:
                    await store.refresh_unlock(lock)
            # Another process is fetching; if it dies, its lock expires and one of us takes over.
            await asyncio.sleep(0.05)

    async def _shared_token(self, store: TokenStore) -> Token | None:
        found = await store.token_get()
        if found is None:
            return None
        value, ttl = usable_token(found[0]), found[1]  # untrusted: malformed is no token
        if value is None or not 0.0 < ttl <= MAX_LIFETIME:
            return None
        now = self.clock()
        return Token(value=value, refresh_at=now + ttl, expires_at=now + ttl)

    def invalidate(self, token: Token) -> None:
        """Drop ``token`` (a 401 proved it dead) here and in the store, if still current."""
        if self.current is token:
            self.current = None
            self._dead = token.value

    async def aclose(self) -> None:
        self._closed = True
        task, self._inflight = self._inflight, None
        self.current = None
        if task is not None and not task.done():
            task.cancel()
            # wait() neither raises the fetch's error nor swallows our own cancellation.
            await asyncio.wait([task])


def _withheld(why: bytes) -> ResponseDecodeError:
    raw = b"(token response withheld: " + why + b")"
    return ResponseDecodeError(status=200, method="POST", url="/oauth2/token", body=None, raw=raw)
