"""Webhooks end to end: FakeSwoogo delivers to a receiver served by aiohttp on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from redis import asyncio as aioredis

import swoogo_async.webhooks
from swoogo_async import InvalidInputError, Session, Speaker, SwoogoClient
from swoogo_async._api.endpoints import encode_form
from swoogo_async.testing import FakeSwoogo
from swoogo_async.webhooks import (
    LocalDedupe,
    RedisDedupe,
    WebhookEvent,
    WebhookReceiver,
    parse_php_form,
)

from ._redis_server import RedisServer, redis_server
from .conftest import FAST_RETRY

__all__ = ["redis_server"]  # the fixture, imported for pytest

SECRET = "Bearer s3cret-value"
HEADERS = {"Authorization": SECRET}


class Recorder:
    """A webhook handler that records events and can be told to fail."""

    def __init__(self, failures: int = 0) -> None:
        self.events: list[WebhookEvent] = []
        self.calls = 0
        self.failures = failures
        self.arrived = asyncio.Event()
        self.order: list[str] = []

    async def __call__(self, event: WebhookEvent) -> None:
        self.calls += 1
        self.order.append("handler")
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the app's database is down")
        self.events.append(event)
        self.arrived.set()


class Invalidator:
    def __init__(self, order: list[str]) -> None:
        self.order = order
        self.sessions: list[tuple[int, int | None]] = []
        self.speakers: list[int] = []

    async def invalidate_session(self, session_id: int, event_id: int | None) -> None:
        self.order.append("invalidate")
        self.sessions.append((session_id, event_id))

    async def invalidate_speaker(self, speaker_id: int) -> None:
        self.order.append("invalidate")
        self.speakers.append(speaker_id)


Serve = Callable[[WebhookReceiver], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Serve receivers with aiohttp on loopback; return each one's URL."""
    runners: list[web.AppRunner] = []

    async def start(receiver: WebhookReceiver) -> str:
        app = web.Application()
        app.router.add_post("/hooks/swoogo", receiver.aiohttp_handler())
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/swoogo"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def fake() -> AsyncIterator[FakeSwoogo]:
    async with FakeSwoogo(drift=False) as server:
        server.webhook_backoff = lambda attempt: 0.0  # retries at once: no clock involved
        yield server


@pytest.fixture
async def client(fake: FakeSwoogo) -> AsyncIterator[SwoogoClient]:
    async with SwoogoClient(
        fake.api_key, fake.api_secret, base_url=fake.base_url, retry=FAST_RETRY
    ) as c:
        yield c


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status, await r.text()


def _json_headers(**more: str) -> dict[str, str]:
    return {**HEADERS, "Content-Type": "application/json", **more}


# -- end to end through the fake ----------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["json", "post"])
async def test_a_session_update_arrives_as_a_typed_session(
    fake: FakeSwoogo, client: SwoogoClient, serve: Serve, content_type: str
) -> None:
    handler = Recorder()
    invalidator = Invalidator(handler.order)
    url = await serve(WebhookReceiver(handler, secret=SECRET, invalidate=invalidator))
    hook = await client.webhooks.create(
        name="agenda",
        url=url,
        trigger_object="session",
        content_type=content_type,  # type: ignore[arg-type]
        headers={"Authorization": SECRET},
    )
    assert hook.id is not None
    assert SECRET not in repr(hook)
    sid = fake.add_session(event_id=7, name="Keynote", capacity=20, future_field="kept")["id"]
    await fake.deliveries_settled()  # deliveries run concurrently: settle to fix their order
    await client.sessions.update(sid, name="Opening keynote", custom_fields={"c_1001": "Hall A"})
    await fake.deliveries_settled()

    assert [(e.action, e.object_type, e.id) for e in handler.events] == [
        ("insert", "session", sid),
        ("update", "session", sid),
    ]
    update = handler.events[1]
    assert isinstance(update.data, Session)
    assert update.data.name == "Opening keynote"
    assert update.data.capacity == 20
    assert update.data.custom_fields == {"c_1001": "Hall A"}
    assert update.data.extra["future_field"] == "kept"
    assert update.event_id == 7
    assert invalidator.sessions == [(sid, 7), (sid, 7)]
    assert handler.order == ["invalidate", "handler"] * 2
    sent = [d for d in fake.deliveries if d.action == "update"]
    assert [d.status for d in sent] == [200]
    assert sent[0].headers["Authorization"] == SECRET
    expected = "application/json" if content_type == "json" else "application/x-www-form-urlencoded"
    assert sent[0].headers["Content-Type"] == expected


