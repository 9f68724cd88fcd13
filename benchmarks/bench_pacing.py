"""Pacing: how close a sustained workload gets to the budget, and how many 429s it meets.

Runs a workload of ``windows`` budgets' worth of calls (gets, with one list call in ten
costing 10 credits) against FakeSwoogo limited to ``credits`` per ``window`` seconds, with
pacing on, and reports the achieved credit rate as a fraction of credits/window and the
number of 429 responses. A scaled-down window stands in for the real 2,000 per 600 s.

    python -m benchmarks.bench_pacing [--credits 200 --window 10 --windows 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable

from swoogo_async import SwoogoClient
from swoogo_async.testing import FakeSwoogo


async def measure(credits: int, window: float, windows: int, concurrency: int) -> dict[str, float]:
    """Run one paced workload and return its figures."""
    async with FakeSwoogo(rate_limit=credits, rate_window=window, drift=False) as fake:
        for i in range(30):
            fake.add_session(event_id=1, name=f"S{i}", date="2026-05-01")
        budget = credits * windows
        async with SwoogoClient(
            fake.api_key, fake.api_secret, base_url=fake.base_url, pool_size=concurrency
        ) as client:
            spent = 0
            calls: list[Awaitable[object]] = []
            i = 0
            while spent < budget:
                if i % 10 == 9 and spent + 10 <= budget:
                    calls.append(client.sessions.list(1, per_page=10).page(1))
                    spent += 10
                else:
                    calls.append(client.sessions.get(1000 + i % 30))
                    spent += 1
                i += 1
            start = time.monotonic()
            await asyncio.gather(*calls)
            elapsed = time.monotonic() - start
        return {
            "credits": credits,
            "window_s": window,
            "windows": windows,
            "calls": len(calls),
            "credits_spent": spent,
            "elapsed_s": round(elapsed, 3),
            "rate_vs_budget": round(spent / elapsed / (credits / window), 4),
            "responses_429": fake.rate_limited,
        }


def main() -> None:
    """Parse options, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--credits", type=int, default=200)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    result = asyncio.run(measure(args.credits, args.window, args.windows, args.concurrency))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
