"""The four-import scenario with the real command: N runs of four ``swoogo-async import``.

Each run starts four ``python -m swoogo_async import`` processes (``--rows`` rows each, one
event each, so their event leases do not make them take turns) on one credential, sharing
one redis-server, against a FakeSwoogo with ``--credits`` per ``--window`` seconds. It
prints, per run, the 429s the fake answered (target 0 in every run), the sessions made,
duplicates, exit codes and the time over the best case (the first window at once, then one
window per further budget).

    python -m benchmarks.bench_cli_imports [--runs 20] [--credits 120] [--window 15] [--rows 60]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from swoogo_async.cli._demo_workers import LocalRedis
from swoogo_async.testing import FakeSwoogo

KEY, SECRET = "bench-key", "bench-secret"
#: What an import costs beyond its rows: one event read (a list call) per event.
READ_COST = 10


def _write(path: Path, event: int, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "name", "date", "start_time", "end_time"])
        for i in range(rows):
            hour = 8 + i % 10
            writer.writerow(
                [event, f"Talk {event}-{i}", "2026-06-01", f"{hour:02d}:00", f"{hour:02d}:30"]
            )


async def _run(redis_url: str, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    async with FakeSwoogo(KEY, SECRET, rate_limit=args.credits, rate_window=args.window) as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWOOGO_")}
        env.update(SWOOGO_API_KEY=KEY, SWOOGO_API_SECRET=SECRET, SWOOGO_BASE_URL=fake.base_url)
        started = time.monotonic()
        procs = []
        for k in range(4):
            rows = folder / f"rows-{k}.csv"
            _write(rows, 100 + k, args.rows)
            command = [sys.executable, "-m", "swoogo_async", "import", str(rows), "--no-progress"]
            command += ["--redis-url", redis_url, "--report", str(folder / f"report-{k}.jsonl")]
            procs.append(
                await asyncio.create_subprocess_exec(
                    *command,
                    env=env,
                    cwd=folder,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
            )
        codes = [await proc.wait() for proc in procs]
        took = time.monotonic() - started
        credits = 4 * (args.rows + READ_COST)
        best = math.ceil(credits / args.credits - 1) * args.window
        return {
            "429": fake.rate_limited,
            "exit_codes": codes,
            "sessions": len(fake.sessions),
            "duplicates": len(fake.duplicate_groups()),
            "seconds": round(took, 1),
            "over_best": round(took / best, 3) if best else None,
        }


async def _main(args: argparse.Namespace) -> list[dict[str, Any]]:
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("bench_cli_imports needs redis-server on PATH")
    redis = LocalRedis(server)
    results = []
    try:
        for number in range(args.runs):
            with tempfile.TemporaryDirectory() as folder:
                result = await _run(redis.url, Path(folder), args)
            print(number, json.dumps(result), flush=True)
            results.append(result)
    finally:
        redis.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--credits", type=int, default=120)
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--rows", type=int, default=60)
    results = asyncio.run(_main(parser.parse_args()))
    over = sorted(r["over_best"] for r in results if r["over_best"] is not None)
    print(
        json.dumps(
            {
                "runs": len(results),
                "runs_with_429": sum(r["429"] > 0 for r in results),
                "429_total": sum(r["429"] for r in results),
                "duplicates": sum(r["duplicates"] for r in results),
                "failed_runs": sum(
                    any(results_code for results_code in r["exit_codes"]) for r in results
                ),
                "median_over_best": over[len(over) // 2] if over else None,
            }
        )
    )


if __name__ == "__main__":
    main()