async def test_a_speaker_change_arrives_as_a_typed_speaker(
    fake: FakeSwoogo, client: SwoogoClient, serve: Serve
) -> None:
    handler = Recorder()
    invalidator = Invalidator(handler.order)
    url = await serve(WebhookReceiver(handler, secret=SECRET, invalidate=invalidator))
    await client.webhooks.create(
        name="speakers",
        url=url,
        trigger_object="speaker",
        content_type="post",
        headers={"Authorization": SECRET},
        trigger_on_insert=False,
    )
    sid = fake.add_session(event_id=7, name="Keynote")["id"]
    spid = fake.add_speaker(event_id=7, first_name="Ada", last_name="Lovelace")["id"]
    await client.speakers.add_sessions(spid, [sid])
    await fake.deliveries_settled()
    fake.delete_speaker(spid)
    await fake.deliveries_settled()

    assert [(e.action, e.id) for e in handler.events] == [("update", spid), ("delete", spid)]
    speaker = handler.events[0].data
    assert isinstance(speaker, Speaker)
    assert speaker.last_name == "Lovelace"
    assert [s.id for s in speaker.sessions] == [sid]
    assert invalidator.speakers == [spid, spid]


async def test_a_wrong_secret_is_refused_and_nothing_is_processed(
    fake: FakeSwoogo, client: SwoogoClient, serve: Serve
) -> None:
    handler = Recorder()
    invalidator = Invalidator(handler.order)
    url = await serve(WebhookReceiver(handler, secret=SECRET, invalidate=invalidator))
    await client.webhooks.create(
        name="bad", url=url, trigger_object="session", headers={"Authorization": "Bearer nope"}
    )
    fake.add_session(event_id=1, name="Keynote")
    await fake.deliveries_settled()
    # Swoogo retries a non-2xx: every attempt is refused; the handler never ran.
    assert [d.status for d in fake.deliveries] == [401] * fake.webhook_attempts
    body = json.dumps({"action": "update", "session": {"id": 5}}).encode()
    assert (await _post(url, body, {"Content-Type": "application/json"}))[0] == 401
    assert (await _post(url, body, _json_headers(Authorization=SECRET + "x")))[0] == 401
    assert handler.calls == 0
    assert handler.order == []


async def test_a_failing_handler_gets_a_500_and_the_retry_is_processed(
    fake: FakeSwoogo, client: SwoogoClient, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="swoogo_async.webhooks")
    handler = Recorder(failures=1)
    url = await serve(WebhookReceiver(handler, secret=SECRET))
    await client.webhooks.create(name="h", url=url, trigger_object="session", headers=HEADERS)
    fake.add_session(event_id=1, name="Keynote")
    await fake.deliveries_settled()
    assert [d.status for d in fake.deliveries] == [500, 200]
    assert handler.calls == 2
    assert len(handler.events) == 1
    assert any("handler failed" in r.getMessage() for r in caplog.records)
    assert SECRET not in caplog.text


async def test_an_api_response_never_waits_for_its_delivery(
    fake: FakeSwoogo, client: SwoogoClient, serve: Serve
) -> None:
    gate, started = asyncio.Event(), asyncio.Event()

    async def slow(event: WebhookEvent) -> None:
        started.set()
        await gate.wait()

    url = await serve(WebhookReceiver(slow, secret=SECRET))
    await client.webhooks.create(name="h", url=url, trigger_object="session", headers=HEADERS)
    sid = (await client.sessions.create(event_id=1, name="Keynote", date="2026-05-01")).id
    assert sid is not None
    await started.wait()  # the insert's delivery is held inside the handler...
    updated = await client.sessions.update(sid, name="Still answered")  # ...yet the API answers
    assert updated.name == "Still answered"
    assert fake.deliveries == []
    gate.set()
    await fake.deliveries_settled()
    # Both were held at once: either may finish first.
    assert sorted((d.action, d.status) for d in fake.deliveries) == [
        ("insert", 200),
        ("update", 200),
    ]


