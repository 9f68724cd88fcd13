"""``SwoogoClient``: one connection pool, one token, one pacer, one retry loop.

Every request of every coroutine goes through ``SwoogoClient._execute``: it takes
the shared token (no lock on the fast path), waits its turn at the shared pacer,
sends through the transport and, on failure, asks the pure ``RetryPolicy`` what
to do; ``backoff`` runs the loop. A 401 on a request that used the current token
drops that token and replays the request once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import aiohttp
import backoff
from multidict import CIMultiDict, CIMultiDictProxy

from ._auth import (
    TOKEN_FORM,
    Token,
    TokenManager,
    basic_auth_header,
    parse_token_response,
    server_clock_offset,
)
from ._endpoints import FORM, Call
from ._exceptions import (
    ClientStateError,
    InvalidInputError,
    RateLimitError,
    ReadTimeoutError,
    ResponseDecodeError,
    SwoogoError,
    TransportError,
    make_status_error,
)
from ._ratelimit import AsyncPacer, Pacer, RateLimit
from ._resources import Sessions, Speakers
from ._retry import RetryPolicy, parse_retry_after
from ._slots import Slots
from ._transport import AiohttpTransport, Request, Response, Transport

__all__ = ["DEFAULT_BASE_URL", "SwoogoClient"]

DEFAULT_BASE_URL = "https://api.swoogo.com/api/v1"
T = TypeVar("T")
logger = logging.getLogger("swoogo_async")

_NEW, _OPEN, _CLOSED = "new", "open", "closed"
CreatePolicy = Literal["reconcile", "raise"]


class _Retry(Exception):
    """Internal: the policy says try again after ``wait`` seconds."""

    def __init__(self, error: SwoogoError, wait: float) -> None:
        self.error = error
        self.wait = wait


class _CallState:
    """What one call's attempts share."""

    __slots__ = ("attempt", "call", "deadline", "decode", "replayed", "start", "url")

    def __init__(
        self, call: Call, url: str, start: float, deadline: float, decode: Callable[[Response], Any]
    ) -> None:
        self.call = call
        self.decode = decode
        self.url = url
        self.start = start
        self.deadline = deadline
        self.attempt = 0
        self.replayed = False


def _hinted_waits() -> Any:
    """A backoff wait generator that yields the wait the policy chose for each error."""
    error = yield None
    while True:
        error = yield error.wait


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError("base_url", f"must be an http(s) URL, got {base_url!r}")
    if parts.username or parts.password:
        raise InvalidInputError("base_url", "must not carry credentials")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise InvalidInputError(
            "base_url",
            "must be https for a non-loopback host (allow_insecure_http=True to override)",
        )
    return base_url.rstrip("/")


