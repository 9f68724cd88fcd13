"""``swoogo-async demo --workers N``: the demo import split across N processes, one budget.

A ``redis-server`` is started on a free loopback port (it must be on PATH), and the
fake API runs with a rate limit. The agenda is cut into N files, and N ``import``
commands (``python -m swoogo_async import ... --redis-url ...``, real processes)
are started at once. They share one token and one rate budget through Redis; the
demo then checks what the single-process demo checks (no duplicate, every created
row on the server, the invalid rows exactly the deliberate ones) plus that the
workers stayed inside the shared rate limit and made one token request between them.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..testing import FakeSwoogo, Fault
from ._demo_agenda import EVENT_ID, DemoAgenda, verify_store, write_demo_csv

__all__ = ["LocalRedis", "run_workers_demo"]

#: The worker demo's budget when ``--rate-limit`` is not given: tight enough to matter.
DEFAULT_CREDITS = 150
#: Seconds a worker may run before the demo gives up on it.
WORKER_TIMEOUT = 300.0
#: 429s tolerated at a window's edge (a late answer straddling it); rows wait them out.
MAX_EDGE_429 = 2
#: Faults the workers meet: no 429 among them, so every 429 counted is the budget's.
_FAULTS = (
    Fault.error(503),
    Fault.drop_before(),
    Fault.timeout(1.5),
    Fault.drop_after(),
)
_CHAOS_ROUTES = ("POST /sessions/create", "GET /sessions")


class LocalRedis:
    """A throwaway ``redis-server`` on a free loopback port: no persistence."""

    def __init__(self, path: str) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._proc = subprocess.Popen(
            [path, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20.0
        while not self._answers():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server and wait for it."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait(timeout=10)


def _split(agenda: DemoAgenda, folder: Path, parts: int) -> list[tuple[Path, int]]:
    """Cut the agenda into ``parts`` files; return each file and its first row's index."""
    with agenda.path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or ())
        rows = list(reader)
    pieces = []
    for k in range(parts):
        start, end = k * len(rows) // parts, (k + 1) * len(rows) // parts
        path = folder / f"agenda-{k + 1}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows[start:end])
        pieces.append((path, start))
    return pieces


def _merge_reports(reports: list[tuple[Path, int]], merged: Path) -> None:
    """Write the workers' reports as one, with row indexes of the whole agenda."""
    with merged.open("w", encoding="utf-8") as out:
        for report, offset in reports:
            if not report.exists():
                continue
            with report.open(encoding="utf-8") as handle:
                for text in handle:
                    record = json.loads(text)
                    for key in ("index", "line"):
                        if isinstance(record.get(key), int):
                            record[key] += offset
                    out.write(json.dumps(record) + "\n")


def _count(report: Path, statuses: tuple[str, ...]) -> int:
    with report.open(encoding="utf-8") as handle:
        return sum(json.loads(text).get("status") in statuses for text in handle)


def _finals(report: Path) -> collections.Counter[str]:
    """Count the final status of each row a worker's report holds."""
    last: dict[Any, str] = {}
    if report.exists():
        with report.open(encoding="utf-8") as handle:
            for text in handle:
                record = json.loads(text)
                if record.get("status") != "attempted":
                    last[record.get("index")] = str(record.get("status"))
    return collections.Counter(last.values())


def _worker_line(
    number: int,
    rows: range,
    finals: collections.Counter[str],
    code: int,
    expected: int,
    last_line: str,
) -> str:
    """Say what one worker did, and whether its exit status is the one its rows call for."""
    counts = ", ".join(f"{n} {status}" for status, n in sorted(finals.items())) or "no rows"
    where = f"worker {number} (rows {rows.start + 1}-{rows.stop})"
    if code != expected:
        return f"{where}: {counts}; exit {code}, expected {expected}: {last_line}"
    if expected:
        return f"{where}: {counts}; exit 1 as expected (its rows include deliberately invalid ones)"
    return f"{where}: {counts}; exit 0"


async def _run_worker(
    number: int, csv_path: Path, report: Path, base_url: str, redis_url: str, args: Any
) -> tuple[int, str]:
    """Run one ``import`` process; return its exit status and its last output line."""
    env = {**os.environ, "SWOOGO_API_KEY": "demo-key", "SWOOGO_API_SECRET": "demo-secret"}
    env.pop("SWOOGO_REDIS_URL", None)  # --redis-url says where
    command = [
        sys.executable,
        "-m",
        "swoogo_async",
        "import",
        str(csv_path),
        "--event-id",
        # An event per worker: runs writing to one event take turns (its lease).
        str(EVENT_ID + number - 1),
        "--report",
        str(report),
        "--base-url",
        base_url,
        "--redis-url",
        redis_url,
        "--concurrency",
        str(args.concurrency),
        "--no-progress",
    ]
    proc = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), WORKER_TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return -1, f"worker {number} ran past {WORKER_TIMEOUT:g} s and was stopped"
    lines = [line for line in output.decode(errors="replace").splitlines() if line.strip()]
    created = next((line.strip() for line in lines if line.strip().startswith("created")), "")
    return proc.returncode or 0, created or (lines[-1].strip() if lines else "(no output)")