async def test_a_non_loopback_url_is_never_called(fake: FakeSwoogo, client: SwoogoClient) -> None:
    await client.webhooks.create(name="x", url="https://example.com/h", trigger_object="session")
    fake.add_session(event_id=1, name="Keynote")
    await fake.deliveries_settled()
    assert [(d.status, d.attempt) for d in fake.deliveries] == [(None, 0)]
    assert fake.deliveries[0].error is not None


async def test_webhooks_filter_by_actor_and_event(
    fake: FakeSwoogo, client: SwoogoClient, serve: Serve
) -> None:
    handler = Recorder()
    url = await serve(WebhookReceiver(handler, secret=SECRET))
    await client.webhooks.create(
        name="admin edits of event 2",
        url=url,
        trigger_object="session",
        headers=HEADERS,
        event_ids=[2],
        extra={"api_call": 0},
    )
    one = fake.add_session(event_id=1, name="Other event")["id"]
    two = fake.add_session(event_id=2, name="Admin insert")["id"]
    await client.sessions.update(two, name="API edit")
    await fake.deliveries_settled()
    assert [(e.action, e.id) for e in handler.events] == [("insert", two)]
    assert one != two


# -- duplicates ---------------------------------------------------------------------------------


async def test_a_retried_delivery_is_processed_once_in_process(serve: Serve) -> None:
    handler = Recorder()
    url = await serve(WebhookReceiver(handler, secret=SECRET))
    body = json.dumps({"action": "update", "session": {"id": 5, "name": "A"}}).encode()
    answers = await asyncio.gather(*(_post(url, body, _json_headers()) for _ in range(5)))
    assert sorted(a[0] for a in answers) == [200] * 5
    assert sorted(a[1] for a in answers) == ["duplicate"] * 4 + ["processed"]
    assert handler.calls == 1
    # Another edit of the same session is a new delivery.
    other = json.dumps({"action": "update", "session": {"id": 5, "name": "B"}}).encode()
    assert await _post(url, other, _json_headers()) == (200, "processed")


async def test_a_retried_delivery_is_processed_once_through_redis(
    serve: Serve, redis_server: RedisServer
) -> None:
    handler = Recorder(failures=1)
    redis_a = aioredis.Redis.from_url(redis_server.url)
    redis_b = aioredis.Redis.from_url(redis_server.url)
    try:
        # Two app instances behind one load balancer, each with its own connection.
        url_a = await serve(WebhookReceiver(handler, secret=SECRET, redis=redis_a))
        url_b = await serve(WebhookReceiver(handler, secret=SECRET, redis=redis_b))
        body = json.dumps({"action": "insert", "session": {"id": 9, "name": "A"}}).encode()
        assert await _post(url_a, body, _json_headers()) == (500, "handler failed")
        # The failure released the claim: the retry, on the other instance, is processed.
        assert await _post(url_b, body, _json_headers()) == (200, "processed")
        assert await _post(url_a, body, _json_headers()) == (200, "duplicate")
        assert await _post(url_b, body, _json_headers()) == (200, "duplicate")
        assert handler.calls == 2
        assert len(handler.events) == 1
        keys = await redis_a.keys("swoogo:webhook:*")
        assert keys == [f"swoogo:webhook:{handler.events[0].key}".encode()]
        assert 0 < await redis_a.ttl(keys[0]) <= 86_400
    finally:
        await redis_a.aclose()
        await redis_b.aclose()


async def test_a_delivery_sent_to_three_processes_is_processed_once(
    redis_server: RedisServer,
) -> None:
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests._webhook_app",
            redis_server.url,
            SECRET,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    try:
        ports = []
        for proc in procs:
            assert proc.stdout is not None
            ports.append(int(await asyncio.wait_for(proc.stdout.readline(), 60)))  # hang guard
        body = json.dumps({"action": "update", "session": {"id": 77, "name": "A"}}).encode()
        answers = await asyncio.gather(
            *(
                _post(f"http://127.0.0.1:{port}/hook", body, _json_headers())
                for port in ports
                for _ in range(4)
            )
        )
    finally:
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()  # the app stops when its stdin closes
        for proc in procs:
            await asyncio.wait_for(proc.wait(), 60)
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert sorted(text for _, text in answers) == ["duplicate"] * 11 + ["processed"]
    redis = aioredis.Redis.from_url(redis_server.url)
    try:
        assert await redis.get("processed:77") == b"1"
    finally:
        await redis.aclose()


