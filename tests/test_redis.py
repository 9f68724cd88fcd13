"""``RedisSharedState`` against a real redis-server: spawned processes, one token, one budget."""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from redis import asyncio as aioredis

from swoogo_async import (
    InvalidInputError,
    LocalSharedState,
    RateLimit,
    RateLimitError,
    ReadTimeoutError,
    RetryPolicy,
    SharedStateError,
    SwoogoClient,
)
from swoogo_async._http.pacer import bulk_pacing
from swoogo_async._http.pacing import MAX_RUNS, PROBE_AFTER, SIZED_FLOOR, STRAY_AFTER, Pacer
from swoogo_async.cli._args import build_parser
from swoogo_async.cli._main import _client as cli_client
from swoogo_async.redis import RedisSharedState
from swoogo_async.testing import FakeSwoogo, Fault

from ._redis_server import PATIENT, RedisServer, redis_server
from ._redis_workers import run_worker
from .conftest import FAST_RETRY

__all__ = ["redis_server"]  # the fixture, imported for pytest

SPAWN = multiprocessing.get_context("spawn")


async def _in_processes(base_url: str, redis_url: str, calls: list[int]) -> list[dict[str, Any]]:
    """Run one spawned worker per entry of ``calls`` and return what each saw."""
    results: multiprocessing.Queue[Any] = SPAWN.Queue()
    procs = [
        SPAWN.Process(target=run_worker, args=(base_url, redis_url, n, results)) for n in calls
    ]
    for proc in procs:
        proc.start()
    loop = asyncio.get_running_loop()
    try:
        return [await loop.run_in_executor(None, results.get, True, 120) for _ in procs]
    finally:
        for proc in procs:
            await loop.run_in_executor(None, proc.join, 30)
            if proc.is_alive():
                proc.kill()


def _state(redis: aioredis.Redis, **options: Any) -> RedisSharedState:
    """A state whose commands may take long on a loaded machine (tests of a slow Redis
    pass their own timeout)."""
    return RedisSharedState(redis, **{"timeout": PATIENT, **options})


def _client(fake: FakeSwoogo, shared: RedisSharedState, **options: Any) -> SwoogoClient:
    return SwoogoClient(
        fake.api_key,
        fake.api_secret,
        base_url=fake.base_url,
        retry=options.pop("retry", FAST_RETRY),
        shared=shared,
        **options,
    )


async def test_eight_processes_fetch_one_token(redis_server: RedisServer) -> None:
    async with FakeSwoogo(drift=False) as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        # A slow token endpoint: processes that start meanwhile must wait for the holder.
        fake.inject("POST /oauth2/token", Fault(delay=1.0))
        seen = await _in_processes(fake.base_url, redis_server.url, [5] * 8)
    assert len({s["pid"] for s in seen}) == 8
    assert all(s["errors"] == [] for s in seen)
    assert fake.token_requests == 1
    assert sum(s["fetches"] for s in seen) == 1


async def test_four_processes_share_one_budget_without_a_429(redis_server: RedisServer) -> None:
    async with FakeSwoogo(rate_limit=60, rate_window=3.0, drift=False, latency=0.005) as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        seen = await _in_processes(fake.base_url, redis_server.url, [40] * 4)
    assert all(s["errors"] == [] for s in seen)
    assert fake.rate_limited == 0
    assert sum(1 for r in fake.requests if r.path.startswith("/sessions/")) == 160


async def test_a_dead_lock_holder_is_replaced_after_its_ttl(redis_server: RedisServer) -> None:
    redis = aioredis.Redis.from_url(redis_server.url)
    shared = _state(redis, lock_ttl=0.3)
    async with FakeSwoogo() as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        bound = shared.bind(fake.api_key, None, base_url=fake.base_url)
        assert await bound.refresh_lock() is not None  # ...and its holder dies
        async with _client(fake, shared) as client:
            await client.sessions.get(1000)
        assert fake.token_requests == 1
    await redis.aclose()


async def test_a_401_drops_the_shared_token_only_if_it_is_the_one_that_failed(
    redis_server: RedisServer,
) -> None:
    redis = aioredis.Redis.from_url(redis_server.url)
    # Two states on one Redis stand for two processes: they share nothing else.
    a_state, b_state = _state(redis), _state(redis)
    async with FakeSwoogo() as fake, _client(fake, a_state) as a, _client(fake, b_state) as b:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        await a.sessions.get(1000)
        await b.sessions.get(1000)
        assert fake.token_requests == 1
        fake.revoke_tokens()
        await asyncio.gather(*(c.sessions.get(1000) for c in (a, b) for _ in range(20)))
        assert fake.token_requests == 2
        # A late compare-and-delete of the dead token leaves the new one alone.
        bound = b_state.bind(fake.api_key, None, base_url=fake.base_url)
        current = await bound.token_get()
        assert current is not None
        await bound.token_delete("a token that died long ago")
        assert await bound.token_get() is not None
    await redis.aclose()


