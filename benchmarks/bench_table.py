"""Issue 20's table in one run: each row the SDK against its anchor, measured side by side.

    python -m benchmarks.bench_table [--quick] [--only cpu,instructions,page,...]

- ``cpu``: ``sessions.get`` client CPU per request, raw aiohttp ÷ SDK, c = 1 / 10 / 100
  (``bench_requests``; paired medians, asyncio loop, pacing off);
- ``instructions``: ``sessions.get`` instructions per request under callgrind, raw ÷ SDK,
  c = 10 (``bench_instructions``);
- ``body``: instructions to decode one ``GET /sessions/{id}`` body: ``json.loads`` against
  ``parse_session`` (bytes to ``Session``);
- ``page``: instructions to turn a 1,000-session page into records: ``parse_page`` (and
  the page whose records all gained two new fields) ÷ pydantic v2 on the same page
  (keeping unknown keys, as the SDK does), with msgspec and the SDK's own bytes-to-Python
  step beside them;
- ``import``: cumulative ``python -X importtime`` of ``import swoogo_async`` ÷ ``import
  aiohttp`` (alternating, medians; bytecode caches on, as for an installed package);
- ``first``: a fresh process to its first decoded response (token, then one get), SDK ÷
  raw aiohttp doing the same two requests (wall time of the process, medians);
- ``credits``: credits per created row, ``create_many`` of 1,000 rows at its default
  concurrency with 3 % of requests faulted (``bench_sync``'s chaos run), against the
  floor of 1.00; duplicates and lost rows summed over the seeds.

Prints one JSON line: ``rows`` (metric, anchor, SDK, ratio, target, met) and the details.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs

from ._common import Settings, run_on_loop
from ._server import API_KEY, API_SECRET, fetch_token, seed_sessions, server

__all__ = ["main", "table"]

PARTS = ("cpu", "instructions", "body", "page", "import", "first", "credits")
ROOT = Path(__file__).resolve().parent.parent
_CUMULATIVE = re.compile(r"\|\s*(\d+)\s*\|\s*(\S+)\s*$")

_RAW_FIRST = """
import asyncio, base64, json, sys, aiohttp
async def main(url, key, secret):
    basic = base64.b64encode(f"{key}:{secret}".encode()).decode()
    async with aiohttp.ClientSession() as http:
        async with http.post(url + "/oauth2/token", data=b"grant_type=client_credentials",
                headers={"Authorization": "Basic " + basic,
                         "Content-Type": "application/x-www-form-urlencoded"}) as r:
            token = json.loads(await r.read())["access_token"]
        async with http.get(url + "/sessions/" + sys.argv[4],
                headers={"Authorization": "Bearer " + token}) as r:
            json.loads(await r.read())
asyncio.run(main(*sys.argv[1:4]))
"""
_SDK_FIRST = """
import asyncio, sys
from swoogo_async import SwoogoClient
async def main(url, key, secret, session_id):
    async with SwoogoClient(key, secret, base_url=url, rate_limit=None) as client:
        await client.sessions.get(int(session_id))
asyncio.run(main(*sys.argv[1:5]))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its bytecode cached
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _importtime(module: str, env: dict[str, str]) -> int:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stderr
    for line in reversed(out.splitlines()):
        match = _CUMULATIVE.search(line)
        if match and match.group(2) == module:
            return int(match.group(1))
    raise RuntimeError(f"no import time for {module}")


def import_times(runs: int) -> dict[str, Any]:
    """Median cumulative import time (µs) of aiohttp and swoogo_async, alternating."""
    env = _env()
    _importtime("swoogo_async", env)  # writes the bytecode caches
    times: dict[str, list[int]] = {"aiohttp": [], "swoogo_async": []}
    for i in range(runs):
        order = list(times) if i % 2 == 0 else list(reversed(times))
        for module in order:
            times[module].append(_importtime(module, env))
    return {m: statistics.median(v) for m, v in times.items()} | {"runs": runs}


def first_response(runs: int) -> dict[str, Any]:
    """Median wall seconds from a fresh process to its first decoded response."""
    env = _env()
    with server() as srv:

        async def seed() -> list[int]:
            import aiohttp

            async with aiohttp.ClientSession() as http:
                token = await fetch_token(http, srv.base_url)
            return await seed_sessions(srv.base_url, token, 1, 1)

        session_id = str(asyncio.run(seed())[0])
        args = [srv.base_url, API_KEY, API_SECRET, session_id]
        scripts = {"raw": _RAW_FIRST, "sdk": _SDK_FIRST}
        times: dict[str, list[float]] = {"raw": [], "sdk": []}
        for script in scripts.values():  # warm-up: bytecode caches, page cache
            subprocess.run([sys.executable, "-c", script, *args], env=env, check=True)
        for i in range(runs):
            for name in ("raw", "sdk") if i % 2 == 0 else ("sdk", "raw"):
                start = time.perf_counter()
                subprocess.run([sys.executable, "-c", scripts[name], *args], env=env, check=True)
                times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()} | {"runs": runs}


