"""Run every benchmark and write ``benchmarks/results/latest.json`` and ``latest.md``.

    python -m benchmarks.run [--quick] [--loop uvloop|asyncio|both] [--reps N]
                             [--only requests,models,token,bulk,pacing,workers,web,table]
                             [--out DIR]

The fake server runs in a subprocess (``python -m swoogo_async.testing --port 0
--no-drift``, rate limit off) so this process's CPU time is the client's alone.
Every figure is a median over repetitions in which the SDK and its baseline
alternate which goes first; ratios are SDK against baseline from the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.util
import json
import math
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from ._common import Settings, environment, loop_names, run_on_loop
from ._report import markdown
from ._server import fetch_token, seed_sessions, server
from .bench_models import model_benchmarks
from .bench_requests import EVENT_ID, pacing_benchmark, request_benchmarks
from .bench_token import token_benchmark

__all__ = ["main"]

SECTIONS = ("requests", "models", "token", "bulk", "pacing", "workers", "web", "table")
RESULTS = Path(__file__).resolve().parent / "results"
BULK_PLACEHOLDER = "not measured yet: bulk import lands with the bulk issue"
BULK_FULL_ARGS = ("--skip-demo",)
BULK_QUICK_ARGS = ("--rows", "300", "--repeat", "1", "--memory-rows", "--skip-demo")
BULK_TIMEOUT_FULL, BULK_TIMEOUT_QUICK = 1200.0, 60.0
#: Scripts run in their own process (``python -m benchmarks.<name> <args>``): full, quick.
SCRIPTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "table": ((), ("--quick",)),
    "pacing": ((), ("--repeat", "1", "--credits", "40", "--window", "1")),
    "workers": (
        (),
        (
            *("--workers", "4", "--credits", "40", "--window", "1"),
            *("--windows", "2", "--cost-calls", "200"),
        ),
    ),
    "web": ((), ("--quick",)),
}
# The table counts instructions under callgrind: minutes even in a quick run.
SCRIPT_TIMEOUT_FULL, SCRIPT_TIMEOUT_QUICK = 1800.0, 900.0
#: A budget so large the pacer never waits: what pacing costs when it has nothing to do.
HUGE_BUDGET = ("--rate-limit", "1000000000", "--rate-window", "600")
SEEDED = 50


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    p.add_argument("--quick", action="store_true", help="smoke run: fewer requests, shorter jobs")
    p.add_argument("--loop", choices=("asyncio", "uvloop", "both"), default="both")
    p.add_argument("--reps", type=int, default=None, help="repetitions (default 5; quick 3)")
    p.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}"
    )
    p.add_argument("--out", type=Path, default=RESULTS, help="directory for latest.json/.md")
    return p


async def _seeded(base_url: str) -> list[int]:
    async with aiohttp.ClientSession() as session:
        token = await fetch_token(session, base_url)
    return await seed_sessions(base_url, token, SEEDED, EVENT_ID)


def _requests_section(s: Settings, loop: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for bench in ("get", "create"):
        # A fresh server per section keeps its request log and store small.
        with server() as srv:

            async def run(url: str = srv.base_url, bench: Any = bench) -> list[dict[str, Any]]:
                ids = await _seeded(url)
                return await request_benchmarks(url, ids, s, loop, bench)

            rows += run_on_loop(loop, run)
    with server(HUGE_BUDGET) as srv:

        async def paced(url: str = srv.base_url) -> dict[str, Any]:
            ids = await _seeded(url)
            return await pacing_benchmark(url, ids, s, loop)

        rows.append(run_on_loop(loop, paced))
    return rows


def _token_section(s: Settings, loop: str) -> dict[str, Any]:
    with server() as srv:

        async def run(url: str = srv.base_url) -> dict[str, Any]:
            ids = await _seeded(url)
            return await token_benchmark(url, ids[0], s, loop)

        return run_on_loop(loop, run)


def _bulk_section(s: Settings, loops: Sequence[str]) -> dict[str, Any]:
    """Run ``benchmarks/bench_bulk.py`` when it exists; never print a made-up figure.

    A ``bulk_benchmark(settings)`` function is called in this process; a script with
    only ``main()`` is run as ``python -m benchmarks.bench_bulk`` (its own process, its
    own argument parser) and its last output line is read as JSON.
    """
    if importlib.util.find_spec("benchmarks.bench_bulk") is None:
        print(f"  {BULK_PLACEHOLDER}", flush=True)
        return {"status": "not measured", "note": BULK_PLACEHOLDER}
    module = importlib.import_module("benchmarks.bench_bulk")
    entry = getattr(module, "bulk_benchmark", None)
    if callable(entry):
        try:
            result = entry(s)
        except Exception as exc:  # another engineer's code: report it, never invent a figure
            print(f"  bulk benchmark failed: {exc!r}", flush=True)
            return {"status": "failed", "error": repr(exc), "entry": "bulk_benchmark"}
        return {"status": "measured", "entry": "bulk_benchmark", "result": _jsonable(result)}
    if not callable(getattr(module, "main", None)):
        print(f"  {BULK_PLACEHOLDER} (bench_bulk.py exposes no entry point)", flush=True)
        return {"status": "not measured", "note": BULK_PLACEHOLDER}
    args = list(BULK_QUICK_ARGS if s.quick else BULK_FULL_ARGS)
    command = [sys.executable, "-m", "benchmarks.bench_bulk", *args]
    print(f"  running: python -m benchmarks.bench_bulk {' '.join(args)}", flush=True)
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=BULK_TIMEOUT_QUICK if s.quick else BULK_TIMEOUT_FULL,
            cwd=Path(__file__).resolve().parent.parent,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print("  bulk benchmark timed out", flush=True)
        return {"status": "failed", "error": "timed out", "entry": "main"}
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if done.returncode == 0 and lines else None
    except ValueError:
        result = None
    if result is None:
        error = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        print(f"  bulk benchmark failed: {error}", flush=True)
        return {"status": "failed", "error": error, "entry": "main"}
    print(f"  {json.dumps(result)}", flush=True)
    return {"status": "measured", "entry": "main", "args": args, "result": result}


def _script_section(name: str, quick: bool) -> dict[str, Any]:
    """Run ``python -m benchmarks.bench_<name>``; read its output as JSON (or JSON lines)."""
    args = list(SCRIPTS[name][1 if quick else 0])
    module = f"benchmarks.bench_{name}"
    print(f"  running: python -m {module} {' '.join(args)}", flush=True)
    try:
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_QUICK if quick else SCRIPT_TIMEOUT_FULL,
            cwd=Path(__file__).resolve().parent.parent,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print(f"  {name} benchmark timed out", flush=True)
        return {"status": "failed", "error": "timed out", "args": args}
    result: Any = None
    if done.returncode == 0:
        try:
            result = json.loads(done.stdout)
        except ValueError:
            try:
                result = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
            except ValueError:
                result = None
    if result is None:
        error = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        print(f"  {name} benchmark failed: {error}", flush=True)
        return {"status": "failed", "error": error, "args": args}
    for line in result if isinstance(result, list) else [result]:
        print(f"  {json.dumps(line)}", flush=True)
    return {"status": "measured", "args": args, "result": result}


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _clean(value: Any) -> Any:
    """Replace nan/inf by None so the JSON is strict."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; return the exit status."""
    args = _parser().parse_args(argv)
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    unknown = only - set(SECTIONS)
    if unknown:
        _parser().error(f"unknown sections: {sorted(unknown)}")
    s = Settings.make(quick=args.quick, reps=args.reps)
    loops = loop_names(args.loop)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "-m", "benchmarks.run", *sys.argv[1:]]),
        "environment": environment(),
        "settings": {
            "quick": s.quick,
            "reps": s.reps,
            "requests_per_rep": s.requests,
            "concurrency": list(s.concurrency),
            "token_calls": s.token_calls,
            "loops": loops,
            "pool_size": 100,
        },
        "requests": [],
        "token": [],
        "models": None,
        "bulk": None,
        "pacing": None,
        "workers": None,
        "web": None,
        "table": None,
    }
    env = results["environment"]
    print(
        f"swoogo-async benchmarks ({'quick' if s.quick else 'full'}, {s.reps} reps,"
        f" loops {'/'.join(loops)}) on Python {env['python']},"
        f" {env['cpu_count']} cores",
        flush=True,
    )
    if "models" in only:
        print("[models]", flush=True)
        results["models"] = model_benchmarks(s)
    for loop in loops:
        if "requests" in only:
            print(f"[requests: {loop}]", flush=True)
            results["requests"] += _requests_section(s, loop)
        if "token" in only:
            print(f"[token single-flight: {loop}]", flush=True)
            results["token"].append(_token_section(s, loop))
    if "bulk" in only:
        print("[bulk]", flush=True)
        results["bulk"] = _bulk_section(s, loops)
    for name in ("pacing", "workers", "web", "table"):
        if name in only:
            print(f"[{name}]", flush=True)
            results[name] = _script_section(name, s.quick)
    results["elapsed_s"] = time.perf_counter() - started

    args.out.mkdir(parents=True, exist_ok=True)
    cleaned = _clean(results)
    (args.out / "latest.json").write_text(json.dumps(cleaned, indent=2) + "\n")
    (args.out / "latest.md").write_text(markdown(cleaned))
    print(f"wrote {args.out / 'latest.json'} and {args.out / 'latest.md'}", flush=True)
    print(f"done in {results['elapsed_s']:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