async def _receiver_process(redis_url: str, *mode: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests._webhook_app", redis_url, SECRET, *mode),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    port = int(await asyncio.wait_for(proc.stdout.readline(), 60))  # hang guard
    return proc, f"http://127.0.0.1:{port}/hook"


async def test_a_delivery_whose_process_was_killed_is_processed_on_its_retry(
    redis_server: RedisServer,
) -> None:
    redis = aioredis.Redis.from_url(redis_server.url)
    body = json.dumps({"action": "update", "session": {"id": 78, "name": "A"}}).encode()
    killed, killed_url = await _receiver_process(redis_server.url, "hang", "0.6")
    other, other_url = await _receiver_process(redis_server.url)
    try:
        first = asyncio.ensure_future(_post(killed_url, body, _json_headers()))
        for _ in range(3000):  # until the handler runs (hang guard: 60 s)
            if await redis.exists("entered:78"):
                break
            await asyncio.sleep(0.02)
        # While it runs (longer than processing_ttl: the claim is renewed), a retry is a
        # duplicate.
        claims = [k async for k in redis.scan_iter(match="swoogo:webhook:*")]
        assert len(claims) == 1
        assert 0 < await redis.pttl(claims[0]) <= 600
        assert (await _post(other_url, body, _json_headers()))[1] == "duplicate"
        killed.kill()  # SIGKILL mid-delivery: no release, no answer
        await killed.wait()
        with pytest.raises(aiohttp.ClientError):
            await first
        for _ in range(3000):  # the dead process's claim ends within processing_ttl
            if not await redis.exists(claims[0]):
                break
            await asyncio.sleep(0.02)
        assert await _post(other_url, body, _json_headers()) == (200, "processed")
        assert await redis.get("processed:78") == b"1"
        # Processed: now the claim lasts the whole TTL, and retries are duplicates.
        assert await redis.ttl(claims[0]) > 3600
        assert (await _post(other_url, body, _json_headers()))[1] == "duplicate"
    finally:
        assert other.stdin is not None
        other.stdin.close()
        await asyncio.wait_for(other.wait(), 60)
        if killed.returncode is None:
            killed.kill()
            await killed.wait()
        await redis.aclose()


async def test_redis_dedupe_releases_only_its_own_claim(redis_server: RedisServer) -> None:
    redis = aioredis.Redis.from_url(redis_server.url)
    try:
        dedupe = RedisDedupe(redis, ttl=60)
        first = await dedupe.claim("k")
        assert first is not None
        assert await dedupe.claim("k") is None
        await redis.delete("swoogo:webhook:k")  # the claim expired...
        second = await dedupe.claim("k")  # ...and was taken again
        assert second is not None
        await dedupe.release("k", first)  # the first owner's release leaves it alone
        assert await dedupe.claim("k") is None
        await dedupe.release("k", second)
        assert await dedupe.claim("k") is not None
    finally:
        await redis.aclose()


async def test_redis_dedupe_falls_back_to_the_process_when_redis_is_away(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="swoogo_async.webhooks")
    redis = aioredis.Redis.from_url(redis_server.url)
    redis_server.stop()
    try:
        dedupe = RedisDedupe(redis, timeout=5.0)
        token = await dedupe.claim("k")
        assert token is not None
        assert await dedupe.claim("k") is None  # still deduplicated, in this process
        await dedupe.release("k", token)
        assert await dedupe.claim("k") is not None
    finally:
        await redis.aclose()
    warnings_logged = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings_logged) == 1


def test_local_dedupe_forgets_after_its_ttl_and_stays_bounded() -> None:
    now = [0.0]
    dedupe = LocalDedupe(ttl=10, max_entries=3, clock=lambda: now[0])
    assert dedupe.claim_now("a") is not None
    assert dedupe.claim_now("a") is None
    now[0] = 10.0
    assert dedupe.claim_now("a") is not None  # expired, so claimed again
    for key in "bcd":
        assert dedupe.claim_now(key) is not None
    assert len(dedupe) == 3  # "a" was the oldest: forgotten first
    assert dedupe.claim_now("a") is not None


