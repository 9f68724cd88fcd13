"""The proof: 1,000+ mixed concurrent calls under injected faults lose and duplicate nothing.

Each run drives gets, updates and creates at once through one client while FakeSwoogo
injects a fault into about 10% of the calls (one kind at a time, then all mixed), and
then checks the outcome against the server's own store:

- every get and update succeeded;
- every create either returned a session that is in the store exactly once, or raised
  ``UnknownOutcomeError`` carrying its fields, or raised another error and is not in
  the store (the caller was told, nothing was created);
- the store holds no duplicate (same event, name, date and start time).

Deterministic under load: the chaos seed is fixed per kind, tokens are revoked at a
chosen request (not after a time), and a "timeout" is a request the fake holds until
the client gives up, so the per-attempt read timeout can be generous: a slow machine
makes the run slower, never different.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import Counter

import pytest

from swoogo_async import RetryPolicy, Session, SwoogoClient, SwoogoError, UnknownOutcomeError
from swoogo_async.testing import FakeSwoogo, Fault

RETRY = RetryPolicy(max_attempts=8, backoff_base=0.01, backoff_cap=0.1, deadline=30.0)
#: Far above what a loaded machine adds to a loopback request; only held requests meet it.
READ_TIMEOUT = 2.5
#: Tokens are revoked when this request arrives: well inside the run, whatever the load.
REVOKE_AT = 200

KINDS: dict[str, list[Fault]] = {
    "500": [Fault.error(500)],
    "502": [Fault.error(502)],
    "503": [Fault.error(503)],
    "504-after-acting": [Fault.error(504, acted=True)],
    "429": [Fault.rate_limited(reset=1)],
    "drop-before": [Fault.drop_before()],
    "drop-after": [Fault.drop_after()],
    "read-timeout": [Fault.hang(), Fault.hang(acted=True)],
    "malformed-json": [Fault.malformed_json()],
    "html-error": [Fault.html_error(502)],
}
KINDS["mixed"] = [fault for faults in KINDS.values() for fault in faults]

N_SEED, N_GET, N_UPDATE, N_CREATE = 100, 400, 300, 300


def _revoke_tokens(fake: FakeSwoogo, revoked: list[int]) -> None:
    """Revoke every token; the token endpoint then fails twice before it recovers."""
    fake.inject("POST /oauth2/token", Fault.error(503), times=2)
    fake.revoke_tokens()
    revoked.append(fake.requests_total)


@pytest.mark.parametrize("kind", list(KINDS))
async def test_no_loss_no_duplicates_under_faults(kind: str) -> None:
    async with FakeSwoogo(seed=11) as fake:
        seeded = [
            fake.add_session(event_id=1, name=f"seed {i}", date="2026-05-01")["id"]
            for i in range(N_SEED)
        ]
        fake.inject("POST /oauth2/token", Fault.error(503), times=2)
        # crc32, not hash(): str hashes change from one process to the next.
        fake.chaos(rate=0.1, faults=KINDS[kind], seed=zlib.crc32(kind.encode()) % 1000)
        revoked: list[int] = []
        fake.after_requests(REVOKE_AT, lambda: _revoke_tokens(fake, revoked))
        async with SwoogoClient(
            fake.api_key,
            fake.api_secret,
            base_url=fake.base_url,
            retry=RETRY,
            read_timeout=READ_TIMEOUT,
            pool_size=50,
            reconcile_delay=0.1,
        ) as client:
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
    assert len(revoked) == 1
    assert sum(1 for r in fake.requests if r.status == 401) >= 1  # the revocation bit
    faulted = sum(1 for r in fake.requests if r.fault)
    assert faulted >= 50, "the chaos did not bite"
