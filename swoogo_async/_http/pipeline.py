"""The one request seam: what every ``SwoogoClient`` call and its copies share.

``Pipeline`` holds the connection pool (transport and slots), the token, the pacer,
the credit count and the lifecycle. ``send`` takes a ``Call`` and a parse function;
one loop runs its attempts under the call's ``RetryPolicy``. One attempt takes a
connection slot (a FIFO ``asyncio.Semaphore``), its turn at the shared pacer and the
shared token (no lock on the fast path), then sends through the transport; a 2xx body
goes to the parse function with the method and URL the call was sent to. A 401 on a
request that used the current token drops that token and replays the request once,
inside the same attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

from .._api.endpoints import FORM, Call, Parse
from .._exceptions import (
    ClientStateError,
    RateLimitError,
    ReadTimeoutError,
    SwoogoError,
    TransportError,
    make_status_error,
)
from .auth import (
    TOKEN_FORM,
    Token,
    TokenManager,
    TokenStore,
    parse_token_response,
    read_server_offset,
    trusted_offset,
)
from .hooks import Hooks, cancelled_by_caller, remember_response
from .log import log_backoff, log_giveup, logger
from .options import CallOptions, CallState, RequestHeaders
from .pacer import AsyncPacer
from .retry import RetryPolicy, server_retry_after
from .transport import Request, Response, Transport

__all__ = ["Pipeline", "logger"]

T = TypeVar("T")

NEW, OPEN, CLOSED = "new", "open", "closed"
_ONE_LOOP = (
    "this SwoogoClient belongs to the event loop that opened it; one client serves one"
    " loop (make one client per loop or thread)"
)


class Pipeline:
    """The shared core of a client: pool, token, pacer, credits, lifecycle; ``send``.

    A given ``transport`` is never closed here; without one, ``make_transport`` makes
    one when the pipeline opens. ``close_store`` closes the shared state the client
    made for itself. ``retry`` is the client's own policy (a copy may have another).
    """

    def __init__(
        self,
        *,
        base_url: str,
        headers: RequestHeaders,
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
        self._headers = headers
        self._given_transport = transport
        self.transport = transport
        self._make_transport = make_transport
        self.read_timeout = read_timeout
        self.pool_size = pool_size
        #: The options of the client itself: its retry policy, no timeout or headers of its own.
        self.options = CallOptions(retry=retry)
        self.pacer = pacer
        self._close_store = close_store
        self.tokens = TokenManager(self._fetch_token, store=token_store)
        # FIFO (asyncio's semaphore hands a freed slot to the longest waiter): bounds the
        # requests in flight to the pool, so none queues inside aiohttp's pool.
        self._slots = asyncio.Semaphore(pool_size)
        self._hooks = hooks
        self.state = NEW
        self._loop: asyncio.AbstractEventLoop | None = None
        self.clock: Callable[[], float] = time.monotonic
        self.rand: Callable[[], float] = random.random
        #: Server clock minus ours; None until an answer's ``Date`` header has told it.
        self.server_offset: float | None = None
        #: Rate-limit credits of the attempts sent (by the documented costs).
        self.credits_spent = 0

    def _check_open(self) -> None:
        if self.state == OPEN and asyncio.get_running_loop() is self._loop:
            return
        if self.state != OPEN:
            raise ClientStateError(
                "the client is closed"
                if self.state == CLOSED
                else "open the client first: 'async with SwoogoClient(...) as client:'"
            )
        raise ClientStateError(_ONE_LOOP)

    async def open(self) -> None:
        """Bind to the running loop and make the transport, unless one was given."""
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
        """Close what the pipeline made; a given session or transport stays open."""
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

    async def send(
        self,
        call: Call,
        parse: Parse[T],
        options: CallOptions,
        *,
        deadline: float | None = None,
    ) -> T:
        """Send ``call`` with auth, pacing and retries; return ``parse`` of its 2xx body.

        ``parse`` runs inside the retry loop, so a success body that does not decode
        (``ResponseDecodeError``) is retried like any transient failure when the call
        is idempotent. ``deadline`` (on ``clock``) bounds the call instead of the
        policy's ``deadline`` from now.
        """
        url = (
            f"{self.base_url}{call.path}?{call.query}" if call.query else self.base_url + call.path
        )

        def read(response: Response) -> T:
            return parse(response.body, method=call.method, url=url)

        result: T = await self._run(call, url, read, options, deadline)
        return result

    async def _run(
        self,
        call: Call,
        url: str,
        read: Callable[[Response], Any],
        options: CallOptions,
        deadline: float | None,
    ) -> Any:
        """Run the attempts of one call under its policy, as ``backoff.on_exception`` would.

        Written out rather than decorated per call: the giveup rule depends on the call
        (idempotent or not) and the wait generator on its deadline, and building backoff's
        decorator for each call cost more than decoding the response. The rules stay
        the policy's (``gives_up``, ``max_attempts``, ``waits``); the loop only applies them.
        """
        self._check_open()
        policy = options.retry
        start = self.clock()
        if deadline is None:
            deadline = start + policy.deadline
        state = CallState(call, url, read, deadline, options)
        waits: Generator[float, SwoogoError | None, None] | None = None
        tries = 0
        while True:
            tries += 1
            try:
                return await self._attempt(state)
            except SwoogoError as error:
                wait = None
                if (
                    tries < policy.max_attempts
                    and self.clock() < deadline
                    and not policy.gives_up(error, idempotent=call.idempotent)
                ):
                    if waits is None:
                        waits = policy.waits(deadline=deadline, clock=self.clock, rand=self.rand)
                        waits.send(None)  # primed, as backoff primes a wait generator
                    with contextlib.suppress(StopIteration):  # a wait past the deadline
                        wait = waits.send(error)
                if wait is None:
                    log_giveup(call, error, tries, self.clock() - start)
                    raise
                log_backoff(call, error, tries, wait)
            await asyncio.sleep(wait)

    async def _attempt(self, state: CallState) -> Any:
        """Make one attempt: a slot, the exchange (replayed once on a stale token), its outcome."""
        self._check_open()  # the client may have closed during a retry wait
        call = state.call
        state.attempt += 1
        if not call.cost:
            # Token fetches skip the slots: the calls holding them may be waiting on it.
            response = await self._exchange(state)
        else:
            # Paced before a slot is taken: a call waiting for credits holds no slot, so
            # an interactive call never queues behind bulk calls waiting for the budget.
            if self.pacer is not None:
                await self._pace(state)
            handed = False
            try:
                async with self._slots:
                    handed = True
                    response = await self._exchange(state, paced=True)
            finally:
                if not handed and self.pacer is not None:
                    self.pacer.release(call.cost, sent=False)  # cancelled before a slot
            if response.status == 401 and state.token is not None:
                # The token died early (revoked, or expired on the server's clock):
                # drop it, if no one has already, and replay once. A 401 again
                # means the credentials are bad.
                self.tokens.invalidate(state.token)
                async with self._slots:
                    response = await self._exchange(state)
        status = response.status
        if status < 300:
            result = state.read(response)
            if call.cost:  # not the token's response: that one is the client's own
                remember_response(self, state.response_info(response))
            return result
        raise make_status_error(
            status=status,
            method=call.method,
            url=state.url,
            raw=response.body,
            retry_after=server_retry_after(self.server_offset, response.headers)
            if status == 429
            else None,
        )

    async def _pace(self, state: CallState) -> None:
        """Wait for the budget and reserve this attempt's credits."""
        call = state.call
        pacer = self.pacer if call.cost else None
        if pacer is not None:
            too_long = await pacer.acquire(call.cost, within=state.deadline - self.clock())
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

    async def _exchange(self, state: CallState, *, paced: bool = False) -> Response:
        """Authenticate and send one request (paced unless ``paced``); settle its reservation."""
        call = state.call
        pacer = self.pacer if call.cost else None
        if not paced and pacer is not None:
            await self._pace(state)
        state.token = None
        response: Response | None = None
        sent = False  # whether the request may have reached the server
        try:
            if call.cost:
                state.token = self.tokens.fresh() or await self._token()
            request = self._request(state)
            if self._hooks.on_request:
                within = state.deadline - self.clock()
                await self._hooks.request(
                    call.method, call.path, state.url, call.cost, state.attempt, within
                )
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
            if response is not None and response.status == 429:
                self.credits_spent -= call.cost  # refused: the server charged nothing
            if pacer is not None:
                if response is None:
                    pacer.release(call.cost, sent=sent)
                elif response.status == 429:
                    pacer.limited(
                        server_retry_after(self.server_offset, response.headers),
                        call.cost,
                    )
                else:
                    pacer.observe(response.headers, call.cost, ok=response.status < 300)
        if self.server_offset is None:
            # Learned from the first dated answer, whoever fetched the token: a client
            # that took it from the shared store must know the offset as well.
            self.server_offset = read_server_offset(response.headers, time.time())
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %d (attempt %d, %d credits)",
                call.method,
                call.path,
                response.status,
                state.attempt,
                call.cost,
            )
        if self._hooks.on_request or self._hooks.on_response:
            within = state.deadline - self.clock()
            await self._hooks.response(state.response_info(response), within)
        return response

    async def _token(self) -> Token:
        """Wait for the shared token fetch."""
        try:
            return await self.tokens.get()
        except asyncio.CancelledError:
            if self.state == CLOSED and not cancelled_by_caller():
                # aclose() cancelled the shared fetch, not this caller.
                raise ClientStateError(
                    "the client was closed while this call waited for a token"
                ) from None
            raise

    def _request(self, state: CallState) -> Request:
        """Build the request of one attempt, its timeout cut to the call's deadline."""
        call = state.call
        options = state.options
        remaining = state.deadline - self.clock()
        if remaining <= 0.001:
            reason = "the call's deadline passed before the request was sent"
            late = ReadTimeoutError(reason, method=call.method, url=state.url)
            late.may_have_acted = False  # nothing left this process
            raise late
        return self._headers.request(
            call, state.url, state.token, options, read_timeout=self.read_timeout, left=remaining
        )

    async def server_clock_offset(self, options: CallOptions, deadline: float) -> float | None:
        """Return the server's clock minus ours, asking if no answer told it yet; None if unsure.

        None when no answer carried a readable ``Date``, or one beyond ``MAX_TRUSTED_OFFSET``.
        """
        if self.server_offset is None:
            # Nothing read yet (the token came from the shared store, the calls so far
            # were lost): one 1-credit read, whose answer of any status is dated.
            call = Call("GET", "/sessions/0", "fields=id")
            url = f"{self.base_url}{call.path}?{call.query}"
            with contextlib.suppress(SwoogoError):
                await self._attempt(CallState(call, url, lambda r: None, deadline, options))
        return trusted_offset(self.server_offset)

    async def _fetch_token(self) -> Token:
        call = Call("POST", "/oauth2/token", body=TOKEN_FORM, content_type=FORM, cost=0)
        url = self.base_url + call.path
        token: Token = await self._run(call, url, self._read_token, self.options, None)
        return token

    def _read_token(self, response: Response) -> Token:
        wall_now = time.time()
        self.server_offset = read_server_offset(response.headers, wall_now)
        return parse_token_response(
            response.body, response.headers, now=self.clock(), wall_now=wall_now
        )