async def _demo(args: argparse.Namespace, folder: Path, redis: LocalRedis) -> int:
    out = sys.stdout
    workers = args.workers
    agenda = write_demo_csv(folder / "agenda.csv", args.rows, seed=args.seed)
    pieces = _split(agenda, folder, workers)
    credits = args.rate_limit or DEFAULT_CREDITS
    async with FakeSwoogo(
        "demo-key", "demo-secret", rate_limit=credits, rate_window=args.rate_window
    ) as fake:
        if args.chaos > 0:
            fake.chaos(
                rate=min(args.chaos, 1.0),
                faults=list(_FAULTS),
                seed=args.seed,
                routes=_CHAOS_ROUTES,
            )
        out.write(
            f"Fake Swoogo API at {fake.base_url} (rate limit {credits} credits per"
            f" {args.rate_window:g} s; {args.chaos:.0%} of requests get a random fault)\n"
            f"Redis at {redis.url}\n"
            f"Wrote {agenda.rows} sample sessions to {agenda.path}; {len(agenda.bad)} of them"
            f" are deliberately invalid. Starting {workers} import processes at once, each"
            f" with a part of the agenda into an event of its own (runs on one event take"
            f" turns), sharing one token and one budget through Redis.\n\n"
        )
        out.flush()
        reports = [(folder / f"report-{k + 1}.jsonl", start) for k, (_, start) in enumerate(pieces)]
        for report, _ in reports:
            report.unlink(missing_ok=True)
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(
                _run_worker(k + 1, path, reports[k][0], fake.base_url, redis.url, args)
                for k, (path, _) in enumerate(pieces)
            )
        )
        elapsed = time.monotonic() - started
        # A worker whose part holds a deliberately invalid row exits 1, as the command
        # does for any invalid row; every other worker must exit 0.
        bounds = [start for _, start in pieces] + [agenda.rows]
        parts = [range(bounds[k], bounds[k + 1]) for k in range(workers)]
        expected = [int(any(i in agenda.bad for i in part)) for part in parts]
        for k, (code, line) in enumerate(outcomes):
            finals = _finals(reports[k][0])
            out.write(f"  {_worker_line(k + 1, parts[k], finals, code, expected[k], line)}\n")
        stats = fake.stats
        too_many = sum(1 for r in fake.requests if r.status == 429)
        out.write(
            f"\n{workers} workers finished in {elapsed:.1f} s; the fake answered"
            f" {stats['requests']} requests ({too_many} of them 429)"
            f" and {stats['token_requests']} token request(s).\n"
        )
        merged = folder / "report.jsonl"
        _merge_reports(reports, merged)
        verified = verify_store(fake, agenda, merged, out)
        unsettled = _count(merged, ("failed", "unknown"))
        checks = [
            # Shared pacing keeps every worker inside one budget (unshared, they meet
            # dozens of 429s); a late answer at a window's edge on a loaded machine can
            # still cost one or two, which the rows wait out (the "no row failed" check).
            (
                too_many <= MAX_EDGE_429,
                f"the workers stayed inside the shared rate limit ({too_many} answers 429;"
                f" at most {MAX_EDGE_429} at a window's edge, waited out)",
            ),
            (stats["token_requests"] == 1, "one token request between all the workers"),
            (
                all(code == want for (code, _), want in zip(outcomes, expected, strict=True))
                and unsettled == 0,
                f"all {workers} workers finished with the exit status their rows call for;"
                " no row failed or was left unknown",
            ),
        ]
        for ok, text in checks:
            out.write(f"  [{'ok' if ok else 'FAILED'}] {text}\n")
    clean = verified and all(ok for ok, _ in checks)
    where = f"Files are in {folder}" if args.out else "Pass --out DIR to keep the files"
    out.write(f"\nDemo {'passed' if clean else 'FAILED'}. {where}\n")
    return 0 if clean else 1


def run_workers_demo(args: argparse.Namespace, folder: Path) -> int:
    """Run the demo across ``args.workers`` processes; return the exit status (2: no Redis)."""
    path = shutil.which("redis-server")
    if path is None:
        sys.stderr.write(
            "swoogo-async demo --workers needs redis-server on PATH to share the budget"
            " (Debian/Ubuntu: apt install redis-server; macOS: brew install redis).\n"
            "Run 'swoogo-async demo' without --workers for the single-process demo.\n"
        )
        return 2
    try:
        import redis  # noqa: F401  (the workers need the extra too)
    except ImportError:
        sys.stderr.write(
            "swoogo-async demo --workers needs the redis extra: pip install 'swoogo-async[redis]'\n"
        )
        return 2
    server = LocalRedis(path)
    try:
        return asyncio.run(_demo(args, folder, server))
    finally:
        server.stop()
