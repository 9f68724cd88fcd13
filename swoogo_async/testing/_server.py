"""The fake Swoogo v1 API server (aiohttp.web on loopback).

Time (token expiry; rate-limit windows, fixed and back to back from the first charged
request) runs on ``FakeSwoogo.now()``: ``clock=`` sets it, ``advance()`` moves it.
``GET /_fake/stats`` (outside the API prefix, unrecorded, no auth) serves ``stats``.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl

import attrs
from aiohttp import web

from ._api import (
    API_PREFIX,
    FORM,
    LIST_ROUTES,
    ApiMixin,
    CIDict,
    Result,
    json_response,
    match_route,
)
from ._budget import Budget
from ._control import ControlMixin, RecordedRequest
from ._faults import HTML_ERROR, TOKEN_ROUTE, Fault, FaultPlan
from ._forms import ApiError, yii_error
from ._store import Store
from ._webhooks import WebhookMixin

__all__ = ["FakeSwoogo", "RecordedRequest"]

_UNAUTHORIZED = yii_error(401, "Your request was made with invalid credentials.")
STATS_PATH = "/_fake/stats"


@attrs.define
class _Outcome:
    """What one request did so far: kept even if its client hangs up mid-way."""

    fault: Fault | None = None
    acted: bool = False


class FakeSwoogo(ApiMixin, ControlMixin, WebhookMixin):
    """A real HTTP server on loopback playing the Swoogo v1 API (``async with`` starts it).

    Args:
        api_key: The API key the token endpoint accepts.
        api_secret: The API secret the token endpoint accepts.
        token_lifetime: Seconds an issued token stays valid.
        rate_limit: Credits per window (a list call costs 10, others 1); None: no limit.
        rate_window: The rate-limit window, in seconds.
        drift: Render values in every shape real responses take (``"20"`` or ``20``).
        seed: Seeds the drift and everything else random in the fake.
        items_as_object: Send a list's ``items`` as an object keyed by id.
        relative_links: Send ``_links`` as relative URLs.
        latency: Seconds every request waits before it is handled.
        port: The port to listen on; 0 picks a free one.
        retry_after: Send ``Retry-After`` with every 429.
        host: The address to listen on.
        clock: The fake's clock (``time.monotonic``); ``advance()`` moves it on.
    """

    def __init__(
        self,
        api_key: str = "test-key",
        api_secret: str = "test-secret",
        *,
        token_lifetime: float = 1800.0,
        rate_limit: int | None = None,
        rate_window: float = 600.0,
        drift: bool = True,
        seed: int = 0,
        items_as_object: bool = False,
        relative_links: bool = True,
        latency: float = 0.0,
        port: int = 0,
        retry_after: bool = False,
        host: str = "127.0.0.1",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.api_key, self.api_secret = api_key, api_secret
        self.token_lifetime = token_lifetime
        self.drift, self.items_as_object = drift, items_as_object
        self.relative_links, self.latency, self.retry_after = relative_links, latency, retry_after
        self.host, self.port = host, port
        self.requests: list[RecordedRequest] = []
        #: API requests ever handled; ``requests`` is the log ``reset_requests()`` clears.
        self.requests_total = self.faults_played = 0
        self.token_requests = self.tokens_issued = self.rate_limited = 0
        #: Requests being handled now, and the most ever handled at once.
        self.in_flight = self.max_in_flight = 0
        self._store = Store()
        self._faults = FaultPlan()
        self._rng = random.Random(seed)
        self._tokens: dict[str, float] = {}
        self._budget = Budget(rate_limit, rate_window)
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._init_control(clock)
        self._init_webhooks()

    # -- public API -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The API root to give a client, ``http://host:port/api/v1``."""
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def stats_url(self) -> str:
        """Where ``GET`` serves ``stats`` as JSON (no token needed)."""
        return f"http://{self.host}:{self.port}{STATS_PATH}"

    @property
    def sessions(self) -> dict[int, dict[str, Any]]:
        """The stored sessions by id, as the server holds them (live: edit to set up a test)."""
        return self._store.sessions

    @property
    def speakers(self) -> dict[int, dict[str, Any]]:
        """The stored speakers by id, as the server holds them."""
        return self._store.speakers

    def revoke_tokens(self) -> None:
        """Invalidate every issued token: the next call with one gets a 401."""
        self._tokens.clear()

    def add_session(self, *, event_id: int, name: str, **fields: Any) -> dict[str, Any]:
        """Store a session directly (no request, no credit); return its record."""
        return self._store.add_session(event_id, name, **fields)

    def add_speaker(
        self, *, event_id: int, first_name: str, last_name: str, **fields: Any
    ) -> dict[str, Any]:
        """Store a speaker directly (no request, no credit); return its record."""
        return self._store.add_speaker(event_id, first_name, last_name, **fields)

    def inject(self, route: str, fault: Fault, times: int = 1) -> None:
        """Play ``fault`` on the next ``times`` requests to ``route`` (``"GET /sessions"``)."""
        self._faults.inject(route, fault, times)

    def chaos(
        self,
        rate: float = 0.1,
        faults: Sequence[Fault] | None = None,
        seed: int = 0,
        routes: Iterable[str] | None = None,
    ) -> None:
        """Play one of ``faults`` at random on a ``rate`` share of requests (to ``routes``)."""
        self._faults.chaos(rate, faults, seed, routes)

    def clear_faults(self) -> None:
        """Forget every injected fault and stop the chaos."""
        self._faults.clear()

    def set_rate_limit(self, credits: int | None, window: float = 600.0) -> None:
        """Start a new rate limit now: ``credits`` per ``window`` seconds (None: none)."""
        self._budget = Budget(credits, window)

    def reset_requests(self) -> None:
        """Empty ``requests``, the log of recorded requests."""
        self.requests = []

    def duplicate_groups(
        self, keys: Sequence[str] = ("event_id", "name", "date", "start_time")
    ) -> list[list[int]]:
        """Return the ids of sessions that share ``keys``, one list per group of copies."""
        return self._store.duplicate_groups(keys)

    async def start(self) -> None:
        """Start listening (what ``async with`` does); ``port`` then holds the real port."""
        if self._runner is not None:
            return
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=1.0,
            handler_cancellation=True,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def close(self) -> None:
        """Stop listening; requests still held or delayed end."""
        runner, self._runner = self._runner, None
        if runner is not None:
            self._closing.set()
            await runner.cleanup()
        await self._stop_deliveries()

    async def __aenter__(self) -> FakeSwoogo:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- plumbing ---------------------------------------------------------------------------
    async def _sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds, less if the fake closes; an infinite one until released.

        A client hanging up cancels the handler (``handler_cancellation``), so a held
        request never outlives its client.
        """
        if delay <= 0 or self._closing.is_set():
            return
        held = math.isinf(delay)
        waiters = {asyncio.ensure_future(self._closing.wait())}
        if held:
            waiters.add(asyncio.ensure_future(self._release_event().wait()))
            self._hold(+1)
        try:
            await asyncio.wait(
                waiters, timeout=None if held else delay, return_when="FIRST_COMPLETED"
            )
        finally:
            for task in waiters:
                task.cancel()
            if held:
                self._hold(-1)

    def _authorized(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False
        expiry = self._tokens.get(auth[7:].strip())
        return expiry is not None and self.now() < expiry

    @staticmethod
    def _disconnected(request: web.Request) -> bool:
        tr = request.transport
        return tr is None or tr.is_closing()

    @staticmethod
    def _drop(request: web.Request) -> None:
        tr = request.transport
        if tr is not None:
            tr.abort()

    # -- request handling -------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == STATS_PATH and request.method == "GET":
            return json_response(200, self.stats)
        body = await request.read()
        self.requests_total += 1
        self._fire_triggers()
        path = request.path
        if path.startswith(API_PREFIX):
            path = path[len(API_PREFIX) :]
        path = path.rstrip("/") or "/"
        ctype = request.content_type
        form: dict[str, str] | None = None
        parsed_json: Any = None
        if ctype == FORM:
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        elif ctype == "application/json" and body:
            try:
                parsed_json = json.loads(body)
            except ValueError:
                parsed_json = None
        placeholder = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=CIDict(request.headers),
            form=form,
            json=parsed_json,
            body=body,
        )
        log = self.requests
        index = len(log)
        log.append(placeholder)
        resp: web.Response | None = None
        outcome = _Outcome()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await self._sleep(self.latency)
            resp = await self._dispatch(request, path, body, form, outcome)
            if resp is None:
                self._drop(request)
            return resp if resp is not None else web.Response(status=500)
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._went_idle()
            status = 0 if resp is None or self._disconnected(request) else resp.status
            if index < len(log) and log[index] is placeholder:
                log[index] = attrs.evolve(
                    placeholder,
                    status=status,
                    fault=None if outcome.fault is None else outcome.fault.name,
                    acted=outcome.acted,
                )

    async def _dispatch(
        self,
        request: web.Request,
        path: str,
        body: bytes,
        form: dict[str, str] | None,
        outcome: _Outcome,
    ) -> web.Response | None:
        route, arg, known_path = match_route(request.method, path)
        if route == TOKEN_ROUTE:
            self.token_requests += 1
            outcome.fault = self._faults.pick(route) if self._faults.active else None
            return await self._run(request, outcome, lambda: self._token(request, form))
        now = self.now()
        if route is None and path == "/oauth2/token":
            return json_response(405, yii_error(405))
        if not self._authorized(request):
            return json_response(401, _UNAUTHORIZED, self._budget.headers(now))
        if route is None:
            status = 405 if known_path else 404
            return json_response(status, yii_error(status), self._budget.headers(now))
        if not self._budget.consume(10 if route in LIST_ROUTES else 1, now):
            self.rate_limited += 1
            headers = self._budget.headers(now)
            if self.retry_after:
                headers["Retry-After"] = headers["X-Rate-Limit-Reset"]
            return json_response(429, yii_error(429, "Rate limit exceeded."), headers)
        outcome.fault = self._faults.pick(route) if self._faults.active else None
        handler = self._api_handler(route)
        resp = await self._run(request, outcome, lambda: handler(self, request, arg, body))
        if resp is not None:
            for k, v in self._budget.headers(self.now()).items():
                resp.headers.setdefault(k, v)
        return resp

    async def _run(
        self, request: web.Request, outcome: _Outcome, op: Callable[[], Result]
    ) -> web.Response | None:
        def call() -> Result:
            try:
                resp, outcome.acted = op()
            except ApiError as e:
                return json_response(e.status, e.body), False
            return resp, outcome.acted

        resp, _ = await self._play(request, outcome.fault, call)
        return resp

    async def _play(
        self, request: web.Request, fault: Fault | None, call: Callable[[], Result]
    ) -> Result:
        if fault is None:
            return call()
        self.faults_played += 1
        if fault.late:
            before = set(self._store.sessions)
            _, acted = call()
            self._hold_back(before)
            return None, acted
        if fault.responds_normally:  # pure delay (timeout)
            if fault.acted:
                resp, acted = call()
                await self._sleep(fault.delay)
                return (None if self._disconnected(request) else resp), acted
            await self._sleep(fault.delay)
            return (None, False) if self._disconnected(request) else call()
        resp, acted = None, False
        if fault.performs:
            resp, acted = call()
        await self._sleep(fault.delay)
        if fault.drop is not None or self._disconnected(request):
            return None, acted
        if fault.malformed:
            text = resp.body if resp is not None and isinstance(resp.body, bytes) else b"{}"
            return web.Response(
                status=200, body=text[: max(1, len(text) // 2)], content_type="application/json"
            ), acted
        status = fault.status or 500
        headers: dict[str, str] = dict(fault.headers or {})
        if status == 429 and self.retry_after and "X-Rate-Limit-Reset" in headers:
            headers.setdefault("Retry-After", headers["X-Rate-Limit-Reset"])
        if fault.body is not None:
            return web.Response(status=status, body=fault.body, headers=headers), acted
        if fault.html:
            page = HTML_ERROR.format(status=status)
            return web.Response(
                status=status, text=page, content_type="text/html", headers=headers
            ), acted
        return json_response(status, yii_error(status), headers), acted