async def test_a_429_blocks_every_process_until_its_reset(
    redis_server: RedisServer,
) -> None:
    redis = aioredis.Redis.from_url(redis_server.url)
    short = RetryPolicy(max_attempts=2, backoff_base=0.005, backoff_cap=0.01, deadline=2.0)
    a_state, b_state = _state(redis), _state(redis)
    async with (
        FakeSwoogo(rate_limit=1000, rate_window=600.0) as fake,
        _client(fake, a_state, retry=short) as a,
        _client(fake, b_state, retry=short) as b,
    ):
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        await a.sessions.get(1000)
        await b.sessions.get(1000)
        fake.inject("GET /sessions/{id}", Fault(status=429, headers={"X-Rate-Limit-Reset": "90"}))
        with pytest.raises(Exception, match="429"):
            await a.sessions.get(1000)
        assert a._core.pipeline.pacer is not None
        await a._core.pipeline.pacer.aclose()  # the block has reached Redis
        sent = len(fake.requests)
        with pytest.raises(Exception, match="429"):
            await b.sessions.get(1000)  # blocked too, and fails fast without a request
        assert len(fake.requests) == sent
        # The reset lies within the window: nobody probes, everyone waits for it. Move
        # the shared block and the reset into the past rather than wait for them.
        key = b_state.bind(fake.api_key, None, base_url=fake.base_url)._keys
        assert key is not None
        assert float(await redis.hget(key[2], "probe_at") or 0) == pytest.approx(
            float(await redis.hget(key[2], "blocked") or 0)
        )
        await redis.hset(key[2], mapping={"blocked": 0, "probe_at": 0, "reset_at": 0})
        await b.sessions.get(1000)
        await a.sessions.get(1000)
    await redis.aclose()


