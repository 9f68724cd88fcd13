"""The token and the rate budget: degraded token responses, final 401s, a 429 that heals,
and ``LocalSharedState`` shared by several clients."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

from swoogo_async import (
    AuthenticationError,
    LocalSharedState,
    RateLimitError,
    RetryPolicy,
    SwoogoClient,
)
from swoogo_async._http.auth import DOCUMENTED_LIFETIME, parse_token_response
from swoogo_async._http.pacer import AsyncPacer
from swoogo_async._http.pacing import PROBE_AFTER, Pacer
from swoogo_async.testing import FakeSwoogo, Fault

from .conftest import FAST_RETRY

WALL = 1_700_000_000.0


def _iso(offset: float) -> str:
    return dt.datetime.fromtimestamp(WALL + offset, dt.timezone.utc).isoformat()


@pytest.mark.parametrize(
    ("expires_at", "lifetime"),
    [
        ("2023-11-14 22:15:00", 100.0),  # the documented form
        (_iso(100.0), 100.0),  # ISO 8601 with an offset
        (_iso(100.0).replace("+00:00", "Z"), 100.0),
        ("soon", DOCUMENTED_LIFETIME),
        (None, DOCUMENTED_LIFETIME),
        (12345, DOCUMENTED_LIFETIME),
    ],
)
def test_an_unreadable_expires_at_means_the_documented_lifetime(
    expires_at: object, lifetime: float
) -> None:
    payload: dict[str, Any] = {"access_token": "tok", "type": "bearer"}
    if expires_at is not None:
        payload["expires_at"] = expires_at
    body = json.dumps(payload).encode()
    token = parse_token_response(body, {}, now=0.0, wall_now=WALL)
    assert token.expires_at == pytest.approx(lifetime)
    assert token.value == "tok"


@pytest.mark.parametrize(
    "shape",
    [
        lambda p: {**p, "expires_at": "2026-05-01T10:00:00+00:00"},
        lambda p: {**p, "expires_at": "garbage"},
        lambda p: {k: v for k, v in p.items() if k != "expires_at"},
    ],
    ids=["iso", "garbage", "missing"],
)
async def test_odd_token_responses_still_give_one_token_for_many_calls(
    fake: FakeSwoogo, shape: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    fake.token_body = shape
    fake.add_session(event_id=1, name="S", date="2026-05-01")
    async with SwoogoClient(
        fake.api_key, fake.api_secret, base_url=fake.base_url, retry=FAST_RETRY
    ) as client:
        for _ in range(8):
            await client.sessions.get(1000)
    assert fake.token_requests == 1


async def test_a_401_from_the_token_endpoint_is_final(fake: FakeSwoogo) -> None:
    fake.add_session(event_id=1, name="S", date="2026-05-01")
    async with SwoogoClient(
        fake.api_key, "wrong secret", base_url=fake.base_url, retry=FAST_RETRY
    ) as client:
        results = await asyncio.gather(
            *(client.sessions.get(1000) for _ in range(200)), return_exceptions=True
        )
        assert all(isinstance(r, AuthenticationError) for r in results)
        for _ in range(20):
            with pytest.raises(AuthenticationError) as info:
                await client.sessions.get(1000)
            assert info.value.status == 401
            assert "wrong secret" not in str(info.value)
    assert fake.token_requests == 1
    assert len(fake.requests) == 1


async def test_one_long_429_does_not_lock_the_client_out(fake: FakeSwoogo) -> None:
    fake.add_session(event_id=1, name="S", date="2026-05-01")
    now = [0.0]
    retry = RetryPolicy(max_attempts=3, backoff_base=0.005, backoff_cap=0.01, deadline=2.0)
    async with SwoogoClient(
        fake.api_key, fake.api_secret, base_url=fake.base_url, retry=retry
    ) as client:
        client._core.pipeline.pacer = AsyncPacer(Pacer(), clock=lambda: now[0])
        await client.sessions.get(1000)
        fake.inject(
            "GET /sessions/{id}",
            Fault(status=429, headers={"X-Rate-Limit-Reset": "3600"}),
        )
        with pytest.raises(RateLimitError):  # the failing call fails fast, as before
            await client.sessions.get(1000)
        sent = len(fake.requests)
        with pytest.raises(RateLimitError):  # blocked, without asking the server
            await client.sessions.get(1000)
        assert len(fake.requests) == sent
        now[0] += PROBE_AFTER  # a short while later, one call asks again and heals it
        for _ in range(5):
            await client.sessions.get(1000)
    assert fake.rate_limited == 0
    assert [r.status for r in fake.requests[sent:]] == [200] * 5


async def test_clients_sharing_local_state_share_one_token_and_one_budget() -> None:
    shared = LocalSharedState()
    async with FakeSwoogo(rate_limit=60, rate_window=2.0, drift=False) as fake:
        fake.add_session(event_id=1, name="S", date="2026-05-01")
        clients = [
            SwoogoClient(
                fake.api_key,
                fake.api_secret,
                base_url=fake.base_url,
                retry=FAST_RETRY,
                shared=shared,
            )
            for _ in range(2)
        ]
        async with clients[0] as a, clients[1] as b:
            await asyncio.gather(*(c.sessions.get(1000) for c in (a, b) for _ in range(60)))
        assert fake.token_requests == 1
        assert fake.rate_limited == 0
        assert a.token_fetches + b.token_fetches == 1


async def test_local_state_refresh_lock_expires_when_its_holder_never_returns() -> None:
    now = [0.0]
    state = LocalSharedState(clock=lambda: now[0], lock_ttl=5.0)
    lock = await state.refresh_lock()
    assert lock is not None
    assert await state.refresh_lock() is None
    now[0] = 5.0
    second = await state.refresh_lock()
    assert second is not None
    await state.refresh_unlock(lock)  # the first holder's late release changes nothing
    assert await state.refresh_lock() is None
    await state.token_set("tok", 10.0)
    await state.token_delete("other")
    assert await state.token_get() == ("tok", 10.0)
    await state.token_delete("tok")
    assert await state.token_get() is None


@pytest.mark.parametrize("warm", [True, False], ids=["after-a-read", "first-call"])
async def test_a_client_sharing_the_token_knows_the_server_clock(
    monkeypatch: pytest.MonkeyPatch, warm: bool
) -> None:
    """B's clock runs 5 s ahead; it took A's token, so no token response told it the offset."""
    import time
    import types

    import swoogo_async._http.pipeline as pipeline_module
    import swoogo_async._writes.create as create_module

    ahead = types.SimpleNamespace(
        **{k: getattr(time, k) for k in dir(time) if not k.startswith("__")}
    )
    ahead.time = lambda: time.time() + 5.0
    monkeypatch.setattr(create_module, "time", ahead)
    monkeypatch.setattr(pipeline_module, "time", ahead)
    async with FakeSwoogo() as fake:
        shared = LocalSharedState()
        options: dict[str, Any] = {
            "base_url": fake.base_url,
            "retry": FAST_RETRY,
            "reconcile_delay": 0.01,
            "shared": shared,
        }
        async with (
            SwoogoClient(fake.api_key, fake.api_secret, **options) as a,
            SwoogoClient(fake.api_key, fake.api_secret, **options) as b,
        ):
            await a.sessions.get_many([1], event_id=12)  # A fetches the shared token
            if warm:
                await b.sessions.get_many([1], event_id=12)
            fake.inject("POST /sessions/create", Fault.drop_after())
            session = await b.sessions.create(event_id=12, name="Keynote", date=dt.date(2026, 5, 1))
        assert fake.token_requests == 1
        assert [s["id"] for s in fake.sessions.values()] == [session.id]
        # Only a client that has read no answer yet asks the server for its clock.
        probes = [r for r in fake.requests if r.path.endswith("/sessions/0")]
        assert len(probes) == (0 if warm else 1)
