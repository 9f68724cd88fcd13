"""The one request seam, ``Pipeline.send(call, parse)``, and the core every client copy shares:
a 2xx body goes to the ``parse`` the resource named, so nothing here imports the layers above."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import attrs

from .._exceptions import (
    ClientStateError,
    ReadTimeoutError,
    SwoogoError,
    TransportError,
    make_status_error,
)
from . import auth
from .auth import Token, TokenManager, TokenStore
from .hooks import Hooks, LastResponse, ResponseInfo, logger
from .options import CallOptions, merge_headers
from .pacer import AsyncPacer
from .retry import RetryPolicy, server_retry_after
from .transport import FORM, Call, Headers, Parse, Request, Response, Slots, Transport

__all__ = ["Pipeline", "logger"]

T = TypeVar("T")

NEW, OPEN, CLOSED = "new", "open", "closed"
_SPENT = b"client-side pacing: the rate-limit budget is spent past this call's deadline"


@attrs.define(eq=False)
class CallState:
    """What one call's attempts share."""

    call: Call
    url: str
    parse: Parse[Any]
    deadline: float
    options: CallOptions
    attempt: int = 0  # the attempt running now (1-based), for hooks
    #: The token the latest attempt sent: held here, so no traceback's frame shows it.
    token: Token | None = attrs.field(default=None, repr=False)


