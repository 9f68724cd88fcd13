"""The fake Swoogo v1 API server (aiohttp.web on loopback)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import attrs
from aiohttp import web

from ._api import API_PREFIX, FORM, ApiMixin, CIDict, Result, json_response
from ._faults import TOKEN_ROUTE, Fault, FaultPlan
from ._forms import ApiError, yii_error
from ._store import Store

__all__ = ["FakeSwoogo", "RecordedRequest"]

_UNAUTHORIZED = yii_error(401, "Your request was made with invalid credentials.")
_ROUTES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"/oauth2/token"), "POST", TOKEN_ROUTE),
    (re.compile(r"/sessions"), "GET", "GET /sessions"),
    (re.compile(r"/sessions/create"), "POST", "POST /sessions/create"),
    (re.compile(r"/sessions/(\d+)"), "GET", "GET /sessions/{id}"),
    (re.compile(r"/sessions/update/(\d+)"), "PUT", "PUT /sessions/update/{id}"),
    (re.compile(r"/speakers/(\d+)/session\.json"), "POST", "POST /speakers/{id}/session.json"),
)
_HTML = (
    "<html><head><title>{status} Error</title></head><body><center><h1>{status} Error</h1>"
    "</center><hr><center>nginx</center></body></html>"
)


UNLIMITED = "1000000000"


@attrs.frozen
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str] | None
    json: Any
    body: bytes
    status: int = 0
    fault: str | None = None
    acted: bool = False


class FakeSwoogo(ApiMixin):
    """A real HTTP server on 127.0.0.1 playing the Swoogo v1 API (see module docs)."""

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
    ) -> None:
        self.api_key, self.api_secret = api_key, api_secret
        self.token_lifetime = token_lifetime
        self.drift, self.items_as_object = drift, items_as_object
        self.relative_links, self.latency, self.retry_after = relative_links, latency, retry_after
        self.host, self.port = host, port
        self.requests: list[RecordedRequest] = []
        self.token_requests = self.tokens_issued = self.rate_limited = 0
        #: Requests being handled now, and the most ever handled at once.
        self.in_flight = self.max_in_flight = 0
        self._store = Store()
        self._faults = FaultPlan()
        self._rng = random.Random(seed)
        self._tokens: dict[str, float] = {}
        self._rl_limit, self._rl_window = rate_limit, rate_window
        self._rl_start: float | None = None
        self._rl_used = 0
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()

    # -- public API -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def sessions(self) -> dict[int, dict[str, Any]]:
        return self._store.sessions

    @property
    def speakers(self) -> dict[int, dict[str, Any]]:
        return self._store.speakers

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    def add_session(self, *, event_id: int, name: str, **fields: Any) -> dict[str, Any]:
        return self._store.add_session(event_id, name, **fields)

    def add_speaker(
        self, *, event_id: int, first_name: str, last_name: str, **fields: Any
    ) -> dict[str, Any]:
        return self._store.add_speaker(event_id, first_name, last_name, **fields)

    def inject(self, route: str, fault: Fault, times: int = 1) -> None:
        self._faults.inject(route, fault, times)

    def chaos(
        self,
        rate: float = 0.1,
        faults: Sequence[Fault] | None = None,
        seed: int = 0,
        routes: Iterable[str] | None = None,
    ) -> None:
        self._faults.chaos(rate, faults, seed, routes)

    def clear_faults(self) -> None:
        self._faults.clear()

    def set_rate_limit(self, credits: int | None, window: float = 600.0) -> None:
        self._rl_limit, self._rl_window = credits, window
        self._rl_start, self._rl_used = None, 0

    def reset_requests(self) -> None:
        self.requests = []

    def duplicate_groups(
        self, keys: Sequence[str] = ("event_id", "name", "date", "start_time")
    ) -> list[list[int]]:
        return self._store.duplicate_groups(keys)

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            self._closing.set()
            await runner.cleanup()

    async def __aenter__(self) -> FakeSwoogo:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- plumbing ---------------------------------------------------------------------------
    async def _sleep(self, delay: float) -> None:
        if delay > 0 and not self._closing.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)

    def _rate_headers(self, now: float) -> dict[str, str]:
        limit, window = self._rl_limit, self._rl_window
        if limit is None:
            # Unlimited: a budget no client can spend, so pacing never engages.
            return {
                "X-Rate-Limit-Limit": UNLIMITED,
                "X-Rate-Limit-Remaining": UNLIMITED,
                "X-Rate-Limit-Reset": str(math.ceil(window)),
            }
        start = self._rl_start
        if start is None or now >= start + window:
            used, reset = 0, math.ceil(window)
        else:
            used, reset = self._rl_used, max(0, math.ceil(start + window - now))
        return {
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(max(0, limit - used)),
            "X-Rate-Limit-Reset": str(reset),
        }

    def _consume(self, cost: int) -> bool:
        """Charge ``cost`` credits; False when over budget (nothing charged)."""
        if self._rl_limit is None:
            return True
        now = time.monotonic()
        if self._rl_start is None or now >= self._rl_start + self._rl_window:
            self._rl_start, self._rl_used = now, 0
        if self._rl_used + cost > self._rl_limit:
            return False
        self._rl_used += cost
        return True

    def _authorized(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False
        expiry = self._tokens.get(auth[7:].strip())
        return expiry is not None and time.monotonic() < expiry

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
        body = await request.read()
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
        acted = False
        fault: Fault | None = None
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await self._sleep(self.latency)
            resp, acted, fault = await self._dispatch(request, path, body, form)
            if resp is None:
                self._drop(request)
            return resp if resp is not None else web.Response(status=500)
        finally:
            self.in_flight -= 1
            status = 0 if resp is None or self._disconnected(request) else resp.status
            if index < len(log) and log[index] is placeholder:
                log[index] = attrs.evolve(
                    placeholder,
                    status=status,
                    fault=None if fault is None else fault.name,
                    acted=acted,
                )

    async def _dispatch(
        self, request: web.Request, path: str, body: bytes, form: dict[str, str] | None
    ) -> tuple[web.Response | None, bool, Fault | None]:
        route, arg, known_path = None, 0, False
        for pattern, method, name in _ROUTES:
            m = pattern.fullmatch(path)
            if m is not None:
                known_path = True
                if request.method == method:
                    route, arg = name, int(m[1]) if m.groups() else 0
                    break
        if route == TOKEN_ROUTE:
            self.token_requests += 1
            fault = self._faults.pick(route) if self._faults.active else None
            resp, acted = await self._run(request, fault, lambda: self._token(request, form))
            return resp, acted, fault
        now = time.monotonic()
        if route is None and path == "/oauth2/token":
            return json_response(405, yii_error(405)), False, None
        if not self._authorized(request):
            return json_response(401, _UNAUTHORIZED, self._rate_headers(now)), False, None
        if route is None:
            status = 405 if known_path else 404
            return json_response(status, yii_error(status), self._rate_headers(now)), False, None
        if not self._consume(10 if route == "GET /sessions" else 1):
            self.rate_limited += 1
            headers = self._rate_headers(now)
            if self.retry_after:
                headers["Retry-After"] = headers["X-Rate-Limit-Reset"]
            body_ = yii_error(429, "Rate limit exceeded.")
            return json_response(429, body_, headers), False, None
        fault = self._faults.pick(route) if self._faults.active else None
        handler = self._handlers[route]
        resp, acted = await self._run(request, fault, lambda: handler(self, request, arg, body))
        if resp is not None:
            for k, v in self._rate_headers(time.monotonic()).items():
                resp.headers.setdefault(k, v)
        return resp, acted, fault

    async def _run(
        self, request: web.Request, fault: Fault | None, op: Callable[[], Result]
    ) -> Result:
        def call() -> Result:
            try:
                return op()
            except ApiError as e:
                return json_response(e.status, e.body), False

        if fault is None:
            return call()
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
            page = _HTML.format(status=status)
            return web.Response(
                status=status, text=page, content_type="text/html", headers=headers
            ), acted
        return json_response(status, yii_error(status), headers), acted
