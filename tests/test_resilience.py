"""Retries, rate limits, safe creates, deadlines and cancellation, end to end on FakeSwoogo."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from swoogo_async import (
    APIError,
    MockTransport,
    RateLimit,
    RateLimitError,
    ReadTimeoutError,
    Request,
    Response,
    RetryPolicy,
    ServerError,
    SwoogoClient,
    TransportError,
    UnknownOutcomeError,
)
from swoogo_async._http.pacer import bulk_pacing
from swoogo_async._http.pacing import Pacer
from swoogo_async.testing import FakeSwoogo, Fault

from .conftest import FAST_RETRY


def _client(fake: FakeSwoogo, **options: object) -> SwoogoClient:
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("reconcile_delay", 0.05)
    return SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fault",
    [
        Fault.error(500),
        Fault.error(502),
        Fault.error(503),
        Fault.error(504),
        Fault.rate_limited(0),
        Fault.html_error(),
        Fault.malformed_json(),
        Fault.drop_before(),
    ],
    ids=lambda f: f.name,
)
async def test_reads_retry_through_transient_faults(fake: FakeSwoogo, fault: Fault) -> None:
    rec = fake.add_session(event_id=1, name="A")
    # times=2: aiohttp itself replays an idempotent request once on a dropped keep-alive socket.
    fake.inject("GET /sessions/{id}", fault, times=2)
    async with _client(fake) as client:
        s = await client.sessions.get(rec["id"])
    assert s.name == "A"
    gets = [r for r in fake.requests if r.path.startswith("/sessions/")]
    assert gets[-1].status == 200
    assert len(gets) >= 2


async def test_updates_retry_through_timeouts(fake: FakeSwoogo) -> None:
    rec = fake.add_session(event_id=1, name="A")
    # Held until the client gives up: only this attempt can time out, however slow the machine.
    fake.inject("PUT /sessions/update/{id}", Fault.hang(acted=True))
    async with _client(fake, read_timeout=2.5) as client:
        s = await client.sessions.update(rec["id"], capacity=7)
    assert s.capacity == 7
    puts = [r for r in fake.requests if r.path.startswith("/sessions/update/")]
    assert [r.status for r in puts] == [0, 200]  # timed out once, then retried
    assert fake.sessions[rec["id"]]["capacity"] == 7


async def test_429_waits_for_the_server_then_succeeds(
    fake: FakeSwoogo, caplog: pytest.LogCaptureFixture
) -> None:
    rec = fake.add_session(event_id=1, name="A")
    fake.inject("GET /sessions/{id}", Fault.rate_limited(reset=1))
    caplog.set_level(logging.WARNING, logger="swoogo_async")
    async with _client(fake) as client:
        await client.sessions.get(rec["id"])
    # The wait the client chose (its retry log says it): as told, not the tiny backoff.
    waits = [r.args[-1] for r in caplog.records if r.msg.startswith("retrying")]  # type: ignore[index]
    assert waits == [1.0]
    gets = [r.status for r in fake.requests if r.path.startswith("/sessions/")]
    assert gets == [429, 200]


async def test_429_beyond_the_cap_raises_with_retry_after(fake: FakeSwoogo) -> None:
    rec = fake.add_session(event_id=1, name="A")
    fake.inject("GET /sessions/{id}", Fault.rate_limited(reset=300))
    async with _client(fake) as client:
        with pytest.raises(RateLimitError) as info:
            await client.sessions.get(rec["id"])
    assert info.value.retry_after == 300
    assert info.value.status == 429


async def test_deadline_bounds_the_whole_call(fake: FakeSwoogo) -> None:
    rec = fake.add_session(event_id=1, name="A")
    fake.inject("GET /sessions/{id}", Fault.hang(), times=10)
    policy = RetryPolicy(max_attempts=10, backoff_base=0.01, deadline=1.0)
    async with _client(fake, retry=policy, read_timeout=30.0) as client:
        with pytest.raises(ReadTimeoutError):
            # Without the deadline the first attempt alone would wait 30 s: the 20 s
            # are a hang guard, not a measurement.
            await asyncio.wait_for(client.sessions.get(rec["id"]), 20)
    # The attempt was cut to the deadline, and no other began after it.
    assert len([r for r in fake.requests if r.path.startswith("/sessions/")]) == 1


async def test_a_calls_deadline_bounds_its_wait_for_the_token(fake: FakeSwoogo) -> None:
    rec = fake.add_session(event_id=1, name="A")
    fake.inject("POST /oauth2/token", Fault.hang())  # the token endpoint never answers
    async with _client(fake, read_timeout=30.0) as client:
        quick = client.with_options(retry=RetryPolicy(max_attempts=3, deadline=1.0))
        with pytest.raises(ReadTimeoutError) as info:
            # The token fetch is bounded only by the client's own policy (30 s here):
            # the 20 s are a hang guard, not a measurement.
            await asyncio.wait_for(quick.sessions.get(rec["id"]), 20)
        assert info.value.may_have_acted is False  # the call itself was never sent
        fake.release_held()
        assert (await client.sessions.get(rec["id"])).id == rec["id"]  # the fetch went on
    assert fake.token_requests == 1


async def test_a_calls_deadline_bounds_its_wait_for_a_connection_slot(fake: FakeSwoogo) -> None:
    rec = fake.add_session(event_id=1, name="A")
    async with _client(fake, pool_size=1, read_timeout=30.0) as client:
        await client.sessions.get(rec["id"])  # the token, so the next call takes the slot
        fake.inject("GET /sessions/{id}", Fault.hang())
        holder = asyncio.ensure_future(client.sessions.get(rec["id"]))
        await fake.until_held(1)  # the one slot is taken until the hang is released
        quick = client.with_options(retry=RetryPolicy(max_attempts=3, deadline=1.0))
        with pytest.raises(ReadTimeoutError) as info:
            await asyncio.wait_for(quick.sessions.get(rec["id"]), 20)  # a hang guard
        assert info.value.may_have_acted is False
        fake.release_held()
        assert (await holder).id == rec["id"]
        # The call that gave up took no slot with it: the next one is sent.
        assert (await asyncio.wait_for(client.sessions.get(rec["id"]), 20)).id == rec["id"]


async def test_a_cold_client_with_a_short_deadline_waits_for_the_budget_probe(
    fake: FakeSwoogo,
) -> None:
    rec = fake.add_session(event_id=1, name="A")  # the fake has no rate limit at all
    async with _client(fake) as client:
        quick = client.with_options(retry=RetryPolicy(max_attempts=2, deadline=0.9))
        calls = [quick.sessions.get(rec["id"]) for _ in range(5)]
        results = await asyncio.gather(*calls, return_exceptions=True)
    refused = [r for r in results if isinstance(r, RateLimitError)]
    assert refused == []  # not one 429 came from the server: nothing was spent
    assert fake.rate_limited == 0


async def test_a_call_behind_a_held_budget_probe_fails_at_its_deadline_unsent(
    fake: FakeSwoogo,
) -> None:
    # The probe's answer never comes in time: the call waited for it up to its deadline,
    # then fails as any call whose deadline passed before it was sent (not "spent").
    rec = fake.add_session(event_id=1, name="A")
    fake.inject("GET /sessions/{id}", Fault.hang())
    async with _client(fake, read_timeout=30.0) as client:
        probe = asyncio.ensure_future(client.sessions.get(rec["id"]))
        await fake.until_held(1)
        quick = client.with_options(retry=RetryPolicy(max_attempts=2, deadline=0.5))
        with pytest.raises(ReadTimeoutError) as info:
            await asyncio.wait_for(quick.sessions.get(rec["id"]), 20)  # a hang guard
        assert info.value.may_have_acted is False
        fake.release_held()
        assert (await probe).id == rec["id"]
    assert len([r for r in fake.requests if r.path.startswith("/sessions/")]) == 1


async def test_gives_up_after_max_attempts(fake: FakeSwoogo) -> None:
    rec = fake.add_session(event_id=1, name="A")
    fake.inject("GET /sessions/{id}", Fault.error(503), times=10)
    async with _client(fake, retry=RetryPolicy(max_attempts=3, backoff_base=0.001)) as client:
        with pytest.raises(ServerError) as info:
            await client.sessions.get(rec["id"])
    assert info.value.status == 503
    assert len([r for r in fake.requests if r.path.startswith("/sessions/")]) == 3


async def test_token_endpoint_failing_twice_then_recovering(fake: FakeSwoogo) -> None:
    rec = fake.add_session(event_id=1, name="A")
    fake.inject("POST /oauth2/token", Fault.error(503), times=2)
    async with _client(fake) as client:
        results = await asyncio.gather(*(client.sessions.get(rec["id"]) for _ in range(50)))
    assert len(results) == 50
    assert fake.token_requests == 3
    assert client.token_fetches == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault.drop_after(),
        Fault.hang(acted=True),
        Fault.error(502, acted=True),
        Fault.malformed_json(),
        Fault.drop_before(),
        Fault.error(503),
    ],
    ids=lambda f: f.name + ("+acted" if f.acted else ""),
)
async def test_uncertain_create_is_reconciled_never_duplicated(
    fake: FakeSwoogo, fault: Fault
) -> None:
    fake.inject("POST /sessions/create", fault)
    # Only the held create meets the read timeout; ordinary requests never do.
    async with _client(fake, read_timeout=2.5) as client:
        s = await client.sessions.create(
            event_id=5, name="Keynote", date="2026-05-01", start_time="09:00", capacity=10
        )
    assert list(fake.sessions) == [s.id]
    assert s.name == "Keynote"
    creates = [r for r in fake.requests if r.path == "/sessions/create"]
    lookups = [r for r in fake.requests if r.path == "/sessions"]
    # Reconciled once; a re-send is checked once more, for a late commit of the first.
    assert len(lookups) == (1 if fault.performs else 2)
    assert len(creates) == (1 if fault.performs else 2)
    assert "created_at>=" in lookups[0].query["search"]


async def test_create_policy_raise_reports_unknown_outcome(fake: FakeSwoogo) -> None:
    fake.inject("POST /sessions/create", Fault.drop_after())
    async with _client(fake, create_policy="raise") as client:
        with pytest.raises(UnknownOutcomeError) as info:
            await client.sessions.create(event_id=5, name="Keynote", date="2026-05-01")
    assert info.value.fields["name"] == "Keynote"
    assert len(fake.sessions) == 1  # it did happen; the caller was told it may have


async def test_failed_lookup_raises_unknown_outcome_with_fields(fake: FakeSwoogo) -> None:
    fake.inject("POST /sessions/create", Fault.drop_after())
    fake.inject("GET /sessions", Fault.error(400), times=1)
    async with _client(fake) as client:
        with pytest.raises(UnknownOutcomeError) as info:
            await client.sessions.create(event_id=5, name="Keynote", date="2026-05-01")
    assert info.value.fields["event_id"] == 5
    assert info.value.cause is not None


async def test_identical_rows_never_claim_each_other(fake: FakeSwoogo) -> None:
    fake.chaos(
        rate=0.5,
        faults=[Fault.drop_after(), Fault.drop_before()],
        seed=3,
        routes=["POST /sessions/create"],
    )
    async with _client(fake, read_timeout=2.5) as client:
        results = await asyncio.gather(
            *(
                client.sessions.create(
                    event_id=5, name="Break", date="2026-05-01", start_time="10:00"
                )
                for _ in range(8)
            ),
            return_exceptions=True,
        )
    created = [r.id for r in results if not isinstance(r, BaseException)]
    unknown = [r for r in results if isinstance(r, UnknownOutcomeError)]
    assert len(created) == len(set(created))  # each row got its own session
    assert len(created) + len(unknown) == 8
    assert len(fake.sessions) >= len(created)


async def test_cancelling_mid_retry_frees_the_connection(fake: FakeSwoogo) -> None:
    rec = fake.add_session(event_id=1, name="A")
    fake.inject("GET /sessions/{id}", Fault.hang(), times=1)
    async with _client(fake, pool_size=1) as client:
        task = asyncio.create_task(client.sessions.get(rec["id"]))
        await fake.until_held()  # in flight, holding the only connection
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The only connection slot is free again, and the client works.
        s = await asyncio.wait_for(client.sessions.get(rec["id"]), timeout=5)
        assert s.id == rec["id"]


async def test_in_flight_requests_never_exceed_the_pool(fake: FakeSwoogo) -> None:
    fake.latency = 0.02
    rec = fake.add_session(event_id=1, name="A")
    async with _client(fake, pool_size=4) as client:
        await client.sessions.get(rec["id"])  # the budget is known: no probe goes alone
        # The first four are held until all four are in: the pool is full, whatever the load.
        fake.inject("GET /sessions/{id}", Fault.hang(), times=4)
        calls = asyncio.gather(*(client.sessions.get(rec["id"]) for _ in range(60)))
        await fake.until_held(4)
        fake.release_held()
        await calls
    assert fake.max_in_flight == 4


async def test_pacing_keeps_a_burst_inside_a_small_budget() -> None:
    async with FakeSwoogo(rate_limit=40, rate_window=2.0) as fake:
        rec = fake.add_session(event_id=1, name="A")
        async with _client(fake) as client:
            await asyncio.gather(*(client.sessions.get(rec["id"]) for _ in range(70)))
        assert fake.rate_limited == 0


async def test_explicit_rate_and_pacing_off() -> None:
    async with FakeSwoogo(rate_limit=30, rate_window=60.0) as fake:
        rec = fake.add_session(event_id=1, name="A")
        async with _client(fake, rate_limit=None, retry=RetryPolicy(max_attempts=1)) as client:
            results = await asyncio.gather(
                *(client.sessions.get(rec["id"]) for _ in range(40)), return_exceptions=True
            )
        assert sum(isinstance(r, RateLimitError) for r in results) == 10
    async with FakeSwoogo() as fake:
        rec = fake.add_session(event_id=1, name="A")
        async with _client(fake, rate_limit=RateLimit(credits=20, window=1.0, burst=0)) as client:
            # The pacer's clock stands still: its decisions are exact however slow the run.
            assert client._core.pipeline.pacer is not None
            client._core.pipeline.pacer._clock = lambda: 0.0
            decisions = _Decisions(client._core.pipeline.pacer.pacer, 11)
            await asyncio.gather(*(client.sessions.get(rec["id"]) for _ in range(11)))
        # Spaced at 20/s (one slot of burst), not all at once.
        assert all(reserved for reserved, _ in decisions.answers)
        assert [delay for _, delay in decisions.answers] == pytest.approx(
            [0.0] + [i * 0.05 for i in range(10)]
        )


class _Decisions:
    """Every ``(reserved, delay)`` that ``pacer.reserve`` answers from now on.

    ``first`` holds each task's first answer; ``all_asked`` is set once ``expected``
    tasks have asked.
    """

    def __init__(self, pacer: Pacer, expected: int) -> None:
        self.answers: list[tuple[bool, float]] = []
        self.first: dict[asyncio.Task[Any] | None, tuple[bool, float]] = {}
        self.all_asked = asyncio.Event()
        reserve = pacer.reserve

        def recording(
            cost: int,
            now: float,
            within: float = math.inf,
            *,
            bulk: bool = False,
            again: bool = False,
            final: bool = False,
            run: int = 0,
            needs: float = 0.0,
        ) -> tuple[bool, float]:
            answer = reserve(
                cost, now, within, bulk=bulk, again=again, final=final, run=run, needs=needs
            )
            self.answers.append(answer)
            self.first.setdefault(asyncio.current_task(), answer)
            if len(self.first) >= expected:
                self.all_asked.set()
            return answer

        pacer.reserve = recording  # type: ignore[method-assign]


@pytest.fixture
async def redirecting_server() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback server that redirects every call to a second loopback host."""
    seen: list[str] = []

    async def target(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response({"id": 1})

    async def redirect(request: web.Request) -> web.Response:
        if request.path.endswith("/oauth2/token"):
            return web.json_response(
                {"access_token": "tok", "expires_at": "2099-01-01 00:00:00", "type": "bearer"}
            )
        raise web.HTTPFound(f"http://localhost:{other_port}/elsewhere")

    other = web.Application()
    other.router.add_route("*", "/{tail:.*}", target)
    other_runner = web.AppRunner(other)
    await other_runner.setup()
    other_site = web.TCPSite(other_runner, "127.0.0.1", 0)
    await other_site.start()
    other_port = other_runner.addresses[0][1]
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/api/v1", seen
    await runner.cleanup()
    await other_runner.cleanup()


async def test_redirects_are_not_followed_with_credentials(
    redirecting_server: tuple[str, list[str]],
) -> None:
    base_url, seen = redirecting_server
    async with SwoogoClient("k", "s", base_url=base_url) as client:
        with pytest.raises(APIError) as info:
            await client.sessions.get(1)
    assert info.value.status == 302
    assert seen == []


async def test_paced_workload_runs_at_the_budget_with_no_429() -> None:
    # Only what a slow machine cannot change; the rate achieved against the budget is
    # measured by benchmarks/bench_pacing.py (--credits 80 --window 2 --windows 3).
    credits, window, windows = 80, 2.0, 3
    async with FakeSwoogo(rate_limit=credits, rate_window=window) as fake:
        rec = fake.add_session(event_id=1, name="A")
        async with _client(fake, pool_size=20) as client:
            got = await asyncio.gather(
                *(client.sessions.get(rec["id"]) for _ in range(credits * windows))
            )
        assert fake.rate_limited == 0
        assert [s.id for s in got] == [rec["id"]] * credits * windows
        gets = [r.status for r in fake.requests if r.path.startswith("/sessions/")]
        assert gets == [200] * credits * windows


async def test_a_row_never_claims_a_session_of_a_row_with_more_fields(fake: FakeSwoogo) -> None:
    async with _client(fake) as client:
        # X's create is held, then fails with a 503 the server did not act on. Y, the
        # same but with a start time, is sent by the same client while X is in doubt:
        # it waits until X is settled, so X's lookup cannot take Y's session.
        fake.inject("POST /sessions/create", Fault(status=503, delay=math.inf))
        x = asyncio.create_task(client.sessions.create(event_id=1, name="Talk", date="2026-05-01"))
        await fake.until_held()
        y = asyncio.create_task(
            client.sessions.create(event_id=1, name="Talk", date="2026-05-01", start_time="10:00")
        )
        fake.release_held()
        x_session, y_session = await asyncio.gather(x, y)
    assert x_session.id != y_session.id
    assert x_session.start_time is None
    assert set(fake.sessions) == {x_session.id, y_session.id}
    creates = [r.form or {} for r in fake.requests if r.path == "/sessions/create"]
    # X, X again after its lookup found nothing, and only then Y.
    assert ["start_time" in form for form in creates] == [False, False, True]


async def test_cancelled_paced_calls_give_their_credits_back() -> None:
    # Both clocks stand still: the window cannot reset and no paced call's turn comes,
    # however slow the run.
    async with FakeSwoogo(rate_limit=60, rate_window=600.0, clock=lambda: 0.0) as fake:
        rec = fake.add_session(event_id=1, name="A")
        async with _client(fake) as client:
            assert client._core.pipeline.pacer is not None
            client._core.pipeline.pacer._clock = lambda: 0.0
            pacer = client._core.pipeline.pacer.pacer
            with bulk_pacing():
                for _ in range(15):
                    await client.sessions.get(rec["id"])
            # One interactive call: bulk work now leaves a share of what is left to such calls
            # (the demand seen, on top of the floor).
            await client.sessions.get(rec["id"])
            decisions = _Decisions(pacer, 10)
            with bulk_pacing():  # bulk work beyond that share waits; the tasks inherit it
                waiting = [asyncio.create_task(client.sessions.get(rec["id"])) for _ in range(10)]
            await decisions.all_asked.wait()
            # Those let through at once finish; the others wait their turn in the pacer.
            at_once = [t for t, answer in decisions.first.items() if answer == (True, 0.0)]
            await asyncio.gather(*(t for t in at_once if t is not None))
            assert 0 < len(at_once) < 10
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
            sent = len([r for r in fake.requests if r.path.startswith("/sessions/")])
            assert pacer.inflight == 0
            # What the client believes is left is what the server says is left.
            assert pacer.available == 60 - sent


async def test_aiohttp_errors_are_not_chained_into_ours() -> None:
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nBad Header\r\n\r\nhello")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(broken, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with SwoogoClient(
            "key",
            "very-secret",
            base_url=f"http://127.0.0.1:{port}/api/v1",
            retry=RetryPolicy(max_attempts=1),
        ) as client:
            with pytest.raises(TransportError) as info:
                await client.sessions.get(1)
    finally:
        server.close()
        await server.wait_closed()
    err = info.value
    assert err.__cause__ is None
    assert err.__context__ is None
    assert "ClientResponseError" in str(err)


