"""Two runs on one event at once: real processes, the event's lease, no duplicate.

Each test starts two ``python -m swoogo_async sync`` (or ``import``) processes on one
file against one FakeSwoogo. The event reads are forced to overlap where the code lets
them: the fake holds every list response (``Fault.hang()``) until either both runs
are reading (no lease: both would then create every row) or one run says it waits
for the other's lease; only then are the held reads let go. Nothing is timed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from swoogo_async import LeaseBusyError, SharedStateError, SwoogoClient
from swoogo_async._shared.state import LocalSharedState, file_lease
from swoogo_async.redis import RedisSharedState
from swoogo_async.testing import FakeSwoogo, Fault

from ._redis_server import PATIENT, RedisServer, redis_server
from .test_cli import env_for, read_report, write_csv

__all__ = ["redis_server"]  # the fixture, imported for pytest

ROWS = 12
WAITING = b"is being written by another run"


async def _start(
    cwd: Path, fake: FakeSwoogo, lease_dir: Path, *args: str, lease_wait: str = "600"
) -> asyncio.subprocess.Process:
    env = {**env_for(fake), "SWOOGO_LEASE_DIR": str(lease_dir)}
    env["SWOOGO_API_SECRET"] = fake.api_secret
    return await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "swoogo_async", *args, "--no-progress", "--lease-wait", lease_wait),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )


async def _watch(proc: asyncio.subprocess.Process, waiting: asyncio.Event) -> bytes:
    """Read ``proc``'s stderr to the end, setting ``waiting`` when it waits for a lease."""
    assert proc.stderr is not None
    seen = b""
    async for line in proc.stderr:
        seen += line
        if WAITING in line:
            waiting.set()
    return seen


async def _both_at_once(
    tmp_path: Path,
    fake: FakeSwoogo,
    command: str,
    *extra: str,
    per_run: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
) -> list[tuple[int, str, str]]:
    """Run two ``command`` processes on one file, their event reads held as described."""
    path = write_csv(tmp_path / "agenda.csv", ROWS)
    fake.inject("GET /sessions", Fault.hang(), times=2)
    waiting = asyncio.Event()
    procs = []
    for k in range(2):
        report = tmp_path / f"report-{k}.jsonl"
        args = (command, str(path), "--event-id", "7", "--report", str(report), *extra)
        args += per_run[k]
        procs.append(await _start(tmp_path, fake, tmp_path, *args))
    watchers = [asyncio.ensure_future(_watch(p, waiting)) for p in procs]
    both_reading = asyncio.ensure_future(fake.until_held(2))
    one_waits = asyncio.ensure_future(waiting.wait())
    await asyncio.wait([both_reading, one_waits], timeout=600, return_when="FIRST_COMPLETED")
    assert both_reading.done() or one_waits.done(), "neither run got as far as reading"
    both_reading.cancel()
    one_waits.cancel()
    fake.clear_faults()  # later reads answer at once
    fake.release_held()
    results = []
    for proc, watcher in zip(procs, watchers, strict=True):
        assert proc.stdout is not None
        out = await asyncio.wait_for(proc.stdout.read(), 600)
        err = await asyncio.wait_for(watcher, 600)
        await asyncio.wait_for(proc.wait(), 600)
        assert proc.returncode is not None
        results.append((proc.returncode, out.decode(), err.decode()))
    assert fake.api_secret not in "".join(o + e for _, o, e in results)
    return results


def _assert_each_row_once(fake: FakeSwoogo, tmp_path: Path, command: str) -> None:
    names = sorted(rec["name"] for rec in fake.sessions.values())
    assert names == sorted(f"Talk {i}" for i in range(ROWS))
    assert fake.duplicate_groups() == []
    statuses = [r["status"] for k in range(2) for r in read_report(tmp_path / f"report-{k}.jsonl")]
    # One run created every row; the other, reading after it, found every row done.
    later = "unchanged" if command == "sync" else "present"
    assert sorted(statuses) == sorted(["created"] * ROWS + [later] * ROWS)


