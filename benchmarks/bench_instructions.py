"""Instructions per request, SDK against raw aiohttp: a figure the machine's noise cannot move.

CPU-time ratios on a shared 2-core machine swing by tens of percent from run to run.
``valgrind --tool=callgrind`` counts the instructions the client process executes,
which is repeatable for the same code and inputs. Each side (raw aiohttp GET +
``json.loads``; ``client.sessions.get``) runs twice under callgrind, with ``--small``
and ``--large`` requests; the difference divided by the difference in requests is the
cost of one request, start-up and imports cancelled out. The server runs outside
valgrind, in its own process.

    python -m benchmarks.bench_instructions [--small 200] [--large 1200] [--concurrency 10]
    python -m benchmarks.bench_instructions --op create [--raw-encodes]
    python -m benchmarks.bench_instructions --page
    python -m benchmarks.bench_instructions --body

``--page`` counts instead the instructions that turn one 1,000-session list page
(bytes) into records, for the SDK and for pydantic (each on the plain page and on the page
whose records all gained two new fields, which both keep: like with like) and for msgspec
(1 and 11 parses per run, in a child process; the difference over 10). ``--body`` counts
those that decode one ``GET /sessions/{id}`` body: ``json.loads`` against ``parse_session``.

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
from typing import Any
from urllib.parse import urlencode

import aiohttp

from ._server import API_KEY, API_SECRET, fetch_token, seed_sessions, server

__all__ = ["body_instructions", "main", "page_instructions", "page_ratios", "request_instructions"]

_TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


async def _creates(
    mode: str, url: str, token: str, ids: list[int], n: int, conc: int, encode: int
) -> None:
    """Run ``n`` creates at concurrency ``conc``: raw (pre-encoded form bytes, as in
    ``bench_requests``) or ``client.sessions.create`` with the same fields."""
    from swoogo_async import SwoogoClient

    from ._server import create_fields, create_form

    sem = asyncio.Semaphore(conc)
    tag = f"{mode}-{n}-{os.getpid()}"  # every create its own name: none waits on another
    if mode == "raw_create":
        headers = {
            "Authorization": "Bearer " + token,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        # ``encode`` forms are encoded whatever ``n`` is, so the encoding cancels out of
        # the difference (raw sends pre-encoded bytes); 0 encodes only the ``n`` sent,
        # so raw pays for its forms as a caller of aiohttp would (``--raw-encodes``).
        count = max(n, encode)
        bodies = [urlencode(create_form(CREATE_EVENT, f"{tag}-{i}")).encode() for i in range(count)]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http:

            async def raw(i: int) -> None:
                async with (
                    sem,
                    http.post(f"{url}/sessions/create", data=bodies[i], headers=headers) as r,
                ):
                    json.loads(await r.read())

            await asyncio.gather(*(raw(i) for i in range(n)))
        return
    form, fields = create_form(CREATE_EVENT, ""), create_fields()
    async with SwoogoClient(API_KEY, API_SECRET, base_url=url, rate_limit=None) as client:
        await client.sessions.get(ids[0])  # the token, outside the counted difference

        async def sdk(i: int) -> None:
            async with sem:
                await client.sessions.create(
                    event_id=CREATE_EVENT, name=f"{tag}-{i}", date=form["date"], **fields
                )

        await asyncio.gather(*(sdk(i) for i in range(n - 1)))


CREATE_EVENT = 4343


async def _client(
    mode: str, url: str, token: str, ids: list[int], n: int, conc: int, encode: int = 0
) -> None:
    """Run ``n`` GETs at concurrency ``conc`` the raw way or through the SDK."""
    from swoogo_async import SwoogoClient

    if mode.endswith("_create"):
        await _creates(mode, url, token, ids, n, conc, encode)
        return
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


#: What ``--page`` counts, each turning the same 1,000-session page (bytes) into records.
PAGE_IMPLS = (
    "parse_page",  # json.loads, then the converter's generated hooks
    "parse_page, new fields",  # the same, every record with two keys the model lacks
    "pydantic model_validate_json",
    "pydantic model_validate_json, new fields",  # the same drifted page: like with like
    "msgspec json.decode",
)


#: What ``--body`` counts, each turning the same ``GET /sessions/{id}`` body into a record.
BODY_IMPLS = ("json.loads", "parse_session")


def _parse_bodies(impl: str, n: int) -> None:
    """Parse one full session body ``n`` times with ``impl`` (in the child, under valgrind)."""
    from swoogo_async._api.converter import parse_session

    from .bench_models import full_record

    body = json.dumps(full_record()).encode()
    parse: Any = (
        json.loads
        if impl == "json.loads"
        else (lambda raw: parse_session(raw, method="GET", url="b"))
    )
    for _ in range(n):
        parse(body)


def body_instructions(small: int = 1, large: int = 1001) -> dict[str, float]:
    """Instructions per ``GET /sessions/{id}`` body for each of ``BODY_IMPLS``."""
    per_body = {}
    for impl in BODY_IMPLS:
        counts = [_callgrind(["--body-child", impl, "--n", str(n)]) for n in (small, large)]
        per_body[impl] = (counts[1] - counts[0]) / (large - small)
    return per_body


def _parse_pages(impl: str, n: int) -> None:
    """Parse the benchmark page ``n`` times with ``impl`` (in the child, under valgrind)."""
    import msgspec

    from swoogo_async._api.pages import parse_page

    from .alt_models import MsgspecPage, PydanticPage
    from .bench_models import page_bytes, page_with_new_fields

    page = page_bytes(1000)
    if impl.endswith("new fields"):
        page = page_with_new_fields(page)
    parse: Any = {
        "pydantic model_validate_json": PydanticPage.model_validate_json,
        "pydantic model_validate_json, new fields": PydanticPage.model_validate_json,
        "msgspec json.decode": lambda raw: msgspec.json.decode(raw, type=MsgspecPage, strict=False),
    }.get(impl, lambda raw: parse_page(raw, method="GET", url="b", page=1, per_page=1000))
    for _ in range(n):
        parse(page)


def _callgrind(args: list[str]) -> int:
    """Return the instructions ``python -m benchmarks.bench_instructions *args`` executes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "benchmarks.bench_instructions",
            *args,
        ]
        # One string hash seed for every child: dict and set layouts, and so the
        # instructions of the same work, stay the same from one child to the next.
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        match = _TOTALS.search(out.read_text())
        if match is None:
            raise RuntimeError("no totals in callgrind output")
        return int(match.group(1))


