"""OAuth client-credentials tokens: pure helpers plus one single-flight manager.

The pure part builds the token request and reads the response; a ``Token`` knows
whether it is due for refresh at a given time. ``TokenManager`` shares one token
between every coroutine of a client: the fast path (a fresh token) takes no lock
and awaits nothing; the slow path starts at most one fetch, which every waiter
shares, however many there are.
"""

from __future__ import annotations

import asyncio
import base64
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
_MIN_MARGIN = 0.05
DOCUMENTED_LIFETIME = 1800.0  # "Tokens expire after 30 minutes."
MAX_LIFETIME = 86400.0
MAX_TOKEN_LENGTH = 8192


def basic_auth_header(api_key: str, api_secret: str) -> str:
    """Return the Basic header value: each part URL-encoded before base64."""
    raw = f"{quote_plus(api_key)}:{quote_plus(api_secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@attrs.frozen(slots=True, eq=False)
class Token:
    """An access token and the monotonic time at which it should be replaced.

    The value never appears in a repr.
    """

    value: str = attrs.field(repr=False)
    refresh_at: float
    expires_at: float

    def due(self, now: float) -> bool:
        """Whether the token should be replaced at monotonic time ``now``."""
        return now >= self.refresh_at


def parse_token_response(
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float,
    wall_now: float,
    margin: float = 60.0,
) -> Token:
    """Read a token response into a ``Token`` timed on the monotonic clock.

    The lifetime is ``expires_at`` (UTC, no offset; there is no ``expires_in``)
    minus the server's ``Date`` header when present, else minus our wall clock,
    so a skewed local clock does not make a token look fresh or stale. An
    ``expires_at`` that is missing or unreadable (ISO 8601 with an offset is read)
    means the documented 30 minutes: a valid ``access_token`` is never wasted. The
    token is refreshed ``margin`` seconds early, or a tenth of its lifetime if shorter.

    Raises:
        ResponseDecodeError: when the body has no ``access_token``. The body is
            not kept in the error: it would carry the token.
    """
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
    if not 0.0 < lifetime <= MAX_LIFETIME:
        # An expires_at in the past or absurdly far ahead means the zone was read
        # differently from ours: trust the documented lifetime (and a 401 replay).
        lifetime = DOCUMENTED_LIFETIME
    early = max(min(margin, lifetime * 0.1), _MIN_MARGIN)
    return Token(value=value, refresh_at=now + lifetime - early, expires_at=now + lifetime)


def usable_token(value: object) -> str | None:
    """Return ``value`` as a token fit for an ``Authorization`` header, else None.

    A token is printable ASCII without surrounding spaces: anything else (bytes that
    are not UTF-8, a control character such as CR or LF) would be refused only when a
    request is built, so a value read from a shared store is checked here instead.
    """
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str) or not value or len(value) > MAX_TOKEN_LENGTH:
        return None
    if not value.isascii() or not value.isprintable() or value.strip() != value:
        return None
    return value


def _read_expires_at(value: object) -> float | None:
    """Read ``expires_at`` as a UTC timestamp: the documented form, or ISO 8601."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    # ``fromisoformat`` reads the documented form as ``strptime`` does, without loading
    # ``_strptime``; ``strptime`` is left the forms only it reads (``2026-5-1 9:00:00``).
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


def _retrieve(task: asyncio.Task[Token]) -> None:
    if not task.cancelled():
        task.exception()


#: The largest server clock offset, in seconds, a lookup relies on: a ``Date`` further off
#: is more likely wrong (a cached answer, a broken proxy) than the server's own time.
MAX_TRUSTED_OFFSET = 300.0


def trusted_offset(offset: float | None) -> float | None:
    """Return ``offset`` if a lookup may rely on it (read, and within the bound), else None."""
    return offset if offset is not None and abs(offset) <= MAX_TRUSTED_OFFSET else None


def read_server_offset(headers: Mapping[str, str], wall_now: float) -> float | None:
    """Return the server's clock minus ours from a ``Date`` header, or None without one."""
    value = headers.get("Date")
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() - wall_now
    except (TypeError, ValueError, OverflowError):
        return None


class TokenStore(Protocol):
    """Where clients on one credential keep the token they share (e.g. Redis).

    Only the access token is stored, never the secret.
    """

    async def token_get(self) -> tuple[str, float] | None:
        """Return the shared token and the seconds until it is due, if there is one."""

    async def token_set(self, value: str, ttl: float) -> None:
        """Share ``value`` for ``ttl`` seconds."""

    async def token_delete(self, value: str) -> None:
        """Delete the shared token if it is still ``value`` (compare-and-delete)."""

    async def refresh_lock(self) -> str | None:
        """Take the lock that lets one holder fetch a token; None if another holds it.

        The lock expires by itself, so a holder that dies cannot keep it.
        """

    async def refresh_unlock(self, lock: str) -> None:
        """Release ``lock`` if it is still ours (compare-and-delete)."""


