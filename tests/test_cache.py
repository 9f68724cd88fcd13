"""The opt-in read cache: through the fake on loopback, in memory and through a real Redis."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis import asyncio as aioredis

from swoogo_async import (
    APIError,
    CacheTTL,
    ClientStateError,
    InvalidInputError,
    ReadCache,
    SwoogoClient,
)
from swoogo_async._http.transport import Call
from swoogo_async._shared.cache_rules import changed, classify, entry_name, pack, unpack, write_tags
from swoogo_async.testing import FakeSwoogo, Fault

from ._cache_workers import read_one_session
from ._redis_server import RedisServer, redis_server
from .conftest import FAST_RETRY

__all__ = ["redis_server"]  # the fixture, imported for pytest

SPAWN = multiprocessing.get_context("spawn")
GET_SESSION = "GET /sessions/{id}"


class Clock:
    """A wall clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _client(fake: FakeSwoogo, cache: ReadCache | str | None) -> SwoogoClient:
    return SwoogoClient(
        fake.api_key, fake.api_secret, base_url=fake.base_url, retry=FAST_RETRY, cache=cache
    )


def _gets(fake: FakeSwoogo, path: str) -> int:
    return sum(1 for r in fake.requests if r.method == "GET" and r.path == path)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSwoogo]:
    async with FakeSwoogo(drift=False) as server:
        yield server


# -- pure ------------------------------------------------------------------------------------


def test_calls_are_classified_and_writes_name_what_they_change() -> None:
    assert classify(Call("GET", "/sessions/5", "fields=id")) == ("session", ("s:5",))
    assert classify(Call("GET", "/sessions", "event_id=7&page=1")) == (
        "session_list",
        ("se:7", "se:*"),
    )
    assert classify(Call("GET", "/speakers/9")) == ("speaker", ("p:9",))
    assert classify(Call("GET", "/speakers", "event_id=7")) == ("speaker_list", ("pe:7", "pe:*"))
    assert classify(Call("GET", "/registrants")) == ("other", ("o:*",))

    class Updated:
        id, event_id = 5, 7

    update = Call("PUT", "/sessions/update/5")
    assert write_tags(update, Updated()) == ("s:5", "se:7", "o:*")
    assert write_tags(update, None) == ("s:5", "se:*", "o:*")
    assert write_tags(Call("POST", "/sessions/create"), {"id": 6, "event_id": 7}) == (
        "s:6",
        "se:7",
        "o:*",
    )
    assert write_tags(Call("POST", "/speakers/9/session.json"), None) == ("p:9", "pe:*", "o:*")
    assert write_tags(Call("DELETE", "/registrants/3"), None) == ("o:*",)


def test_an_id_is_tagged_as_the_server_reads_it() -> None:
    # "01000" is session 1000 to the server: a write to 1000 must drop that read too.
    assert classify(Call("GET", "/sessions/01000")) == ("session", ("s:1000",))
    assert classify(Call("GET", "/speakers/09/")) == ("speaker", ("p:9",))
    assert classify(Call("GET", "/sessions/\u0661")) == ("other", ("o:*",))  # Arabic-Indic 1
    assert classify(Call("GET", "/sessions", "event_id=07")) == (
        "session_list",
        ("se:7", "se:*"),
    )
    for query in ("", "event_id=", "event_id=x", "event_id=7&event_id=8", "event_id=7,8"):
        assert classify(Call("GET", "/sessions", query)) == ("session_list", ("se:*", "o:*"))
    assert write_tags(Call("PUT", "/sessions/update/0005"), {"id": "5", "event_id": "07"}) == (
        "s:5",
        "se:7",
        "o:*",
    )


@pytest.mark.parametrize(
    "value",
    [None, 42, "text", b"", b"12345", b"garbage", b"swc1 nan 0\n{}", b"swc1 1.0\n", b"swc1 x 0\n"],
)
def test_an_entry_that_does_not_parse_is_absent(value: Any) -> None:
    assert unpack(value) is None


