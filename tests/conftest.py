"""Shared fixtures: a real FakeSwoogo on loopback and a client talking to it over aiohttp."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, settings

from swoogo_async import RetryPolicy, SwoogoClient
from swoogo_async.testing import FakeSwoogo

# The same examples on every run (fixed seed, no example database), and no health check
# that times the machine: under load, property tests get slower, never different.
settings.register_profile(
    "deterministic",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("deterministic")

#: Retries fast enough for tests, with the default shape.
FAST_RETRY = RetryPolicy(max_attempts=6, backoff_base=0.005, backoff_cap=0.05, deadline=20.0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSwoogo]:
    async with FakeSwoogo() as server:
        yield server


@pytest.fixture
async def client(fake: FakeSwoogo) -> AsyncIterator[SwoogoClient]:
    async with SwoogoClient(
        fake.api_key,
        fake.api_secret,
        base_url=fake.base_url,
        retry=FAST_RETRY,
        reconcile_delay=0.05,
    ) as c:
        yield c
