"""Per-call options (``with_options``), ``last_response``, hooks, ``SWOOGO_LOG``, tracing."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import logging
import weakref
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from swoogo_async import (
    ClientStateError,
    InvalidInputError,
    MockTransport,
    NotFoundError,
    RateLimitState,
    ReadTimeoutError,
    Request,
    RequestInfo,
    Response,
    ResponseInfo,
    RetryPolicy,
    ServerError,
    SwoogoClient,
)
from swoogo_async._http.hooks import _EnvHandler, configure_from_env
from swoogo_async.testing import FakeSwoogo, Fault

from .conftest import FAST_RETRY

TOKEN_BODY = b'{"access_token":"tok-SECRET","expires_at":"2099-01-01 00:00:00","type":"bearer"}'


def _mock_client(seen: list[Request], **kwargs: Any) -> SwoogoClient:
    def handler(request: Request) -> Response:
        if request.url.endswith("/oauth2/token"):
            return Response(200, {}, TOKEN_BODY)
        seen.append(request)
        return Response(200, {"X-Rate-Limit-Remaining": "7"}, b'{"id": 1, "name": "A"}')

    # The default policy: its 120 s deadline does not cut the 30 s read timeout.
    return SwoogoClient("k", "s", transport=MockTransport(handler), **kwargs)


# -- with_options ------------------------------------------------------------------------------


async def test_view_sets_the_attempt_timeout_and_headers() -> None:
    seen: list[Request] = []
    async with _mock_client(seen) as client:
        await client.sessions.get(1)
        view = client.with_options(timeout=2.5, headers={"X-Trace": "abc"})
        assert isinstance(view, SwoogoClient)
        await view.sessions.get(1)
        await view.with_options(headers={"x-trace": "def", "X-Other": "1"}).request("GET", "/a/1")
    plain, viewed, nested = seen
    assert plain.timeout is None
    assert "X-Trace" not in plain.headers
    assert viewed.timeout == 2.5
    assert viewed.headers["X-Trace"] == "abc"
    assert viewed.headers["Authorization"] == "Bearer tok-SECRET"
    assert nested.timeout == 2.5  # options of a view of a view are laid over its own
    assert [k for k in nested.headers if k.lower() == "x-trace"] == ["x-trace"]
    assert nested.headers["x-trace"] == "def"
    assert "tok-SECRET" not in repr(nested.headers)


async def test_view_headers_may_replace_user_agent_not_credentials() -> None:
    seen: list[Request] = []
    async with _mock_client(seen) as client:
        await client.with_options(headers={"user-agent": "mine/1"}).sessions.get(1)
    [request] = seen
    assert [v for k, v in request.headers.items() if k.lower() == "user-agent"] == ["mine/1"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer stolen"},
        {"authorization": "x"},
        {"Content-Type": "text/plain"},
        {"Host": "evil.example"},
        {"X-A": "1\r\nAuthorization: Bearer x"},
        {"X-A": "1\n"},
        {"X-A\r\nB": "1"},
        {"X A": "1"},
        {"X-A": 1},
    ],
)
async def test_view_refuses_unsafe_headers(headers: dict[str, Any]) -> None:
    client = SwoogoClient("k", "s")
    with pytest.raises(InvalidInputError) as info:
        client.with_options(headers=headers)
    assert info.value.field == "headers"


@pytest.mark.parametrize(
    "control",
    [
        "\x00",
        "\x01",
        "\t",
        "\x1b",
        "\x1f",
        "\x7f",
        "\x80",
        "\x85",
        "\x9f",
        "\ud800",
        "\u2028",
        "\u2029",
    ],
)
def test_a_copy_refuses_any_control_character_in_a_header_naming_it(control: str) -> None:
    client = SwoogoClient("k", "s")
    with pytest.raises(InvalidInputError) as info:
        client.with_options(headers={"X-Trace": f"a{control}b"})
    assert info.value.field == "headers"
    assert "X-Trace" in info.value.reason
    copy = client.with_options(headers={"X-Trace": "plain text, no controls"})
    with pytest.raises(InvalidInputError):
        copy.with_options(headers={"X-Other": control})  # a copy's copy checks too


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), float("nan"), "5", True])
def test_view_refuses_bad_timeouts(timeout: Any) -> None:
    with pytest.raises(InvalidInputError) as info:
        SwoogoClient("k", "s").with_options(timeout=timeout)
    assert info.value.field == "timeout"


def test_view_refuses_a_retry_that_is_not_a_policy() -> None:
    with pytest.raises(InvalidInputError) as info:
        SwoogoClient("k", "s").with_options(retry=3)  # type: ignore[arg-type]
    assert info.value.field == "retry"


async def test_view_timeout_applies_on_the_wire(fake: FakeSwoogo, client: SwoogoClient) -> None:
    fake.add_session(event_id=1, name="A")
    fake.inject("GET /sessions/{id}", Fault.hang())
    view = client.with_options(timeout=0.05, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(ReadTimeoutError):
        await view.sessions.get(1000)
    assert (await client.sessions.get(1000)).name == "A"


async def test_view_timeout_may_be_longer_than_read_timeout(fake: FakeSwoogo) -> None:
    fake.add_session(event_id=1, name="A")
    retry = RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_cap=0.01)
    async with SwoogoClient(
        fake.api_key, fake.api_secret, base_url=fake.base_url, read_timeout=0.25, retry=retry
    ) as client:
        fake.inject("GET /sessions/{id}", Fault.timeout(1.0), times=3)
        with pytest.raises(ReadTimeoutError):
            await client.sessions.get(1000)
        fake.inject("GET /sessions/{id}", Fault.timeout(1.0))
        got = await client.with_options(timeout=30).sessions.get(1000)
    assert got.name == "A"
    attempts = [r for r in fake.requests if r.path == "/sessions/1000"]
    assert len(attempts) == 4  # three cut at 0.25 s, then one given 30 s


async def test_view_retry_policy(fake: FakeSwoogo, client: SwoogoClient) -> None:
    fake.add_session(event_id=1, name="A")
    fake.inject("GET /sessions/{id}", Fault.error(503))
    with pytest.raises(ServerError):
        await client.with_options(retry=RetryPolicy(max_attempts=1)).sessions.get(1000)
    fake.inject("GET /sessions/{id}", Fault.error(503))
    assert (await client.sessions.get(1000)).name == "A"  # the client's own policy retries


async def test_views_share_token_pool_and_lifecycle(fake: FakeSwoogo, client: SwoogoClient) -> None:
    fake.add_session(event_id=1, name="A")
    views = [client.with_options(headers={"X-N": str(i)}) for i in range(5)]
    await asyncio.gather(*(v.sessions.get(1000) for v in views))
    assert fake.token_requests == 1
    assert sorted(r.headers["X-N"] for r in fake.requests if r.path == "/sessions/1000") == [
        str(i) for i in range(5)
    ]
    view = views[0]
    await view.aclose()  # a copy does not own the core: the client stays open
    assert not client.closed
    await view.sessions.get(1000)
    assert view.credits_spent == client.credits_spent == 6  # one count for all of them
    assert view.token_fetches == client.token_fetches == 1
    assert view.last_response is client.last_response is not None
    # The duplicate-safe create's locks and claims are the client's, not a copy.
    assert view.sessions._creator._locks is client.sessions._creator._locks
    assert view.retry is client.retry
    await client.aclose()
    assert view.closed
    with pytest.raises(ClientStateError):
        await view.sessions.get(1000)


async def test_view_create_goes_through_the_view(fake: FakeSwoogo, client: SwoogoClient) -> None:
    view = client.with_options(headers={"X-Job": "import-7"})
    s = await view.sessions.create(event_id=1, name="Talk", date="2026-05-01")
    assert s.name == "Talk"
    [create] = [r for r in fake.requests if r.path == "/sessions/create"]
    assert create.headers["X-Job"] == "import-7"


# -- last_response ------------------------------------------------------------------------------


async def test_last_response_reports_status_headers_and_rate_limit() -> None:
    async with (
        FakeSwoogo(rate_limit=2000) as fake,
        SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url) as client,
    ):
        assert client.last_response is None
        fake.add_session(event_id=1, name="A")
        await client.sessions.get(1000)
        last = client.last_response
        assert last is not None
        assert (last.method, last.path, last.status, last.cost, last.attempt) == (
            "GET",
            "/sessions/1000",
            200,
            1,
            1,
        )
        assert last.rate_limit.limit == 2000
        assert last.rate_limit.remaining == 1999
        assert last.rate_limit.reset is not None
        assert last.headers["x-rate-limit-remaining"] == "1999"
        with pytest.raises(NotFoundError):
            await client.sessions.get(5)
        assert client.last_response is last  # errors are in the exception, not here
        await client.with_options(timeout=5).sessions.get(1000)
        assert client.last_response is not last  # a view's calls count as the client's


async def test_last_response_is_per_task(fake: FakeSwoogo, client: SwoogoClient) -> None:
    fake.add_session(event_id=1, name="A")
    fake.add_session(event_id=1, name="B")
    first_done, second_done = asyncio.Event(), asyncio.Event()
    seen: dict[str, str | None] = {}

    async def first() -> None:
        await client.sessions.get(1000)
        first_done.set()
        await second_done.wait()  # the other task's call has finished meanwhile
        last = client.last_response
        seen["first"] = last.path if last else None

    async def second() -> None:
        await first_done.wait()
        await client.sessions.get(1001)
        last = client.last_response
        seen["second"] = last.path if last else None
        second_done.set()

    await asyncio.gather(first(), second())
    assert seen == {"first": "/sessions/1000", "second": "/sessions/1001"}
    assert client.last_response is None  # the calls ran in other tasks


async def test_last_response_of_a_task_started_from_another(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    """A task started after its parent's call sees no response until its own call, and
    its call is not the parent's; the parent's later calls are not the child's either."""
    fake.add_session(event_id=1, name="A")
    fake.add_session(event_id=1, name="B")
    await client.sessions.get(1000)
    started, parent_called = asyncio.Event(), asyncio.Event()
    seen: list[str | None] = []

    def path() -> str | None:
        last = client.last_response
        return last.path if last else None

    async def child() -> None:
        seen.append(path())
        started.set()
        await parent_called.wait()
        seen.append(path())
        await client.sessions.get(1001)
        seen.append(path())

    task = asyncio.create_task(child())
    await started.wait()
    await client.sessions.get(1000, fields="id")
    parent_called.set()
    await task
    assert seen == [None, None, "/sessions/1001"]
    last = client.last_response
    assert last is not None
    assert (last.path, last.url.endswith("fields=id")) == (
        "/sessions/1000",
        True,
    )