def test_an_entry_is_named_by_method_path_query_and_extra_headers() -> None:
    one = entry_name(Call("GET", "/sessions", "event_id=7&page=1"), None)
    assert entry_name(Call("GET", "/sessions", "event_id=7&page=1"), {}) == one
    assert entry_name(Call("GET", "/sessions", "event_id=7&page=2"), None) != one
    assert entry_name(Call("GET", "/sessions", "event_id=7&page=1"), {"X-A": "1"}) != one
    assert changed("s", [5, "5"], True) == ("s:5", "se:*", "o:*")  # a bool is no event id


def test_an_entry_round_trips() -> None:
    assert unpack(pack(12.5, ["0", "ab12"], b'{"id": 1}')) == (12.5, ["0", "ab12"], b'{"id": 1}')


def test_unusable_options_are_refused_naming_them() -> None:
    with pytest.raises(InvalidInputError, match="cache"):
        ReadCache("ftp://example")
    with pytest.raises(InvalidInputError, match=r"ttl\.session"):
        CacheTTL(session=-1)
    with pytest.raises(InvalidInputError, match="ttl"):
        ReadCache(ttl=30)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="cache"):
        SwoogoClient("k", "s", cache=object())  # type: ignore[arg-type]
    client = SwoogoClient("k", "s", cache="memory")
    with pytest.raises(InvalidInputError, match="max_age"):
        client.with_options(max_age=-1)
    with pytest.raises(InvalidInputError, match="cache"):
        client.with_options(cache="no")  # type: ignore[arg-type]
    assert "k" not in repr(client.cache)


# -- off by default --------------------------------------------------------------------------


async def test_caching_is_off_by_default(fake: FakeSwoogo) -> None:
    s = fake.add_session(event_id=7, name="A", date="2026-05-01")
    async with _client(fake, None) as client:
        assert client.cache is None
        await client.sessions.get(s["id"])
        fake.sessions[s["id"]]["name"] = "B"
        assert (await client.sessions.get(s["id"])).name == "B"
    assert _gets(fake, f"/sessions/{s['id']}") == 2


