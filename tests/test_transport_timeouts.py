"""The transport's read timeout (one watchdog timer for all requests), on a real server.

The server sends its headers and part of a body, then stalls: the case aiohttp's
per-chunk ``sock_read`` timeout used to cover, now covered by the watchdog.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from typing import cast

import aiohttp
import pytest
from aiohttp import web

from swoogo_async import ReadTimeoutError
from swoogo_async._transport import AiohttpTransport, Request


@pytest.fixture
async def stall_url() -> AsyncIterator[str]:
    async def stall(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = 100
        await resp.prepare(request)
        await resp.write(b'{"id": 1, ')  # part of the body, then nothing
        await asyncio.sleep(30)
        return resp

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"id": 1})

    app = web.Application()
    app.router.add_get("/stall", stall)
    app.router.add_get("/ok", ok)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _pending_cancellations() -> int:
    task = asyncio.current_task()
    assert task is not None
    cancelling = getattr(task, "cancelling", None)  # 3.11+
    return int(cancelling()) if cancelling is not None else 0


async def test_a_stalled_body_times_out_and_the_task_is_left_clean(stall_url: str) -> None:
    transport = AiohttpTransport(read_timeout=0.3)
    try:
        start = time.monotonic()
        with pytest.raises(ReadTimeoutError) as info:
            await transport.send(Request("GET", stall_url + "/stall"))
        assert 0.25 < time.monotonic() - start < 2.0
        assert info.value.may_have_acted
        assert info.value.__cause__ is None
        assert _pending_cancellations() == 0
        await asyncio.sleep(0.01)  # no stray cancellation is waiting for this task
        # The pool is usable afterwards, and nothing is left under watch.
        response = await transport.send(Request("GET", stall_url + "/ok"))
        assert response.status == 200
        assert transport._watchdog is not None
        assert not transport._watchdog._due
    finally:
        await transport.aclose()


async def test_a_shorter_limit_arrives_while_a_longer_one_is_armed(stall_url: str) -> None:
    transport = AiohttpTransport(read_timeout=30.0)
    try:
        slow = asyncio.create_task(transport.send(Request("GET", stall_url + "/stall")))
        await asyncio.sleep(0.1)  # the 30 s limit holds the timer
        start = time.monotonic()
        with pytest.raises(ReadTimeoutError):
            await transport.send(Request("GET", stall_url + "/stall", timeout=0.2))
        assert time.monotonic() - start < 1.5  # the timer was brought forward
        assert not slow.done()
        # Cancelling the other request from outside is a cancellation, not a timeout.
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
    finally:
        await transport.aclose()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="needs Task.uncancel")
async def test_an_outside_cancellation_at_the_same_moment_wins(stall_url: str) -> None:
    transport = AiohttpTransport(read_timeout=0.3)
    try:
        task = asyncio.create_task(transport.send(Request("GET", stall_url + "/stall")))
        await asyncio.sleep(0.05)
        watchdog = transport._watchdog
        assert watchdog is not None
        # Fires in the same loop iteration as the watchdog's own timer.
        asyncio.get_running_loop().call_at(watchdog._timer_at, task.cancel)
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not watchdog._due
    finally:
        await transport.aclose()


class _Absorbed:
    """A response whose arrival swallows the cancellation it meets, as library code
    that catches ``CancelledError`` and carries on can: the watchdog's cancellation
    lands, yet ``send`` finishes normally."""

    status = 200
    headers: dict[str, str] = {}  # noqa: RUF012 - read only

    async def __aenter__(self) -> _Absorbed:
        with contextlib.suppress(asyncio.CancelledError):  # absorbed
            await asyncio.sleep(30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def read(self) -> bytes:
        return b'{"id": 1}'


class _AbsorbingSession:
    """Just enough of an ``aiohttp.ClientSession`` for ``send`` (given, never closed)."""

    closed = False

    def request(self, *args: object, **kwargs: object) -> _Absorbed:
        return _Absorbed()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="needs Task.cancelling")
async def test_a_cancellation_absorbed_on_the_way_is_withdrawn() -> None:
    session = cast(aiohttp.ClientSession, _AbsorbingSession())
    transport = AiohttpTransport(session=session, read_timeout=0.1)
    start = time.monotonic()
    response = await transport.send(Request("GET", "http://127.0.0.1:1/absorbed"))
    assert 0.05 < time.monotonic() - start < 2.0  # the watchdog fired
    assert (response.status, response.body) == (200, b'{"id": 1}')
    # The watchdog's request is withdrawn: nothing is left to cancel this task later,
    # and an enclosing ``asyncio.timeout`` or TaskGroup is not misled.
    assert _pending_cancellations() == 0
    await asyncio.wait_for(asyncio.sleep(0.01), 5)
    assert transport._watchdog is not None
    assert not transport._watchdog._due
    assert not transport._watchdog._expired


async def test_many_requests_share_one_timer_and_leave_nothing_behind(stall_url: str) -> None:
    transport = AiohttpTransport(read_timeout=5.0)
    try:
        responses = await asyncio.gather(
            *(transport.send(Request("GET", stall_url + "/ok")) for _ in range(50))
        )
        assert {r.status for r in responses} == {200}
        watchdog = transport._watchdog
        assert watchdog is not None
        assert not watchdog._due
        assert not watchdog._expired
    finally:
        await transport.aclose()


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeouts"):
        AiohttpTransport(read_timeout=0)
