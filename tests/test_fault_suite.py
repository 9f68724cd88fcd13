"""The proof: 1,000+ mixed concurrent calls under injected faults lose and duplicate nothing.

Each run drives gets, updates and creates at once through one client while FakeSwoogo
injects a fault into about 10% of the calls (one kind at a time, then all mixed), and
then checks the outcome against the server's own store:

- every get and update succeeded;
- every create either returned a session that is in the store exactly once, or raised
  ``UnknownOutcomeError`` carrying its fields, or raised another error and is not in
  the store (the caller was told, nothing was created);
- the store holds no duplicate (same event, name, date and start time).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import pytest

from swoogo_async import RetryPolicy, Session, SwoogoClient, SwoogoError, UnknownOutcomeError
from swoogo_async.testing import FakeSwoogo, Fault

RETRY = RetryPolicy(max_attempts=8, backoff_base=0.01, backoff_cap=0.1, deadline=30.0)
READ_TIMEOUT = 0.4

KINDS: dict[str, list[Fault]] = {
    "500": [Fault.error(500)],
    "502": [Fault.error(502)],
    "503": [Fault.error(503)],
    "504-after-acting": [Fault.error(504, acted=True)],
    "429": [Fault.rate_limited(reset=1)],
    "drop-before": [Fault.drop_before()],
    "drop-after": [Fault.drop_after()],
    "read-timeout": [Fault.timeout(1.0), Fault.timeout(1.0, acted=True)],
    "malformed-json": [Fault.malformed_json()],
    "html-error": [Fault.html_error(502)],
}
KINDS["mixed"] = [fault for faults in KINDS.values() for fault in faults]

N_SEED, N_GET, N_UPDATE, N_CREATE = 100, 400, 300, 300


async def _revoke_tokens_now_and_then(fake: FakeSwoogo, stop: asyncio.Event) -> int:
    """Revoke every token shortly after the start, then every 20 s; return how many times.

    Spaced far wider than the longest stall a call can see here (chained 1 s 429
    pauses), so no call meets two revocations between its 401 and its replay: a 401 on
    the replay itself is, by design, final. (At 5 s, one run on a loaded machine took
    long enough for 34 GETs to fail on their replay's 401, the same failure revoking
    every 0.5 s reproduces.)
    """
    delay, rounds = 0.3, 0
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        if stop.is_set():
            break
        rounds += 1
        delay = 20.0
        # The token endpoint fails twice, then recovers.
        fake.inject("POST /oauth2/token", Fault.error(503), times=2)
        fake.revoke_tokens()
    return rounds


@pytest.mark.parametrize("kind", list(KINDS))
async def test_no_loss_no_duplicates_under_faults(kind: str) -> None:
    async with FakeSwoogo(seed=11) as fake:
        seeded = [
            fake.add_session(event_id=1, name=f"seed {i}", date="2026-05-01")["id"]
            for i in range(N_SEED)
        ]
        fake.inject("POST /oauth2/token", Fault.error(503), times=2)
        fake.chaos(rate=0.1, faults=KINDS[kind], seed=hash(kind) % 1000)
        stop = asyncio.Event()
        async with SwoogoClient(
            fake.api_key,
            fake.api_secret,
            base_url=fake.base_url,
            retry=RETRY,
            read_timeout=READ_TIMEOUT,
            pool_size=50,
            reconcile_delay=0.1,
        ) as client:
            revoker = asyncio.create_task(_revoke_tokens_now_and_then(fake, stop))
            gets = [client.sessions.get(seeded[i % N_SEED]) for i in range(N_GET)]
            updates = [
                client.sessions.update(seeded[i % N_SEED], capacity=i) for i in range(N_UPDATE)
            ]
            creates = [
                client.sessions.create(
                    event_id=2,
                    name=f"row {i}",
                    date="2026-05-02",
                    start_time=f"{8 + i % 9}:00",
                    capacity=i,
                )
                for i in range(N_CREATE)
            ]
            results = await asyncio.gather(*gets, *updates, *creates, return_exceptions=True)
            stop.set()
            revocations = await revoker
        fake.clear_faults()

    got, updated, created = (
        results[:N_GET],
        results[N_GET : N_GET + N_UPDATE],
        results[N_GET + N_UPDATE :],
    )
    assert [r for r in got if not isinstance(r, Session)] == []
    assert [r for r in updated if not isinstance(r, Session)] == []
    # Bugs are not SwoogoErrors: none may hide among the outcomes.
    assert all(isinstance(r, (Session, SwoogoError)) for r in created)

    in_store = Counter(rec["name"] for rec in fake.sessions.values() if rec["event_id"] == 2)
    assert fake.duplicate_groups() == []
    assert max(in_store.values()) == 1
    outcomes: Counter[str] = Counter()
    for i, result in enumerate(created):
        name = f"row {i}"
        if isinstance(result, Session):
            assert result.name == name
            assert result.id in fake.sessions
            assert fake.sessions[result.id]["name"] == name
            outcomes["created"] += 1
        elif isinstance(result, UnknownOutcomeError):
            assert result.fields["name"] == name  # nothing silently lost: the row comes back
            outcomes["unknown"] += 1
        else:
            assert in_store[name] == 0, f"{name} failed with {result!r} but exists"
            outcomes["failed"] += 1
    assert outcomes["created"] + outcomes["unknown"] + outcomes["failed"] == N_CREATE
    # Faults on ~10% of calls must not turn into failures: retries and lookups absorb them.
    assert outcomes["created"] >= N_CREATE * 0.97, outcomes
    assert revocations >= 1
    assert sum(1 for r in fake.requests if r.status == 401) >= 1  # the revocation bit
    faulted = sum(1 for r in fake.requests if r.fault)
    assert faulted >= 50, "the chaos did not bite"
