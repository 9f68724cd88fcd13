"""The request pipeline of ``SwoogoClient``: retries, slots, pacing, token, transport.

Every request of every coroutine goes through ``_Pipeline._execute``. ``backoff``
runs its attempts, asking the pure ``RetryPolicy`` whether to give up and how long
to wait. One attempt takes a connection slot (a FIFO ``asyncio.Semaphore``), its
turn at the shared pacer and the shared token (no lock on the fast path), then
sends through the transport. A 401 on a request that used the current token drops
that token and replays the request once, inside the same attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import backoff

from .._api.endpoints import FORM, Call
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
    parse_token_response,
    read_server_offset,
    trusted_offset,
)
from .hooks import RequestInfo, ResponseInfo, cancelled_by_caller, remember_response, run_hooks
from .log import log_backoff, log_giveup, logger
from .options import CallOptions, merge_headers
from .pacer import AsyncPacer
from .retry import RetryPolicy, server_retry_after
from .transport import Headers, Request, Response, Transport

__all__ = ["CLOSED", "NEW", "OPEN", "logger"]

T = TypeVar("T")

NEW, OPEN, CLOSED = "new", "open", "closed"
_ONE_LOOP = (
    "this SwoogoClient belongs to the event loop that opened it; one client serves one"
    " loop (make one client per loop or thread)"
)


class _CallState:
    """What one call's attempts share."""

    __slots__ = ("attempt", "call", "deadline", "decode", "options", "token", "url")

    def __init__(
        self,
        call: Call,
        url: str,
        decode: Callable[[Response], Any],
        deadline: float,
        options: CallOptions | None,
    ) -> None:
        self.call = call
        self.url = url
        self.decode = decode
        self.deadline = deadline
        self.options = options
        #: The attempt running now (1-based), for hooks.
        self.attempt = 0
        #: The token the latest exchange sent. Kept here, not in a local, so no frame a
        #: traceback keeps (Sentry's locals) holds the Token object.
        self.token: Token | None = None


def _response_info(state: _CallState, response: Response) -> ResponseInfo:
    call = state.call
    return ResponseInfo(
        call.method,
        call.path,
        state.url,
        response.status,
        response.headers,
        call.cost,
        state.attempt,
    )