async def test_redis_killed_mid_run_falls_back_with_one_warning(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    shared = RedisSharedState.from_url(redis_server.url, timeout=0.3)
    async with FakeSwoogo(rate_limit=1000, rate_window=60.0) as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        async with _client(fake, shared) as client:
            await asyncio.gather(*(client.sessions.get(1000) for _ in range(20)))
            redis_server.stop()
            with caplog.at_level(logging.WARNING, logger="swoogo_async"):
                await asyncio.gather(*(client.sessions.get(1000) for _ in range(20)))
                fake.revoke_tokens()  # even a new token works without Redis
                await client.sessions.get(1000)
        warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
        assert len(warnings) == 1
        assert fake.rate_limited == 0
    await shared.aclose()


async def test_a_frozen_redis_costs_one_timeout_then_in_process_state(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    shared = RedisSharedState.from_url(redis_server.url, timeout=0.2)
    async with FakeSwoogo(rate_limit=1000, rate_window=60.0) as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        async with _client(fake, shared) as client:
            await client.sessions.get(1000)
            redis_server.pause()
            try:
                with caplog.at_level(logging.WARNING, logger="swoogo_async"):
                    await asyncio.gather(*(client.sessions.get(1000) for _ in range(20)))
            finally:
                redis_server.resume()
        warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
        assert len(warnings) == 1
        assert "TimeoutError" in warnings[0].getMessage()
    await shared.aclose()


async def test_with_redis_away_bulk_calls_go_out_one_at_a_time(
    redis_server: RedisServer,
) -> None:
    """Others spend the budget unseen meanwhile: a burst of bulk calls would overrun it.

    Before, each process fell back to a budget of its own and sent its whole burst
    at once against what the server said was left: four imports met 45 x 429 in a
    4-s freeze of Redis.
    """
    shared = RedisSharedState.from_url(redis_server.url, timeout=0.2)
    async with FakeSwoogo(rate_limit=1000, rate_window=60.0, latency=0.01) as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        out = [0]
        most = [0]

        def sent(_: object) -> None:
            out[0] += 1
            most[0] = max(most[0], out[0])

        def answered(_: object) -> None:
            out[0] -= 1

        async with _client(fake, shared, on_request=sent, on_response=answered) as c:
            await c.sessions.get(1000)
            redis_server.pause()
            try:
                with bulk_pacing():
                    await asyncio.gather(*(c.sessions.get(1000) for _ in range(8)))
            finally:
                redis_server.resume()
        assert most[0] == 1
        assert fake.rate_limited == 0
    await shared.aclose()


async def test_answers_read_while_redis_was_away_are_not_in_flight_there_after_it_returns(
    redis_server: RedisServer,
) -> None:
    """Reservations made in Redis and answered during an outage are repaid on rejoining.

    Before, Redis kept counting them in flight: every window started that much smaller
    (with a whole run's worth in flight, empty) until they strayed, 30 s without a grant.
    """
    shared = RedisSharedState.from_url(redis_server.url, timeout=0.2, retry_after=0.0)
    state = shared.bind("repay", None, base_url="http://127.0.0.1:1/api/v1")
    assert state._keys is not None
    try:
        assert (await state.reserve(1, within=math.inf, bulk=True))[0]  # the probe
        await state.observe((100, 99, 10), 1, ok=True)
        for _ in range(5):
            assert (await state.reserve(1, within=math.inf, bulk=True))[0]
        redis_server.pause()
        try:
            for _ in range(5):  # answered while Redis is away
                await state.observe((100, 90, 9), 1, ok=True)
        finally:
            redis_server.resume()
        assert state._down_until > 0
        await state.reserve(1, within=math.inf, bulk=True)  # asks Redis: rejoins
        assert state._down_until == 0
        assert float(await shared.redis.hget(state._keys[2], "inflight") or -1) <= 1
    finally:
        await shared.aclose()


async def test_on_error_raise_gives_a_typed_error(redis_server: RedisServer) -> None:
    shared = RedisSharedState.from_url(redis_server.url, timeout=0.3, on_error="raise")
    redis_server.stop()
    async with FakeSwoogo() as fake, _client(fake, shared) as client:
        with pytest.raises(SharedStateError):
            await client.sessions.get(1000)
    await shared.aclose()


async def test_swoogo_redis_url_shares_state_for_every_client(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWOOGO_REDIS_URL", redis_server.url)
    async with FakeSwoogo() as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        for _ in range(3):
            async with SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url) as c:
                await c.sessions.get(1000)
        assert fake.token_requests == 1


def _pacer_ops(explicit: RateLimit | None) -> list[tuple[str, tuple[Any, ...], float]]:
    ops: list[tuple[str, tuple[Any, ...], float]] = [
        ("reserve", (1, 1e18, 0), 100.0),
        ("reserve", (1, 1e18, 0), 100.0),
        ("observe", (100, 99, 10, 1, 1), 100.1),
    ]
    ops += [("reserve", (1, 1e18, 1), 100.2)] * 95
    ops += [
        ("reserve", (1, 0.5, 1), 100.2),
        ("release", (1, 0), 100.3),
        ("reserve", (10, 1e18, 0), 100.3),
        ("reserve", (10, 1e18, 0), 110.3),
        ("observe", (100, 80, 9, 10, 1), 110.4),
        ("limited", (3600.0, 1), 111.0),
        ("reserve", (1, 1e18, 0), 111.0),
        ("reserve", (1, 1e18, 0), 111.0 + PROBE_AFTER),
        ("reserve", (1, 1e18, 0), 111.0 + PROBE_AFTER),
        ("reserve", (1, 0.3, 0), 111.2 + PROBE_AFTER),  # its answer: a guess, cut to within
        ("observe", (100, 70, 5, 1, 1), 111.5 + PROBE_AFTER),
        ("reserve", (1, 1e18, 0), 112.0 + PROBE_AFTER),
        ("observe", (-1, 0, 0, 1, 0), 112.0 + PROBE_AFTER),
    ]
    # Interactive demand, then bulk work that must leave it its share (and is told when).
    t = 200.0
    ops += [("observe", (100, 100, 10, 0, 1), t)]
    ops += [("reserve", (1, 1e18, 0), t + 0.5 * k) for k in range(8)]
    ops += [("reserve", (1, 1e18, 1), t + 4.0)] * 90
    ops += [("reserve", (1, 2.0, 1), t + 4.0), ("reserve", (1, 1e18, 1), t + 8.0)]
    ops += [("observe", (100, 10, 6, 1, 1), t + 4.1)] * 20
    # A roll with answers still out; a 429 within the window; an absurd one; a probe.
    ops += [
        ("reserve", (1, 1e18, 1), t + 10.5),
        ("reserve", (1, 1e18, 0), t + 10.6),
        ("reserve", (1, 1e18, 0, 1), t + 10.7),  # asking again: demand counted once
        ("limited", (8.0, 1), t + 11.0),
        ("reserve", (1, 1e18, 0), t + 11.0 + PROBE_AFTER),
        ("reserve", (1, 1e18, 1), t + 19.1),
        ("limited", (3600.0, 0), t + 20.0),
        ("reserve", (1, 1e18, 0), t + 20.0 + PROBE_AFTER),
        ("observe", (100, 50, 5, 1, 1), t + 20.5 + PROBE_AFTER),
        ("reserve", (1, 1e18, 1), t + 21.0 + PROBE_AFTER),
        ("reserve", (5, 1e18, 1), t + 100.0),  # long after: unanswered ones forgotten
        ("reserve", (1, 1e18, 1), t + 100.0),
        # An unlimited budget is not paced; a real one later paces again.
        ("observe", (10**9, 10**9, 600, 1, 1), t + 101.0),
        ("reserve", (1, 1e18, 1), t + 101.0),
        ("observe", (100, 40, 7, 1, 1), t + 102.0),
        ("reserve", (50, 1e18, 0), t + 102.0),
        ("release", (1, 1), t + 102.0),
    ]
    # The floor: bulk work takes it only in the window's final second, or at once as a
    # run's final calls; an interactive call that starts after bulk work took the rest.
    t = 400.0
    ops += [("observe", (100, 100, 10, 0, 1), t)]
    ops += [("reserve", (1, 1e18, 1), t)] * 96
    ops += [
        ("reserve", (1, 1e18, 0), t + 3.0),
        ("reserve", (1, 1e18, 1), t + 5.0),
        ("reserve", (1, 1e18, 1, 1, 1), t + 5.0),
        ("reserve", (1, 1e18, 1), t + 8.95),
        ("reserve", (1, 1e18, 1), t + 9.0),
        ("reserve", (1, 1e18, 1), t + 9.5),
        ("reserve", (1, 1e18, 0), t + 9.5),
    ]
    t = 500.0  # long after: no demand seen
    ops += [("observe", (100, 100, 10, 0, 1), t)]
    ops += [("reserve", (1, 1e18, 1), t + 1.0)] * 96
    ops += [("reserve", (1, 1e18, 1, 0, 1), t + 1.0)] * 6
    # Sized runs (again, final, run, needs): those least needing whose needs fit take
    # the floor; the others, and unsized bulk work, leave them their needs too.
    t = 600.0
    ops += [("observe", (100, 100, 10, 0, 1), t)]
    ops += [("reserve", (1, 1e18, 1), t)] * 80
    ops += [
        ("reserve", (1, 1e18, 1, 0, 0, 11, 20), t + 0.5),
        ("reserve", (1, 1e18, 1, 0, 0, 12, 25), t + 0.5),
        ("reserve", (1, 1e18, 1, 0, 0, 13, 5), t + 0.6),
        ("reserve", (1, 1e18, 1, 0, 0, 13, 4), t + 0.6),
        ("reserve", (1, 1e18, 1, 0, 0, 13, 9), t + 0.65),  # read before a grant: too much
        ("reserve", (1, 1e18, 1), t + 0.7),
        ("reserve", (1, 1e18, 0), t + 0.8),
        ("reserve", (1, 1e18, 1, 0, 0, 12, 25), t + 0.9),
        ("reserve", (3, 1e18, 1, 0, 0, 11, 2), t + 1.0),  # a cost above its needs
        ("reserve", (1, 1e18, 1, 0, 0, 12, 25), t + 1.0),
        ("reserve", (1, 1e18, 1, 0, 1), t + 1.1),
        ("reserve", (1, 1e18, 1, 0, 0, 12, 25), t + 40.0),  # the others went silent
        ("reserve", (1, 1e18, 1, 0, 0, 14, 500), t + 40.0),
        ("observe", (100, 60, 5, 1, 1), t + 40.1),
        ("reserve", (1, 1e18, 1, 0, 0, 14, 499), t + 44.6),  # the release
    ]
    ops += [("reserve", (1, 1e18, 1, 0, 0, 20 + k, 3), t + 46.0) for k in range(70)]
    ops += [("reserve", (1, 1e18, 1, 0, 0, 15, 2), t + 46.0)] * 3
    # A stream of small runs (a worker's batches, sized or unsized: final with its run's
    # id): one set of runs per window finishes into the floor; the next window, another.
    for t in (700.0, 710.2):
        if t == 700.0:
            ops += [("observe", (100, 100, 10, 0, 1), t)]
        ops += [("reserve", (1, 1e18, 1), t)] * 40
        for b in range(8):
            ops += [("reserve", (1, 1e18, 1, 0, 0, 30 + b, 5 - k), t + 0.1 * b) for k in range(5)]
            ops += [("reserve", (1, 1e18, 1, 0, 1, 40 + b, 0), t + 0.1 * b + 0.05)] * 5
        ops += [("reserve", (1, 1e18, 0), t + 1.0)]
    # A run that came after the floor was taken, needing less, leaves the run that took
    # it finishing at once.
    t = 800.0
    ops += [("observe", (100, 100, 600, 0, 1), t)]
    ops += [("reserve", (1, 1e18, 1), t)] * 72
    ops += [("reserve", (1, 1e18, 1, 0, 0, 50, 20), t + 1.0)]
    ops += [("reserve", (1, 1e18, 1, 0, 0, 51, 15), t + 2.0)]
    ops += [("reserve", (1, 1e18, 1, 0, 0, 50, 19 - k), t + 2.0) for k in range(19)]
    # A run that took the floor near the reset and died: the next window forgets it.
    t = 2000.0
    ops += [("observe", (2000, 2000, 600, 0, 1), t)]
    ops += [("reserve", (1, 1e18, 1), t + 585.0)] * 2000
    ops += [("reserve", (1, 1e18, 1, 0, 0, 60, 10), t + 585.0)]
    ops += [("reserve", (1, 1e18, 1, 0, 0, 61, 5), t + 585.0)]
    ops += [("reserve", (1, 1e18, 1, 0, 0, 61, 5 - k), t + 600.1) for k in range(5)]
    return ops


def _probe_ops(explicit: RateLimit | None) -> list[tuple[str, tuple[Any, ...], float]]:
    """A 429 before any budget is known: after the block, callers behind the probe wait.

    Before, the first probe's answer: a guessed wait, cut to a short deadline (or to
    nothing, once it passed); during the block, a known one, told whole.
    """
    return [
        ("reserve", (1, 1e18, 0), 89.0),
        ("reserve", (1, 0.4, 0), 89.1),
        ("reserve", (1, -0.2, 1), 89.2),
        ("observe", (-1, 0, 0, 1, 0), 89.5),  # a failure: the probe gave no answer
        ("reserve", (1, 1e18, 0), 90.0),
        ("reserve", (1, 0.4, 0), 90.2),
        ("limited", (5.0, 1), 90.5),
        ("reserve", (1, 1e18, 0), 95.5),
        ("reserve", (1, 1e18, 0), 95.8),
        ("reserve", (1, 0.1, 0), 95.9),
        ("reserve", (1, 1e18, 1), 96.4),
        ("observe", (100, 99, 10, 1, 1), 96.5),
        ("reserve", (1, 1e18, 0), 96.6),
    ]


@pytest.mark.parametrize("ops", [_pacer_ops, _probe_ops], ids=["main", "probe"])
@pytest.mark.parametrize(
    "explicit", [None, RateLimit(credits=10, window=1.0, burst=0.0)], ids=["auto", "explicit"]
)
async def test_the_lua_script_follows_the_pacer_exactly(
    redis_server: RedisServer,
    explicit: RateLimit | None,
    ops: Callable[[RateLimit | None], list[tuple[str, tuple[Any, ...], float]]],
) -> None:
    redis = aioredis.Redis.from_url(redis_server.url)
    name = f"lua-test-{ops.__name__}"
    state = _state(redis).bind(name, explicit, base_url="http://127.0.0.1:1/api/v1")
    pacer = Pacer(explicit)
    for op, args, now in ops(explicit):
        got = await state.run_script(op, *args, now=now)
        if op == "reserve":
            cost, within, bulk, *flags = args
            again, final, run, needs = (*flags, 0, 0, 0, 0)[:4]
            ok, delay = pacer.reserve(
                cost,
                now,
                within,
                bulk=bool(bulk),
                again=bool(again),
                final=bool(final),
                run=run,
                needs=needs,
            )
            assert got[0] == ok, (op, args, now)
            assert got[1] == pytest.approx(delay, abs=1e-6), (op, args, now)
            assert delay >= 0, (op, args, now)  # a negative wait re-asks at once: a spin
        elif op == "observe":
            limit, remaining, reset, cost, ok_ = args
            rate = None if limit < 0 else (limit, remaining, reset)
            pacer.observe_rate(rate, cost, now, ok=bool(ok_))
        elif op == "limited":
            pacer.limited(args[0], args[1], now)
        else:
            pacer.release(args[0], sent=bool(args[1]))
    key = state._keys
    assert key is not None
    fields = ["avail", "inflight", "demand", "reset_at", "unpaced"]
    stored = [float(v or "nan") for v in await redis.hmget(key[2], fields)]
    mirror = [pacer.available, pacer.inflight, pacer.demand, pacer.reset_at, pacer.unpaced]
    assert stored == pytest.approx([float(m or 0) for m in mirror])
    stored_runs: dict[bytes, bytes] = await redis.hgetall(key[2])  # type: ignore[assignment]
    runs = {
        int(name[4:]): tuple(map(float, value.split()))
        for name, value in stored_runs.items()
        if name.startswith(b"run:")
    }
    assert runs == pacer.runs
    took = stored_runs.get(b"took")
    assert (None if took is None else frozenset(map(int, took.split()))) == pacer.took
    await redis.aclose()


def test_the_cli_import_shares_through_redis_url_and_waits_out_a_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SWOOGO_REDIS_URL", "")
    monkeypatch.setenv("SWOOGO_API_KEY", "key")
    monkeypatch.setenv("SWOOGO_API_SECRET", "secret")
    args = build_parser().parse_args(["import", "rows.csv", "--redis-url", "redis://127.0.0.1:9/0"])
    client = cli_client(args).client
    assert isinstance(client._core.shared, RedisSharedState)
    assert client.retry.max_server_wait >= 600
    assert client.retry.deadline > 600
    get = cli_client(build_parser().parse_args(["get", "1"])).client
    assert get.retry.deadline < 600  # an interactive command keeps a short deadline


def test_a_bad_swoogo_redis_url_is_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SWOOGO_REDIS_URL", "localhost:6379")
    with pytest.raises(InvalidInputError, match="SWOOGO_REDIS_URL"):
        SwoogoClient("key", "secret")


_WITHOUT_REDIS_PY = """
import sys


class NoRedisPy:  # finds no redis-py, as on a machine without the redis extra
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "redis":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, NoRedisPy())
import swoogo_async
from swoogo_async.cli._args import build_parser
from swoogo_async.cli._main import UsageError, _shared_state
try:
    from swoogo_async.redis import RedisSharedState
except ModuleNotFoundError as exc:
    print("import:", exc.name, "|", exc)
try:
    swoogo_async.SwoogoClient("key", "secret")
except swoogo_async.InvalidInputError as exc:
    print("env:", exc)
try:
    _shared_state(build_parser().parse_args(["get", "1", "--redis-url", "redis://h:1/0"]))
except UsageError as exc:
    print("cli:", exc)
"""


def test_without_the_redis_extra_each_way_in_names_what_is_missing() -> None:
    env = {**os.environ, "SWOOGO_REDIS_URL": "redis://127.0.0.1:9/0"}
    out = subprocess.run(
        [sys.executable, "-c", _WITHOUT_REDIS_PY],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    ).stdout.splitlines()
    assert out[0].startswith("import: redis | swoogo_async.redis needs redis-py")
    assert "pip install 'swoogo-async[redis]'" in out[0]  # the fix, as the other ways say
    assert out[1].startswith("env: SWOOGO_REDIS_URL")
    assert "swoogo-async[redis]" in out[1]
    assert out[2].startswith("cli: --redis-url needs the redis extra")
    assert len(out) == 3


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("on_error", "bogus"),
        ("timeout", "x"),
        ("timeout", -1),
        ("timeout", float("nan")),
        ("reserve", 2),
        ("reserve", 1),
        ("reserve", -0.1),
        ("retry_after", float("inf")),
        ("lock_ttl", 0),
    ],
)
async def test_unusable_redis_options_raise_invalid_input(option: str, value: object) -> None:
    options: dict[str, Any] = {option: value}
    with pytest.raises(InvalidInputError) as info:
        RedisSharedState(aioredis.Redis(), **options)
    assert info.value.field == option
    with pytest.raises(InvalidInputError) as info:
        RedisSharedState.from_url("redis://127.0.0.1:1/0", **options)
    assert info.value.field == option


