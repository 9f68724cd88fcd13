"""Request overhead: ``client.sessions.get``/``create`` against raw aiohttp, same server.

The raw side does the least a careful hand-written client does: one ``ClientSession``
with the SDK's connector limit and timeouts, the same headers (Bearer token included),
the same bytes on the wire, a status check and ``json.loads`` of the body. The SDK side
adds everything it is there for: the token, the retry wrapper, the deadline, the model.
Sides alternate which goes first in each repetition.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp

from swoogo_async import SwoogoClient

from ._common import LoadResult, Settings, median, ratio, run_load
from ._server import API_KEY, API_SECRET, create_fields, create_form, fetch_token

__all__ = ["POOL_SIZE", "compare", "pacing_benchmark", "request_benchmarks"]

POOL_SIZE = 100  # the SDK's default pool_size; the raw connector gets the same limit
EVENT_ID = 4242
_HEADERS = {"User-Agent": "swoogo-async/0.1", "Accept": "application/json"}
_FORM = "application/x-www-form-urlencoded"

Op = Callable[[int], Awaitable[object]]
RateLimitChoice = Literal["auto"] | None


def raw_session() -> aiohttp.ClientSession:
    """The baseline's session: the SDK transport's connector limit and timeouts."""
    connector = aiohttp.TCPConnector(limit=POOL_SIZE, limit_per_host=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=30.0)
    return aiohttp.ClientSession(connector=connector, timeout=timeout)


def sdk_client(base_url: str, rate_limit: RateLimitChoice) -> SwoogoClient:
    """The SDK client under test (pacing off unless asked for)."""
    return SwoogoClient(
        API_KEY, API_SECRET, base_url=base_url, pool_size=POOL_SIZE, rate_limit=rate_limit
    )


def raw_get_op(session: aiohttp.ClientSession, base_url: str, token: str, ids: list[int]) -> Op:
    """GET /sessions/{id} with the Bearer header, then ``json.loads``."""
    urls = [f"{base_url}/sessions/{i}" for i in ids]
    headers = {**_HEADERS, "Authorization": "Bearer " + token}
    count = len(urls)

    async def op(index: int) -> object:
        async with session.get(urls[index % count], headers=headers) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"GET failed: {resp.status}")
        return json.loads(body)

    return op


def sdk_get_op(client: SwoogoClient, ids: list[int]) -> Op:
    """``client.sessions.get(id)`` (returns a ``Session``)."""
    count = len(ids)
    get = client.sessions.get

    async def op(index: int) -> object:
        return await get(ids[index % count])

    return op


def raw_create_op(
    session: aiohttp.ClientSession, base_url: str, token: str, bodies: list[bytes]
) -> Op:
    """POST /sessions/create with pre-encoded form bytes, then ``json.loads``."""
    url = base_url + "/sessions/create"
    headers = {**_HEADERS, "Content-Type": _FORM, "Authorization": "Bearer " + token}

    async def op(index: int) -> object:
        async with session.post(url, data=bodies[index], headers=headers) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"create failed: {resp.status}")
        return json.loads(body)

    return op


def sdk_create_op(client: SwoogoClient, names: list[str]) -> Op:
    """``client.sessions.create(...)`` with the same fields as the raw form."""
    create = client.sessions.create
    date = create_form(EVENT_ID, "")["date"]
    fields = create_fields()

    async def op(index: int) -> object:
        return await create(event_id=EVENT_ID, name=names[index], date=date, **fields)

    return op


async def compare(
    sides: dict[str, Callable[[int], Op]], s: Settings, concurrency: int
) -> dict[str, list[dict[str, float]]]:
    """Run every side ``s.reps`` times, rotating which goes first; return per-rep figures.

    ``sides`` maps a name to a factory taking the repetition number (so each
    repetition can use fresh names for creates) and returning the operation.
    """
    names = list(sides)
    reps: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for rep in range(s.reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            result: LoadResult = await run_load(
                sides[name](rep), s.requests, concurrency, s.time_limit
            )
            reps[name].append(result.summary())
    return reps


def summarise(reps: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Median of each figure over the repetitions, per side."""
    out: dict[str, dict[str, float]] = {}
    for side, rows in reps.items():
        out[side] = {key: median([row[key] for row in rows]) for key in rows[0]}
        out[side]["truncated"] = max(row["truncated"] for row in rows)
    return out


