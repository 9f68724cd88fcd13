"""The client under misuse and hostile conditions, on the real aiohttp stack (issue 12).

Cancellation at random moments, ``aclose()`` racing with calls, a second event loop,
bad options, oversized bodies, and credentials in the frame locals a traceback keeps.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import traceback
from collections.abc import Callable
from types import TracebackType

import pytest

from swoogo_async import (
    BadRequestError,
    ClientStateError,
    InvalidInputError,
    MockTransport,
    NotFoundError,
    RateLimit,
    ReadTimeoutError,
    Request,
    Response,
    ResponseTooLargeError,
    RetryPolicy,
    Session,
    SwoogoClient,
    SwoogoError,
)
from swoogo_async._api.converter import parse_session
from swoogo_async._http.auth import Token
from swoogo_async._http.transport import Call, Headers
from swoogo_async.testing import FakeSwoogo, Fault

from .conftest import FAST_RETRY

SECRET = "s3cret-value-not-to-leak"


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for ``condition`` to hold (event-driven enough: one loop tick at a time)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never held")


async def test_random_cancellations_only_ever_raise_cancellation_or_timeout(
    fake: FakeSwoogo,
) -> None:
    """1,000 calls, each cancelled or timed out at a random moment (seeded): queued,
    pacing, waiting for the token or in flight. Nothing else may escape (it was
    ValueError from the hand-written slots)."""
    rec = fake.add_session(event_id=1, name="A")
    fake.latency = 0.002
    rng = random.Random(0)
    loop = asyncio.get_running_loop()
    outcomes: dict[str, int] = {}
    async with SwoogoClient(
        fake.api_key, fake.api_secret, base_url=fake.base_url, pool_size=3, retry=FAST_RETRY
    ) as client:
        for _ in range(20):
            tasks: list[asyncio.Task[Session]] = []
            for _ in range(50):
                call = client.sessions.get(rec["id"])
                if rng.random() < 0.5:
                    timed = asyncio.wait_for(call, rng.uniform(0, 0.03))
                    tasks.append(asyncio.ensure_future(timed))
                else:
                    task = asyncio.ensure_future(call)
                    loop.call_later(rng.uniform(0, 0.03), task.cancel)
                    tasks.append(task)
            for result in await asyncio.gather(*tasks, return_exceptions=True):
                assert isinstance(
                    result, (Session, asyncio.CancelledError, asyncio.TimeoutError)
                ), repr(result)
                outcomes[type(result).__name__] = outcomes.get(type(result).__name__, 0) + 1
        # No slot was lost: three requests can still be in flight at once.
        fake.inject("GET /sessions/{id}", Fault.timeout(60.0), times=3)
        stalled = [asyncio.ensure_future(client.sessions.get(rec["id"])) for _ in range(4)]
        await _until(lambda: fake.in_flight == 3)
        for task in stalled:
            task.cancel()
        await asyncio.gather(*stalled, return_exceptions=True)
    assert outcomes.get("CancelledError", 0) > 0
    assert outcomes.get("TimeoutError", 0) > 0


async def test_calls_waiting_for_a_connection_are_served_in_arrival_order(
    fake: FakeSwoogo,
) -> None:
    ids = [fake.add_session(event_id=1, name=f"S{i}")["id"] for i in range(30)]
    async with SwoogoClient(
        fake.api_key, fake.api_secret, base_url=fake.base_url, pool_size=1
    ) as client:
        await client.sessions.get(ids[0])  # the token is in hand
        fake.reset_requests()
        await asyncio.gather(*(client.sessions.get(i) for i in ids))
    assert [r.path for r in fake.requests] == [f"/sessions/{i}" for i in ids]


async def test_closing_during_the_token_fetch_raises_client_state_error(fake: FakeSwoogo) -> None:
    fake.inject("POST /oauth2/token", Fault.timeout(60.0))
    client = SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url)
    await client.open()
    calls = [asyncio.ensure_future(client.sessions.get(1000)) for _ in range(5)]
    await _until(lambda: fake.token_requests == 1)
    await client.aclose()
    results = await asyncio.gather(*calls, return_exceptions=True)
    # None of these callers was cancelled: each learns the client closed under it.
    assert [type(r) for r in results] == [ClientStateError] * 5, results


async def test_closing_with_calls_queued_and_in_flight_raises_client_state_error(
    fake: FakeSwoogo,
) -> None:
    rec = fake.add_session(event_id=1, name="A")
    client = SwoogoClient(
        fake.api_key, fake.api_secret, base_url=fake.base_url, pool_size=2, retry=FAST_RETRY
    )
    await client.open()
    await client.sessions.get(rec["id"])  # the token is in hand
    fake.inject("GET /sessions/{id}", Fault.timeout(60.0), times=2)
    calls = [asyncio.ensure_future(client.sessions.get(rec["id"])) for _ in range(10)]
    await _until(lambda: fake.in_flight == 2)  # two in flight, eight queued for a slot
    await client.aclose()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert [type(r) for r in results] == [ClientStateError] * 10, results


def _mock_transport() -> MockTransport:
    def handler(request: Request) -> Response:
        if request.url.endswith("/oauth2/token"):
            body = b'{"access_token": "tok", "expires_at": "2099-01-01 00:00:00"}'
            return Response(200, {}, body)
        return Response(200, {}, b'{"id": 1000, "name": "A"}')

    return MockTransport(handler)


def test_a_client_reused_on_a_new_loop_says_one_client_serves_one_loop() -> None:
    client = SwoogoClient("k", "s", base_url="http://127.0.0.1:9/v1", transport=_mock_transport())

    async def first() -> None:
        await client.open()
        assert (await client.sessions.get(1000)).id == 1000

    async def second() -> None:
        with pytest.raises(ClientStateError, match="one loop"):
            await client.sessions.get(1000)
        with pytest.raises(ClientStateError, match="one loop"):
            await client.aclose()
        with pytest.raises(ClientStateError, match="one loop"):
            await client.open()

    asyncio.run(first())
    asyncio.run(second())


async def test_a_client_used_from_another_thread_says_so(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    fake.add_session(event_id=1, name="A")
    await client.sessions.get(1000)

    def elsewhere() -> Session:
        return asyncio.run(client.sessions.get(1000))

    with pytest.raises(ClientStateError, match="one loop"):
        await asyncio.to_thread(elsewhere)
    assert (await client.sessions.get(1000)).id == 1000  # still fine on its own loop


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("user_agent", "agent\r\nX-Injected: 1"),
        ("user_agent", "agent\n"),
        ("base_url", "https://api.example.com/api/v1?x=1"),
        ("base_url", "https://api.example.com/api/v1#frag"),
        ("base_url", "https://api.example.com/api/v1?"),
        ("max_response_bytes", 0),
        ("max_response_bytes", None),
        ("max_response_bytes", 1.5),
        ("base_url", 5),
        ("read_timeout", 0),
        ("read_timeout", -1),
        ("read_timeout", "5"),
        ("read_timeout", float("nan")),
        ("connect_timeout", float("inf")),
        ("connect_timeout", True),
        ("pool_size", "x"),
        ("pool_size", 2.5),
        ("pool_size", 0),
        ("pool_size", True),
        ("reconcile_delay", float("nan")),
        ("reconcile_delay", float("inf")),
        ("reconcile_delay", -5),
        ("reconcile_delay", "1"),
        ("connect_timeout", 10**400),  # an int too large for a float
        ("read_timeout", 10**400),
        ("reconcile_delay", 10**400),
        ("retry", "x"),
        ("retry", {"max_attempts": 1}),
        ("rate_limit", "x"),
        ("rate_limit", 100),
        ("shared", object()),
        ("create_policy", "retry"),
        ("api_key", 123),
        ("api_secret", b"x"),
    ],
)
def test_unusable_options_are_refused_at_construction(option: str, value: object) -> None:
    options = {"api_key": "k", "api_secret": "s", option: value}
    with pytest.raises(InvalidInputError) as info:
        SwoogoClient(**options)  # type: ignore[arg-type]
    assert info.value.field == option


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: RetryPolicy(deadline=-1), "deadline"),
        (lambda: RetryPolicy(deadline=float("nan")), "deadline"),
        (lambda: RetryPolicy(max_attempts=0), "max_attempts"),
        (lambda: RetryPolicy(max_attempts=2.5), "max_attempts"),  # type: ignore[arg-type]
        (lambda: RetryPolicy(backoff_base="1"), "backoff_base"),  # type: ignore[arg-type]
        (lambda: RetryPolicy(max_server_wait=float("inf")), "max_server_wait"),
        (lambda: RateLimit(credits=0, window=1), "credits"),
        (lambda: RateLimit(credits=10, window=float("nan")), "window"),
        (lambda: RateLimit(credits=10, window=1, burst=-0.1), "burst"),
        (lambda: RetryPolicy(deadline=10**400), "deadline"),  # too large for a float
        (lambda: RetryPolicy(backoff_base=10**400), "backoff_base"),
        (lambda: RetryPolicy(max_server_wait=10**400), "max_server_wait"),
        (lambda: RateLimit(credits=100, window=10**400), "window"),
        (lambda: RateLimit(credits=10**400, window=10), "credits"),
        (lambda: RateLimit(credits=10**10, window=10), "credits"),
        (lambda: RateLimit(credits=10, window=86401), "window"),
        (lambda: RateLimit(credits=10, window=1, burst=2), "burst"),
    ],
)
def test_unusable_policy_values_raise_invalid_input(make: Callable[[], object], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        make()
    assert info.value.field == field
    assert isinstance(info.value, ValueError)  # what attrs validators are expected to raise


def test_reconcile_delay_zero_and_finite_values_are_accepted() -> None:
    client = SwoogoClient("k", "s", reconcile_delay=0, read_timeout=1, pool_size=1)
    assert client.reconcile_delay == 0


async def test_a_body_over_the_limit_raises_a_typed_error_once(fake: FakeSwoogo) -> None:
    rec = fake.add_session(event_id=1, name="A", description="x" * 50_000)
    async with SwoogoClient(
        fake.api_key,
        fake.api_secret,
        base_url=fake.base_url,
        max_response_bytes=10_000,
        retry=FAST_RETRY,
    ) as client:
        with pytest.raises(ResponseTooLargeError) as info:
            await client.sessions.get(rec["id"])
        assert isinstance(info.value, SwoogoError)
        assert (info.value.status, info.value.limit) == (200, 10_000)
        # The same body would come back: not retried.
        assert len([r for r in fake.requests if r.path.startswith("/sessions/")]) == 1
        fields = await client.sessions.get(rec["id"], fields=["id", "name"])
        assert fields.name == "A"


async def test_a_callers_deadline_bounds_the_call(fake: FakeSwoogo, client: SwoogoClient) -> None:
    rec = fake.add_session(event_id=1, name="A")
    await client.sessions.get(rec["id"])
    call = Call("GET", f"/sessions/{rec['id']}")
    fake.reset_requests()
    with pytest.raises(ReadTimeoutError) as info:
        await client.send(call, parse_session, deadline=client.clock() - 1)
    assert not info.value.may_have_acted
    assert fake.requests == []  # nothing was sent past the deadline
    fake.inject("GET /sessions/{id}", Fault.timeout(60.0), times=10)
    with pytest.raises(ReadTimeoutError):
        # read_timeout and retry.deadline allow far more; the 30 s are a hang guard.
        await asyncio.wait_for(client.send(call, parse_session, deadline=client.clock() + 0.5), 30)


def test_the_package_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("swoogo_async").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def _frame_locals(error: BaseException) -> list[tuple[str, object]]:
    """Each local of each library frame a traceback of ``error`` (and its chain) keeps."""
    found: list[tuple[str, object]] = []
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        tb: TracebackType | None = exc.__traceback__
        for frame, _ in traceback.walk_tb(tb):
            if frame.f_code.co_filename == __file__:
                continue  # this test's own frames hold the secrets it looks for
            found += frame.f_locals.items()
        pending += [exc.__cause__, exc.__context__]
    return found


async def test_no_frame_local_of_a_failing_request_holds_a_credential() -> None:
    async with FakeSwoogo(api_secret=SECRET) as fake:
        basic = base64.b64encode(f"{fake.api_key}:{SECRET}".encode()).decode()
        policy = RetryPolicy(max_attempts=1)
        async with SwoogoClient(
            fake.api_key, SECRET, base_url=fake.base_url, retry=policy
        ) as client:
            fake.inject("POST /oauth2/token", Fault.error(400))
            with pytest.raises(BadRequestError) as token_failure:
                await client.sessions.get(1)
            with pytest.raises(NotFoundError) as not_found:
                await client.sessions.get(424242)
            token = client._core.pipeline.tokens.current
            assert token is not None
            fake.inject("GET /sessions/{id}", Fault.drop_after())
            with pytest.raises(SwoogoError) as dropped:
                await client.sessions.get(424242)
        shown = repr(Headers({"Authorization": "Bearer " + token.value, "Accept": "x"}))
        assert token.value not in shown
        assert "Accept" in shown
        for info in (token_failure, not_found, dropped):
            found = _frame_locals(info.value)
            assert len(found) > 10  # the walk did reach the request path
            for name, value in found:
                # Not even the Token object, whose repr hides the value but whose
                # ``.value`` a locals capture that walks attributes would record.
                assert not isinstance(value, Token), name
                text = f"{name}={value!r}"
                for secret in (SECRET, basic, token.value):
                    assert secret not in text, text


async def test_a_handler_may_copy_the_request_headers_without_seeing_the_token() -> None:
    import copy

    seen: list[object] = []

    def handler(request: Request) -> Response:
        if request.url.endswith("/oauth2/token"):
            return Response(200, {}, b'{"access_token":"tok-1","expires_at":"2099-01-01 00:00:00"}')
        seen.append(copy.copy(request.headers))
        return Response(200, {}, b'{"id": 1, "name": "A"}')

    async with SwoogoClient("k", "s", transport=MockTransport(handler), retry=FAST_RETRY) as c:
        await c.sessions.get(1)
    assert isinstance(seen[0], Headers)
    assert seen[0]["Authorization"] == "Bearer tok-1"
    assert "tok-1" not in repr(seen[0])