class SwoogoClient:
    """An asyncio client for the Swoogo API.

    One client shares its connection pool, OAuth token, rate-limit pacer and
    retry policy between every coroutine that uses it. Open it with
    ``async with`` (or ``await client.open()`` / ``await client.aclose()``).

    Args:
        api_key: API key; defaults to ``$SWOOGO_API_KEY``.
        api_secret: API secret; defaults to ``$SWOOGO_API_SECRET``. Never shown
            in a repr, a log line or an error.
        base_url: API root; defaults to ``$SWOOGO_BASE_URL``, then the public API.
        session: An ``aiohttp.ClientSession`` to use; the client never closes it.
        transport: A ``Transport`` to use instead of aiohttp (e.g. ``MockTransport``).
        connect_timeout: Seconds to establish a connection (per attempt).
        read_timeout: Seconds each attempt may take, from sending the request to the
            last byte of its response.
        pool_size: Maximum connections, and so requests in flight.
        retry: The ``RetryPolicy``; ``RetryPolicy()`` by default.
        rate_limit: ``"auto"`` paces by the server's rate-limit headers; a
            ``RateLimit`` sets an explicit budget; ``None`` turns pacing off.
        create_policy: What a create does when its outcome is unknown:
            ``"reconcile"`` looks the session up, ``"raise"`` raises
            ``UnknownOutcomeError`` at once.
        allow_insecure_http: Allow ``http://`` to a non-loopback host.
        reconcile_delay: Seconds to let a create that may still be committing
            settle before it is looked up.
        user_agent: Sent as ``User-Agent``.

    Raises:
        InvalidInputError: a credential is missing or the base URL is unusable.
    """

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        base_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        transport: Transport | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        pool_size: int = 100,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimit | Literal["auto"] | None = "auto",
        create_policy: CreatePolicy = "reconcile",
        allow_insecure_http: bool = False,
        reconcile_delay: float = 1.0,
        user_agent: str = "swoogo-async/0.1",
    ) -> None:
        api_key = api_key if api_key is not None else os.environ.get("SWOOGO_API_KEY")
        api_secret = api_secret if api_secret is not None else os.environ.get("SWOOGO_API_SECRET")
        if not api_key:
            raise InvalidInputError("api_key", "missing: pass api_key or set SWOOGO_API_KEY")
        if not api_secret:
            raise InvalidInputError(
                "api_secret", "missing: pass api_secret or set SWOOGO_API_SECRET"
            )
        if session is not None and transport is not None:
            raise InvalidInputError("transport", "pass either session or transport, not both")
        if pool_size < 1:
            raise InvalidInputError("pool_size", "must be at least 1")
        if create_policy not in ("reconcile", "raise"):
            raise InvalidInputError("create_policy", "must be 'reconcile' or 'raise'")
        self._api_key = api_key
        self._basic = basic_auth_header(api_key, api_secret)
        self.base_url = _check_base_url(
            base_url or os.environ.get("SWOOGO_BASE_URL") or DEFAULT_BASE_URL,
            allow_insecure_http=allow_insecure_http,
        )
        self._session = session
        self._given_transport = transport
        self._transport: Transport | None = transport
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self.pool_size = pool_size
        self.retry = retry if retry is not None else RetryPolicy()
        self.rate_limit = rate_limit
        self.create_policy: CreatePolicy = create_policy
        self.reconcile_delay = reconcile_delay
        self._user_agent = user_agent
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        self._pacer: AsyncPacer | None = (
            None
            if rate_limit is None
            else AsyncPacer(Pacer(rate_limit if isinstance(rate_limit, RateLimit) else None))
        )
        self._tokens = TokenManager(self._fetch_token)
        self._slots = Slots(pool_size)
        #: Request headers for the current token, built once per token and content type.
        self._headers_for: tuple[Token | None, dict[str | None, CIMultiDictProxy[str]]] = (
            None,
            {},
        )
        self._state = _NEW
        self._clock = time.monotonic
        self._rand = random.random
        #: Server clock minus ours, learned from the token response's Date header.
        self._server_offset = 0.0
        #: Rate-limit credits of the attempts sent (by the documented costs).
        self._credits_spent = 0
        self._retrying = backoff.on_exception(
            _hinted_waits,
            _Retry,
            max_tries=None,
            max_time=None,
            jitter=None,
            on_backoff=self._log_backoff,
            logger=None,
        )(self._attempt)
        self.sessions = Sessions(self)
        self.speakers = Speakers(self)

    def __repr__(self) -> str:
        key = self._api_key[:4] + "…" if len(self._api_key) > 4 else "…"
        return f"<SwoogoClient base_url={self.base_url!r} api_key={key!r} state={self._state}>"

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> SwoogoClient:
        """Open the client (what ``async with`` does)."""
        if self._state == _CLOSED:
            raise ClientStateError("this SwoogoClient is closed; create a new one")
        if self._state == _NEW:
            if self._transport is None:
                self._transport = AiohttpTransport(
                    self._session,
                    connect_timeout=self._connect_timeout,
                    read_timeout=self._read_timeout,
                    pool_size=self.pool_size,
                )
            self._state = _OPEN
        return self

    async def aclose(self) -> None:
        """Close the client and what it created; a given session or transport stays open."""
        if self._state == _CLOSED:
            return
        self._state = _CLOSED
        transport, self._transport = self._transport, None
        try:
            await self._tokens.aclose()
        finally:
            if transport is not None and transport is not self._given_transport:
                await transport.aclose()

    async def __aenter__(self) -> SwoogoClient:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def closed(self) -> bool:
        """Whether the client has been closed."""
        return self._state == _CLOSED

    @property
    def credits_spent(self) -> int:
        """Rate-limit credits this client's requests cost, by the documented prices.

        Every attempt handed to the transport counts (a list call 10, any other call 1,
        the token call 0), whether or not it was answered: the server may have charged it.
        """
        return self._credits_spent

    @property
    def token_fetches(self) -> int:
        """How many token fetches this client has started."""
        return self._tokens.fetches

    # -- the request pipeline -----------------------------------------------------------------

    async def _execute(
        self, call: Call, decode: Callable[[Response], T], *, deadline: float | None = None
    ) -> T:
        """Send ``call`` with auth, pacing and retries; return its decoded 2xx response.

        ``deadline`` (on ``self._clock``) ends the call earlier than the policy's own.

        ``decode`` runs inside the retry loop, so a success body that does not
        decode (``ResponseDecodeError``) is retried like any transient failure
        when the call is idempotent.
        """
        if self._state != _OPEN:
            raise ClientStateError(
                "the client is closed"
                if self._state == _CLOSED
                else "open the client first: 'async with SwoogoClient(...) as client:'"
            )
        url = (
            f"{self.base_url}{call.path}?{call.query}"
            if call.query
            else (self.base_url + call.path)
        )
        start = self._clock()
        ends = start + self.retry.deadline
        state = _CallState(
            call, url, start, ends if deadline is None else min(ends, deadline), decode
        )
        try:
            # The first attempt runs outside backoff: most calls succeed at once, and
            # backoff's per-call set-up (wait generator, clocks, details dict) is only
            # worth paying once the policy has asked for a retry.
            first: T = await self._attempt(state)
            return first
        except _Retry as retry:
            self._log_backoff({"exception": retry, "args": (state,), "wait": retry.wait})
            if retry.wait > 0:
                await asyncio.sleep(retry.wait)
        result: T = await self._retrying(state)
        return result

    async def _attempt(self, state: _CallState) -> Any:
        """Make one attempt: take a slot, pace, authenticate, send, judge the outcome."""
        state.attempt += 1
        if not state.call.cost:
            # Token fetches skip the slots: the calls holding them may be waiting on it.
            return await self._exchange(state, None)
        # Wait for a slot (FIFO) before taking the pacer's turn and the token, so a
        # request never queues inside aiohttp's pool, and carries the newest token.
        slots = self._slots
        if not slots.take_now():
            await slots.take()
        try:
            return await self._exchange(state, self._pacer)
        finally:
            slots.give()

    async def _exchange(self, state: _CallState, pacer: AsyncPacer | None) -> Any:
        """Pace, authenticate, send, and judge the outcome of one attempt."""
        call = state.call
        if pacer is not None:
            too_long = await pacer.acquire(call.cost, within=state.deadline - self._clock())
            if too_long is not None:
                # The budget is spent until after this call's deadline: say so now
                # rather than sleep past it.
                raise RateLimitError(
                    status=429,
                    method=call.method,
                    url=state.url,
                    body=None,
                    raw=b"client-side pacing: the rate-limit budget is spent past this"
                    b" call's deadline",
                    retry_after=too_long,
                )
        token: Token | None = None
        if call.cost:
            tokens = self._tokens
            token = tokens.fresh()
            if token is None:
                try:
                    token = await tokens.get()
                except BaseException:
                    if pacer is not None:
                        pacer.release(call.cost, sent=False)
                    raise
            headers = self._auth_headers(token, call.content_type)
        else:
            headers = {**self._headers, "Authorization": self._basic}
            if call.content_type is not None:
                headers["Content-Type"] = call.content_type
        remaining = state.deadline - self._clock()
        if remaining <= 0.001:
            if pacer is not None:
                pacer.release(call.cost, sent=False)
            late = ReadTimeoutError(
                "the call's deadline passed before the request was sent",
                method=call.method,
                url=state.url,
            )
            late.may_have_acted = False  # nothing left this process
            raise late
        transport = self._transport
        assert transport is not None
        request = Request(
            call.method,
            state.url,
            headers,
            call.body,
            remaining if remaining < self._read_timeout else None,
        )
        error: SwoogoError
        self._credits_spent += call.cost
        try:
            response = await transport.send(request)
        except TransportError as exc:
            if pacer is not None:
                pacer.release(call.cost, sent=exc.may_have_acted)
            error = exc
            status = 0
        except BaseException:
            if pacer is not None:
                pacer.release(call.cost, sent=True)
            raise
        else:
            status = response.status
            if status == 429:
                retry_after = parse_retry_after(response.headers)
                if pacer is not None:
                    pacer.limited(retry_after, call.cost)
                error = make_status_error(
                    status=status,
                    method=call.method,
                    url=state.url,
                    raw=response.body,
                    retry_after=retry_after,
                )
            else:
                if pacer is not None:
                    pacer.observe(response.headers, call.cost, ok=status < 300)
                if status < 300:
                    self._log_attempt(state, status, None)
                    try:
                        return state.decode(response)
                    except ResponseDecodeError as exc:
                        wait = self._verdict(state, exc)
                        if wait is None:
                            raise
                        raise _Retry(exc, wait) from None
                if status == 401 and token is not None and not state.replayed:
                    # The token died early (revoked, or expired on the server's clock):
                    # drop it, if no one has already, and replay this request once. If
                    # the replay gets a 401 too, the credentials are bad: give up.
                    state.replayed = True
                    state.attempt -= 1
                    self._tokens.invalidate(token)
                    self._log_attempt(state, status, 0.0)
                    raise _Retry(
                        make_status_error(
                            status=status, method=call.method, url=state.url, raw=response.body
                        ),
                        0.0,
                    )
                error = make_status_error(
                    status=status,
                    method=call.method,
                    url=state.url,
                    raw=response.body,
                    retry_after=parse_retry_after(response.headers) if status == 503 else None,
                )
        if status != 401:
            # Only a 401 on the replay itself is final: after any other outcome, a
            # later revocation earns this call a fresh token again.
            state.replayed = False
        wait = self._verdict(state, error)
        self._log_attempt(state, status, wait)
        if wait is None:
            raise error
        raise _Retry(error, wait)

    def _auth_headers(self, token: Token, content_type: str | None) -> Mapping[str, str]:
        """The headers for a request with ``token``, built once and shared, so read-only.

        A ``CIMultiDictProxy``: aiohttp takes a multidict as it is instead of copying a
        dict into one for every request.
        """
        cached_token, by_type = self._headers_for
        if cached_token is not token:
            by_type = {}
            self._headers_for = (token, by_type)
        headers = by_type.get(content_type)
        if headers is None:
            built = {**self._headers, "Authorization": "Bearer " + token.value}
            if content_type is not None:
                built["Content-Type"] = content_type
            headers = by_type[content_type] = CIMultiDictProxy(CIMultiDict(built))
        return headers

    def _verdict(self, state: _CallState, error: SwoogoError) -> float | None:
        """Ask the policy whether, and after how long, this call tries again."""
        return self.retry.decide(
            error,
            attempt=state.attempt,
            elapsed=self._clock() - state.start,
            idempotent=state.call.idempotent,
            rand=self._rand,
        )

    def _log_attempt(self, state: _CallState, status: int, wait: float | None) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %s attempt=%d elapsed=%.3fs wait=%s",
                state.call.method,
                state.call.path,
                status or "no response",
                state.attempt,
                self._clock() - state.start,
                "-" if wait is None else f"{wait:.3f}s",
            )

    @staticmethod
    def _log_backoff(details: Any) -> None:
        error = details["exception"].error
        state = details["args"][0]
        if details["wait"] > 0 or state.attempt > 1:
            logger.warning(
                "retrying %s %s after %s (attempt %d), waiting %.2fs",
                state.call.method,
                state.call.path,
                type(error).__name__,
                state.attempt,
                details["wait"],
            )

    async def _fetch_token(self) -> Token:
        call = Call("POST", "/oauth2/token", body=TOKEN_FORM, content_type=FORM, cost=0)
        return await self._execute(call, self._read_token)

    def _read_token(self, response: Response) -> Token:
        wall_now = time.time()
        self._server_offset = server_clock_offset(response.headers, wall_now)
        return parse_token_response(
            response.body, response.headers, now=self._clock(), wall_now=wall_now
        )