def ratios(sdk: dict[str, float], raw: dict[str, float]) -> dict[str, float]:
    """SDK against raw: >= 1 is as good as raw for throughput and CPU efficiency."""
    return {
        "throughput": ratio(sdk["rps"], raw["rps"]),
        "cpu_efficiency": ratio(raw["cpu_us"], sdk["cpu_us"]),
        "added_cpu_us": sdk["cpu_us"] - raw["cpu_us"],
        "p50": ratio(sdk["p50_ms"], raw["p50_ms"]),
        "p99": ratio(sdk["p99_ms"], raw["p99_ms"]),
    }


async def _warm(ops: list[Op], concurrency: int, s: Settings) -> None:
    # Open the connections and fill the caches before anything is timed.
    for op in ops:
        await run_load(op, min(s.requests, max(concurrency, 50)), concurrency, s.time_limit)


async def request_benchmarks(
    base_url: str, ids: list[int], s: Settings, loop: str, bench: Literal["get", "create"]
) -> list[dict[str, Any]]:
    """GET or create at each concurrency: raw aiohttp against the SDK (pacing off)."""
    rows: list[dict[str, Any]] = []
    async with raw_session() as session, sdk_client(base_url, None) as client:
        token = await fetch_token(session, base_url)
        for concurrency in s.concurrency:
            sides = (
                _get_sides(session, client, base_url, token, ids)
                if bench == "get"
                else _create_sides(session, client, base_url, token, s, f"{loop}-c{concurrency}")
            )
            await _warm([sides["raw"](-1), sides["sdk"](-1)], concurrency, s)
            reps = await compare(sides, s, concurrency)
            rows.append(_row(bench, loop, concurrency, "rate_limit=None", reps))
            print(_line(rows[-1]), flush=True)
    return rows


def _get_sides(
    session: aiohttp.ClientSession,
    client: SwoogoClient,
    base_url: str,
    token: str,
    ids: list[int],
) -> dict[str, Callable[[int], Op]]:
    return {
        "raw": _same(raw_get_op(session, base_url, token, ids)),
        "sdk": _same(sdk_get_op(client, ids)),
    }


def _same(op: Op) -> Callable[[int], Op]:
    """A side that runs the same operation in every repetition."""

    def side(_rep: int) -> Op:
        return op

    return side


def _create_sides(
    session: aiohttp.ClientSession,
    client: SwoogoClient,
    base_url: str,
    token: str,
    s: Settings,
    tag: str,
) -> dict[str, Callable[[int], Op]]:
    # Every create gets a name of its own: identical creates would (rightly) queue
    # behind one another in the SDK's duplicate guard.
    def names(side: str, rep: int) -> list[str]:
        return [f"bench {tag} {side} r{rep} #{i}" for i in range(s.requests)]

    def raw(rep: int) -> Op:
        # Encoded before the clock starts: the baseline pays nothing for its form.
        bodies = [urlencode(create_form(EVENT_ID, name)).encode() for name in names("raw", rep)]
        return raw_create_op(session, base_url, token, bodies)

    def sdk(rep: int) -> Op:
        return sdk_create_op(client, names("sdk", rep))

    return {"raw": raw, "sdk": sdk}