@pytest.mark.parametrize("server_ahead", [-3600.0, 3600.0])
async def test_a_retry_after_date_is_read_on_the_servers_clock(server_ahead: float) -> None:
    # The server's clock is an hour off ours; its 429 asks for 20 s, as an HTTP date.
    def handler(request: Request) -> Response:
        server_now = time.time() + server_ahead
        date = {"Date": email.utils.formatdate(server_now, usegmt=True)}
        if request.url.endswith("/oauth2/token"):
            body = b'{"access_token":"t","expires_at":"2099-01-01 00:00:00","type":"bearer"}'
            return Response(200, date, body)
        retry = email.utils.formatdate(server_now + 20, usegmt=True)
        return Response(429, {**date, "Retry-After": retry}, b'{"message":"slow down"}')

    policy = RetryPolicy(max_attempts=1, max_server_wait=60.0)
    async with SwoogoClient("k", "s", transport=MockTransport(handler), retry=policy) as c:
        with pytest.raises(RateLimitError) as caught:
            await c.sessions.get(1)
    assert caught.value.retry_after == pytest.approx(20.0, abs=2.0)


async def test_the_retry_loop_stops_at_max_attempts_and_says_so(
    fake: FakeSwoogo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="swoogo_async")
    rec = fake.add_session(event_id=1, name="A")
    fake.inject("GET /sessions/{id}", Fault.error(503), times=10)
    retry = RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_cap=0.001)
    async with _client(fake, retry=retry) as client:
        with pytest.raises(ServerError):
            await client.sessions.get(rec["id"])
    path = f"/sessions/{rec['id']}"
    assert sum(1 for r in fake.requests if r.method == "GET" and r.path == path) == 3
    retries = [r.getMessage() for r in caplog.records if r.funcName == "log_backoff"]
    assert [m.split("(")[1].split(")")[0] for m in retries] == [
        "attempt 1 failed",
        "attempt 2 failed",
    ]
    (gave_up,) = [r for r in caplog.records if r.funcName == "log_giveup"]
    assert gave_up.levelno == logging.WARNING
    assert f"GET {path} failed with ServerError after 3 attempt(s)" in gave_up.getMessage()


async def test_the_retry_loop_gives_up_before_a_wait_past_the_deadline(
    fake: FakeSwoogo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="swoogo_async")
    rec = fake.add_session(event_id=1, name="A")
    fake.inject("GET /sessions/{id}", Fault.error(503), times=10)
    # Every wait is 50 s and the call may take 20: the first failure is the last.
    retry = RetryPolicy(max_attempts=5, backoff_base=50.0, backoff_cap=50.0, deadline=20.0)
    async with _client(fake, retry=retry) as client:
        client._core.pipeline.rand = lambda: 1.0
        with pytest.raises(ServerError):
            await client.sessions.get(rec["id"])
    path = f"/sessions/{rec['id']}"
    assert sum(1 for r in fake.requests if r.method == "GET" and r.path == path) == 1
    assert not [r for r in caplog.records if r.funcName == "log_backoff"]
    (gave_up,) = [r for r in caplog.records if r.funcName == "log_giveup"]
    assert gave_up.levelno == logging.DEBUG  # one attempt: the error itself says enough
