"""What a request is at each step (``Call``, ``Parse``, ``Request``, ``Response``), and the one
I/O seam, ``Transport.send(Request) -> Response``: over aiohttp, or a function in tests."""

from __future__ import annotations

import asyncio
import collections
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Protocol, TypeVar, runtime_checkable

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from .._exceptions import (
    ConnectError,
    ConnectionLostError,
    InvalidInputError,
    ReadTimeoutError,
    ResponseTooLargeError,
    TransportError,
)

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "FORM",
    "JSON",
    "AiohttpTransport",
    "Call",
    "Headers",
    "MockTransport",
    "Parse",
    "Request",
    "Response",
    "Send",
    "Slots",
    "Transport",
    "check_id",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

FORM: Final = "application/x-www-form-urlencoded"
JSON: Final = "application/json"
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
_CHUNK = 64 * 1024


@attrs.frozen(slots=True)
class Call:
    """What to send, before the base URL and credentials are added."""

    method: str
    path: str
    query: str = ""
    body: bytes | None = attrs.field(default=None, repr=False)
    content_type: str | None = None
    cost: int = 1
    idempotent: bool = True


def check_id(name: str, value: Any) -> int:
    """Return ``value`` if it is a positive int id (of a path or query), else raise naming it."""
    if type(value) is not int or value <= 0:
        raise InvalidInputError(name, f"must be a positive integer, got {value!r}")
    return value


class Parse(Protocol[T_co]):
    """Reads a 2xx body (``parse_session``, a ``parse_page`` partial); ``method`` and ``url``
    are the request's, for the errors it raises."""

    def __call__(self, raw: bytes, *, method: str, url: str) -> T_co: ...


class Send(Protocol):
    """A client's ``send``: its options and read cache bound, as resources call it."""

    async def __call__(
        self, call: Call, parse: Parse[T], *, deadline: float | None = None
    ) -> T: ...


class Headers(CIMultiDictProxy[str]):
    """Read-only request headers whose repr hides ``Authorization``: tracebacks capture every
    frame's locals (Sentry's by default), and the credentials travel only inside this."""

    __slots__ = ()

    def __init__(self, items: Mapping[str, str]) -> None:
        super().__init__(CIMultiDict(items))

    def __repr__(self) -> str:
        shown = {k: "***" if k.lower() == "authorization" else v for k, v in self.items()}
        return f"Headers({shown!r})"

    def __copy__(self) -> Headers:
        return self  # read-only: a copy would be the same


@attrs.frozen(slots=True)
class Request:
    """An HTTP request, fully built: nothing is added to it on the way out. ``timeout``
    (seconds), if set, replaces the transport's read timeout for this request."""

    method: str
    url: str
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    body: bytes | None = attrs.field(default=None, repr=False)
    timeout: float | None = None


@attrs.frozen(slots=True)
class Response:
    """An HTTP response, body read in full."""

    status: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)


@runtime_checkable
class Transport(Protocol):
    """Sends one request and returns its complete response, or raises ``TransportError``;
    ``aclose`` releases what the transport owns."""

    async def send(self, request: Request) -> Response: ...
    async def aclose(self) -> None: ...


class Slots:
    """The pool's slots (requests in flight), handed to waiters in arrival order: an
    ``asyncio.Semaphore`` without its cost for a free slot (``locked()`` scans its waiters)."""

    __slots__ = ("_waiters", "free")

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def wait(self) -> None:
        if self.free:  # free only while nobody waits
            self.free -= 1
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.release()  # handed a slot, then cancelled: it passes on
            raise  # a cancelled waiter stays queued; ``release`` skips it

    def release(self) -> None:
        while self._waiters:
            future = self._waiters.popleft()
            if not future.done():
                future.set_result(None)
                return
        self.free += 1


