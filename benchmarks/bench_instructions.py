"""Instructions per request, SDK against raw aiohttp: a figure the machine's noise cannot move.

CPU-time ratios on a shared 2-core machine swing by tens of percent from run to run.
``valgrind --tool=callgrind`` counts the instructions the client process executes,
which is repeatable for the same code and inputs. Each side (raw aiohttp GET +
``json.loads``; ``client.sessions.get``) runs twice under callgrind, with ``--small``
and ``--large`` requests; the difference divided by the difference in requests is the
cost of one request, start-up and imports cancelled out. The server runs outside
valgrind, in its own process.

    python -m benchmarks.bench_instructions [--small 200] [--large 1200] [--concurrency 10]
                                            [--json stdlib|msgspec]

Needs ``valgrind`` on the PATH. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp

from ._server import API_KEY, API_SECRET, fetch_token, seed_sessions, server

__all__ = ["main"]

_TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


async def _client(mode: str, url: str, token: str, ids: list[int], n: int, conc: int) -> None:
    """Run ``n`` GETs at concurrency ``conc`` the raw way or through the SDK."""
    from swoogo_async import SwoogoClient

    sem = asyncio.Semaphore(conc)
    if mode == "raw":
        headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http:

            async def raw(i: int) -> None:
                async with (
                    sem,
                    http.get(f"{url}/sessions/{ids[i % len(ids)]}", headers=headers) as r,
                ):
                    json.loads(await r.read())

            await asyncio.gather(*(raw(i) for i in range(n)))
        return
    async with SwoogoClient(API_KEY, API_SECRET, base_url=url, rate_limit=None) as client:
        await client.sessions.get(ids[0])  # the token, outside the counted difference

        async def sdk(i: int) -> None:
            async with sem:
                await client.sessions.get(ids[i % len(ids)])

        await asyncio.gather(*(sdk(i) for i in range(n - 1)))


def _count(mode: str, url: str, token: str, ids: list[int], n: int, conc: int, decoder: str) -> int:
    """Return the instructions one client run of ``n`` requests executes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "benchmarks.bench_instructions",
            "--child",
            mode,
            "--url",
            url,
            "--token",
            token,
            "--ids",
            ",".join(map(str, ids)),
            "--n",
            str(n),
            "--concurrency",
            str(conc),
        ]
        env = {**os.environ, "SWOOGO_ASYNC_JSON": decoder}
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        match = _TOTALS.search(out.read_text())
        if match is None:
            raise RuntimeError("no totals in callgrind output")
        return int(match.group(1))


async def _prepare(url: str) -> tuple[str, list[int]]:
    async with aiohttp.ClientSession() as http:
        token = await fetch_token(http, url)
    return token, await seed_sessions(url, token, 20, 1)


def main() -> None:
    """Parse options; run the four counted client runs; print the per-request figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--large", type=int, default=1200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--child", choices=["raw", "sdk"])
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("--ids")
    parser.add_argument("--n", type=int, default=0)
    parser.add_argument(
        "--json",
        choices=["stdlib", "msgspec"],
        default="stdlib",
        help="the SDK's decoder (stdlib: the default install; msgspec: the [speed] extra)",
    )
    args = parser.parse_args()
    if args.child:
        ids = [int(x) for x in args.ids.split(",")]
        asyncio.run(_client(args.child, args.url, args.token, ids, args.n, args.concurrency))
        return
    if shutil.which("valgrind") is None:
        print(json.dumps({"skipped": "valgrind is not installed"}))
        return
    with server() as srv:
        token, ids = asyncio.run(_prepare(srv.base_url))
        per_request: dict[str, float] = {}
        for mode in ("raw", "sdk"):
            small = _count(mode, srv.base_url, token, ids, args.small, args.concurrency, args.json)
            large = _count(mode, srv.base_url, token, ids, args.large, args.concurrency, args.json)
            per_request[mode] = (large - small) / (args.large - args.small)
    raw, sdk = per_request["raw"], per_request["sdk"]
    print(
        json.dumps(
            {
                "concurrency": args.concurrency,
                "sdk_json": args.json,
                "requests": [args.small, args.large],
                "raw_instructions_per_request": round(raw),
                "sdk_instructions_per_request": round(sdk),
                "added_instructions_per_request": round(sdk - raw),
                "ratio_raw_to_sdk": round(raw / sdk, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