class _Pipeline:
    """The request path; ``SwoogoClient`` adds the options and the lifecycle."""

    retry: RetryPolicy
    base_url: str
    _state: str
    _loop: asyncio.AbstractEventLoop | None
    _transport: Transport | None
    _pacer: AsyncPacer | None
    _tokens: TokenManager
    _slots: asyncio.Semaphore
    _clock: Callable[[], float]
    _rand: Callable[[], float]
    _read_timeout: float
    _base_headers: Mapping[str, str]
    _basic_headers: Headers
    _bearer_headers: tuple[Token | None, dict[str | None, Headers]]
    _retrying: dict[bool, Callable[[_CallState], Awaitable[Any]]]
    #: Server clock minus ours; None until an answer's ``Date`` header has told it.
    _server_offset: float | None
    _owner: object
    _on_request: tuple[Callable[[RequestInfo], Any], ...]
    _on_response: tuple[Callable[[ResponseInfo], Any], ...]
    #: Headers of the latest response, kept only when hooks need its rate-limit state.
    _seen_headers: Mapping[str, str]
    _credits_spent: int

    def _check_loop(self) -> None:
        if asyncio.get_running_loop() is not self._loop:
            raise ClientStateError(_ONE_LOOP)

    def _check_open(self) -> None:
        if self._state == OPEN and asyncio.get_running_loop() is self._loop:
            return
        if self._state != OPEN:
            raise ClientStateError(
                "the client is closed"
                if self._state == CLOSED
                else "open the client first: 'async with SwoogoClient(...) as client:'"
            )
        raise ClientStateError(_ONE_LOOP)

    # -- the request pipeline -----------------------------------------------------------------

    def _retry_loop(
        self, idempotent: bool, budget: float, policy: RetryPolicy | None = None
    ) -> Callable[[_CallState], Any]:
        """Return ``_attempt`` wrapped in backoff's retry loop, for calls given ``budget`` s."""
        policy = policy or self.retry
        return backoff.on_exception(
            functools.partial(policy.waits, clock=self._clock, rand=self._rand),
            SwoogoError,
            max_tries=policy.max_attempts,
            max_time=budget,
            giveup=functools.partial(policy.gives_up, idempotent=idempotent),
            jitter=None,  # ``waits`` draws it: a server's Retry-After must not be shortened
            on_backoff=log_backoff,
            on_giveup=log_giveup,
            logger=None,
            budget=budget,
        )(self._attempt)

    async def _execute(
        self,
        call: Call,
        decode: Callable[[Response], T],
        *,
        deadline: float | None = None,
        options: CallOptions | None = None,
    ) -> T:
        """Send ``call`` with auth, pacing and retries; return its decoded 2xx response.

        ``decode`` runs inside the retry loop, so a success body that does not
        decode (``ResponseDecodeError``) is retried like any transient failure
        when the call is idempotent. ``deadline`` (on ``self._clock``) bounds the
        call instead of ``retry.deadline`` from now. ``options`` are a view's own
        timeout, retry policy and headers.
        """
        self._check_open()
        url = (
            f"{self.base_url}{call.path}?{call.query}" if call.query else self.base_url + call.path
        )
        now = self._clock()
        policy = options.retry if options is not None else None
        if deadline is not None:
            # A caller's own deadline: its own loop, built per call (a few µs; creates only).
            retrying = self._retry_loop(call.idempotent, deadline - now, policy)
        elif policy is None:
            retrying = self._retrying[call.idempotent]
            deadline = now + self.retry.deadline
        else:
            assert options is not None
            retrying = options.loops.get(call.idempotent)  # type: ignore[assignment]
            if retrying is None:
                retrying = options.loops[call.idempotent] = self._retry_loop(
                    call.idempotent, policy.deadline, policy
                )
            deadline = now + policy.deadline
        result: T = await retrying(_CallState(call, url, decode, deadline, options))
        return result

    async def _attempt(self, state: _CallState) -> Any:
        """Make one attempt: a slot, the exchange (replayed once on a stale token), a verdict."""
        self._check_open()  # the client may have closed during a backoff wait
        call = state.call
        state.attempt += 1
        if not call.cost:
            # Token fetches skip the slots: the calls holding them may be waiting on it.
            response = await self._exchange(state)
        else:
            # Paced before a slot is taken (budget pacing): a call waiting for credits
            # holds no slot, so an interactive call never queues behind waiting bulk calls.
            await self._pace(state)
            handed = False
            try:
                async with self._slots:
                    handed = True
                    response = await self._exchange(state, paced=True)
            finally:
                if not handed and self._pacer is not None:
                    self._pacer.release(call.cost, sent=False)  # cancelled before a slot
            if response.status == 401 and state.token is not None:
                # The token died early (revoked, or expired on the server's clock):
                # drop it, if no one has already, and replay once. A 401 again
                # means the credentials are bad.
                self._tokens.invalidate(state.token)
                async with self._slots:
                    response = await self._exchange(state)
        status = response.status
        if status < 300:
            result = state.decode(response)
            if call.cost:  # not the token's response: that one is the client's own
                remember_response(self._owner, _response_info(state, response))
            return result
        raise make_status_error(
            status=status,
            method=call.method,
            url=state.url,
            raw=response.body,
            retry_after=server_retry_after(self._server_offset, response.headers)
            if status == 429
            else None,
        )

    async def _pace(self, state: _CallState) -> None:
        """Wait for the budget and reserve this attempt's credits (budget pacing)."""
        call = state.call
        pacer = self._pacer if call.cost else None
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

    async def _exchange(self, state: _CallState, *, paced: bool = False) -> Response:
        """Authenticate and send one request (paced unless ``paced``); settle its reservation."""
        call = state.call
        pacer = self._pacer if call.cost else None
        if not paced:
            await self._pace(state)
        state.token = None
        response: Response | None = None
        sent = False  # whether the request may have reached the server
        try:
            if call.cost:
                state.token = self._tokens.fresh() or await self._token()
            request = self._request(state)
            if self._on_request:
                within = state.deadline - self._clock()
                await run_hooks(self._on_request, self._request_info(state), within)
                request = self._request(state)  # its timeout less what the hooks took
            transport = self._transport
            if transport is None or self._state != OPEN:
                raise ClientStateError("the client was closed before this request was sent")
            sent = True
            self._credits_spent += call.cost  # the server may charge whatever left here
            response = await transport.send(request)
        except TransportError as exc:
            sent = exc.may_have_acted
            if self._state == CLOSED and (call.idempotent or not sent):
                raise ClientStateError("the client was closed while this call ran") from None
            raise
        finally:
            if pacer is not None:
                if response is None:
                    pacer.release(call.cost, sent=sent)
                elif response.status == 429:
                    pacer.limited(
                        server_retry_after(self._server_offset, response.headers),
                        call.cost,
                    )
                else:
                    pacer.observe(response.headers, call.cost, ok=response.status < 300)
        if self._server_offset is None:
            # Learned from the first dated answer, whoever fetched the token: a client
            # that took it from the shared store must know the offset as well.
            self._server_offset = read_server_offset(response.headers, time.time())
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %d (attempt %d, %d credits)",
                call.method,
                call.path,
                response.status,
                state.attempt,
                call.cost,
            )
        if self._on_request or self._on_response:
            self._seen_headers = response.headers
            if self._on_response:
                within = state.deadline - self._clock()
                await run_hooks(self._on_response, _response_info(state, response), within)
        return response

    def _request_info(self, state: _CallState) -> RequestInfo:
        call = state.call
        remaining = self._seen_headers.get("X-Rate-Limit-Remaining")
        return RequestInfo(
            call.method,
            call.path,
            state.url,
            call.cost,
            state.attempt,
            int(remaining) if remaining is not None and remaining.isdigit() else None,
        )

    async def _token(self) -> Token:
        """Wait for the shared token fetch."""
        try:
            return await self._tokens.get()
        except asyncio.CancelledError:
            if self._state == CLOSED and not cancelled_by_caller():
                # aclose() cancelled the shared fetch, not this caller.
                raise ClientStateError(
                    "the client was closed while this call waited for a token"
                ) from None
            raise

    def _request(self, state: _CallState) -> Request:
        """Build the request of one attempt, its timeout cut to the call's deadline."""
        call = state.call
        options = state.options
        remaining = state.deadline - self._clock()
        if remaining <= 0.001:
            late = ReadTimeoutError(
                "the call's deadline passed before the request was sent",
                method=call.method,
                url=state.url,
            )
            late.may_have_acted = False  # nothing left this process
            raise late
        headers = (
            self._basic_headers
            if state.token is None
            else self._headers(state.token, call.content_type)
        )
        limit, timeout = self._read_timeout, None
        if options is not None:
            # A view's options: its headers laid over the client's (never Authorization,
            # see ``check_headers``), and its timeout in place of read_timeout.
            if options.headers:
                headers = Headers(merge_headers(headers, options.headers))
            if options.timeout is not None:
                limit = timeout = options.timeout
        return Request(
            call.method,
            state.url,
            headers,
            call.body,
            remaining if remaining < limit else timeout,
        )

    def _headers(self, token: Token, content_type: str | None) -> Headers:
        """The headers for a request with ``token``, built once and shared, so read-only."""
        cached_token, by_type = self._bearer_headers
        if cached_token is not token:
            by_type = {}
            self._bearer_headers = (token, by_type)
        headers = by_type.get(content_type)
        if headers is None:
            fields = {**self._base_headers, "Authorization": "Bearer " + token.value}
            if content_type is not None:
                fields["Content-Type"] = content_type
            headers = by_type[content_type] = Headers(fields)
        return headers

    async def _server_clock_offset(self, deadline: float) -> float | None:
        """Return the server's clock minus ours, asking if no answer told it yet; None if unsure.

        None when no answer carried a readable ``Date``, or one beyond ``MAX_TRUSTED_OFFSET``.
        """
        if self._server_offset is None:
            # Nothing read yet (the token came from the shared store, the calls so far
            # were lost): one 1-credit read, whose answer of any status is dated.
            call = Call("GET", "/sessions/0", "fields=id")
            url = f"{self.base_url}{call.path}?{call.query}"
            with contextlib.suppress(SwoogoError):
                await self._attempt(_CallState(call, url, lambda r: None, deadline, None))
        return trusted_offset(self._server_offset)

    async def _fetch_token(self) -> Token:
        call = Call("POST", "/oauth2/token", body=TOKEN_FORM, content_type=FORM, cost=0)
        return await self._execute(call, self._read_token)

    def _read_token(self, response: Response) -> Token:
        wall_now = time.time()
        self._server_offset = read_server_offset(response.headers, wall_now)
        return parse_token_response(
            response.body, response.headers, now=self._clock(), wall_now=wall_now
        )