# -- bad deliveries -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "logged"),
    [
        (b'{"session": {"id": 1', "application/json", 400, "malformed JSON"),
        (b"[1, 2]", "application/json", 400, "not an object"),
        (b"session[name]=\xff", "application/x-www-form-urlencoded", 400, "not UTF-8"),
        (b"&".join(b"f%d=1" % i for i in range(1001)), None, 400, "more than 1000"),
        (b"<xml/>", "text/xml", 415, "unsupported content type"),
        (b'{"session": {"id": 1, "sessions": 5}}', "application/json", 200, ""),
        (b'{"session": {"id": 1, "name": "\\ud800"}}', "application/json", 400, ""),
        (b'{"action": "\\udfff", "session": {"id": 1}}', None, 400, ""),
    ],
)
async def test_a_malformed_body_gets_a_4xx_and_a_log_line(
    serve: Serve,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str | None,
    status: int,
    logged: str,
) -> None:
    caplog.set_level(logging.WARNING, logger="swoogo_async.webhooks")
    handler = Recorder()
    url = await serve(WebhookReceiver(handler, secret=SECRET))
    headers = dict(HEADERS) | ({"Content-Type": content_type} if content_type else {})
    got, _ = await _post(url, body, headers)
    assert got == status
    if status == 200:
        assert handler.calls == 1
        return
    assert handler.calls == 0
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert logged in caplog.records[0].getMessage()
    assert SECRET not in caplog.text


async def test_an_oversize_body_gets_a_413(serve: Serve) -> None:
    handler = Recorder()
    url = await serve(WebhookReceiver(handler, secret=SECRET, max_body_bytes=100))
    big = json.dumps({"session": {"id": 1, "name": "x" * 200}}).encode()
    assert (await _post(url, big, _json_headers()))[0] == 413

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: the cap applies as read
        for _ in range(4):
            yield b"x" * 40

    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=chunked(), headers=HEADERS) as r,
    ):
        assert r.status == 413
    assert handler.calls == 0


# -- parsing ------------------------------------------------------------------------------------


def test_php_forms_nest_like_php() -> None:
    body = (
        b"action=update&session[id]=5&session[custom_fields][c_1][0][id]=3"
        b"&session[tags][]=a&session[tags][]=b&session[location][name]=Hall+A&plain=1"
    )
    assert parse_php_form(body) == {
        "action": "update",
        "session": {
            "id": "5",
            "custom_fields": {"c_1": [{"id": "3"}]},
            "tags": ["a", "b"],
            "location": {"name": "Hall A"},
        },
        "plain": "1",
    }


_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
_FORMS = st.recursive(
    st.text(max_size=12),
    lambda inner: (
        st.dictionaries(_NAMES, inner, min_size=1, max_size=4)
        | st.lists(inner, min_size=1, max_size=3)
    ),
    max_leaves=12,
)


@given(st.dictionaries(_NAMES, _FORMS, max_size=5))
def test_php_forms_read_back_what_the_sdk_encodes(fields: dict[str, Any]) -> None:
    assert parse_php_form(encode_form(fields)) == fields


def test_the_module_imports_no_web_framework_and_exports_what_it_lists() -> None:
    code = "import sys, swoogo_async.webhooks; print('starlette' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"
    for name in swoogo_async.webhooks.__all__:
        assert hasattr(swoogo_async.webhooks, name), name


async def test_flat_bodies_take_their_type_and_action_from_headers(serve: Serve) -> None:
    handler = Recorder()
    receiver = WebhookReceiver(handler, secret=SECRET, object_type="registrant")
    url = await serve(receiver)
    flat = b"id=12&event_id=3&first_name=Ada&brand_new=yes"
    form = {**HEADERS, "Content-Type": "application/x-www-form-urlencoded"}
    assert await _post(url, flat, form | {"X-Swoogo-Action": "Deleted"}) == (200, "processed")
    session = b'{"id": 4, "name": "Flat", "capacity": "30"}'
    assert (await _post(url, session, _json_headers(**{"X-Swoogo-Object": "session"})))[0] == 200
    first, second = handler.events
    assert (first.object_type, first.action, first.id, first.event_id) == (
        "registrant",
        "delete",
        12,
        3,
    )
    assert first.data == {"id": "12", "event_id": "3", "first_name": "Ada", "brand_new": "yes"}
    assert second.object_type == "session"
    assert second.action is None
    assert isinstance(second.data, Session)
    assert second.data.capacity == 30


