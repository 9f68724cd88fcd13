"""The aiohttp transport's limits on a real loopback server: time (aiohttp's own
timeouts, per request) and size (``max_response_bytes``).

The stalling routes never finish, so every timeout here is the only way out: no
assertion races the CPU.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from swoogo_async import ReadTimeoutError, ResponseTooLargeError
from swoogo_async._http.transport import AiohttpTransport, Request, Slots

BIG = 200_000


@pytest.fixture
async def server_url() -> AsyncIterator[str]:
    release = asyncio.Event()  # never set: the stalls last until the server shuts down

    async def stall(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = 100
        await resp.prepare(request)
        await resp.write(b'{"id": 1, ')  # part of the body, then nothing
        await release.wait()
        return resp

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"id": 1})

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * BIG, status=200)

    async def big_chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(status=200)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(BIG // 10_000):
            await resp.write(b"y" * 10_000)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/stall", stall)
    app.router.add_get("/ok", ok)
    app.router.add_get("/big", big)
    app.router.add_get("/big-chunked", big_chunked)
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


async def test_a_stalled_body_times_out_and_the_task_is_left_clean(server_url: str) -> None:
    # Ample for the /ok request below on a loaded machine; only the stall can meet it.
    transport = AiohttpTransport(read_timeout=2.5)
    try:
        with pytest.raises(ReadTimeoutError) as info:
            await transport.send(Request("GET", server_url + "/stall"))
        assert info.value.may_have_acted
        assert info.value.__cause__ is None
        assert info.value.__context__ is None
        assert _pending_cancellations() == 0
        # The pool is usable afterwards.
        response = await transport.send(Request("GET", server_url + "/ok"))
        assert response.status == 200
    finally:
        await transport.aclose()


async def test_the_request_timeout_shortens_the_read_timeout(server_url: str) -> None:
    transport = AiohttpTransport(read_timeout=60.0)
    try:
        with pytest.raises(ReadTimeoutError, match=r"0\.5s"):
            # The outer 30 s are reached only if the request's 0.5 s were ignored.
            await asyncio.wait_for(
                transport.send(Request("GET", server_url + "/stall", timeout=0.5)), 30
            )
    finally:
        await transport.aclose()


async def test_outside_cancellation_and_timeouts_stay_the_callers(server_url: str) -> None:
    transport = AiohttpTransport(read_timeout=60.0)
    try:
        task = asyncio.create_task(transport.send(Request("GET", server_url + "/stall")))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(transport.send(Request("GET", server_url + "/stall")), 0.2)
        assert _pending_cancellations() == 0
        response = await transport.send(Request("GET", server_url + "/ok"))
        assert response.status == 200
    finally:
        await transport.aclose()


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
async def test_a_body_over_the_limit_is_refused_with_its_status(server_url: str, path: str) -> None:
    transport = AiohttpTransport(max_response_bytes=BIG - 1)
    try:
        with pytest.raises(ResponseTooLargeError) as info:
            await transport.send(Request("GET", server_url + path))
        assert (info.value.status, info.value.limit) == (200, BIG - 1)
        assert info.value.url.endswith(path)
        assert f"{BIG - 1}-byte" in str(info.value)
    finally:
        await transport.aclose()
    transport = AiohttpTransport(max_response_bytes=BIG)
    try:
        response = await transport.send(Request("GET", server_url + path))
        assert len(response.body) == BIG
    finally:
        await transport.aclose()


async def test_a_closed_transport_sends_nothing(server_url: str) -> None:
    transport = AiohttpTransport()
    await transport.send(Request("GET", server_url + "/ok"))
    await transport.aclose()
    with pytest.raises(Exception, match="closed") as info:
        await transport.send(Request("GET", server_url + "/ok"))
    assert info.typename == "ConnectError"
    assert not info.value.may_have_acted  # type: ignore[attr-defined]


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeouts"):
        AiohttpTransport(read_timeout=0)
    with pytest.raises(ValueError, match="max_response_bytes"):
        AiohttpTransport(max_response_bytes=0)


async def test_slots_go_to_waiters_in_arrival_order_and_none_is_lost() -> None:
    """``Slots``: a freed slot goes to the longest live waiter; a waiter cancelled while
    queued is skipped, and one cancelled after a slot was handed to it passes the slot on."""
    slots = Slots(1)
    await slots.wait()  # the one slot, taken at once
    order: list[str] = []

    async def take(name: str) -> None:
        await slots.wait()
        order.append(name)

    a, b, c, d = (asyncio.ensure_future(take(n)) for n in "abcd")
    await asyncio.sleep(0)  # all four queued, in that order
    b.cancel()  # cancelled while queued
    slots.release()  # to a
    await asyncio.sleep(0)
    assert order == ["a"]
    slots.release()  # a's: b is skipped, c is handed the slot...
    c.cancel()  # ...and cancelled before it runs
    for _ in range(5):  # c passes the slot on, d takes it
        await asyncio.sleep(0)
    assert order == ["a", "d"]
    await asyncio.gather(a, b, c, d, return_exceptions=True)
    assert (slots.free, b.cancelled(), c.cancelled()) == (0, True, True)
    slots.release()  # d's: nobody waits, so the slot is free again
    assert slots.free == 1