class Pipeline:
    """A client's shared core: pool, token, pacer, credits, lifecycle; ``send``. A given
    ``transport`` is never closed here; ``close_store`` closes a state the client made."""

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        basic_auth: str,
        transport: Transport | None,
        make_transport: Callable[[], Transport],
        read_timeout: float,
        pool_size: int,
        retry: RetryPolicy,
        pacer: AsyncPacer | None,
        token_store: TokenStore | None,
        close_store: Callable[[], Awaitable[None]] | None,
        hooks: Hooks,
    ) -> None:
        self.base_url = base_url
        self._headers = dict(headers)
        self._basic = Headers({**headers, "Authorization": basic_auth, "Content-Type": FORM})
        #: Per content type, the token last sent and its headers.
        self._bearer: dict[str | None, tuple[Token, Headers]] = {}
        self._given_transport = transport
        self.transport = transport
        self._make_transport = make_transport
        self.read_timeout = read_timeout
        self.pool_size = pool_size
        #: The client's own options: its retry policy, no timeout or headers of its own.
        self.options = CallOptions(retry=retry)
        self.pacer = pacer
        self._close_store = close_store
        self.tokens = TokenManager(self._fetch_token, store=token_store)
        # Bounds the requests in flight to the pool, so none queues inside aiohttp's pool.
        self._slots = Slots(pool_size)
        self._hooks = hooks
        self.state = NEW
        self._loop: asyncio.AbstractEventLoop | None = None
        self.clock: Callable[[], float] = time.monotonic
        self.rand: Callable[[], float] = random.random
        #: Server clock minus ours; None until an answer's ``Date`` header has told it.
        self.server_offset: float | None = None
        #: Rate-limit credits of the attempts sent (by the documented costs).
        self.credits_spent = 0
        self._last = contextvars.ContextVar[LastResponse | None]("swoogo_async_last", default=None)

    def _check_open(self) -> None:
        if self.state == CLOSED:
            raise ClientStateError("the client is closed")
        if self.state != OPEN:
            raise ClientStateError(
                "open the client first: 'async with SwoogoClient(...) as client:'"
            )
        if asyncio.get_running_loop() is not self._loop:
            raise ClientStateError(
                "this SwoogoClient belongs to the event loop that opened it; one client serves"
                " one loop (make one client per loop or thread)"
            )

    async def open(self) -> None:
        if self.state == CLOSED:
            raise ClientStateError("this SwoogoClient is closed; create a new one")
        if self.state == OPEN:
            self._check_open()  # from the loop that opened it
            return
        self._loop = asyncio.get_running_loop()
        if self.transport is None:
            self.transport = self._make_transport()
        self.state = OPEN

    async def aclose(self) -> None:
        if self.state == CLOSED:
            return
        if self.state == OPEN:
            self._check_open()  # from the loop that opened it
        self.state = CLOSED
        transport, self.transport = self.transport, None
        try:
            await self.tokens.aclose()
            if self.pacer is not None:
                await self.pacer.aclose()
            if self._close_store is not None:
                await self._close_store()
        finally:
            if transport is not None and transport is not self._given_transport:
                await transport.aclose()

    def last_response(self) -> ResponseInfo | None:
        """Return the current task's last success response, if any."""
        last = self._last.get()
        if last is None or last() is not asyncio.current_task(self._loop):
            return None  # no call yet, or the record of the task that started this one
        if isinstance(last.response, tuple):  # described when first read, not on every call
            last.response = ResponseInfo.of(*last.response)
        return last.response

    async def send(
        self, options: CallOptions, call: Call, parse: Parse[T], *, deadline: float | None = None
    ) -> T:
        """Send ``call`` under ``options``; return ``parse`` of its 2xx body. ``parse`` runs in
        the retry loop (an idempotent call's ``ResponseDecodeError`` is retried); ``deadline``
        (on ``clock``) bounds the call instead of the policy's."""
        if self.state != OPEN or asyncio.get_running_loop() is not self._loop:
            self._check_open()
        url = (
            f"{self.base_url}{call.path}?{call.query}" if call.query else self.base_url + call.path
        )
        start = self.clock()
        deadline = start + options.retry.deadline if deadline is None else deadline
        state = CallState(call, url, parse, deadline, options)
        try:
            result: T = self._result(state, await self._exchange(state))
            return result
        except SwoogoError as exc:
            error = exc  # retried outside this block, so no later error is chained to it
        again, retry = functools.partial(self._again, state), options.retry
        return await retry.run_retries(again, error, call, deadline, self.clock, self.rand, start)

    async def _again(self, state: CallState) -> Any:
        self._check_open()  # the client may have closed during the retry wait
        return self._result(state, await self._exchange(state))

    def _result(self, state: CallState, response: Response) -> Any:
        """Return ``parse`` of a 2xx body (noted as the task's last response), else raise."""
        call, url, status, headers = state.call, state.url, response.status, response.headers
        if status >= 300:
            wait = server_retry_after(self.server_offset, headers) if status == 429 else None
            raise make_status_error(
                status=status, method=call.method, url=url, raw=response.body, retry_after=wait
            )
        result = state.parse(response.body, method=call.method, url=url)
        task = asyncio.current_task(self._loop) if call.cost else None  # not the token's call
        if task is not None:
            last = self._last.get()
            if last is None or last() is not task:
                last = LastResponse(task)
                self._last.set(last)
            last.response = (call, url, status, headers, state.attempt)
        return result

    async def _exchange(self, state: CallState) -> Response:
        """Make one attempt: credits, then a slot (so a call waiting for credits holds none),
        the token, the request. The token call (cost 0) takes neither: the calls holding slots
        may wait on it. A 401 to a token drops it and replays the request once."""
        call = state.call
        state.attempt += 1
        pacer = self.pacer if call.cost else None
        replayed = False
        while True:
            if pacer is not None and pacer.paced:  # read as data: unlimited costs one test
                wait = await pacer.acquire(call.cost, within=state.deadline - self.clock())
                if wait == 0.0:  # the deadline passed while it waited for credits
                    raise _late(state)
                if wait is not None:  # the budget is known spent past the deadline
                    raise make_status_error(
                        status=429, method=call.method, url=state.url, raw=_SPENT, retry_after=wait
                    )
            if call.cost:
                if self._slots.free:
                    self._slots.free -= 1
                else:
                    try:  # a wait: bounded by the call's deadline
                        await self._within(state, self._slots.wait(), self._slots.release)
                    except BaseException:
                        if pacer is not None:
                            pacer.release(call.cost, sent=False)  # cancelled before a slot
                        raise
            state.token = None
            response: Response | None = None
            sent = False  # whether the request may have reached the server
            try:
                if call.cost:  # the token as data while it is fresh; the manager fetches one
                    state.token = self.tokens.current
                    if state.token is None or self.tokens.clock() >= state.token.refresh_at:
                        state.token = await self._within(state, self.tokens.get())
                request = self._request(state)
                if self._hooks.on_request:
                    within = state.deadline - self.clock()
                    await self._hooks.request(call, state.url, state.attempt, within)
                    request = self._request(state)  # its timeout less what the hooks took
                transport = self.transport
                if transport is None or self.state != OPEN:
                    raise ClientStateError("the client was closed before this request was sent")
                sent = True
                self.credits_spent += call.cost  # the server may charge whatever left here
                response = await transport.send(request)
            except TransportError as exc:
                sent = exc.may_have_acted
                if self.state == CLOSED and (call.idempotent or not sent):
                    raise ClientStateError("the client was closed while this call ran") from None
                raise
            finally:
                if call.cost:
                    self._slots.release()
                    if response is None:
                        if pacer is not None:
                            pacer.release(call.cost, sent=sent)
                    elif response.status == 429:
                        self.credits_spent -= call.cost  # refused: the server charged nothing
                        if pacer is not None:
                            after = server_retry_after(self.server_offset, response.headers)
                            pacer.limited(after, call.cost)
                    elif pacer is not None:
                        pacer.observe(response.headers, call.cost, ok=response.status < 300)
            if self.server_offset is None or not call.cost:
                # From the first dated answer (a client that took the token from the shared
                # store must know it too), and from each token response, which times it.
                self.server_offset = auth.read_server_offset(response.headers, time.time())
            if logger.isEnabledFor(logging.DEBUG):
                args = (call.method, call.path, response.status, state.attempt, call.cost)
                logger.debug("%s %s -> %d (attempt %d, %d credits)", *args)
            if self._hooks.on_request or self._hooks.on_response:
                status, headers = response.status, response.headers
                info = ResponseInfo.of(call, state.url, status, headers, state.attempt)
                await self._hooks.response(info, state.deadline - self.clock())
            if response.status != 401 or state.token is None or replayed:
                return response
            self.tokens.invalidate(state.token)
            replayed = True

    async def _within(self, state: CallState, waiting: Awaitable[T], undo: Any = None) -> T:
        """Await ``waiting`` (the token, a slot) until the call's deadline; ``undo()`` if late."""
        task = asyncio.ensure_future(waiting)
        try:
            return await asyncio.wait_for(asyncio.shield(task), state.deadline - self.clock())
        except BaseException as exc:
            task.cancel()  # a shared token fetch goes on: the token manager shields it
            task.add_done_callback(lambda t: t.cancelled() or t.exception() or (undo and undo()))
            if isinstance(exc, asyncio.TimeoutError) and not isinstance(exc, SwoogoError):
                raise _late(state) from None
            raise

    def _request(self, state: CallState) -> Request:
        """One attempt's request: the token's headers under the options' (never
        ``Authorization``), the options' timeout or ``read_timeout``, cut to the deadline."""
        call, options, token = state.call, state.options, state.token
        remaining = state.deadline - self.clock()
        if remaining <= 0.001:
            raise _late(state)
        if token is None:
            headers = self._basic
        else:
            cached = self._bearer.get(call.content_type)
            if cached is None or cached[0] is not token:
                fields = {**self._headers, "Authorization": "Bearer " + token.value}
                if call.content_type is not None:
                    fields["Content-Type"] = call.content_type
                cached = self._bearer[call.content_type] = (token, Headers(fields))
            headers = cached[1]
        if options.headers:
            headers = Headers(merge_headers(headers, options.headers))
        limit = self.read_timeout if options.timeout is None else options.timeout
        timeout = remaining if remaining < limit else options.timeout
        return Request(call.method, state.url, headers, call.body, timeout)

    async def server_clock_offset(self, options: CallOptions, deadline: float) -> float | None:
        """Return the server's clock minus ours, asking if no answer told it yet; None if no
        answer carried a readable ``Date``, or one beyond ``MAX_TRUSTED_OFFSET``."""
        if self.server_offset is None:
            # The token came from the shared store, or no call got an answer: a 1-credit read.
            call = Call("GET", "/sessions/0", "fields=id")
            url = f"{self.base_url}{call.path}?{call.query}"
            with contextlib.suppress(SwoogoError):
                await self._exchange(CallState(call, url, _ignore, deadline, options))
        return auth.trusted_offset(self.server_offset)

    async def _fetch_token(self) -> Token:
        call = Call("POST", "/oauth2/token", body=auth.TOKEN_FORM, content_type=FORM, cost=0)
        return await self.send(self.options, call, self._parse_token)

    def _parse_token(self, raw: bytes, *, method: str, url: str) -> Token:
        """Read a token response; the exchange has read its ``Date`` into ``server_offset``."""
        wall_now = time.time() + (self.server_offset or 0.0)
        return auth.parse_token_response(raw, {}, now=self.clock(), wall_now=wall_now)


def _ignore(raw: bytes, *, method: str, url: str) -> None: ...


def _late(state: CallState) -> ReadTimeoutError:
    reason = "the call's deadline passed before the request was sent"
    late = ReadTimeoutError(reason, method=state.call.method, url=state.url)
    late.may_have_acted = False  # nothing left this process
    return late