async def test_two_servers_on_one_api_key_never_share_a_token_or_a_budget(
    redis_server: RedisServer,
) -> None:
    redis = aioredis.Redis.from_url(redis_server.url)
    async with FakeSwoogo("one-key", "secret-A") as a, FakeSwoogo("one-key", "secret-B") as b:
        for _ in range(3):  # short-lived clients, as CLI runs or worker jobs are
            for fake in (a, b):
                async with _client(fake, _state(redis)) as client:
                    await client.sessions.get_many([1], event_id=1)
        assert (a.token_requests, b.token_requests) == (1, 1)
        keys_a = _state(redis).bind("one-key", None, base_url=a.base_url)._keys
        keys_b = _state(redis).bind("one-key", None, base_url=b.base_url)._keys
    assert keys_a is not None
    assert keys_b is not None
    assert set(keys_a).isdisjoint(keys_b)
    assert not any("one-key" in key for key in (*keys_a, *keys_b))
    await redis.aclose()


def test_a_local_state_keeps_two_servers_on_one_api_key_apart() -> None:
    shared = LocalSharedState()
    first = shared.bind("one-key", None, base_url="https://a.example/api/v1")
    assert shared.bind("one-key", None, base_url="https://a.example/api/v1") is first
    assert shared.bind("one-key", None, base_url="https://b.example/api/v1") is not first


