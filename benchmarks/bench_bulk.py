"""Benchmark the bulk engine against a plain aiohttp loop, and its memory over long sources.

Run: ``python benchmarks/bench_bulk.py [--rows 10000] [--concurrency 32] [--memory-rows ...]``.
It starts the fake API in a subprocess (rate limit off), then in this process:

- creates ``--rows`` sessions with ``create_many`` and, as the baseline, posts the same
  rows as forms with a bare ``aiohttp`` loop at the same concurrency (best of
  ``--repeat`` each, interleaved); the ratio is SDK rows/s over baseline rows/s; the
  credits the SDK spent (``client.credits_spent``) are reported per row;
- for each ``--memory-rows`` count, runs ``create_many`` over a generator in a fresh
  child process and reports its peak RSS and tracemalloc peak (flat memory means
  these barely move from 10,000 to 100,000 rows);
- times ``python -m swoogo_async demo`` end to end.

Prints one JSON line. Figures are never asserted in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus, urlencode

import aiohttp

from swoogo_async import SwoogoClient
from swoogo_async._writes.bulk_results import BulkSummary

KEY, SECRET = "bench-key", "bench-secret"


def rows(n: int, tag: str) -> Iterator[dict[str, str]]:
    """Yield ``n`` CSV-like rows (all text), each a distinct session."""
    for i in range(n):
        yield {
            "event_id": "1",
            "name": f"{tag} session {i}",
            "date": f"2026-06-{1 + i % 28:02d}",
            "start_time": f"{8 + i % 10:02d}:00",
            "end_time": f"{8 + i % 10:02d}:45",
            "capacity": str(20 + i % 200),
            "description": "A session about things, with time for questions.",
            "c_1001": ("Beginner", "Intermediate", "Advanced")[i % 3],
        }


def form_of(row: dict[str, str]) -> str:
    """Encode a row as the create form, the way a hand-written client would."""
    pairs = [
        (f"custom_fields[{k}]" if k.startswith("c_") else k, v) for k, v in row.items() if v != ""
    ]
    return urlencode(pairs)


async def sdk_run(base_url: str, n: int, concurrency: int, tag: str) -> tuple[float, float]:
    """Return rows/s and credits per row for ``create_many`` over ``n`` generated rows."""
    async with SwoogoClient(KEY, SECRET, base_url=base_url, rate_limit=None) as client:
        summary = BulkSummary()
        start = time.perf_counter()
        async for result in client.sessions.create_many(rows(n, tag), concurrency=concurrency):
            summary.add(result)
        elapsed = time.perf_counter() - start
        credits = client.credits_spent
    assert summary.created == n, summary
    return n / elapsed, credits / n


async def baseline_run(base_url: str, n: int, concurrency: int, tag: str) -> float:
    """Return rows/s for a bare aiohttp loop posting the same rows as forms."""
    basic = base64.b64encode(f"{quote_plus(KEY)}:{quote_plus(SECRET)}".encode()).decode()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.post(
            base_url + "/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic " + basic},
        ) as resp:
            token = (await resp.json())["access_token"]
        headers = {
            "Authorization": "Bearer " + token,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        source = rows(n, tag)
        created = 0

        async def worker() -> None:
            nonlocal created
            for row in source:  # shared generator: each worker takes the next row
                async with http.post(
                    base_url + "/sessions/create", data=form_of(row), headers=headers
                ) as resp:
                    body = json.loads(await resp.read())
                    if resp.status == 200 and body.get("id"):
                        created += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    assert created == n, created
    return n / elapsed


async def memory_child(base_url: str, n: int, concurrency: int, trace: bool) -> dict[str, Any]:
    """Run ``create_many`` over ``n`` generated rows; report memory figures."""
    if trace:
        tracemalloc.start()
    rate, _ = await sdk_run(base_url, n, concurrency, f"mem{n}")
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": n,
        "rows_per_s": round(rate, 1),
        "max_rss_mb": round(rss_kib / 1024, 1),
        "tracemalloc_peak_mb": None if peak is None else round(peak / 2**20, 2),
    }


def start_server() -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "swoogo_async.testing", "--port", "0", "--no-drift"]
    proc = subprocess.Popen(
        [*command, "--api-key", KEY, "--api-secret", SECRET],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    base_url = proc.stdout.readline().strip()
    if not base_url.startswith("http"):
        proc.kill()
        raise SystemExit(f"the fake server did not start: {base_url!r}")
    return proc, base_url


def time_demo() -> float:
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "swoogo_async", "demo", "--no-progress", "--out", folder],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - start


def throughput(n: int, concurrency: int, repeat: int) -> dict[str, Any]:
    """Best rows/s of each client; every run gets a fresh server (an empty store)."""
    sdk: list[float] = []
    base: list[float] = []
    credits: list[float] = []
    for r in range(repeat):
        # Alternate which goes first, so neither always meets a warmer machine.
        order = ("base", "sdk") if r % 2 == 0 else ("sdk", "base")
        for which in order:
            server, base_url = start_server()
            try:
                if which == "sdk":
                    rate, per_row = asyncio.run(sdk_run(base_url, n, concurrency, "sdk"))
                    sdk.append(rate)
                    credits.append(per_row)
                else:
                    base.append(asyncio.run(baseline_run(base_url, n, concurrency, "base")))
            finally:
                server.terminate()
                server.wait(timeout=10)
    return {
        "rows": n,
        "concurrency": concurrency,
        "sdk_rows_per_s": round(max(sdk), 1),
        "baseline_rows_per_s": round(max(base), 1),
        "ratio_sdk_to_baseline": round(max(sdk) / max(base), 3),
        "sdk_credits_per_row": round(max(credits), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-rows", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--no-tracemalloc", action="store_true")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        result = asyncio.run(
            memory_child(args.base_url, args.child, args.concurrency, not args.no_tracemalloc)
        )
        print(json.dumps(result))
        return
    results: dict[str, Any] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    results["throughput"] = throughput(args.rows, args.concurrency, args.repeat)
    memory = []
    for n in args.memory_rows:
        server, base_url = start_server()
        try:
            child = [sys.executable, __file__, "--child", str(n), "--base-url", base_url]
            child += ["--concurrency", str(args.concurrency)]
            if args.no_tracemalloc:
                child.append("--no-tracemalloc")
            out = subprocess.run(child, check=True, capture_output=True, text=True).stdout
            memory.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            server.terminate()
            server.wait(timeout=10)
    results["memory"] = memory
    if not args.skip_demo:
        results["demo_seconds"] = round(time_demo(), 2)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