def client_cpu(quick: bool) -> dict[int, float]:
    """Raw ÷ SDK client CPU per ``get`` (paired medians) at c = 1, 10, 100."""
    from .bench_requests import request_benchmarks

    s = attrs.evolve(Settings.make(quick=quick, reps=None), concurrency=(1, 10, 100))
    with server() as srv:

        async def run(url: str = srv.base_url) -> list[dict[str, Any]]:
            import aiohttp

            async with aiohttp.ClientSession() as http:
                token = await fetch_token(http, url)
            ids = await seed_sessions(url, token, 50, 1)
            return await request_benchmarks(url, ids, s, "asyncio", "get")

        rows = run_on_loop("asyncio", run)
    return {row["concurrency"]: row["ratios"]["cpu_efficiency_paired"] for row in rows}


def credits(quick: bool) -> dict[str, Any]:
    """Credits per created row under 3 % faults, at ``create_many``'s default concurrency."""
    import inspect

    from swoogo_async._client.sessions import Sessions

    from .bench_sync import chaos_run

    default = inspect.signature(Sessions.create_many).parameters["concurrency"].default
    seeds = 1 if quick else 3
    runs = [asyncio.run(chaos_run(1000, 0.03, seed, default)) for seed in range(1, seeds + 1)]
    return {
        "concurrency": default,
        "credits_per_created_row": statistics.median(r["credits_per_created_row"] for r in runs),
        "duplicates": sum(r["duplicates"] for r in runs),
        "lost": sum(r["lost"] for r in runs),
        "lookups": [r["lookups"] for r in runs],
        "seeds": seeds,
    }


def _row(
    metric: str, anchor: float, sdk: float, ratio: float, target: str, met: bool
) -> dict[str, Any]:
    return {
        "metric": metric,
        "anchor": anchor,
        "sdk": sdk,
        "ratio": round(ratio, 3),
        "target": target,
        "met": met,
    }


def table(quick: bool, only: set[str]) -> dict[str, Any]:
    """Measure the parts in ``only``; return their rows and details."""
    from . import bench_instructions as bi

    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    callgrind = shutil.which("valgrind") is not None
    if "cpu" in only:
        cpu = details["cpu"] = client_cpu(quick)
        for c, value in cpu.items():
            rows.append(
                _row(f"get client CPU raw÷SDK c={c}", 1.0, value, value, ">= 0.85", value >= 0.85)
            )
    if "instructions" in only and callgrind:
        small, large = (100, 400) if quick else (200, 1200)
        got = details["instructions"] = bi.request_instructions(small, large, 10)
        raw, sdk = got["raw_instructions_per_request"], got["sdk_instructions_per_request"]
        rows.append(
            _row("get instructions raw÷SDK c=10", raw, sdk, raw / sdk, ">= 0.85", raw / sdk >= 0.85)
        )
    if "body" in only and callgrind:
        body = details["body"] = bi.body_instructions(1, 201 if quick else 1001)
        anchor, sdk = body["json.loads"], body["parse_session"]
        rows.append(
            _row("decode one get body, SDK÷json.loads", anchor, sdk, sdk / anchor, "", True)
        )
    if "page" in only and callgrind:
        page = details["page"] = bi.page_instructions(1, 4 if quick else 11)
        for impl, r in bi.page_ratios(page).items():
            pyd = page["pydantic model_validate_json" + impl.removeprefix("parse_page")]
            rows.append(
                _row(
                    f"1,000-session page: {impl} ÷ pydantic on the same page",
                    pyd,
                    page[impl],
                    r,
                    "<= 1.25",
                    r <= 1.25,
                )
            )
    if "import" in only:
        imp = details["import"] = import_times(7 if quick else 15)
        r = imp["swoogo_async"] / imp["aiohttp"]
        rows.append(
            _row(
                "import swoogo_async ÷ aiohttp (µs)",
                imp["aiohttp"],
                imp["swoogo_async"],
                r,
                "<= 1.15",
                r <= 1.15,
            )
        )
    if "first" in only:
        first = details["first"] = first_response(5 if quick else 11)
        r = first["sdk"] / first["raw"]
        rows.append(
            _row(
                "first decoded response SDK÷raw (s)",
                round(first["raw"], 4),
                round(first["sdk"], 4),
                r,
                "<= 1.2",
                r <= 1.2,
            )
        )
    if "credits" in only:
        cr = details["credits"] = credits(quick)
        value = cr["credits_per_created_row"]
        ok = value <= 1.05 and cr["duplicates"] == 0 and cr["lost"] == 0
        rows.append(_row("credits per created row, 3 % faults", 1.0, value, value, "<= 1.05", ok))
    return {"quick": quick, "valgrind": callgrind, "rows": rows, "details": details}


def main() -> None:
    """Parse options, measure, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer runs and requests")
    parser.add_argument("--only", default=",".join(PARTS), help=f"subset of {PARTS}")
    args = parser.parse_args()
    only = {p.strip() for p in args.only.split(",") if p.strip()}
    if only - set(PARTS):
        parser.error(f"unknown parts: {sorted(only - set(PARTS))}")
    # The parts print their progress: keep stdout for the one JSON line.
    with contextlib.redirect_stdout(sys.stderr):
        result = table(args.quick, only)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