async def test_the_core_function_answers_without_a_framework() -> None:
    handler = Recorder()
    receiver = WebhookReceiver(handler, secret=["Bearer old", SECRET])
    body = b'{"action": "insert", "contact": {"id": 3, "email": "a@b.c"}}'
    result = await receiver.handle(body, {"authorization": SECRET})
    assert (result.status, result.processed) == (200, True)
    assert result.event is not None
    assert result.event.data == {"id": 3, "email": "a@b.c"}
    assert (await receiver.handle(body, {"Authorization": "Bearer old"})).reason == "duplicate"
    assert (await receiver.handle(body, {})).status == 401
    assert "s3cret" not in repr(receiver)


async def test_a_secret_with_surrounding_spaces_matches_what_http_delivers(serve: Serve) -> None:
    # A secret read from a file or an env var often keeps a stray space; HTTP strips it
    # from the header, so it must not refuse every delivery. Case and inner spaces count.
    handler = Recorder()
    url = await serve(WebhookReceiver(handler, secret=f" {SECRET}\t"))
    body = b'{"action": "update", "session": {"id": 5}}'
    for wrong in (SECRET.upper(), SECRET.replace(" ", "  "), SECRET[:-1]):
        assert (await _post(url, body, _json_headers(Authorization=wrong)))[0] == 401
    assert handler.calls == 0
    assert (await _post(url, body, _json_headers(Authorization=f"{SECRET} ")))[0] == 200
    assert handler.calls == 1
    receiver = WebhookReceiver(Recorder(), secret=SECRET)
    assert receiver.authorized({"Authorization": f"  {SECRET} "})
    assert not receiver.authorized({"Authorization": f"{SECRET}x"})


async def test_a_plain_function_handler_runs_once_and_is_answered_200() -> None:
    seen: list[int | None] = []
    receiver = WebhookReceiver(lambda event: seen.append(event.id), secret=SECRET)
    body = b'{"action": "update", "session": {"id": 12}}'
    result = await receiver.handle(body, _json_headers())
    assert (result.status, result.reason) == (200, "processed")
    assert (await receiver.handle(body, _json_headers())).reason == "duplicate"
    assert seen == [12]


def test_receiver_options_are_checked() -> None:
    async def noop(event: WebhookEvent) -> None:
        return None

    with pytest.raises(InvalidInputError, match="secret"):
        WebhookReceiver(noop, secret="")
    with pytest.raises(InvalidInputError, match="secret"):
        WebhookReceiver(noop, secret="a\r\nb")
    for blank in (" ", "\t", ["ok", "  "], "a\x01b", "a\x7f", "a\u2028"):
        with pytest.raises(InvalidInputError, match="secret"):
            WebhookReceiver(noop, secret=blank)
    with pytest.raises(InvalidInputError, match="secret_header"):
        WebhookReceiver(noop, secret="x", secret_header="X-Sécret")
    with pytest.raises(InvalidInputError, match="secret_header"):
        WebhookReceiver(noop, secret="x", secret_header="Bad Header")
    with pytest.raises(InvalidInputError, match="max_body_bytes"):
        WebhookReceiver(noop, secret="x", max_body_bytes=0)
    with pytest.raises(InvalidInputError, match="invalidate"):
        WebhookReceiver(noop, secret="x", invalidate=object())  # type: ignore[arg-type]


# -- FastAPI ------------------------------------------------------------------------------------


def test_the_starlette_endpoint_serves_fastapi() -> None:
    from fastapi import FastAPI

    with warnings.catch_warnings():
        # Starlette's test client warns when it finds httpx rather than httpx2.
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    events: list[WebhookEvent] = []

    async def on_event(event: WebhookEvent) -> None:
        events.append(event)

    receiver = WebhookReceiver(on_event, secret=SECRET, max_body_bytes=200)
    app = FastAPI()
    app.add_route("/hooks/swoogo", receiver.starlette_endpoint, methods=["POST"])
    body = b"action=update&session[id]=8&session[name]=Keynote&session[use_event_timezone]=1"
    form = {**HEADERS, "Content-Type": "application/x-www-form-urlencoded"}
    with TestClient(app) as http:
        first = http.post("/hooks/swoogo", content=body, headers=form)
        again = http.post("/hooks/swoogo", content=body, headers=form)
        refused = http.post("/hooks/swoogo", content=body, headers={"Authorization": "x"})
        big = http.post("/hooks/swoogo", content=b"{" + b" " * 300 + b"}", headers=HEADERS)
        broken = http.post("/hooks/swoogo", content=b"{", headers=_json_headers())
    assert (first.status_code, first.text) == (200, "processed")
    assert (again.status_code, again.text) == (200, "duplicate")
    assert [refused.status_code, big.status_code, broken.status_code] == [401, 413, 400]
    assert len(events) == 1
    session = events[0].data
    assert isinstance(session, Session)
    assert (session.id, session.name, session.use_event_timezone) == (8, "Keynote", True)


