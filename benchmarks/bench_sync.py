"""Credits per row: agenda sync re-runs, and ``create_many`` under faults.

Run: ``python -m benchmarks.bench_sync [--rows 1000] [--seeds 5] [--chaos 0.03]``.
Each scenario starts an in-process ``FakeSwoogo`` (type drift on, rate limit off) and
counts credits the way the client does (``client.credits_spent``: a list page 10, any
other call 1, the token 0):

- ``sync_unchanged``: a second ``sessions.sync`` of an unchanged ``--rows`` agenda
  (writes, credits, statuses);
- ``sync_changed``: a sync after one field of every tenth row changed (updates, the
  fields each sent, credits);
- ``create_many_chaos``: ``create_many`` of ``--rows`` rows while ``--chaos`` of the
  requests get a fault (dropped after acting, answered too late, 503), for each seed:
  credits per created row, duplicates on the server, rows lost (not on the server, or
  not reported created); the median over seeds.

Prints one JSON line. Figures are never asserted in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from collections import Counter
from typing import Any

from swoogo_async import RetryPolicy, SwoogoClient
from swoogo_async._writes import DEFAULT_CONCURRENCY
from swoogo_async._writes.bulk_results import BulkSummary
from swoogo_async.testing import FakeSwoogo, Fault

EVENT = 77


def agenda(n: int) -> list[dict[str, str]]:
    """Return ``n`` CSV-like rows (all text), each a distinct session."""
    return [
        {
            "name": f"Session {i}",
            "date": f"2026-06-{1 + i % 3:02d}",
            "start_time": f"{8 + i % 10:02d}:{(i // 30) % 4 * 15:02d}",
            "end_time": f"{8 + i % 10:02d}:50",
            "capacity": str(20 + i % 200),
            "session_included": ("0", "1")[i % 2],
            "description": "A session about things, with time for questions.",
            "c_1001": ("Beginner", "Intermediate", "Advanced")[i % 3],
        }
        for i in range(n)
    ]


def _client(fake: FakeSwoogo, **options: Any) -> SwoogoClient:
    return SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url, **options)


def _writes(fake: FakeSwoogo) -> list[Any]:
    return [r for r in fake.requests if r.method in ("POST", "PUT") and "oauth2" not in r.path]


async def sync_scenarios(n: int) -> dict[str, Any]:
    """A first sync, an unchanged re-run, and a re-run with every tenth row edited."""
    rows = agenda(n)
    out: dict[str, Any] = {}
    async with FakeSwoogo() as fake:
        async with _client(fake, rate_limit=None) as client:
            await client.sessions.sync(rows, event_id=EVENT, concurrency=16).summary()
        fake.reset_requests()
        async with _client(fake, rate_limit=None) as client:  # a new run: a new token
            summary = await client.sessions.sync(rows, event_id=EVENT, concurrency=16).summary()
            out["sync_unchanged"] = {
                "rows": n,
                "unchanged": summary.unchanged,
                "writes": len(_writes(fake)),
                "credits": client.credits_spent,
                "token_requests": fake.token_requests,
            }
        for i in range(0, n, 10):
            rows[i] = {**rows[i], "capacity": str(int(rows[i]["capacity"]) + 1000)}
        fake.reset_requests()
        async with _client(fake, rate_limit=None) as client:
            summary = await client.sessions.sync(rows, event_id=EVENT, concurrency=16).summary()
            sent = Counter(tuple(sorted(r.form or {})) for r in _writes(fake))
            out["sync_changed"] = {
                "rows": n,
                "changed_rows": len(range(0, n, 10)),
                "updated": summary.updated,
                "unchanged": summary.unchanged,
                "created": summary.created,
                "fields_sent": {",".join(k): v for k, v in sent.items()},
                "credits": client.credits_spent,
            }
    return out


async def chaos_run(n: int, rate: float, seed: int, concurrency: int) -> dict[str, Any]:
    """``create_many`` under faults; credits per created row, duplicates and losses."""
    rows = agenda(n)
    faults = [Fault.drop_after(), Fault.timeout(1.5, acted=True), Fault.error(503)]
    retry = RetryPolicy(backoff_base=0.05, backoff_cap=0.5, deadline=60.0)
    async with FakeSwoogo() as fake:
        fake.chaos(rate=rate, faults=faults, seed=seed)
        async with _client(fake, rate_limit=None, read_timeout=1.0, retry=retry) as client:
            summary = BulkSummary()
            reported: dict[int, int] = {}
            unknown: list[str] = []
            async for result in client.sessions.create_many(
                rows, event_id=EVENT, concurrency=concurrency
            ):
                summary.add(result)
                if result.status == "created" and result.id is not None:
                    reported[result.index] = result.id
                elif result.error is not None:
                    unknown.append(f"{result.status}: {result.error}"[:300])
            credits = client.credits_spent
        names = Counter(s["name"] for s in fake.sessions.values())
        lost = sum(
            1
            for i, row in enumerate(rows)
            if names[row["name"]] == 0
            or i not in reported
            or fake.sessions.get(reported[i], {}).get("name") != row["name"]
        )
        faults_seen = Counter(r.fault for r in fake.requests if r.fault)
        lookups = sum(1 for r in fake.requests if r.method == "GET" and r.path == "/sessions")
    return {
        "seed": seed,
        "created": summary.created,
        "unknown": summary.unknown,
        "failed": summary.failed,
        "credits": credits,
        "credits_per_created_row": round(credits / max(summary.created, 1), 4),
        "duplicates": sum(c - 1 for c in names.values() if c > 1),
        "lost": lost,
        "lookups": lookups,
        "faults": dict(faults_seen),
        "not_created": unknown,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--chaos", type=float, default=0.03)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--skip-sync", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if not args.skip_sync:
        results.update(asyncio.run(sync_scenarios(args.rows)))
    runs = [
        asyncio.run(chaos_run(args.rows, args.chaos, seed, args.concurrency))
        for seed in range(1, args.seeds + 1)
    ]
    results["create_many_chaos"] = {
        "rows": args.rows,
        "chaos": args.chaos,
        "median_credits_per_created_row": statistics.median(
            r["credits_per_created_row"] for r in runs
        ),
        "max_duplicates": max(r["duplicates"] for r in runs),
        "max_lost": max(r["lost"] for r in runs),
        "runs": runs,
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