class MockTransport:
    """A transport that calls ``handler(request)`` (sync or async) instead of the network."""

    def __init__(self, handler: Callable[[Request], Response | Awaitable[Response]]) -> None:
        self._handler = handler

    async def send(self, request: Request) -> Response:
        """Return what the handler returns for ``request``."""
        result = self._handler(request)
        if inspect.isawaitable(result):
            result = await result
        headers = CIMultiDictProxy(CIMultiDict(result.headers))  # names are case-insensitive
        return Response(result.status, headers, result.body)

    async def aclose(self) -> None:
        """Nothing to release."""


class AiohttpTransport:
    """A transport over one shared ``aiohttp.ClientSession``. Redirects are never followed, so
    credentials never leave for another host.

    Args:
        session: A session to use; the transport never closes one it was given.
        connect_timeout: Seconds to establish a connection.
        read_timeout: Seconds each request may take, from sending it to the last
            byte of its response (``Request.timeout`` replaces it for one request).
        pool_size: Maximum connections, and so requests in flight.
        max_response_bytes: Largest response body read; a larger one raises
            ``ResponseTooLargeError`` without being read.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        pool_size: int = 100,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if max_response_bytes < 1:
            raise ValueError("max_response_bytes must be at least 1")
        self._given_session = session
        self._session: aiohttp.ClientSession | None = session
        self._closed = False
        self._pool_size = pool_size
        self._max_bytes = max_response_bytes
        self._timeout = aiohttp.ClientTimeout(total=read_timeout, sock_connect=connect_timeout)

    async def send(self, request: Request) -> Response:
        """Send ``request``; translate aiohttp failures into ``TransportError``."""
        method, url = request.method, request.url
        if self._closed:
            raise ConnectError("the transport is closed", method=method, url=url)
        session = self._session
        if session is None:  # made on first use, inside the running loop
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
            session = self._session = aiohttp.ClientSession(connector=connector)
        timeout = self._timeout
        if request.timeout is not None and request.timeout != timeout.total:
            timeout = aiohttp.ClientTimeout(
                total=request.timeout, sock_connect=timeout.sock_connect
            )
        try:
            async with session.request(
                method,
                url,
                headers=request.headers,
                data=request.body,
                allow_redirects=False,
                timeout=timeout,
            ) as resp:
                length = resp.content_length
                if length is not None and length <= self._max_bytes:
                    return Response(resp.status, resp.headers, await resp.read())
                if length is None:  # read in chunks, refused as soon as it is past the limit
                    body = bytearray()
                    async for chunk in resp.content.iter_chunked(_CHUNK):
                        body += chunk
                        if len(body) > self._max_bytes:
                            break
                    else:
                        return Response(resp.status, resp.headers, bytes(body))
                limit, status = self._max_bytes, resp.status
                raise ResponseTooLargeError(method=method, url=url, status=status, limit=limit)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error = _translate(exc, method, url, timeout.total)
        # Raised outside the except block: aiohttp's exceptions can carry the request's
        # headers (Authorization included) in their repr, so they are never chained.
        raise error

    async def aclose(self) -> None:
        """Close the session if this transport made it; no new one is opened after."""
        self._closed = True
        if self._given_session is None and self._session is not None:
            session, self._session = self._session, None
            await session.close()


def _translate(exc: Exception, method: str, url: str, total: float | None) -> TransportError:
    """Return our error for an aiohttp failure, naming its kind but keeping nothing of it."""
    if not isinstance(exc, aiohttp.ClientError):  # the request's whole time ran out
        return ReadTimeoutError(f"no complete response within {total:g}s", method=method, url=url)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ConnectError("connect timed out", method=method, url=url)
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = f"cannot connect ({type(exc.os_error).__name__})"
        return ConnectError(reason, method=method, url=url)
    if isinstance(exc, aiohttp.InvalidURL):
        return ConnectError("invalid URL", method=method, url=url)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return ReadTimeoutError("timed out waiting for the response", method=method, url=url)
    lost = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError)
    kind = type(exc).__name__
    if isinstance(exc, lost):
        return ConnectionLostError(f"connection lost ({kind})", method=method, url=url)
    return TransportError(f"HTTP client error ({kind})", method=method, url=url)