def _listing(folder: Path, pattern: str) -> list[Path]:
    return list(folder.glob(pattern))


@pytest.fixture
async def fake() -> AsyncIterator[FakeSwoogo]:
    async with FakeSwoogo("lease-key", "lease-secret") as server:
        yield server


@pytest.mark.parametrize("command", ["sync", "import"])
async def test_two_runs_sharing_redis_create_each_row_once(
    command: str, redis_server: RedisServer, tmp_path: Path, fake: FakeSwoogo
) -> None:
    results = await _both_at_once(
        tmp_path, fake, command, "--redis-url", redis_server.url, "--key", "name,date,start_time"
    )
    assert [code for code, _, _ in results] == [0, 0], results
    _assert_each_row_once(fake, tmp_path, command)
    assert sum(WAITING.decode() in err for _, _, err in results) == 1


@pytest.mark.parametrize("command", ["sync", "import"])
async def test_two_runs_on_one_machine_without_redis_create_each_row_once(
    command: str, tmp_path: Path, fake: FakeSwoogo
) -> None:
    results = await _both_at_once(tmp_path, fake, command)
    assert [code for code, _, _ in results] == [0, 0], results
    _assert_each_row_once(fake, tmp_path, command)
    assert sum(WAITING.decode() in err for _, _, err in results) == 1


@pytest.mark.parametrize("command", ["sync", "import"])
async def test_a_run_with_redis_and_one_without_on_one_machine_take_turns(
    command: str, redis_server: RedisServer, tmp_path: Path, fake: FakeSwoogo
) -> None:
    # One cron line has --redis-url, another (or a hand-run) has not: the machine's lease
    # still keeps them apart.
    results = await _both_at_once(
        tmp_path, fake, command, per_run=(("--redis-url", redis_server.url), ())
    )
    assert [code for code, _, _ in results] == [0, 0], results
    _assert_each_row_once(fake, tmp_path, command)
    assert sum(WAITING.decode() in err for _, _, err in results) == 1


@pytest.mark.parametrize("folder", ["missing/folder", "agenda.csv"])
async def test_an_unusable_lease_folder_is_a_typed_error_naming_it(
    folder: str, tmp_path: Path, fake: FakeSwoogo, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "agenda.csv", ROWS)
    monkeypatch.setenv("SWOOGO_LEASE_DIR", str(tmp_path / folder))
    async with SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url) as client:
        rows = [{"name": "Talk", "date": "2026-06-01", "start_time": "09:00"}]
        with pytest.raises(SharedStateError, match="SWOOGO_LEASE_DIR"):
            await client.sessions.sync(rows, event_id=7).summary()
    proc = await _start(tmp_path, fake, tmp_path / folder, "sync", str(path), "--event-id", "7")
    _, err = await asyncio.wait_for(proc.communicate(), 600)
    assert proc.returncode == 1
    assert b"Traceback" not in err
    assert b"SharedStateError" in err
    assert b"SWOOGO_LEASE_DIR" in err
    assert fake.sessions == {}