def test_the_cache_library_is_imported_only_when_a_cache_is_asked_for() -> None:
    code = (
        "import sys\n"
        "from swoogo_async import SwoogoClient\n"
        "SwoogoClient('k', 's').sessions\n"
        "assert 'cashews' not in sys.modules, 'imported without a cache'\n"
        "assert 'swoogo_async._shared.cache' not in sys.modules, 'cache module without a cache'\n"
        "SwoogoClient('k', 's', cache='memory')\n"
        "assert 'cashews' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- in process ------------------------------------------------------------------------------


async def test_a_thousand_readers_of_a_cold_key_cause_one_request(fake: FakeSwoogo) -> None:
    s = fake.add_session(event_id=7, name="A", date="2026-05-01")
    async with _client(fake, "memory") as client:
        fake.inject(GET_SESSION, Fault.hang())
        readers = [asyncio.ensure_future(client.sessions.get(s["id"])) for _ in range(1000)]
        await fake.until_held(1)
        fake.release_held()
        sessions = await asyncio.gather(*readers)
        assert {x.name for x in sessions} == {"A"}
        assert _gets(fake, f"/sessions/{s['id']}") == 1
        stats = client.cache.stats if client.cache else None
        assert stats is not None
        assert (stats.misses, stats.coalesced + stats.hits) == (1, 999)
        assert stats.credits_saved == 999


async def test_an_entry_is_fresh_for_its_ttl_then_stale_for_its_grace(fake: FakeSwoogo) -> None:
    s = fake.add_session(event_id=7, name="A", date="2026-05-01")
    clock = Clock()
    cache = ReadCache(clock=clock, ttl=CacheTTL(session=10, grace=100))
    path = f"/sessions/{s['id']}"
    async with _client(fake, cache) as client:
        await client.sessions.get(s["id"])
        fake.sessions[s["id"]]["name"] = "B"
        clock.now += 10
        assert (await client.sessions.get(s["id"])).name == "A"  # still fresh
        assert _gets(fake, path) == 1
        clock.now += 200  # past TTL and grace: a plain miss
        assert (await client.sessions.get(s["id"])).name == "B"
        assert _gets(fake, path) == 2
        assert (cache.stats.hits, cache.stats.misses, cache.stats.stale_hits) == (1, 2, 0)


async def test_a_stale_entry_is_served_at_once_and_refreshed_once(fake: FakeSwoogo) -> None:
    s = fake.add_session(event_id=7, name="A", date="2026-05-01")
    clock = Clock()
    cache = ReadCache(clock=clock, ttl=CacheTTL(session=10, grace=100))
    path = f"/sessions/{s['id']}"
    async with _client(fake, cache) as client:
        await client.sessions.get(s["id"])
        fake.sessions[s["id"]]["name"] = "B"
        clock.now += 50
        fake.inject(GET_SESSION, Fault.hang())
        # Swoogo holds the refresh: every reader is answered from the stale entry meanwhile.
        stale = await asyncio.gather(*(client.sessions.get(s["id"]) for _ in range(100)))
        assert {x.name for x in stale} == {"A"}
        await fake.until_held(1)
        assert (cache.stats.stale_hits, cache.stats.refreshes) == (100, 1)
        fake.release_held()
        await cache.drain()
        assert (await client.sessions.get(s["id"])).name == "B"
        assert _gets(fake, path) == 2
        assert cache.stats.hits == 1


async def test_bypass_and_max_age(fake: FakeSwoogo) -> None:
    s = fake.add_session(event_id=7, name="A", date="2026-05-01")
    clock = Clock()
    cache = ReadCache(clock=clock, ttl=CacheTTL(session=30))
    path = f"/sessions/{s['id']}"
    async with _client(fake, cache) as client:
        await client.sessions.get(s["id"])
        fake.sessions[s["id"]]["name"] = "B"
        assert (await client.with_options(cache=False).sessions.get(s["id"])).name == "B"
        assert cache.stats.bypassed == 1
        clock.now += 5
        assert (await client.with_options(max_age=10).sessions.get(s["id"])).name == "A"
        clock.now += 10  # 15 s old: fresh for the TTL, too old for max_age=10
        recent = client.with_options(max_age=10)
        assert (await recent.sessions.get(s["id"])).name == "B"
        assert (await recent.sessions.get(s["id"])).name == "B"  # the new entry serves it
        assert (await client.with_options(max_age=0).sessions.get(s["id"])).name == "B"
        assert _gets(fake, path) == 4


async def test_a_write_through_the_client_drops_the_session_and_its_events_lists(
    fake: FakeSwoogo,
) -> None:
    a = fake.add_session(event_id=7, name="A", date="2026-05-01")
    fake.add_session(event_id=8, name="O", date="2026-05-01")
    async with _client(fake, "memory") as client:

        async def read() -> tuple[str | None, ...]:
            one = await client.sessions.get(a["id"])
            listed = await client.sessions.list(7, fields=["name"]).collect()
            many = await client.sessions.get_many([a["id"]], event_id=7, fields=["name"])
            elsewhere = await client.sessions.list(8, fields=["name"]).collect()
            return (one.name, listed[0].name, many.sessions[0].name, elsewhere[0].name)

        assert await read() == ("A", "A", "A", "O")
        assert await read() == ("A", "A", "A", "O")
        before = len(fake.requests)
        updated = await client.sessions.update(a["id"], name="Renamed")
        assert updated.event_id == 7
        assert await read() == ("Renamed", "Renamed", "Renamed", "O")
        # The update, then the session, its event's list and get_many again: not event 8.
        assert len(fake.requests) - before == 4
        # Lists: event 7, get_many, event 8 once each, then event 7 and get_many again.
        assert _gets(fake, "/sessions") == 5


async def test_a_read_after_a_write_does_not_join_a_fetch_sent_before_it(
    fake: FakeSwoogo,
) -> None:
    a = fake.add_session(event_id=7, name="A", date="2026-05-01")
    async with _client(fake, "memory") as client:
        fake.inject(GET_SESSION, Fault.hang())
        early = asyncio.ensure_future(client.sessions.get(a["id"]))
        await fake.until_held(1)
        await client.sessions.update(a["id"], name="Renamed")
        assert (await client.sessions.get(a["id"])).name == "Renamed"
        fake.release_held()
        await early
        assert _gets(fake, f"/sessions/{a['id']}") == 2
        assert (await client.sessions.get(a["id"])).name == "Renamed"  # the early fetch is void
        assert _gets(fake, f"/sessions/{a['id']}") == 2


async def test_a_speaker_write_drops_the_speakers_reads(fake: FakeSwoogo) -> None:
    session = fake.add_session(event_id=7, name="A", date="2026-05-01")
    sp = fake.add_speaker(event_id=7, first_name="Ada", last_name="L")
    async with _client(fake, "memory") as client:
        for _ in range(2):
            assert (await client.speakers.get(sp["id"], expand="sessions")).sessions in ([], None)
            await client.speakers.list(7).collect()
        assert _gets(fake, f"/speakers/{sp['id']}") == 1
        await client.speakers.add_sessions(sp["id"], [session["id"]])
        got = await client.speakers.get(sp["id"], expand="sessions")
        assert [x.id for x in got.sessions or []] == [session["id"]]
        await client.speakers.list(7).collect()
        assert _gets(fake, f"/speakers/{sp['id']}") == 2
        assert _gets(fake, "/speakers") == 2


async def test_webhook_invalidation_through_the_cache_object(fake: FakeSwoogo) -> None:
    a = fake.add_session(event_id=7, name="A", date="2026-05-01")
    sp = fake.add_speaker(event_id=7, first_name="Ada", last_name="L")
    cache = ReadCache()
    with pytest.raises(ClientStateError, match="no client uses this cache"):
        await cache.invalidate_session(a["id"], 7)
    async with _client(fake, cache) as client:
        assert client.cache is not None
        await client.sessions.get(a["id"])
        await client.speakers.get(sp["id"])
        fake.sessions[a["id"]]["name"] = "Pushed"
        fake.speakers[sp["id"]]["first_name"] = "Grace"
        assert (await client.sessions.get(a["id"])).name == "A"
        await client.cache.invalidate_session(a["id"], 7)
        assert (await client.sessions.get(a["id"])).name == "Pushed"
        # The unbound cache object invalidates for every client bound to it here.
        await cache.invalidate_speaker(sp["id"])
        assert (await client.speakers.get(sp["id"])).first_name == "Grace"


async def test_request_gets_are_cached_and_writes_through_request_invalidate(
    fake: FakeSwoogo,
) -> None:
    a = fake.add_session(event_id=7, name="A", date="2026-05-01")
    async with _client(fake, "memory") as client:
        first = await client.request("GET", f"/sessions/{a['id']}")
        assert await client.request("GET", f"/sessions/{a['id']}") == first
        await client.sessions.get(a["id"])  # its own key: the decoded call differs in nothing
        assert _gets(fake, f"/sessions/{a['id']}") == 1
        await client.request("PUT", f"/sessions/update/{a['id']}", data={"name": "R"})
        assert (await client.request("GET", f"/sessions/{a['id']}"))["name"] == "R"


async def test_a_write_drops_reads_that_spell_its_ids_differently(fake: FakeSwoogo) -> None:
    a = fake.add_session(event_id=7, name="A", date="2026-05-01")
    async with _client(fake, "memory") as client:
        reads = [
            (f"/sessions/0{a['id']}", {}),
            ("/sessions", {"event_id": "07"}),
            ("/sessions", {"event_id": "7", "fields": "id,name"}),
        ]
        for path, params in reads:
            assert "A" in str(await client.request("GET", path, params=params))
        await client.sessions.update(a["id"], name="Renamed")
        for path, params in reads:
            assert "Renamed" in str(await client.request("GET", path, params=params)), path


async def test_an_error_is_shared_by_the_waiting_readers_and_not_cached(fake: FakeSwoogo) -> None:
    async with _client(fake, "memory") as client:
        results = await asyncio.gather(
            *(client.sessions.get(424242) for _ in range(50)), return_exceptions=True
        )
        assert {type(r).__name__ for r in results} == {"NotFoundError"}
        assert _gets(fake, "/sessions/424242") == 1
        with pytest.raises(Exception, match="404"):
            await client.sessions.get(424242)
        assert _gets(fake, "/sessions/424242") == 2


# -- through Redis ---------------------------------------------------------------------------


async def test_clients_sharing_redis_make_one_request_for_a_cold_key(
    fake: FakeSwoogo, redis_server: RedisServer
) -> None:
    s = fake.add_session(event_id=7, name="A", date="2026-05-01")
    caches = [ReadCache(redis_server.url) for _ in range(4)]  # each stands for a process
    clients = [_client(fake, c) for c in caches]
    try:
        for c in clients:
            await c.open()
        fake.inject(GET_SESSION, Fault.hang())
        readers = [
            asyncio.ensure_future(c.sessions.get(s["id"])) for c in clients for _ in range(50)
        ]
        await fake.until_held(1)
        fake.release_held()
        assert {x.name for x in await asyncio.gather(*readers)} == {"A"}
        assert _gets(fake, f"/sessions/{s['id']}") == 1
        assert sum(c.stats.misses for c in caches) == 1
        assert sum(c.stats.credits_saved for c in caches) == 199
    finally:
        for c in clients:
            await c.aclose()
        for cache in caches:
            await cache.aclose()


async def test_through_redis_one_process_refreshes_and_a_write_reaches_every_process(
    fake: FakeSwoogo, redis_server: RedisServer
) -> None:
    s = fake.add_session(event_id=7, name="A", date="2026-05-01")
    clock = Clock()
    ttl = CacheTTL(session=10, session_list=10, grace=100)
    caches = [ReadCache(redis_server.url, clock=clock, ttl=ttl) for _ in range(3)]
    clients = [_client(fake, c) for c in caches]
    path = f"/sessions/{s['id']}"
    try:
        for c in clients:
            await c.open()
        for c in clients:
            assert (await c.sessions.get(s["id"])).name == "A"
            await c.sessions.list(7).collect()
        assert (_gets(fake, path), _gets(fake, "/sessions")) == (1, 1)
        fake.sessions[s["id"]]["name"] = "B"
        clock.now += 50
        fake.inject(GET_SESSION, Fault.hang())
        stale = await asyncio.gather(*(c.sessions.get(s["id"]) for c in clients for _ in range(20)))
        assert {x.name for x in stale} == {"A"}
        await fake.until_held(1)
        fake.release_held()
        for cache in caches:
            await cache.drain()
        assert sum(c.stats.refreshes for c in caches) == 1
        assert {(await c.sessions.get(s["id"])).name for c in clients} == {"B"}
        assert _gets(fake, path) == 2
        # A write through one process drops the entries every process reads.
        await clients[0].sessions.update(s["id"], name="C")
        assert {(await c.sessions.get(s["id"])).name for c in clients} == {"C"}
        assert {x.name for c in clients for x in await c.sessions.list(7).collect()} == {"C"}
        assert (_gets(fake, path), _gets(fake, "/sessions")) == (3, 2)
    finally:
        for c in clients:
            await c.aclose()
        for cache in caches:
            await cache.aclose()


async def test_processes_sharing_redis_make_one_request_for_a_cold_key(
    fake: FakeSwoogo, redis_server: RedisServer
) -> None:
    s = fake.add_session(event_id=7, name="A", date="2026-05-01")
    fake.inject(GET_SESSION, Fault.hang())
    started: multiprocessing.Queue[Any] = SPAWN.Queue()
    results: multiprocessing.Queue[Any] = SPAWN.Queue()
    args = (fake.base_url, redis_server.url, s["id"], 100, started, results)
    procs = [SPAWN.Process(target=read_one_session, args=args) for _ in range(4)]
    loop = asyncio.get_running_loop()
    for proc in procs:
        proc.start()
    try:
        for _ in procs:  # every process is reading, and one of them is held by the server
            await loop.run_in_executor(None, started.get, True, 120)
        await fake.until_held(1)
        fake.release_held()
        seen = [await loop.run_in_executor(None, results.get, True, 120) for _ in procs]
    finally:
        for proc in procs:
            await loop.run_in_executor(None, proc.join, 30)
            if proc.is_alive():
                proc.kill()
    assert all(x["names"] == ["A"] for x in seen)
    assert _gets(fake, f"/sessions/{s['id']}") == 1
    assert sum(x["stats"]["misses"] for x in seen) == 1
    assert sum(x["stats"]["credits_saved"] for x in seen) == 399


async def _poison(url: str, value: bytes, match: str = "*:e:*") -> int:
    redis = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in redis.scan_iter(match=match)]
        for key in keys:
            await redis.set(key, value)
        return len(keys)
    finally:
        await redis.aclose()