@pytest.mark.parametrize(
    ("key", "poison"),
    [
        ("token", b"\xff\xfe not utf-8"),
        ("token", b"abc\r\nX-Injected: 1"),
        ("token", b"tok\x01en"),
        ("token", b" padded "),
        ("token", {"a": "hash, not a string"}),
        ("lock", b"a lock without a TTL"),
        ("budget", {"limit": "abc", "avail": "nan", "reset_at": "1e999", "inflight": b"\xff"}),
        ("budget", {"blocked": "inf", "probe_at": "-inf", "demand": "x", "window": ""}),
        ("budget", b"a string, not a hash"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
@pytest.mark.parametrize("decode", [False, True], ids=["bytes", "decode_responses"])
async def test_a_malformed_value_under_our_keys_is_treated_as_absent(
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
    key: str,
    poison: bytes | dict[str, str | bytes],
    decode: bool,
) -> None:
    redis = aioredis.Redis.from_url(redis_server.url, decode_responses=decode)
    await redis.flushdb()
    shared = _state(redis, on_error="raise")  # a raw error would surface here
    async with FakeSwoogo(rate_limit=100, rate_window=60.0) as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        keys = shared.bind(fake.api_key, None, base_url=fake.base_url)._keys
        assert keys is not None
        name = keys[("token", "lock", "budget").index(key)]
        if isinstance(poison, dict):
            await redis.hset(name, mapping={k: v for k, v in poison.items()})
        elif key == "token":
            await redis.set(name, poison, px=60_000)
        else:
            await redis.set(name, poison)
        with caplog.at_level(logging.WARNING, logger="swoogo_async"):
            async with _client(fake, shared) as client:
                for _ in range(3):
                    await client.sessions.get(1000)
        assert fake.token_requests == 1
        assert [r.status for r in fake.requests if r.path.startswith("/sessions/")] == [200] * 3
        assert not [r for r in caplog.records if "Redis" in r.getMessage()]
    await redis.aclose()


@pytest.mark.parametrize(
    "poison",
    [
        {"reset_at": "1e18"},
        {"reset_at": "1e300", "avail": "-5"},
        {"blocked": "1e18", "probe_at": "1e18"},
        {"limit": "-5", "probe_until": "1e308"},
        {"window": "1e18"},
        {"limit": "0"},
        {"granted_at": "1e18", "inflight": "1e18"},
        {"demand": "1e300"},
        {"demand_at": "1e18", "demand": "50"},
        {"tat": "1e18"},
        {"run:5": "garbage", "run:x": "1 1", "run:-3": "1 1000"},
        {"run:6": "1e400 1000", "run:7": "5 1e18"},
        {"run:8": "1e18 1000"},
        {f"run:{k}": "1 1000" for k in range(1, 71)},
        {"took": "garbage 1e400"},
        {"took": " ".join(map(str, range(1, 100)))},
    ],
    ids=lambda v: ",".join(v),
)
@pytest.mark.parametrize("bulk", [0, 1], ids=["interactive", "bulk"])
async def test_a_poisoned_budget_holds_no_caller_past_a_couple_of_windows(
    redis_server: RedisServer, poison: dict[str, str], bulk: int
) -> None:
    """Finite but absurd budget fields (times far ahead, a huge demand) are corrupt too.

    Before, a reset or block a 10**18 s away answered every reservation with that wait:
    interactive calls failed at once and bulk calls slept for ever, while every script
    run renewed the key's expiry.
    """
    redis = aioredis.Redis.from_url(redis_server.url)
    await redis.flushdb()
    state = _state(redis).bind("poison", None, base_url="http://127.0.0.1:1/api/v1")
    assert state._keys is not None
    t = 1000.0  # the script's clock, moved by hand
    await state.run_script("reserve", 1, 1e18, 0, now=t)
    await state.run_script("observe", 100, 99, 10, 1, 1, now=t)
    await redis.hset(state._keys[2], mapping={k: v for k, v in poison.items()})
    start, granted = t, False
    while not granted and t - start <= 2 * 10 + STRAY_AFTER:
        granted, delay = await state.run_script("reserve", 1, 1e18, bulk, 0, 0, 9, 5, now=t)
        t += max(delay, 0.01)
    assert granted, poison
    await redis.aclose()


@pytest.mark.parametrize(
    "took",
    [
        None,
        "garbage",
        "",
        "-5",
        "1.5",
        "nan 7",
        "1e400",
        "-1 -2 -3",
        " ".join(map(str, range(1, 3000))),
        "9 " * 200_000,
    ],
    ids=lambda v: "absent" if v is None else f"{v[:12]}…{len(v)}",
)
async def test_a_poisoned_took_field_is_read_as_absent(
    redis_server: RedisServer, took: str | None
) -> None:
    """Whatever the ``took`` field holds that the rules never write (no number, an id
    that is not a run's, more ids than runs are followed) is no run having taken the
    floor: a lone sized run that fits still finishes into it at once, without an error."""
    redis = aioredis.Redis.from_url(redis_server.url)
    await redis.flushdb()
    state = _state(redis).bind("took", None, base_url="http://127.0.0.1:1/api/v1")
    assert state._keys is not None
    t = 1000.0  # the script's clock, moved by hand
    await state.run_script("reserve", 1, 1e18, 0, now=t)
    await state.run_script("observe", 100, 100, 600, 1, 1, now=t)
    while (await state.run_script("reserve", 1, 1e18, 1, now=t))[0]:
        pass  # unsized bulk work leaves only the floor
    if took is not None:
        await redis.hset(state._keys[2], "took", took)
    for left in range(20, 0, -1):
        reply = await state.run_script("reserve", 1, 1e18, 1, 0, 0, 7, left, now=t + 1.0)
        assert reply == (True, 0.0), (took, left)
    assert await redis.hget(state._keys[2], "took") == b"7"
    await redis.aclose()


async def test_interactive_calls_go_first_through_redis_while_bulk_work_saturates(
    redis_server: RedisServer,
) -> None:
    """Two states on one Redis stand for two processes: one bulk job, one web app."""
    redis = aioredis.Redis.from_url(redis_server.url)
    await redis.flushdb()
    now = [1000.0]
    async with FakeSwoogo(rate_limit=100, rate_window=10.0, clock=lambda: now[0]) as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        bulk_state = _state(redis).bind(fake.api_key, None, base_url=fake.base_url)
        web_state = _state(redis).bind(fake.api_key, None, base_url=fake.base_url)
        t = 500.0  # the scripts' clock, moved by hand: no decision depends on the run's speed
        assert (await web_state.run_script("reserve", 1, 1e18, 0, now=t))[0]
        await web_state.run_script("observe", 100, 99, 10, 1, 1, now=t)
        # The web app has been serving: one interactive call every half second.
        for k in range(1, 8):
            assert (await web_state.run_script("reserve", 1, 1e18, 0, now=t + 0.5 * k))[0]
        t += 4.0
        # A bulk job in the other "process" takes all it is allowed...
        granted = 0
        while (await bulk_state.run_script("reserve", 1, 1e18, 1, now=t))[0]:
            granted += 1
        ok, delay = await bulk_state.run_script("reserve", 1, 1e18, 1, now=t)
        assert not ok
        assert delay > 0  # told to come back, with nothing booked
        assert granted > 50  # all but the demand seen and the floor, until the release
        # ...and every interactive call until the reset still goes out at once.
        for k in range(12):
            assert await web_state.run_script("reserve", 1, 1e18, 0, now=t + 0.5 * k) == (
                True,
                0.0,
            )
    await redis.aclose()


async def test_a_web_client_is_served_while_a_bulk_client_saturates_the_budget(
    redis_server: RedisServer,
) -> None:
    """Through real clients: the window (600 s, on a fake whose clock stands still) never
    resets during the test, so a call that had to queue behind bulk work would fail at
    once on its short deadline instead of waiting."""
    redis = aioredis.Redis.from_url(redis_server.url)
    await redis.flushdb()
    short = RetryPolicy(max_attempts=1, deadline=5.0)
    # Never in-process state: a grant made without Redis would prove nothing.
    options: dict[str, Any] = {"on_error": "raise", "timeout": 30.0}
    async with (
        FakeSwoogo(rate_limit=100, rate_window=600.0, clock=lambda: 0.0) as fake,
        _client(fake, RedisSharedState(redis, **options), retry=short) as web,
        _client(fake, RedisSharedState(redis, **options), retry=short) as bulk,
    ):
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        for _ in range(5):
            await web.sessions.get(1000)
        with bulk_pacing():
            done = await asyncio.gather(
                *(bulk.sessions.get(1000) for _ in range(200)), return_exceptions=True
            )
        served = sum(not isinstance(r, BaseException) for r in done)
        # A bulk call the budget cannot serve in time is refused, or (when its deadline
        # passes while it waits for the interactive share to fade) fails unsent.
        assert [
            r
            for r in done
            if isinstance(r, BaseException)
            and not isinstance(r, RateLimitError)
            and not (isinstance(r, ReadTimeoutError) and r.may_have_acted is False)
        ] == []
        assert 0 < served < 95  # what is left beyond the interactive share
        for _ in range(10):
            await web.sessions.get(1000)  # each would raise if it had to wait for the reset
        assert fake.rate_limited == 0
    await redis.aclose()


async def test_after_an_outage_one_command_asks_and_the_state_rejoins_redis(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    shared = RedisSharedState.from_url(redis_server.url, timeout=0.2, retry_after=0.05)
    async with FakeSwoogo(rate_limit=1000, rate_window=60.0) as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        async with _client(fake, shared) as client:
            await client.sessions.get(1000)
            bound = client._core.shared
            assert isinstance(bound, RedisSharedState)
            redis_server.pause()
            try:
                with caplog.at_level(logging.INFO, logger="swoogo_async"):
                    await asyncio.gather(*(client.sessions.get(1000) for _ in range(10)))
                    assert bound._down_until > 0  # on in-process state now
            finally:
                redis_server.resume()
            with caplog.at_level(logging.INFO, logger="swoogo_async"):
                # Once retry_after has passed, the next command asks Redis and rejoins.
                for _ in range(100):  # each pass waits out retry_after: no timing asserted
                    if not bound._down_until:
                        break
                    await asyncio.sleep(0.06)
                    await client.sessions.get(1000)
                assert bound._down_until == 0
            assert client._core.pipeline.pacer is not None
            await client._core.pipeline.pacer.aclose()
            keys = bound._keys
            assert keys is not None
            granted = await shared.redis.hget(keys[2], "granted_at")
            assert granted is not None
            before = float(granted)
            await client.sessions.get(1000)  # paced in Redis again
            after = await shared.redis.hget(keys[2], "granted_at")
            assert after is not None
            assert float(after) > before
        messages = [r.getMessage() for r in caplog.records]
        assert sum("Redis unreachable" in m for m in messages) == 1
        assert sum("Redis reachable again" in m for m in messages) == 1
    await shared.aclose()


async def test_sized_runs_in_two_processes_share_the_floor_through_redis(
    redis_server: RedisServer,
) -> None:
    """Two states on one Redis stand for two processes, each running a sized bulk run."""
    redis = aioredis.Redis.from_url(redis_server.url)
    await redis.flushdb()
    one, other = (
        _state(redis).bind("runs", None, base_url="http://127.0.0.1:1/api/v1") for _ in range(2)
    )
    t = 700.0  # the scripts' clock, moved by hand
    await one.run_script("reserve", 1, 1e18, 0, now=t)
    await one.run_script("observe", 100, 100, 10, 1, 1, now=t)
    # Each needs 60 of the 100: together they do not fit. The first to ask takes its 60
    # at once; the other leaves it those and the floor.
    for k in range(60):
        assert await one.run_script("reserve", 1, 1e18, 1, 0, 0, 1, 60 - k, now=t) == (True, 0.0)
    ok, delay = await other.run_script("reserve", 1, 1e18, 1, 0, 0, 2, 60, now=t)
    assert not ok
    assert delay == pytest.approx(9.5 - 39 / (SIZED_FLOOR * 10))
    # Interactive calls still find more than the floor.
    assert all(
        [(await one.run_script("reserve", 1, 1e18, 0, now=t + 0.1 * k))[0] for k in range(25)]
    )
    await redis.aclose()


async def test_a_sized_create_many_through_redis_takes_the_floor_when_it_fits(
    redis_server: RedisServer,
) -> None:
    redis = aioredis.Redis.from_url(redis_server.url)
    await redis.flushdb()
    shared = _state(redis)
    # 55 of the 70 credits leave less than the floor (about 21 for the next ten
    # minutes): the run ends only because its calls take it.
    async with FakeSwoogo(rate_limit=70, rate_window=600.0) as fake:
        async with _client(fake, shared) as client:
            rows = [
                {"event_id": 7, "name": f"T{i}", "date": "2026-06-01", "start_time": "09:00"}
                for i in range(55)
            ]
            async with client.sessions.create_many(rows, concurrency=4) as run:
                results = [result async for result in run]
        assert sorted(r.status for r in results) == ["created"] * 55
        assert fake.rate_limited == 0
        keys = shared.bind(fake.api_key, None, base_url=fake.base_url)._keys
        assert keys is not None
        fields: list[bytes] = await redis.hkeys(keys[2])  # type: ignore[assignment]
        assert not [k for k in fields if k.startswith(b"run:")]
    await redis.aclose()


@pytest.mark.parametrize("name", ["junk", "run"])
async def test_a_budget_swollen_with_fields_is_dropped_not_read_by_every_bulk_call(
    redis_server: RedisServer, name: str
) -> None:
    """Every bulk reservation reads the budget hash whole (its runs' fields): fields the
    rules never write, by the thousand, made each one as slow as that read, and the
    script renews the key's expiry, so they stayed. More fields than the rules write
    (theirs and a run's each) is no state of theirs: it is read as absent."""
    redis = aioredis.Redis.from_url(redis_server.url)
    await redis.flushdb()
    state = _state(redis).bind("swollen", None, base_url="http://127.0.0.1:1/api/v1")
    assert state._keys is not None
    t = 1000.0  # the script's clock, moved by hand
    await state.run_script("reserve", 1, 1e18, 0, now=t)
    await state.run_script("observe", 100, 99, 10, 1, 1, now=t)
    await redis.hset(state._keys[2], mapping={f"{name}:{k}": "1 1000" for k in range(5000)})
    for bulk in (0, 1):
        await state.run_script("reserve", 1, 1e18, bulk, 0, 0, 9, 5, now=t)
        assert await redis.hlen(state._keys[2]) <= 17 + MAX_RUNS
    # Read as absent: the budget is unknown again, so one probe at a time asks.
    assert not (await state.run_script("reserve", 1, 1e18, 0, now=t))[0]
    await state.run_script("observe", 100, 97, 10, 1, 1, now=t)
    assert (await state.run_script("reserve", 1, 1e18, 0, now=t))[0]
    await redis.aclose()


async def test_a_run_field_seen_in_the_future_is_read_as_absent(redis_server: RedisServer) -> None:
    """A run's field says when it last asked: by the script's clock, never later than now.

    One that says later is corrupt. Before, it was kept (up to twice the longest window
    ahead, then the 30 s of silence): a run needing 45 that never asks kept a live run
    needing 60 of the 99 left from finishing at once, window after window, for 20 minutes.
    """
    redis = aioredis.Redis.from_url(redis_server.url)
    await redis.flushdb()
    state = _state(redis).bind("ghost", None, base_url="http://127.0.0.1:1/api/v1")
    assert state._keys is not None
    t = 1000.0  # the script's clock, moved by hand
    await state.run_script("reserve", 1, 1e18, 0, now=t)
    await state.run_script("observe", 100, 99, 10, 1, 1, now=t)
    await redis.hset(state._keys[2], mapping={"run:7": f"45 {t + 1100}"})
    assert await state.run_script("reserve", 1, 1e18, 1, 0, 0, 9, 60, now=t) == (True, 0.0)
    assert await redis.hget(state._keys[2], "run:7") is None
    await redis.aclose()