async def test_a_copied_context_keeps_no_earlier_response(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    """A copy of the task's context (aiohttp makes one for each request's timer) reads the
    task's latest response, so it keeps no earlier one alive."""
    fake.add_session(event_id=1, name="A")
    await client.sessions.get(1000)
    copied = contextvars.copy_context()
    await client.sessions.get(1000, fields="id")
    last = copied.run(lambda: client.last_response)
    assert last is not None
    assert last.url.endswith("?fields=id")
    assert last is client.last_response


async def test_last_response_keeps_two_clients_apart(fake: FakeSwoogo) -> None:
    fake.add_session(event_id=1, name="A")
    kwargs: dict[str, Any] = {"base_url": fake.base_url, "retry": FAST_RETRY}
    async with (
        SwoogoClient(fake.api_key, fake.api_secret, **kwargs) as a,
        SwoogoClient(fake.api_key, fake.api_secret, **kwargs) as b,
    ):
        await a.sessions.get(1000)
        await b.request("GET", "/sessions", params={"event_id": 1})
        assert a.last_response is not None
        assert b.last_response is not None
        assert (a.last_response.path, b.last_response.path) == ("/sessions/1000", "/sessions")


async def test_many_tasks_each_see_their_own_response_and_keep_nothing_alive(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    """Fifty tasks read after every one has made its call: each sees its own. Once they
    have ended, neither they nor the responses they read are kept alive by the records."""
    ids = [fake.add_session(event_id=1, name=f"S{k}")["id"] for k in range(50)]
    all_called = asyncio.Event()
    called = 0
    infos: list[weakref.ref[ResponseInfo]] = []
    tasks: list[weakref.ref[asyncio.Task[Any]]] = []

    async def one(sid: int) -> str | None:
        nonlocal called
        await client.sessions.get(sid)
        called += 1
        if called == len(ids):
            all_called.set()
        await all_called.wait()
        last = client.last_response
        task = asyncio.current_task()
        assert last is not None
        assert task is not None
        infos.append(weakref.ref(last))
        tasks.append(weakref.ref(task))
        return last.path

    gc.disable()  # so that only a cycle-free record is freed before gc.collect()
    try:
        paths = await asyncio.gather(*(asyncio.create_task(one(sid)) for sid in ids))
        assert paths == [f"/sessions/{sid}" for sid in ids]
        assert client.last_response is None
        await asyncio.sleep(0)  # the loop's handle that resumed this task holds gather's future
        # Freed by their counts alone (a record holding its task would make a cycle).
        assert [r for r in infos if r() is not None] == []
    finally:
        gc.enable()
    gc.collect()
    assert [r for r in infos if r() is not None] == []
    assert [r for r in tasks if r() is not None] == []


async def test_a_cached_clients_reads_leave_last_response_and_hooks_see_the_miss(
    fake: FakeSwoogo,
) -> None:
    # docs/caching.md: a miss is fetched in the cache's own task, once for every reader;
    # its hooks run, but it is no reader's last_response, and a hit sends nothing.
    fake.add_session(event_id=1, name="A")
    seen: list[ResponseInfo] = []
    kwargs: dict[str, Any] = {
        "base_url": fake.base_url,
        "retry": FAST_RETRY,
        "cache": "memory",
        "on_response": seen.append,
    }
    async with SwoogoClient(fake.api_key, fake.api_secret, **kwargs) as client:
        await client.sessions.get(1000)  # a miss: sent
        assert [info.path for info in seen if info.cost] == ["/sessions/1000"]
        assert client.last_response is None
        await client.sessions.get(1000)  # a hit: sends nothing, changes nothing
        assert len([info for info in seen if info.cost]) == 1
        assert client.last_response is None
        await client.with_options(cache=False).sessions.get(1000)  # not cached: noted
        last = client.last_response
        assert last is not None
        assert last.path == "/sessions/1000"


def test_rate_limit_state_tolerates_odd_headers() -> None:
    state = RateLimitState.from_headers({"X-Rate-Limit-Limit": "2000", "X-Rate-Limit-Reset": "x"})
    assert state == RateLimitState(limit=2000, remaining=None, reset=None)
    assert RateLimitState.from_headers({"X-Rate-Limit-Remaining": "nan"}).remaining is None


# -- hooks ----------------------------------------------------------------------------------------


async def test_hooks_carry_cost_attempt_and_budget() -> None:
    requests: list[RequestInfo] = []
    responses: list[ResponseInfo] = []

    async def on_response(info: ResponseInfo) -> None:
        responses.append(info)

    async with FakeSwoogo(rate_limit=2000) as fake:
        fake.add_session(event_id=1, name="A")
        fake.inject("GET /sessions/{id}", Fault.error(503))
        async with SwoogoClient(
            fake.api_key,
            fake.api_secret,
            base_url=fake.base_url,
            retry=FAST_RETRY,
            on_request=requests.append,
            on_response=[on_response],
        ) as client:
            await client.sessions.get(1000)
            await client.sessions.list(1).collect()
        token = next(iter(fake._tokens))
    assert [(r.method, r.path, r.cost, r.attempt) for r in requests] == [
        ("POST", "/oauth2/token", 0, 1),
        ("GET", "/sessions/1000", 1, 1),
        ("GET", "/sessions/1000", 1, 2),
        ("GET", "/sessions", 10, 1),
    ]
    # The fake charges the failed attempt too, as the API does.
    assert [r.remaining for r in requests] == [None, None, 1999, 1998]
    assert [(r.path, r.status, r.attempt) for r in responses] == [
        ("/oauth2/token", 200, 1),
        ("/sessions/1000", 503, 1),
        ("/sessions/1000", 200, 2),
        ("/sessions", 200, 1),
    ]
    assert responses[-1].rate_limit.remaining == 1988
    assert token not in repr(requests) + repr(responses)


async def test_remaining_stays_known_across_responses_that_report_no_budget() -> None:
    requests: list[RequestInfo] = []
    async with FakeSwoogo(rate_limit=2000) as fake:
        fake.add_session(event_id=1, name="A")
        async with SwoogoClient(
            fake.api_key,
            fake.api_secret,
            base_url=fake.base_url,
            retry=FAST_RETRY,
            on_request=requests.append,
        ) as client:
            await client.sessions.get(1000)
            fake.revoke_tokens()  # a 401, a token response (no budget in it), the replay
            await client.sessions.get(1000)
    assert [(r.path, r.remaining) for r in requests] == [
        ("/oauth2/token", None),
        ("/sessions/1000", None),
        ("/sessions/1000", 1999),
        ("/oauth2/token", 1999),  # the 401 is not charged: the fake says so
        ("/sessions/1000", 1999),  # still what the latest report said, not "unknown"
    ]


async def test_a_failing_hook_is_logged_and_the_call_goes_on(
    fake: FakeSwoogo, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(info: object) -> None:
        raise RuntimeError("hook bug")

    async with SwoogoClient(
        fake.api_key,
        fake.api_secret,
        base_url=fake.base_url,
        on_request=broken,
        on_response=broken,
    ) as client:
        s = await client.sessions.create(event_id=1, name="X", date="2026-05-01")
    assert s.name == "X"
    assert len(fake.sessions) == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors
    assert all("hook" in r.getMessage() for r in errors)


@pytest.mark.parametrize("hooks", [1, "f", [print, 2]])
def test_hooks_must_be_callables(hooks: Any) -> None:
    with pytest.raises(InvalidInputError) as info:
        SwoogoClient("k", "s", on_request=hooks)
    assert info.value.field == "on_request"


# -- SWOOGO_LOG ----------------------------------------------------------------------------------


@pytest.fixture
def sdk_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("swoogo_async")
    level, handlers = logger.level, list(logger.handlers)
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_swoogo_log_attaches_one_stderr_handler(sdk_logger: logging.Logger) -> None:
    sdk_logger.handlers[:] = [h for h in sdk_logger.handlers if not isinstance(h, _EnvHandler)]
    sdk_logger.setLevel(logging.NOTSET)
    assert configure_from_env({}) is None
    assert configure_from_env({"SWOOGO_LOG": "verbose"}) is None
    handler = configure_from_env({"SWOOGO_LOG": "DEBUG"})
    assert handler is not None
    assert handler.level == logging.DEBUG
    assert sdk_logger.level == logging.DEBUG
    assert configure_from_env({"SWOOGO_LOG": "info"}) is handler  # once
    assert [h for h in sdk_logger.handlers if isinstance(h, _EnvHandler)] == [handler]


def test_swoogo_log_at_import(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    code = (
        "import asyncio, swoogo_async\n"
        "from swoogo_async import SwoogoClient, MockTransport, Response\n"
        "def h(r):\n"
        "    if r.url.endswith('/oauth2/token'):\n"
        '        return Response(200, {}, b\'{"access_token":"tok-SECRET",'
        '"expires_at":"2099-01-01 00:00:00"}\')\n'
        "    return Response(200, {}, b'{\"id\": 1}')\n"
        "async def main():\n"
        "    async with SwoogoClient('k', 's', transport=MockTransport(h)) as c:\n"
        "        await c.sessions.get(1)\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "SWOOGO_LOG": "debug"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "GET /sessions/1 -> 200 (attempt 1, 1 credits)" in done.stderr
    assert "tok-SECRET" not in done.stderr


# -- the tracing recipe (docs/configuration.md) ----------------------------------------------


async def test_tracing_recipe_with_an_aiohttp_trace_config(fake: FakeSwoogo) -> None:
    spans: list[tuple[str, str, int]] = []

    async def on_request_end(
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        # Record the method, path and status; never params.headers (the token is there).
        spans.append((params.method, params.url.path, params.response.status))

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    fake.add_session(event_id=1, name="A")
    async with (
        aiohttp.ClientSession(trace_configs=[trace]) as http,
        SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url, session=http) as c,
    ):
        await c.sessions.get(1000)
    assert spans == [
        ("POST", "/api/v1/oauth2/token", 200),
        ("GET", "/api/v1/sessions/1000", 200),
    ]


async def test_a_hook_that_never_finishes_is_cut_off_at_the_calls_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hung = asyncio.Event()  # never set: a metrics push to a collector that never answers
    started: list[str] = []

    async def stuck(info: ResponseInfo) -> None:
        if info.cost:
            started.append(info.path)
            await hung.wait()

    seen: list[Request] = []
    client = _mock_client(seen, on_response=stuck, retry=RetryPolicy(deadline=0.2))
    async with client:
        # Without the bound the call would wait for the hook forever; 30 s only makes
        # that a failure instead of a hang.
        session = await asyncio.wait_for(client.sessions.get(1), 30)
    assert session.id == 1
    assert started == ["/sessions/1"]
    cut = [r for r in caplog.records if r.levelno == logging.WARNING and "cut off" in r.message]
    assert len(cut) == 1


async def _raise_cancelled_async(info: ResponseInfo) -> None:
    gone = asyncio.get_running_loop().create_future()
    gone.cancel()
    await gone  # a telemetry future cancelled at shutdown: the caller did not cancel


def _raise_cancelled_sync(info: object) -> None:
    raise asyncio.CancelledError


@pytest.mark.parametrize("hook", [_raise_cancelled_async, _raise_cancelled_sync])
async def test_a_hook_raising_cancelled_error_is_logged_and_the_create_goes_on(
    fake: FakeSwoogo, caplog: pytest.LogCaptureFixture, hook: Any
) -> None:
    async with SwoogoClient(
        fake.api_key, fake.api_secret, base_url=fake.base_url, on_request=hook, on_response=hook
    ) as client:
        s = await client.sessions.create(event_id=1, name="X", date="2026-05-01")
        rows = [{"name": f"S{i}", "date": "2026-05-01"} for i in range(4)]
        async with client.sessions.create_many(rows, event_id=1, concurrency=2) as run:
            results = [r async for r in run]
    assert s.name == "X"
    assert [r.status for r in results] == ["created"] * 4
    assert len(fake.sessions) == 5
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors
    assert all("hook" in r.getMessage() for r in errors)


async def test_a_hook_ignoring_its_cancellation_does_not_hold_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()
    finished = asyncio.Event()
    cancels: list[str] = []

    async def stubborn(info: ResponseInfo) -> None:
        if not info.cost:
            return
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                cancels.append(info.path)  # swallowed: the hook goes on waiting
        finished.set()

    seen: list[Request] = []
    async with _mock_client(seen, on_response=stubborn, retry=RetryPolicy(deadline=0.2)) as c:
        session = await asyncio.wait_for(c.sessions.get(1), 30)
        assert session.id == 1
        assert not finished.is_set()  # the call returned while the hook still ran
    release.set()
    await asyncio.wait_for(finished.wait(), 5)
    assert cancels == ["/sessions/1"]
    cut = [r for r in caplog.records if r.levelno == logging.WARNING and "cut off" in r.message]
    assert len(cut) == 1


async def test_cancelling_the_caller_during_a_hook_still_cancels_the_call() -> None:
    entered = asyncio.Event()

    async def slow(info: ResponseInfo) -> None:
        if info.cost:
            entered.set()
            await asyncio.Event().wait()

    seen: list[Request] = []
    async with _mock_client(seen, on_response=slow) as c:
        call = asyncio.ensure_future(c.sessions.get(1))
        await asyncio.wait_for(entered.wait(), 5)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
