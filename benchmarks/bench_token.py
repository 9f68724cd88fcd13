"""Token single-flight: many concurrent calls on a cold client fetch one token.

A cold client (no token, no connections) and a warm one (token held, one call
made) each run the same burst of concurrent ``sessions.get`` against the server
process; the difference per call is what the cold start costs. On a shared machine
that difference is within the noise of a 10,000-call burst, so the same cold/warm
pair also runs over a ``MockTransport`` (no network): the CPU a waiter spends on the
shared fetch, isolated. The fetch count comes from the client and, in a separate
untimed run against an in-process ``FakeSwoogo``, from the server too.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from typing import Any

from swoogo_async import SwoogoClient
from swoogo_async._http.transport import MockTransport, Request, Response
from swoogo_async.testing import FakeSwoogo

from ._common import Settings, median, ratio
from ._server import API_KEY, API_SECRET
from .bench_models import full_record

_TOKEN_BODY = (
    b'{"access_token": "mock-token", "expires_at": "2099-01-01 00:00:00", "type": "bearer"}'
)

__all__ = ["token_benchmark"]


async def _burst(client: SwoogoClient, session_id: int, calls: int) -> tuple[float, float]:
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client.sessions.get(session_id) for _ in range(calls)))
    return time.perf_counter() - wall0, time.process_time() - cpu0


def _client(base_url: str) -> SwoogoClient:
    return SwoogoClient(API_KEY, API_SECRET, base_url=base_url, rate_limit=None)


async def _cold(base_url: str, session_id: int, calls: int) -> tuple[float, float, int]:
    async with _client(base_url) as client:
        wall, cpu = await _burst(client, session_id, calls)
        return wall, cpu, client.token_fetches


async def _warm(base_url: str, session_id: int, calls: int) -> tuple[float, float, int]:
    async with _client(base_url) as client:
        await client.sessions.get(session_id)
        wall, cpu = await _burst(client, session_id, calls)
        return wall, cpu, client.token_fetches


def _mock_transport() -> MockTransport:
    body = json.dumps(full_record()).encode()

    async def handler(request: Request) -> Response:
        if request.url.endswith("/oauth2/token"):
            await asyncio.sleep(0.001)  # long enough for every caller to queue behind it
            return Response(200, {}, _TOKEN_BODY)
        return Response(200, {}, body)

    return MockTransport(handler)


async def _mock_cpu(calls: int, *, cold: bool) -> tuple[float, int]:
    """CPU seconds for a burst over a MockTransport, and the token fetches it made."""
    async with SwoogoClient(
        API_KEY, API_SECRET, base_url="http://127.0.0.1:9/api/v1", transport=_mock_transport()
    ) as client:
        if not cold:
            await client.sessions.get(1)
        gc.collect()
        cpu0 = time.process_time()
        await asyncio.gather(*(client.sessions.get(1) for _ in range(calls)))
        return time.process_time() - cpu0, client.token_fetches


async def _server_count(calls: int) -> dict[str, int]:
    """Untimed: the same cold burst against an in-process server that counts fetches."""
    async with FakeSwoogo(API_KEY, API_SECRET, drift=False) as fake:
        record = fake.add_session(event_id=1, name="Single flight")
        async with _client(fake.base_url) as client:
            await asyncio.gather(*(client.sessions.get(record["id"]) for _ in range(calls)))
            return {
                "client_token_fetches": client.token_fetches,
                "server_token_requests": fake.token_requests,
            }


async def token_benchmark(base_url: str, session_id: int, s: Settings, loop: str) -> dict[str, Any]:
    """Cold against warm bursts of ``s.token_calls`` concurrent gets, alternating order."""
    calls = s.token_calls
    cold: list[tuple[float, float, int]] = []
    warm: list[tuple[float, float, int]] = []
    await _warm(base_url, session_id, calls)  # untimed: the server's first burst is slower
    for rep in range(s.token_reps):
        if rep % 2 == 0:
            cold.append(await _cold(base_url, session_id, calls))
            warm.append(await _warm(base_url, session_id, calls))
        else:
            warm.append(await _warm(base_url, session_id, calls))
            cold.append(await _cold(base_url, session_id, calls))
    mock_cold: list[float] = []
    mock_warm: list[float] = []
    for rep in range(max(s.token_reps, 3) * 2):
        cpu, fetches = await _mock_cpu(calls, cold=rep % 2 == 0)
        (mock_cold if rep % 2 == 0 else mock_warm).append(cpu)
        assert fetches == 1
    counts = await _server_count(calls)
    cold_wall, cold_cpu = median([c[0] for c in cold]), median([c[1] for c in cold])
    warm_wall, warm_cpu = median([w[0] for w in warm]), median([w[1] for w in warm])
    row: dict[str, Any] = {
        "bench": "token_single_flight",
        "loop": loop,
        "calls": calls,
        "token_fetches_cold": [c[2] for c in cold],
        "token_fetches_warm": [w[2] for w in warm],
        **counts,
        "cold": {"wall_s": cold_wall, "cpu_s": cold_cpu, "rps": ratio(calls, cold_wall)},
        "warm": {"wall_s": warm_wall, "cpu_s": warm_cpu, "rps": ratio(calls, warm_wall)},
        "added_wall_us_per_call": (cold_wall - warm_wall) / calls * 1e6,
        "added_cpu_us_per_call": (cold_cpu - warm_cpu) / calls * 1e6,
        "mock_transport": {
            "cold_cpu_us_per_call": median(mock_cold) / calls * 1e6,
            "warm_cpu_us_per_call": median(mock_warm) / calls * 1e6,
            "added_cpu_us_per_call": (median(mock_cold) - median(mock_warm)) / calls * 1e6,
        },
    }
    print(
        f"  {loop:<7} token  {calls} cold calls -> fetches {row['token_fetches_cold']}"
        f" (server saw {counts['server_token_requests']});"
        f" cold {cold_wall:.2f}s vs warm {warm_wall:.2f}s,"
        f" added {row['added_wall_us_per_call']:.1f}µs wall"
        f" / {row['added_cpu_us_per_call']:.1f}µs CPU per call; without network:"
        f" {row['mock_transport']['added_cpu_us_per_call']:+.1f}µs CPU per call",
        flush=True,
    )
    return row