def _count(mode: str, url: str, token: str, ids: list[int], n: int, conc: int, encode: int) -> int:
    """Return the instructions one client run of ``n`` requests executes."""
    args = ["--child", mode, "--url", url, "--token", token, "--ids", ",".join(map(str, ids))]
    args += ["--n", str(n), "--concurrency", str(conc), "--encode", str(encode)]
    return _callgrind(args)


def page_ratios(counts: dict[str, float]) -> dict[str, float]:
    """Each SDK page row of ``page_instructions`` over pydantic's on the same page."""
    return {
        "parse_page": counts["parse_page"] / counts["pydantic model_validate_json"],
        "parse_page, new fields": counts["parse_page, new fields"]
        / counts["pydantic model_validate_json, new fields"],
    }


def page_instructions(small: int = 1, large: int = 11) -> dict[str, float]:
    """Instructions per 1,000-session page for each of ``PAGE_IMPLS``.

    Averaged over ten pages: where the cyclic garbage collector runs (it scans the
    records a page allocates) moves a single page's count by a few million.
    """
    per_page = {}
    for impl in PAGE_IMPLS:
        counts = [_callgrind(["--page-child", impl, "--n", str(n)]) for n in (small, large)]
        per_page[impl] = (counts[1] - counts[0]) / (large - small)
    return per_page


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
    parser.add_argument(
        "--page",
        action="store_true",
        help="count instructions per 1,000-session page parse instead of per request",
    )
    parser.add_argument(
        "--body",
        action="store_true",
        help="count instructions per GET body parse (json.loads, parse_session) instead",
    )
    parser.add_argument(
        "--op", choices=["get", "create"], default="get", help="the request to count"
    )
    parser.add_argument(
        "--raw-encodes",
        action="store_true",
        help="creates: count raw's form encoding too (by default raw sends pre-encoded bytes)",
    )
    parser.add_argument("--encode", type=int, default=0)
    parser.add_argument("--child", choices=["raw", "sdk", "raw_create", "sdk_create"])
    parser.add_argument("--page-child", choices=PAGE_IMPLS)
    parser.add_argument("--body-child", choices=BODY_IMPLS)
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("--ids")
    parser.add_argument("--n", type=int, default=0)
    args = parser.parse_args()
    if args.child:
        ids = [int(x) for x in args.ids.split(",")]
        asyncio.run(
            _client(args.child, args.url, args.token, ids, args.n, args.concurrency, args.encode)
        )
        return
    if args.page_child:
        _parse_pages(args.page_child, args.n)
        return
    if args.body_child:
        _parse_bodies(args.body_child, args.n)
        return
    if shutil.which("valgrind") is None:
        print(json.dumps({"skipped": "valgrind is not installed"}))
        return
    if args.page:
        counts = page_instructions()
        ratios = page_ratios(counts)
        print(
            json.dumps(
                {"page_sessions": 1000, "instructions_per_page": counts, "÷ pydantic": ratios}
            )
        )
        return
    if args.body:
        print(json.dumps({"instructions_per_body": body_instructions()}))
        return
    print(
        json.dumps(
            request_instructions(
                args.small, args.large, args.concurrency, args.op, raw_encodes=args.raw_encodes
            )
        )
    )


def request_instructions(
    small: int = 200,
    large: int = 1200,
    concurrency: int = 10,
    op: str = "get",
    *,
    raw_encodes: bool = False,
) -> dict[str, Any]:
    """Instructions per request, raw aiohttp and the SDK, and their ratio (see the module)."""
    with server() as srv:
        token, ids = asyncio.run(_prepare(srv.base_url))
        per_request: dict[str, float] = {}
        suffix = "_create" if op == "create" else ""
        for mode in ("raw", "sdk"):
            child = mode + suffix
            encode = 0 if raw_encodes else large
            low, high = (
                _count(child, srv.base_url, token, ids, n, concurrency, encode)
                for n in (small, large)
            )
            per_request[mode] = (high - low) / (large - small)
    raw, sdk = per_request["raw"], per_request["sdk"]
    return {
        "op": op,
        "raw_create_counts_encoding": bool(op == "create" and raw_encodes),
        "concurrency": concurrency,
        "requests": [small, large],
        "raw_instructions_per_request": round(raw),
        "sdk_instructions_per_request": round(sdk),
        "added_instructions_per_request": round(sdk - raw),
        "ratio_raw_to_sdk": round(raw / sdk, 3),
    }


if __name__ == "__main__":
    main()
