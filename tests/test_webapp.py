"""Web apps: webhooks keep a shared read cache fresh in every app process; the agenda example."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from swoogo_async import SwoogoClient
from swoogo_async.testing import FakeSwoogo
from swoogo_async.webhooks import CacheInvalidator

from ._redis_server import RedisServer, redis_server
from .conftest import FAST_RETRY

__all__ = ["redis_server"]  # the fixture, imported for pytest

SECRET = "Bearer web-app-secret"
EVENT_ID = 7
#: Seconds a subprocess may take to start or stop before the test gives up (a hang guard).
PROCESS_GUARD = 60.0


async def _get(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


def _session_gets(fake: FakeSwoogo, session_id: int) -> int:
    return sum(
        1 for r in fake.requests if r.method == "GET" and r.path == f"/sessions/{session_id}"
    )


@pytest.fixture
async def apps(redis_server: RedisServer) -> AsyncIterator[tuple[FakeSwoogo, list[str]]]:
    """A fake API and three app processes sharing one Redis cache; yields their URLs."""
    async with FakeSwoogo(drift=False) as fake:
        fake.webhook_backoff = lambda attempt: 0.0
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests._web_worker",
                fake.base_url,
                redis_server.url,
                SECRET,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            for _ in range(3)
        ]
        try:
            urls = []
            for proc in procs:
                assert proc.stdout is not None
                port = int(await asyncio.wait_for(proc.stdout.readline(), PROCESS_GUARD))
                urls.append(f"http://127.0.0.1:{port}")
            yield fake, urls
        finally:
            for proc in procs:
                if proc.stdin is not None:
                    proc.stdin.close()  # an app stops when its stdin closes
            for proc in procs:
                await asyncio.wait_for(proc.wait(), PROCESS_GUARD)
        assert [p.returncode for p in procs] == [0, 0, 0]


async def test_a_webhook_makes_every_app_process_serve_the_edit(
    apps: tuple[FakeSwoogo, list[str]],
) -> None:
    fake, urls = apps
    sid = fake.add_session(event_id=EVENT_ID, name="Old name")["id"]
    fake.add_session(event_id=EVENT_ID, name="Other session")
    async with (
        aiohttp.ClientSession() as http,
        SwoogoClient(
            fake.api_key, fake.api_secret, base_url=fake.base_url, retry=FAST_RETRY
        ) as editor,  # an edit made elsewhere: the Swoogo admin, another integration
    ):

        async def pages() -> list[tuple[str, list[str]]]:
            return [
                (
                    (await _get(http, f"{url}/sessions/{sid}"))["name"],
                    (await _get(http, f"{url}/events/{EVENT_ID}"))["names"],
                )
                for url in urls
            ]

        old = ("Old name", ["Old name", "Other session"])
        assert await pages() == [old] * 3
        assert _session_gets(fake, sid) == 1  # one fetch for three processes

        # Without a webhook the processes keep serving what they cached.
        await editor.sessions.update(sid, name="Quiet edit")
        assert await pages() == [old] * 3

        await editor.webhooks.create(
            name="agenda",
            url=f"{urls[0]}/hook",
            trigger_object="session",
            headers={"Authorization": SECRET},
        )
        await editor.sessions.update(sid, name="New name")
        await asyncio.wait_for(fake.deliveries_settled(), PROCESS_GUARD)
        assert [(d.status, d.action) for d in fake.deliveries] == [(200, "update")]

        fetched = _session_gets(fake, sid)
        new = ("New name", ["New name", "Other session"])
        assert await pages() == [new] * 3  # each process's next read, no polling
        assert _session_gets(fake, sid) == fetched + 1  # and still one fetch for all

        # A delete reaches every process too: the page is gone everywhere.
        fake.delete_session(sid)
        await asyncio.wait_for(fake.deliveries_settled(), PROCESS_GUARD)
        for url in urls:
            async with http.get(f"{url}/sessions/{sid}") as response:
                assert response.status == 404
            assert (await _get(http, f"{url}/events/{EVENT_ID}"))["names"] == ["Other session"]


async def test_the_read_cache_is_a_cache_invalidator(fake: FakeSwoogo) -> None:
    async with SwoogoClient(
        fake.api_key, fake.api_secret, base_url=fake.base_url, cache="memory"
    ) as client:
        assert client.cache is not None
        invalidator: CacheInvalidator = client.cache  # checked by mypy, as documented
        sid = fake.add_session(event_id=EVENT_ID, name="Before")["id"]
        assert (await client.sessions.get(sid)).name == "Before"
        fake.sessions[sid]["name"] = "After"
        assert (await client.sessions.get(sid)).name == "Before"
        await invalidator.invalidate_session(sid, EVENT_ID)
        assert (await client.sessions.get(sid)).name == "After"
