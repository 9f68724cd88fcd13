"""``SwoogoClient``: one connection pool, one token, one pacer, one retry loop.

This module holds the options and the lifecycle; the request path every call takes
is ``_Pipeline`` (``_pipeline.py``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random
import time
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit

import aiohttp

from .._api.endpoints import FORM
from .._checks import check_instance, check_number
from .._exceptions import ClientStateError, InvalidInputError
from .._http.auth import TokenManager, basic_auth_header
from .._http.hooks import RequestHook, ResponseHook, check_hooks
from .._http.pacer import AsyncPacer
from .._http.pacing import Pacer, RateLimit
from .._http.pipeline import CLOSED, NEW, OPEN, _Pipeline
from .._http.retry import RetryPolicy
from .._http.transport import DEFAULT_MAX_RESPONSE_BYTES, AiohttpTransport, Headers, Transport
from .._shared.state import SharedState
from .._version import __version__
from .sessions import Sessions
from .speakers import Speakers
from .surface import _Surface

__all__ = ["DEFAULT_BASE_URL", "SwoogoClient"]

DEFAULT_BASE_URL = "https://api.swoogo.com/api/v1"
CreatePolicy = Literal["reconcile", "raise"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    if not isinstance(base_url, str):
        raise InvalidInputError("base_url", f"must be an http(s) URL, got {base_url!r}")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError("base_url", f"must be an http(s) URL, got {base_url!r}")
    if parts.username or parts.password:
        raise InvalidInputError("base_url", "must not carry credentials")
    if "?" in base_url or "#" in base_url:
        # Paths are appended to it: a query or fragment would swallow them.
        raise InvalidInputError("base_url", "must not carry a ?query or #fragment")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise InvalidInputError(
            "base_url",
            "must be https for a non-loopback host (allow_insecure_http=True to override)",
        )
    return base_url.rstrip("/")


def _check_user_agent(user_agent: str) -> str:
    if not isinstance(user_agent, str) or any(c < " " or c == "\x7f" for c in user_agent):
        raise InvalidInputError("user_agent", "must be text without control characters (CR, LF)")
    return user_agent


#: What a ``shared=`` object must provide: every method of the ``SharedState`` protocol.
_SHARED_METHODS = tuple(name for name in dir(SharedState) if not name.startswith("_"))


def _check_options(
    *,
    api_key: object,
    api_secret: object,
    connect_timeout: object,
    read_timeout: object,
    pool_size: object,
    max_response_bytes: object,
    reconcile_delay: object,
    retry: object,
    rate_limit: object,
    create_policy: object,
    shared: object,
) -> tuple[str, str]:
    """Return the credentials; refuse an unusable option, naming it, before any is used."""
    for name, value, env in (("api_key", api_key, "KEY"), ("api_secret", api_secret, "SECRET")):
        if value is None or value == "":
            raise InvalidInputError(name, f"missing: pass {name} or set SWOOGO_API_{env}")
        check_instance(name, value, str)
    check_number("connect_timeout", connect_timeout, above=0)
    check_number("read_timeout", read_timeout, above=0)
    check_number("pool_size", pool_size, integer=True, at_least=1)
    check_number("max_response_bytes", max_response_bytes, integer=True, at_least=1)
    # A NaN or infinite delay would leave an uncertain create never looked up.
    check_number("reconcile_delay", reconcile_delay, at_least=0)
    if retry is not None:
        check_instance("retry", retry, RetryPolicy)
    if rate_limit not in ("auto", None) and not isinstance(rate_limit, RateLimit):
        raise InvalidInputError(
            "rate_limit", f"must be 'auto', a RateLimit or None, got {rate_limit!r}"
        )
    if create_policy not in ("reconcile", "raise"):
        raise InvalidInputError("create_policy", "must be 'reconcile' or 'raise'")
    if shared is not None:
        missing = [name for name in _SHARED_METHODS if not callable(getattr(shared, name, None))]
        if missing:
            raise InvalidInputError(
                "shared",
                f"must be a SharedState (e.g. RedisSharedState); {type(shared).__name__}"
                f" has no {', '.join(missing)}",
            )
    return api_key, api_secret  # type: ignore[return-value]  # both checked to be str


def _redis_from_env(url: str) -> SharedState:
    """Return the Redis shared state ``$SWOOGO_REDIS_URL`` names."""
    try:
        from ..redis import RedisSharedState  # the optional extra: import only when asked
    except ImportError:
        raise InvalidInputError(
            "SWOOGO_REDIS_URL", "needs the redis extra: pip install 'swoogo-async[redis]'"
        ) from None
    try:
        return RedisSharedState.from_url(url)
    except ValueError as exc:
        raise InvalidInputError("SWOOGO_REDIS_URL", str(exc)) from None


class SwoogoClient(_Pipeline, _Surface):
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
        max_response_bytes: Largest response body the client reads; a larger one
            raises ``ResponseTooLargeError`` (16 MiB by default).
        shared: Where the token and the rate budget live when several clients
            (processes) use one credential, e.g. ``RedisSharedState(redis)``;
            defaults to Redis at ``$SWOOGO_REDIS_URL`` when set, else this client alone.
        on_request: A callable, or a list of them, called with a ``RequestInfo``
            just before each request goes out (sync or async; what it raises is
            logged and ignored).
        on_response: The same, called with a ``ResponseInfo`` for each response,
            error statuses included.

    Raises:
        InvalidInputError: a credential is missing or not text, or the base URL, the
            user agent or another option is unusable (a timeout, size or delay that
            is not a finite number in range; a ``retry``, ``rate_limit`` or ``shared``
            of the wrong kind); the error names the option.
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
        user_agent: str = f"swoogo-async/{__version__}",
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        shared: SharedState | None = None,
        on_request: RequestHook | list[RequestHook] | None = None,
        on_response: ResponseHook | list[ResponseHook] | None = None,
    ) -> None:
        api_key = api_key if api_key is not None else os.environ.get("SWOOGO_API_KEY")
        api_secret = api_secret if api_secret is not None else os.environ.get("SWOOGO_API_SECRET")
        api_key, api_secret = _check_options(
            api_key=api_key,
            api_secret=api_secret,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            pool_size=pool_size,
            max_response_bytes=max_response_bytes,
            reconcile_delay=reconcile_delay,
            retry=retry,
            rate_limit=rate_limit,
            create_policy=create_policy,
            shared=shared,
        )
        if session is not None and transport is not None:
            raise InvalidInputError("transport", "pass either session or transport, not both")
        self._on_request = check_hooks("on_request", on_request)
        self._on_response = check_hooks("on_response", on_response)
        self._seen_headers = {}
        #: Tells this client's entries of ``last_response`` apart from another's.
        self._owner = object()
        #: A client has no per-call options of its own; its views do.
        self._options = None
        self._api_key = api_key
        self.base_url = _check_base_url(
            base_url or os.environ.get("SWOOGO_BASE_URL") or DEFAULT_BASE_URL,
            allow_insecure_http=allow_insecure_http,
        )
        base = {"User-Agent": _check_user_agent(user_agent), "Accept": "application/json"}
        self._base_headers = base
        self._basic_headers = Headers(
            {**base, "Authorization": basic_auth_header(api_key, api_secret), "Content-Type": FORM}
        )
        #: Request headers for the current token, built once per token and content type.
        self._bearer_headers = (None, {})
        self._session = session
        self._given_transport = transport
        self._transport = transport
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_response_bytes = max_response_bytes
        self.pool_size = pool_size
        self.retry = retry if retry is not None else RetryPolicy()
        self.rate_limit = rate_limit
        self.create_policy: CreatePolicy = create_policy
        self.reconcile_delay = reconcile_delay
        explicit = rate_limit if isinstance(rate_limit, RateLimit) else None
        self._owned_shared = shared is None and bool(os.environ.get("SWOOGO_REDIS_URL"))
        if self._owned_shared:
            shared = _redis_from_env(os.environ["SWOOGO_REDIS_URL"])
        self._shared = (
            None if shared is None else shared.bind(api_key, explicit, base_url=self.base_url)
        )
        self._pacer = (  # budget: the shared state says how its budget is paced
            None
            if rate_limit is None
            else AsyncPacer(Pacer(explicit))
            if self._shared is None
            else self._shared.pacer()
        )
        self._tokens = TokenManager(self._fetch_token, store=self._shared)
        # FIFO (asyncio's semaphore hands a freed slot to the longest waiter): bounds the
        # requests in flight to the pool, so none queues inside aiohttp's pool.
        self._slots = asyncio.Semaphore(pool_size)
        self._state = NEW
        self._loop = None
        self._clock = time.monotonic
        self._rand = random.random
        self._server_offset = None
        #: Rate-limit credits of the attempts sent (by the documented costs).
        self._credits_spent = 0
        #: The retry loop for idempotent calls and for the others, under the policy's deadline.
        self._retrying = {}
        self.sessions = Sessions(self)
        self.speakers = Speakers(self)

    def _root(self) -> SwoogoClient:
        return self

    def __repr__(self) -> str:
        key = self._api_key[:4] + "…" if len(self._api_key) > 4 else "…"
        return f"<SwoogoClient base_url={self.base_url!r} api_key={key!r} state={self._state}>"

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> SwoogoClient:
        """Open the client (what ``async with`` does)."""
        if self._state == CLOSED:
            raise ClientStateError("this SwoogoClient is closed; create a new one")
        if self._state == OPEN:
            self._check_loop()
            return self
        self._loop = asyncio.get_running_loop()
        if self._transport is None:
            self._transport = AiohttpTransport(
                self._session,
                connect_timeout=self._connect_timeout,
                read_timeout=self._read_timeout,
                pool_size=self.pool_size,
                max_response_bytes=self._max_response_bytes,
            )
        self._retrying = {
            idem: self._retry_loop(idem, self.retry.deadline) for idem in (True, False)
        }
        self._state = OPEN
        return self

    async def aclose(self) -> None:
        """Close the client and what it created; a given session or transport stays open.

        Calls still running then raise ``ClientStateError`` (a create whose outcome
        is unknown still raises ``UnknownOutcomeError``).
        """
        if self._state == CLOSED:
            return
        if self._state == OPEN:
            self._check_loop()
        self._state = CLOSED
        transport, self._transport = self._transport, None
        try:
            await self._tokens.aclose()
            if self._pacer is not None:
                await self._pacer.aclose()
            if self._owned_shared and self._shared is not None:
                await self._shared.aclose()
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
        return self._state == CLOSED

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
