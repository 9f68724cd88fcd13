"""What a request is at each step, and the one I/O seam: ``Transport.send(Request) -> Response``.

A resource builds a ``Call`` (its ids checked by ``check_id``) and names a ``Parse``
function for the body; the pipeline turns the call into a ``Request`` and gets back a
``Response``. ``AiohttpTransport`` is the real transport: it owns (or borrows) one
``aiohttp.ClientSession`` and translates every aiohttp failure into a ``TransportError``
so that aiohttp's exceptions never reach the caller. ``MockTransport`` hands each
request to a function, so tests can stand in for the network without a server.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterator, Mapping
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
    "Transport",
    "check_id",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

FORM: Final = "application/x-www-form-urlencoded"
JSON: Final = "application/json"


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
    """Reads a 2xx body; ``method`` and ``url`` are the request's, for the errors it raises.

    What a resource hands the request seam with its ``Call`` (``parse_session``,
    ``functools.partial(parse_page, page=..., per_page=...)``).
    """

    def __call__(self, raw: bytes, *, method: str, url: str) -> T_co: ...


class Send(Protocol):
    """A client's ``send``: its options and read cache bound, as resources call it."""

    async def __call__(self, call: Call, parse: Parse[T], *, deadline: float | None = None) -> T:
        """Send ``call`` and return ``parse`` of its 2xx body."""
        ...


class Headers(Mapping[str, str]):
    """Read-only request headers whose repr hides the ``Authorization`` value.

    Tracebacks capture the locals of every frame (Sentry records them by default);
    the credentials travel only inside this object, so no local shows them.
    """

    __slots__ = ("wire",)

    def __init__(self, items: Mapping[str, str]) -> None:
        #: What aiohttp is given: a multidict it takes as it is, without copying.
        self.wire = CIMultiDictProxy(CIMultiDict(items))

    def __getitem__(self, name: str) -> str:
        return self.wire[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.wire)

    def __len__(self) -> int:
        return len(self.wire)

    def __repr__(self) -> str:
        shown = {k: "***" if k.lower() == "authorization" else v for k, v in self.wire.items()}
        return f"Headers({shown!r})"


@attrs.frozen(slots=True)
class Request:
    """An HTTP request, fully built: nothing is added to it on the way out.

    ``timeout`` caps this one attempt (seconds) in place of the transport's read
    timeout; the retry loop uses it for a call's deadline and per-call timeouts.
    """

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
    """Send one request and return its response, or raise ``TransportError``."""

    async def send(self, request: Request) -> Response:
        """Send ``request`` and return the complete response."""
        ...

    async def aclose(self) -> None:
        """Release what the transport owns."""
        ...


DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
_CHUNK = 64 * 1024

Handler = Callable[[Request], "Response | Awaitable[Response]"]


class MockTransport:
    """A transport that calls ``handler(request)`` instead of using the network."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler

    async def send(self, request: Request) -> Response:
        """Return what the handler returns for ``request``."""
        result = self._handler(request)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result.headers, CIMultiDictProxy):
            # Header names are case-insensitive on the wire; make them so here too.
            result = Response(
                result.status, CIMultiDictProxy(CIMultiDict(result.headers)), result.body
            )
        return result

    async def aclose(self) -> None:
        """Nothing to release."""


class AiohttpTransport:
    """A transport over one shared ``aiohttp.ClientSession``.

    The connector holds at most ``pool_size`` connections; ``SwoogoClient`` keeps
    requests in flight within that limit itself, so none waits in aiohttp's pool
    queue. Redirects are never followed, so credentials never travel to another host.
    Each request runs under aiohttp's own timeouts (``sock_connect`` and ``total``).

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
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._pool_size = pool_size
        self._max_bytes = max_response_bytes
        self._timeout = aiohttp.ClientTimeout(total=read_timeout, sock_connect=connect_timeout)

    def _open(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running loop: construction binds nothing.
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True)
        return self._session

    async def send(self, request: Request) -> Response:
        """Send ``request``; translate aiohttp failures into ``TransportError``."""
        if self._closed:
            raise ConnectError("the transport is closed", method=request.method, url=request.url)
        session = self._session or self._open()
        timeout = self._timeout
        if request.timeout is not None and request.timeout != self._read_timeout:
            # The call's deadline, or a per-call timeout (``with_options``), replaces it.
            timeout = aiohttp.ClientTimeout(
                total=request.timeout, sock_connect=self._connect_timeout
            )
        method, url = request.method, request.url
        try:
            async with session.request(
                method,
                url,
                # No local of this frame holds the credentials (see ``Headers``).
                headers=request.headers.wire
                if type(request.headers) is Headers  # exact type: an ABC isinstance is slow
                else request.headers,
                data=request.body,
                allow_redirects=False,
                timeout=timeout,
            ) as resp:
                length = resp.content_length
                if length is not None and length <= self._max_bytes:
                    body = await resp.read()  # the common answer: its size told and allowed
                else:
                    body = await self._read(resp, method, url)
                return Response(resp.status, resp.headers, body)
        except aiohttp.ClientError as exc:
            error = _translate(exc, method, url)
        except asyncio.TimeoutError:
            error = ReadTimeoutError(
                f"no complete response within {timeout.total:g}s", method=method, url=url
            )
        # Raised outside the except block on purpose: aiohttp's exceptions can carry the
        # request's headers (the Authorization header included) in their repr, so they
        # are neither chained nor left as the implicit context.
        raise error

    async def _read(self, resp: aiohttp.ClientResponse, method: str, url: str) -> bytes:
        """Read a body of unknown or excessive length, refusing one past the limit early."""
        limit = self._max_bytes
        if resp.content_length is None:
            body = bytearray()
            async for chunk in resp.content.iter_chunked(_CHUNK):
                body += chunk
                if len(body) > limit:
                    break
            else:
                return bytes(body)
        raise ResponseTooLargeError(method=method, url=url, status=resp.status, limit=limit)

    async def aclose(self) -> None:
        """Close the session if this transport created it; no new one is opened after."""
        self._closed = True
        if self._given_session is None and self._session is not None:
            session, self._session = self._session, None
            await session.close()


def _translate(exc: aiohttp.ClientError, method: str, url: str) -> TransportError:
    """Return our error for an aiohttp failure, naming its kind but keeping nothing of it."""
    kind = type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ConnectError("connect timed out", method=method, url=url)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectError(
            f"cannot connect ({type(exc.os_error).__name__})", method=method, url=url
        )
    if isinstance(exc, aiohttp.InvalidURL):
        return ConnectError("invalid URL", method=method, url=url)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return ReadTimeoutError("timed out waiting for the response", method=method, url=url)
    if isinstance(
        exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError)
    ):
        return ConnectionLostError(f"connection lost ({kind})", method=method, url=url)
    return TransportError(f"HTTP client error ({kind})", method=method, url=url)