#: Seconds between looks at the store while another process fetches the token.
STORE_POLL = 0.05


class TokenManager:
    """Hold the client's one token and refresh it at most once at a time.

    A 401 from the token endpoint is final: the credentials are wrong, and every
    later ``get`` raises the same ``AuthenticationError`` at once, without a request.

    Args:
        fetch: Coroutine function that obtains a new token (retries included).
        clock: Monotonic clock; injected so tests can move time.
        store: Shares the token with other clients (processes); None keeps it here.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Token]],
        *,
        clock: Callable[[], float] = time.monotonic,
        store: TokenStore | None = None,
    ) -> None:
        self._fetch = fetch
        self.clock = clock
        self._store = store
        #: The token in use, if any; fresh while ``clock() < current.refresh_at``.
        self.current: Token | None = None
        self._closed = False
        self._inflight: asyncio.Task[Token] | None = None
        self._denied: AuthenticationError | None = None
        self._dead: str | None = None  # a token a 401 proved dead, to drop from the store
        self.fetches = 0

    async def get(self) -> Token:
        """Return a fresh token, fetching one (once, for every waiter) if needed.

        The fast path needs no call: a caller may read ``current`` and compare its
        ``refresh_at`` with ``clock()`` itself, and call this only when it is due.

        Raises:
            ClientStateError: the client closed while this caller waited for the fetch.
        """
        token = self.current
        if token is not None and not token.due(self.clock()):
            return token
        try:
            return await self._refresh()
        except asyncio.CancelledError:
            if self._closed and not cancelled_by_caller():
                # aclose() cancelled the shared fetch, not this caller.
                raise ClientStateError(
                    "the client was closed while this call waited for a token"
                ) from None
            raise

    async def _refresh(self) -> Token:
        denied = self._denied
        if denied is not None:
            raise AuthenticationError(
                status=denied.status,
                method=denied.method,
                url=denied.url,
                body=denied.body,
                raw=denied.raw,
            )
        task = self._inflight
        if task is None:
            # Re-check: a fetch may have finished between the fast path and here.
            token = self.current
            if token is not None and not token.due(self.clock()):
                return token
            task = self._inflight = asyncio.ensure_future(self._run_fetch())
            # If every waiter is cancelled, nobody reads a failure: read it here.
            task.add_done_callback(_retrieve)
        # Shield: one waiter being cancelled must not cancel the fetch the others share.
        return await asyncio.shield(task)

    async def _run_fetch(self) -> Token:
        try:
            token = await (self._fetch_counted() if self._store is None else self._via_store())
            self.current = token
            return token
        except AuthenticationError as exc:
            # The token endpoint refused the credentials: asking again cannot help.
            self._denied = exc
            raise
        finally:
            self._inflight = None

    async def _fetch_counted(self) -> Token:
        self.fetches += 1
        return await self._fetch()

    async def _via_store(self) -> Token:
        """Take the shared token, or be the one process that fetches it."""
        store = self._store
        assert store is not None
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
            # Another process is fetching: look again shortly. If it dies, its lock
            # expires and one of us takes over.
            await asyncio.sleep(STORE_POLL)

    async def _shared_token(self, store: TokenStore) -> Token | None:
        found = await store.token_get()
        if found is None:
            return None
        # What the store holds is untrusted: a malformed token is no token.
        value, ttl = usable_token(found[0]), found[1]
        if value is None or not 0.0 < ttl <= MAX_LIFETIME:
            return None
        now = self.clock()
        return Token(value=value, refresh_at=now + ttl, expires_at=now + ttl)

    def invalidate(self, token: Token) -> None:
        """Drop ``token`` if it is still the current one (a 401 proved it dead)."""
        if self.current is token:
            self.current = None
            # The shared copy goes too, but only if it is still this very token.
            self._dead = token.value

    async def aclose(self) -> None:
        """Cancel a fetch in flight and forget the token."""
        self._closed = True
        task, self._inflight = self._inflight, None
        self.current = None
        if task is not None and not task.done():
            task.cancel()
            # wait() neither raises the fetch's error nor swallows our own cancellation.
            await asyncio.wait([task])


def _withheld(why: bytes) -> ResponseDecodeError:
    """The error for an unusable token response; the body is never kept (it may hold a token)."""
    return ResponseDecodeError(
        status=200,
        method="POST",
        url="/oauth2/token",
        body=None,
        raw=b"(token response withheld: " + why + b")",
    )