@pytest.mark.parametrize(
    "value",
    [b"garbage", b"12345", b"swc1 nan 0\n{}", b"swc1 1e300 0\n{}", b"swc1 1.0 0\n{not json"],
)
async def test_a_poisoned_redis_entry_is_a_miss(
    fake: FakeSwoogo, redis_server: RedisServer, value: bytes
) -> None:
    s = fake.add_session(event_id=7, name="A", date="2026-05-01")
    cache = ReadCache(redis_server.url)
    try:
        async with _client(fake, cache) as client:
            await client.sessions.get(s["id"])
            assert await _poison(redis_server.url, value) == 1
            fake.sessions[s["id"]]["name"] = "B"
            assert (await client.sessions.get(s["id"])).name == "B"
            assert cache.stats.misses == 2
    finally:
        await cache.aclose()


UNPICKLED: list[str] = []


class _Trap:
    """Unpickling this records it: what the cache reads from Redis must never be unpickled."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (UNPICKLED.append, ("unpickled",))


async def test_a_pickle_in_redis_is_never_unpickled(
    fake: FakeSwoogo, redis_server: RedisServer
) -> None:
    s = fake.add_session(event_id=7, name="A", date="2026-05-01")
    cache = ReadCache(redis_server.url)
    try:
        async with _client(fake, cache) as client:
            await client.sessions.get(s["id"])
            assert await _poison(redis_server.url, pickle.dumps(_Trap())) == 1
            assert (await client.sessions.get(s["id"])).name == "A"
        assert UNPICKLED == []
        assert cache.stats.misses == 2
        assert cache.stats.invalid >= 1  # each look at the bad entry counts
    finally:
        await cache.aclose()


async def test_a_poisoned_version_is_a_miss_until_the_next_invalidation(
    fake: FakeSwoogo, redis_server: RedisServer
) -> None:
    s = fake.add_session(event_id=7, name="A", date="2026-05-01")
    cache = ReadCache(redis_server.url)
    try:
        async with _client(fake, cache) as client:
            await client.cache.invalidate_session(s["id"], 7) if client.cache else None
            await client.sessions.get(s["id"])
            assert await _poison(redis_server.url, b"\x00not a version", "*:v:s:*") == 1
            await client.sessions.get(s["id"])
            await client.sessions.get(s["id"])
            assert _gets(fake, f"/sessions/{s['id']}") == 3
    finally:
        await cache.aclose()


async def test_an_invalidation_redis_missed_is_sent_when_it_answers_again(
    fake: FakeSwoogo, redis_server: RedisServer
) -> None:
    # Two caches on one Redis stand for two processes. The writer's invalidation fails
    # while Redis is frozen; once Redis answers, the writer's next use of the cache sends
    # it, so the reader never gets the old entry back.
    s = fake.add_session(event_id=7, name="A", date="2026-05-01")
    reader_cache = ReadCache(redis_server.url)
    writer_cache = ReadCache(redis_server.url, timeout=0.2, retry_after=0)
    try:
        async with _client(fake, reader_cache) as reader, _client(fake, writer_cache) as writer:
            assert (await reader.sessions.get(s["id"])).name == "A"
            redis_server.pause()
            try:
                await writer.sessions.update(s["id"], name="B")  # its invalidation fails
                # Redis away: the writer reads the server, never an entry it could not drop.
                assert (await writer.sessions.get(s["id"])).name == "B"
            finally:
                redis_server.resume()
            assert writer_cache.stats.errors >= 1
            await writer.speakers.list(event_id=7).page(1)  # any use of the cache sends it
            assert (await reader.sessions.get(s["id"])).name == "B"
    finally:
        await reader_cache.aclose()
        await writer_cache.aclose()


async def test_redis_away_reads_go_to_the_server_with_one_warning(
    fake: FakeSwoogo, caplog: pytest.LogCaptureFixture
) -> None:
    s = fake.add_session(event_id=7, name="A", date="2026-05-01")
    cache = ReadCache("redis://127.0.0.1:1/0", timeout=0.2)  # nothing listens on port 1
    try:
        async with _client(fake, cache) as client:
            with caplog.at_level(logging.WARNING, logger="swoogo_async"):
                for _ in range(3):
                    assert (await client.sessions.get(s["id"])).name == "A"
            await client.sessions.update(s["id"], name="B")
        assert _gets(fake, f"/sessions/{s['id']}") == 3
        assert cache.stats.errors >= 1
        assert sum("read cache unavailable" in r.getMessage() for r in caplog.records) == 1
    finally:
        await cache.aclose()


async def test_with_redis_frozen_more_readers_than_connections_go_to_the_server(
    fake: FakeSwoogo, redis_server: RedisServer
) -> None:
    # cashews' pool (10 connections) made a command wait 10 s for a connection whatever the
    # cache's timeout: with Redis frozen every reader of a burst waited that long. The
    # wait for a connection is now bounded by ``timeout`` like each command.
    s = fake.add_session(event_id=7, name="A", date="2026-05-01")
    cache = ReadCache(redis_server.url, timeout=0.2)
    try:
        async with _client(fake, cache) as client:
            await client.speakers.list(event_id=7).page(1)  # the pool exists
            pool = cache._core.backend._client.connection_pool
            assert pool.timeout == cache._core.backend._kwargs["socket_timeout"] == 0.2
            redis_server.pause()
            try:
                readers = [client.sessions.get(s["id"]) for _ in range(200)]
                found = await asyncio.wait_for(asyncio.gather(*readers), 600)  # hang guard
            finally:
                redis_server.resume()
        assert {session.name for session in found} == {"A"}
        assert cache.stats.errors >= 1
    finally:
        await cache.aclose()


async def test_sync_and_creates_read_the_server_not_the_cache(fake: FakeSwoogo) -> None:
    fake.add_session(event_id=7, name="A", date="2026-05-01")
    rows = [{"name": "A", "date": "2026-05-01"}]
    async with _client(fake, "memory") as client:
        for _ in range(2):
            summary = await client.sessions.sync(rows, event_id=7, key="name").summary()
            assert summary.unchanged == 1
        assert _gets(fake, "/sessions") == 2
        await client.sessions.create(event_id=7, name="B", date="2026-05-01")
        assert client.cache is not None
        assert client.cache.stats.hits == 0


async def test_a_head_request_is_neither_cached_nor_a_write(fake: FakeSwoogo) -> None:
    a = fake.add_session(event_id=7, name="A", date="2026-05-01")
    clock = Clock()
    cache = ReadCache(clock=clock)
    async with _client(fake, cache) as client:
        await client.sessions.get(a["id"])
        with pytest.raises(APIError, match="405"):  # the fake answers HEAD with 405
            await client.request("HEAD", f"/sessions/{a['id']}")
        await client.sessions.get(a["id"])
        assert (cache.stats.misses, cache.stats.hits) == (1, 1)
