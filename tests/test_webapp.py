"""Web apps: webhooks keep a shared read cache fresh in every app process; the agenda example."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import socket
import sys
import threading
import warnings
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import aiohttp
import pytest

from swoogo_async import SwoogoClient
from swoogo_async.cli import main as cli_main
from swoogo_async.cli._demo_web import plan_cost, visitor_plan
from swoogo_async.testing import FakeSwoogo
from swoogo_async.webhooks import CacheInvalidator

from ._redis_server import RedisServer, redis_server
from .conftest import FAST_RETRY

__all__ = ["redis_server"]  # the fixture, imported for pytest

T = TypeVar("T")
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

        # A speaker webhook reaches every process as well.
        spid = fake.add_speaker(event_id=EVENT_ID, first_name="Ada", last_name="L")["id"]
        assert [(await _get(http, f"{u}/speakers/{spid}"))["name"] for u in urls] == ["Ada"] * 3
        fake.speakers[spid]["first_name"] = "Changed quietly"  # no webhook for this one
        assert [(await _get(http, f"{u}/speakers/{spid}"))["name"] for u in urls] == ["Ada"] * 3
        await editor.webhooks.create(
            name="agenda speakers",
            url=f"{urls[1]}/hook",
            trigger_object="speaker",
            headers={"Authorization": SECRET},
        )
        fake.delete_speaker(spid)
        await asyncio.wait_for(fake.deliveries_settled(), PROCESS_GUARD)
        assert [(d.status, d.object_type) for d in fake.deliveries][-1] == (200, "speaker")
        for url in urls:
            async with http.get(f"{url}/speakers/{spid}") as response:
                assert response.status == 404

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


# -- the example: examples/agenda_app.py through FastAPI's TestClient ---------------------------


class FakeInThread:
    """A FakeSwoogo serving from its own thread's loop, for a synchronous TestClient test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fake = FakeSwoogo(drift=False)
        self.run(self.fake.__aenter__())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the fake's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(PROCESS_GUARD)

    def close(self) -> None:
        self.run(self.fake.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(PROCESS_GUARD)
        self.loop.close()


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_the_agenda_example_serves_cached_pages_and_applies_webhooks(
    backend: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    with warnings.catch_warnings():
        # Starlette's test client warns when it finds httpx rather than httpx2.
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from examples import agenda_app

    th = FakeInThread()
    try:
        fake = th.fake
        monkeypatch.setenv("SWOOGO_API_KEY", fake.api_key)
        monkeypatch.setenv("SWOOGO_API_SECRET", fake.api_secret)
        monkeypatch.setenv("SWOOGO_BASE_URL", fake.base_url)
        monkeypatch.setenv("SWOOGO_WEBHOOK_SECRET", SECRET)
        monkeypatch.delenv("SWOOGO_REDIS_URL", raising=False)
        if backend == "redis":
            server: RedisServer = request.getfixturevalue("redis_server")
            monkeypatch.setenv("SWOOGO_REDIS_URL", server.url)
        sid = fake.add_session(event_id=EVENT_ID, name="Old name", date="2026-06-09")["id"]
        fake.add_session(event_id=EVENT_ID, name="Other session")
        # The app is not listening on a socket here: the fake's one delivery attempt fails
        # and the test hands its body and headers to the app, as Swoogo would have.
        fake.webhook_attempts = 1

        async def edit(name: str) -> None:
            async with SwoogoClient(
                fake.api_key, fake.api_secret, base_url=fake.base_url, retry=FAST_RETRY
            ) as editor:
                if not fake.webhooks:
                    await editor.webhooks.create(
                        name="agenda",
                        url=f"http://127.0.0.1:{_unused_port()}/hooks/swoogo",
                        trigger_object="session",
                        headers={"Authorization": SECRET},
                    )
                await editor.sessions.update(sid, name=name)
            await fake.deliveries_settled()

        with TestClient(agenda_app.app) as http:

            def names() -> tuple[str, list[str]]:
                page = http.get(f"/sessions/{sid}")
                event = http.get(f"/events/{EVENT_ID}")
                assert (page.status_code, event.status_code) == (200, 200)
                return page.json()["name"], sorted(s["name"] for s in event.json()["sessions"])

            assert names() == ("Old name", ["Old name", "Other session"])
            assert http.get(f"/sessions/{sid}").json()["date"] == "2026-06-09"
            requests = fake.requests_total
            assert names() == ("Old name", ["Old name", "Other session"])
            assert fake.requests_total == requests  # served from the cache

            th.run(edit("New name"))
            delivery = fake.deliveries[-1]
            assert (delivery.object_type, delivery.action) == ("session", "update")
            assert names() == ("Old name", ["Old name", "Other session"])  # not yet told

            refused = http.post("/hooks/swoogo", content=delivery.body, headers={"X": "y"})
            assert refused.status_code == 401
            assert names()[0] == "Old name"  # nothing processed

            answer = http.post("/hooks/swoogo", content=delivery.body, headers=delivery.headers)
            assert (answer.status_code, answer.text) == (200, "processed")
            assert names() == ("New name", ["New name", "Other session"])
            again = http.post("/hooks/swoogo", content=delivery.body, headers=delivery.headers)
            assert (again.status_code, again.text) == (200, "duplicate")
            assert http.get("/sessions/999999").status_code == 404
    finally:
        th.close()


# -- the demo: python -m swoogo_async demo --web -------------------------------------------------

_FIGURES = re.compile(
    r"\((?P<views>[\d,]+) in all.*"
    r"naive app \(no cache\): +(?P<n_served>[\d,]+) views served, (?P<n_refused>[\d,]+) refused"
    r" \((?P<n_429>[\d,]+) x 429\); spent (?P<n_spent>[\d,]+) credits, needed (?P<needed>[\d,]+)"
    r".*cached app: +(?P<c_served>[\d,]+) views served, (?P<c_refused>[\d,]+) refused"
    r" \((?P<c_429>[\d,]+) x 429\); spent (?P<c_spent>[\d,]+) credits \((?P<share>[\d.]+) %"
    r".*cache: (?P<hits>[\d,]+) hits, (?P<misses>[\d,]+) misses",
    re.DOTALL,
)


def test_the_web_demo_prints_consistent_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["demo", "--web", "3"]) == 0
    out = capsys.readouterr().out
    found = _FIGURES.search(out)
    assert found is not None, out
    n = {
        k: float(v.replace(",", "")) if k == "share" else int(v.replace(",", ""))
        for k, v in found.groupdict().items()
    }
    assert n["views"] == 300  # 3 s at 100 views/s
    plan = visitor_plan(range(1, 31), int(n["views"]), seed=7)
    assert n["needed"] == plan_cost(plan)
    assert n["n_served"] + n["n_refused"] == n["views"]
    assert n["n_refused"] == n["n_429"]
    # 3 s of views need less than the budget: the naive app is served in full, and pays.
    assert (n["n_refused"], n["n_spent"]) == (0, n["needed"])
    assert (n["c_served"], n["c_refused"], n["c_429"]) == (n["views"], 0, 0)
    assert 0 < n["c_spent"] < n["needed"]
    assert n["share"] == round(100 * n["c_spent"] / n["needed"], 1)
    assert n["hits"] + n["misses"] > n["views"]  # every view, and the look after the edit
    assert "showed the new name" in out
    assert "Web demo passed." in out


def test_the_web_demo_refuses_a_senseless_duration(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["demo", "--web", "0"]) == 2
    assert "--web" in capsys.readouterr().err


def test_the_web_demo_names_the_missing_cache_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec

    def without_cashews(name: str, package: str | None = None) -> Any:
        return None if name == "cashews" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", without_cashews)
    assert cli_main(["demo", "--web", "1"]) == 2
    assert "swoogo-async[cache]" in capsys.readouterr().err
