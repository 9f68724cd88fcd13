"""The one I/O seam: ``Transport.send(Request) -> Response``, and its two implementations.

``AiohttpTransport`` is the real one: it owns (or borrows) one ``aiohttp.ClientSession``
and translates every aiohttp failure into a ``TransportError`` so that aiohttp's
exceptions never reach the caller. ``MockTransport`` hands each request to a function,
so tests can stand in for the network without a server.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, runtime_checkable

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from ._exceptions import ConnectError, ConnectionLostError, ReadTimeoutError, TransportError

__all__ = [
    "AiohttpTransport",
    "MockTransport",
    "Request",
    "Response",
    "Transport",
]


@attrs.frozen(slots=True)
class Request:
    """An HTTP request, fully built: nothing is added to it on the way out.

    ``timeout`` caps this one attempt (seconds), on top of the transport's own
    connect and read timeouts; the retry loop uses it to honour a call's deadline.
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


class _Watchdog:
    """Cancels requests that outlive their time limit, with one timer for all of them.

    aiohttp's own ``sock_read`` timeout re-arms a loop timer on every chunk received,
    and its ``total`` timeout arms one per request; on a small loopback GET those cost
    about 36,000 and 25,000 CPU instructions, more than the rest of this SDK's layer
    (``benchmarks/bench_instructions.py``). Here a request costs a dict insert and a
    delete; one timer, set for the earliest due request, fires only when something
    may have overrun (with same-length limits, about once per limit).

    A request that overruns has its task cancelled; ``expired`` tells ``send`` that
    the cancellation was ours, so it becomes a ``ReadTimeoutError``. Anyone else's
    cancellation still propagates (on Python 3.11+ even when both happen at once, via
    ``Task.uncancel``, as ``asyncio.timeout`` does).
    """

    __slots__ = ("_due", "_expired", "_loop", "_timer", "_timer_at")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def watch(self, task: asyncio.Task[object], limit: float) -> None:
        due = self._loop.time() + limit
        self._due[task] = due
        if self._timer is None or due < self._timer_at:
            self._arm(due)

    def unwatch(self, task: asyncio.Task[object]) -> bool:
        """Stop watching ``task`` (again is a no-op); return whether this cancelled it."""
        if self._due.pop(task, None) is None or not self._expired:
            return False
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self._loop.time()
        soonest: float | None = None
        for task, due in self._due.items():
            if due <= now:
                if task not in self._expired:
                    self._expired.add(task)
                    task.cancel()  # delivered at the task's await, inside ``send``
            elif soonest is None or due < soonest:
                soonest = due
        if soonest is not None:
            self._arm(soonest)


def _uncancel(task: asyncio.Task[object]) -> int:
    """Withdraw one cancellation request; return how many others remain (3.11+)."""
    uncancel = getattr(task, "uncancel", None)
    return int(uncancel()) if uncancel is not None else 0


class AiohttpTransport:
    """A transport over one shared ``aiohttp.ClientSession``.

    The connector holds at most ``pool_size`` connections; ``SwoogoClient`` keeps
    requests in flight within that limit itself, so none waits in aiohttp's pool
    queue. Redirects are never followed, so credentials never travel to another host.

    Args:
        session: A session to use; the transport never closes one it was given.
        connect_timeout: Seconds to establish a connection.
        read_timeout: Seconds each request may take, from sending it to the last
            byte of its response (``Request.timeout`` may shorten it).
        pool_size: Maximum connections, and so requests in flight.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        pool_size: int = 100,
    ) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        self._given_session = session
        self._session: aiohttp.ClientSession | None = session
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._pool_size = pool_size
        # aiohttp bounds connecting; the watchdog bounds the rest (see ``_Watchdog``).
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout)
        self._watchdog: _Watchdog | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running loop: construction binds nothing.
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, auto_decompress=True
            )
        return self._session

    async def send(self, request: Request) -> Response:
        """Send ``request``; translate aiohttp failures into ``TransportError``."""
        session = self._session or self._open()
        task = asyncio.current_task()
        assert task is not None, "send() runs in a task"
        watchdog = self._watchdog
        if watchdog is None:
            watchdog = self._watchdog = _Watchdog(asyncio.get_running_loop())
        limit = self._read_timeout
        if request.timeout is not None and request.timeout < limit:
            limit = request.timeout
        method, url = request.method, request.url
        watchdog.watch(task, limit)
        try:
            async with session.request(
                method,
                url,
                headers=request.headers,
                data=request.body,
                allow_redirects=False,
                timeout=self._timeout,
            ) as resp:
                body = await resp.read()
                return Response(resp.status, resp.headers, body)
        except aiohttp.ClientError as exc:
            error = _translate(exc, method, url)
        except asyncio.TimeoutError:
            error = ReadTimeoutError("timed out waiting for the response", method=method, url=url)
        except asyncio.CancelledError:
            if not watchdog.unwatch(task) or _uncancel(task) > 0:
                raise  # somebody else's cancellation (too): let it through
            error = ReadTimeoutError(
                f"no complete response within {limit:g}s", method=method, url=url
            )
        finally:
            if watchdog.unwatch(task):
                # Cancelled by us but finished anyway (the cancellation was absorbed
                # on the way): withdraw it so it cannot hit the caller later.
                _uncancel(task)
        # Raised outside the except block on purpose: aiohttp's exceptions can carry the
        # request's headers (the Authorization header included) in their repr, so they
        # are neither chained nor left as the implicit context.
        raise error

    async def aclose(self) -> None:
        """Close the session if this transport created it."""
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