# -- management ---------------------------------------------------------------------------------


async def test_webhooks_are_managed_through_the_client(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    created = await client.webhooks.create(
        name="agenda",
        url="http://127.0.0.1:9/h",
        trigger_object="session",
        content_type="post",
        headers={"Authorization": SECRET, "X-Swoogo-Action": "any"},
        event_ids=[3, 4],
        notes="for the app",
    )
    assert created.trigger_object == "session"
    assert created.content_type == "post"
    assert created.headers == [
        {"key": "Authorization", "value": SECRET},
        {"key": "X-Swoogo-Action", "value": "any"},
    ]
    assert (created.any_event, created.event_ids, created.enabled) == (False, [3, 4], True)
    assert SECRET not in repr(created)
    assert created.id is not None
    updated = await client.webhooks.update(created.id, enabled=False, name="paused")
    assert (updated.enabled, updated.name, updated.url) == (False, "paused", created.url)
    listed = await client.webhooks.list().collect()
    assert [w.id for w in listed] == [created.id]
    assert fake.requests[-1].query["page"] == "1"
    await client.webhooks.delete(created.id)
    assert await client.webhooks.list().collect() == []
    assert fake.webhooks == {}


async def test_webhook_input_is_checked_before_any_request(
    fake: FakeSwoogo, client: SwoogoClient
) -> None:
    before = fake.requests_total
    with pytest.raises(InvalidInputError, match="url"):
        await client.webhooks.create(name="x", url="ftp://h", trigger_object="session")
    with pytest.raises(InvalidInputError, match="trigger_object"):
        await client.webhooks.create(name="x", url="http://h", trigger_object="Session!")
    with pytest.raises(InvalidInputError, match="headers") as caught:
        await client.webhooks.create(
            name="x", url="http://h", trigger_object="session", headers={"A": "s3\r\ncret"}
        )
    assert "s3" not in str(caught.value)
    # Every control character, as with_options(headers=) refuses them: Swoogo would send it.
    for control in ("\x01", "\x1b", "\x7f", "\x85", "\u2028"):
        with pytest.raises(InvalidInputError, match="headers"):
            await client.webhooks.create(
                name="x", url="http://h", trigger_object="session", headers={"A": f"a{control}"}
            )
    for name in ("X Y", "X\x01", "É"):
        with pytest.raises(InvalidInputError, match="headers"):
            await client.webhooks.create(
                name="x", url="http://h", trigger_object="session", headers={name: "v"}
            )
    with pytest.raises(InvalidInputError, match="enabled"):
        await client.webhooks.update(1, enabled="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="changes"):
        await client.webhooks.update(1)
    with pytest.raises(InvalidInputError, match="webhook_id"):
        await client.webhooks.delete(0)
    assert fake.requests_total == before


async def test_a_webhooks_custom_fields_are_read_as_the_server_sent_them() -> None:
    """Only a session's ``custom_fields`` is a map of values; a webhook's is
    whatever the server sends (a list of field ids), kept as it is."""
    from swoogo_async import MockTransport, Request, Response

    items = [
        {"id": 1, "name": "a", "trigger_object": "session", "custom_fields": [1001, 1002]},
        {"id": 2, "name": "b", "custom_fields": None},
        {"id": 3, "name": "c", "enabled": "maybe", "custom_fields": [7]},  # one odd field
    ]

    def handler(request: Request) -> Response:
        if request.url.endswith("/oauth2/token"):
            return Response(200, {}, b'{"access_token":"t","expires_at":"2099-01-01 00:00:00"}')
        return Response(200, {}, json.dumps({"items": items}).encode())

    async with SwoogoClient("k", "s", transport=MockTransport(handler), retry=FAST_RETRY) as c:
        got = await c.webhooks.list().collect()
    assert [w.custom_fields for w in got] == [[1001, 1002], None, [7]]