async def test_a_run_stalled_past_its_lease_writes_nothing_after_another_took_it(
    redis_server: RedisServer, tmp_path: Path, fake: FakeSwoogo
) -> None:
    # A frozen VM: the first run stalls (its loop blocked) after planning, its Redis lease
    # expires, a run on another machine (its own lease folder) takes the event and writes.
    # When the first wakes up it must not write what it planned from its stale read.
    go = tmp_path / "go"
    procs = []
    for k, extra in enumerate(((str(go),), ())):
        env = {**env_for(fake), "SWOOGO_LEASE_DIR": str(tmp_path / f"machine-{k}")}
        env["SWOOGO_API_SECRET"] = fake.api_secret
        (tmp_path / f"machine-{k}").mkdir()
        args = ("-m", "tests._lease_sync", redis_server.url, "7", "3", *extra)
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable, *args, stdout=asyncio.subprocess.PIPE, env=env
            )
        )
        if k == 0:
            assert procs[0].stdout is not None
            assert await asyncio.wait_for(procs[0].stdout.readline(), 600) == b"stalled\n"
    second_out, _ = await asyncio.wait_for(procs[1].communicate(), 600)
    assert procs[1].returncode == 0
    assert json.loads(second_out) == [["created", "NoneType"]] * 3
    go.touch()
    first_out, _ = await asyncio.wait_for(procs[0].communicate(), 600)
    assert procs[0].returncode == 0
    assert json.loads(first_out) == [["failed", "LeaseBusyError"]] * 3
    assert sorted(rec["name"] for rec in fake.sessions.values()) == [f"Talk {i}" for i in range(3)]


async def test_a_run_that_waits_too_long_stops_with_a_clear_message(
    tmp_path: Path, fake: FakeSwoogo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWOOGO_LEASE_DIR", str(tmp_path))
    path = write_csv(tmp_path / "agenda.csv", 3)
    async with SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url) as client:
        # Another run on this machine holds event 7 (as a run without Redis does).
        state = LocalSharedState().bind(fake.api_key, None, base_url=client.base_url)
        async with state.lease("event:7", wait=0):
            args = ("sync", str(path), "--event-id", "7")
            proc = await _start(tmp_path, fake, tmp_path, *args, lease_wait="0")
            _, err = await asyncio.wait_for(proc.communicate(), 600)
    assert proc.returncode == 1
    assert "LeaseBusyError: event 7 is still being written by another run" in err.decode()
    assert "--lease-wait" in err.decode()
    assert fake.sessions == {}  # nothing read, nothing written
    assert not any(r.path.endswith("/sessions") for r in fake.requests)
    assert not _listing(tmp_path, "swoogo-sync-report-*")


async def test_file_leases_exclude_each_other_and_free_on_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWOOGO_LEASE_DIR", str(tmp_path))
    async with file_lease("cred", "event:1", wait=0):
        with pytest.raises(LeaseBusyError) as info:
            async with file_lease("cred", "event:1", wait=0):
                pass
        assert info.value.name == "event:1"
        async with file_lease("cred", "event:2", wait=0):  # another event: free
            pass
        async with file_lease("other-cred", "event:1", wait=0):  # another credential
            pass
    async with file_lease("cred", "event:1", wait=0):  # released: free again
        pass
    assert _listing(tmp_path, "*") == []  # no lock file left behind


async def test_redis_leases_exclude_each_other_and_free_on_release(
    redis_server: RedisServer,
) -> None:
    one = RedisSharedState.from_url(redis_server.url, timeout=PATIENT)
    two = RedisSharedState.from_url(redis_server.url, timeout=PATIENT)
    a = one.bind("key", None, base_url="http://x")
    b = two.bind("key", None, base_url="http://x")
    try:
        async with a.lease("event:1", wait=0):
            with pytest.raises(LeaseBusyError):
                async with b.lease("event:1", wait=0):
                    pass
            async with b.lease("event:2", wait=0):
                pass
            # The lease is a Redis lock with a TTL: a holder that dies frees it.
            keys = [k async for k in one.redis.scan_iter(match="*:lease:event:1")]
            assert len(keys) == 1
            assert 0 < await one.redis.pttl(keys[0]) <= one.lock_ttl * 1000
        async with b.lease("event:1", wait=0):
            pass
    finally:
        await one.aclose()
        await two.aclose()