async def pacing_benchmark(
    base_url: str, ids: list[int], s: Settings, loop: str, concurrency: int = 50
) -> dict[str, Any]:
    """GET at concurrency 50 with the default pacing on, against a server with a huge budget."""
    async with (
        raw_session() as session,
        sdk_client(base_url, None) as unpaced,
        sdk_client(base_url, "auto") as paced,
    ):
        token = await fetch_token(session, base_url)
        ops = {
            "raw": raw_get_op(session, base_url, token, ids),
            "sdk": sdk_get_op(paced, ids),
            "sdk_unpaced": sdk_get_op(unpaced, ids),
        }
        await _warm(list(ops.values()), concurrency, s)
        sides = {name: _same(op) for name, op in ops.items()}
        reps = await compare(sides, s, concurrency)
    row = _row("get", loop, concurrency, 'rate_limit="auto"', reps)
    row["sdk_unpaced"] = summarise(reps)["sdk_unpaced"]
    row["pacing_added_cpu_us"] = row["sdk"]["cpu_us"] - row["sdk_unpaced"]["cpu_us"]
    print(_line(row), flush=True)
    return row


def _row(
    bench: str, loop: str, concurrency: int, variant: str, reps: dict[str, list[dict[str, float]]]
) -> dict[str, Any]:
    medians = summarise(reps)
    figures = ratios(medians["sdk"], medians["raw"])
    # Paired: each repetition's raw and SDK runs go back to back, so their ratio sees
    # the same machine; the median of those ratios is not moved by a slow stretch that
    # lands on one side's median run only.
    pairs = list(zip(reps["raw"], reps["sdk"], strict=True))
    figures["throughput_paired"] = median([ratio(b["rps"], a["rps"]) for a, b in pairs])
    figures["cpu_efficiency_paired"] = median([ratio(a["cpu_us"], b["cpu_us"]) for a, b in pairs])
    return {
        "bench": bench,
        "loop": loop,
        "concurrency": concurrency,
        "variant": variant,
        "raw": medians["raw"],
        "sdk": medians["sdk"],
        "ratios": figures,
        "reps": reps,
    }


def _line(row: dict[str, Any]) -> str:
    raw, sdk, r = row["raw"], row["sdk"], row["ratios"]
    return (
        f"  {row['loop']:<7} {row['bench']:<6} c={row['concurrency']:<3} {row['variant']:<17}"
        f" raw {raw['rps']:7.0f}/s {raw['cpu_us']:6.0f}µs"
        f" | sdk {sdk['rps']:7.0f}/s {sdk['cpu_us']:6.0f}µs"
        f" | thr {r['throughput']:.2f} cpu-eff {r['cpu_efficiency']:.2f}"
        f" (paired {r['throughput_paired']:.2f}/{r['cpu_efficiency_paired']:.2f})"
        f" (+{r['added_cpu_us']:.0f}µs) p99 {r['p99']:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the GET comparison alone: ``python -m benchmarks.bench_requests [-c 200]``."""
    import argparse

    import attrs

    from ._common import run_on_loop
    from ._server import seed_sessions, server

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_requests")
    parser.add_argument("-c", "--concurrency", type=int, action="append")
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--bench", choices=("get", "create"), default="get")
    args = parser.parse_args(argv)
    s = attrs.evolve(
        Settings.make(quick=False, reps=args.reps),
        requests=args.requests,
        concurrency=tuple(args.concurrency or (200,)),
    )
    with server() as srv:

        async def run(url: str = srv.base_url) -> list[dict[str, Any]]:
            async with aiohttp.ClientSession() as session:
                token = await fetch_token(session, url)
            ids = await seed_sessions(url, token, 50, EVENT_ID)
            return await request_benchmarks(url, ids, s, args.loop, args.bench)

        rows = run_on_loop(args.loop, run)
    for row in rows:
        print(
            f"c={row['concurrency']} p99 raw {row['raw']['p99_ms']:.1f} ms,"
            f" sdk {row['sdk']['p99_ms']:.1f} ms (ratio {row['ratios']['p99']:.2f});"
            f" p50 ratio {row['ratios']['p50']:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