@pytest.mark.parametrize("value", [b"held for ever", b"\xff\xfe"], ids=["text", "binary"])
async def test_a_redis_lease_key_without_a_ttl_is_no_lease(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: bytes
) -> None:
    """Every lease taken by a run expires; a key left without a TTL would stop every sync."""
    monkeypatch.setenv("SWOOGO_LEASE_DIR", str(tmp_path))
    state = RedisSharedState.from_url(redis_server.url, timeout=PATIENT)
    bound = state.bind("key", None, base_url="http://x")
    assert bound._keys is not None
    key = f"{bound._keys[0].removesuffix(':token')}:lease:event:1"
    try:
        await state.redis.set(key, value)
        async with bound.lease("event:1", wait=0):
            assert 0 < await state.redis.pttl(key) <= state.lock_ttl * 1000
    finally:
        await state.aclose()


async def test_a_redis_lease_with_redis_away_falls_back_to_this_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWOOGO_LEASE_DIR", str(tmp_path))
    state = RedisSharedState.from_url("redis://127.0.0.1:1/0", timeout=0.2)
    bound = state.bind("key", None, base_url="http://x")
    try:
        async with bound.lease("event:1", wait=0):
            local = LocalSharedState().bind("key", None, base_url="http://x")
            with pytest.raises(LeaseBusyError):
                async with local.lease("event:1", wait=0):
                    pass
    finally:
        await state.aclose()


async def test_a_redis_lease_with_redis_away_and_on_error_raise_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = RedisSharedState.from_url("redis://127.0.0.1:1/0", timeout=0.2, on_error="raise")
    bound = state.bind("key", None, base_url="http://x")
    try:
        with pytest.raises(SharedStateError):
            async with bound.lease("event:1", wait=0):
                pass
    finally:
        await state.aclose()


class _AskingState(LocalSharedState):
    """The in-process state, telling the test when its client asks for a lease."""

    def __init__(self, asked: asyncio.Event) -> None:
        super().__init__()
        self.asked = asked

    def bind(self, api_key: str, rate_limit: object, *, base_url: str) -> LocalSharedState:
        bound = super().bind(api_key, rate_limit, base_url=base_url)  # type: ignore[arg-type]
        bound.lease = self._asking(bound.lease)  # type: ignore[method-assign]
        return bound

    def _asking(self, lease: Any) -> Any:
        def asking(name: str, *, wait: float) -> Any:
            self.asked.set()
            return lease(name, wait=wait)

        return asking


async def test_two_library_syncs_of_one_event_take_turns(
    tmp_path: Path, fake: FakeSwoogo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The promise is the library's, not only the command's: sessions.sync takes the lease.
    monkeypatch.setenv("SWOOGO_LEASE_DIR", str(tmp_path))
    rows = [
        {"event_id": 7, "name": f"Talk {i}", "date": "2026-06-01", "start_time": "09:00:00"}
        for i in range(ROWS)
    ]
    fake.inject("GET /sessions", Fault.hang(), times=2)
    first_asked, second_asked = asyncio.Event(), asyncio.Event()

    async def run(asked: asyncio.Event) -> list[str]:
        async with SwoogoClient(
            fake.api_key, fake.api_secret, base_url=fake.base_url, shared=_AskingState(asked)
        ) as client:
            run = client.sessions.sync(rows, event_id=7, key="name")
            async with run:
                return [result.status async for result in run]

    first = asyncio.ensure_future(run(first_asked))
    await fake.until_held(1)
    second = asyncio.ensure_future(run(second_asked))
    both_reading = asyncio.ensure_future(fake.until_held(2))
    asked = asyncio.ensure_future(second_asked.wait())
    await asyncio.wait([both_reading, asked], timeout=600, return_when="FIRST_COMPLETED")
    # Without a lease the second run reads beside the first: both would create every row.
    assert not both_reading.done(), "both syncs read the event at once"
    both_reading.cancel()
    asked.cancel()
    fake.clear_faults()
    fake.release_held()
    statuses = sorted((await first) + (await second))
    assert statuses == sorted(["created"] * ROWS + ["unchanged"] * ROWS)
    assert fake.duplicate_groups() == []
