"""What every benchmark shares: settings, statistics, the event loops, the environment."""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from importlib import metadata
from typing import Any, TypeVar

import attrs

__all__ = [
    "LoadResult",
    "Settings",
    "environment",
    "loop_names",
    "median",
    "percentile",
    "ratio",
    "run_load",
    "run_on_loop",
]

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class Settings:
    """How much to measure."""

    quick: bool
    reps: int
    requests: int
    concurrency: tuple[int, ...]
    token_calls: int
    token_reps: int
    model_number: int
    model_reps: int
    page_size: int
    page_reps: int
    time_limit: float

    @classmethod
    def make(cls, *, quick: bool, reps: int | None) -> Settings:
        """Return the full settings, or the smoke-run ones."""
        if quick:
            return cls(
                quick=True,
                reps=reps or 3,
                requests=300,
                concurrency=(1, 10, 50, 200),
                token_calls=2_000,
                token_reps=1,
                model_number=3_000,
                model_reps=5,
                page_size=1_000,
                page_reps=3,
                time_limit=15.0,
            )
        return cls(
            quick=False,
            reps=reps or 5,
            requests=2_000,
            concurrency=(1, 10, 50, 200),
            token_calls=10_000,
            token_reps=4,
            model_number=20_000,
            model_reps=9,
            page_size=1_000,
            page_reps=15,
            time_limit=60.0,
        )


def median(values: Sequence[float]) -> float:
    """Return the median (nan for no values)."""
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (nearest rank) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ratio(numerator: float, denominator: float) -> float:
    """Return ``numerator / denominator``, nan when undefined."""
    return numerator / denominator if denominator else float("nan")


@attrs.frozen(kw_only=True)
class LoadResult:
    """One bounded load run: how many requests, how long, how much client CPU."""

    done: int
    wall: float
    cpu: float
    latencies: list[float] = attrs.field(repr=False)
    truncated: bool

    @property
    def rps(self) -> float:
        """Requests per second (wall clock)."""
        return ratio(self.done, self.wall)

    @property
    def cpu_us(self) -> float:
        """Client CPU time per request, in microseconds."""
        return ratio(self.cpu, self.done) * 1e6

    def summary(self) -> dict[str, float]:
        """The figures reported for one repetition."""
        return {
            "rps": self.rps,
            "p50_ms": percentile(self.latencies, 50) * 1e3,
            "p99_ms": percentile(self.latencies, 99) * 1e3,
            "cpu_us": self.cpu_us,
            "done": float(self.done),
            "truncated": float(self.truncated),
        }


async def run_load(
    op: Callable[[int], Awaitable[object]], n: int, concurrency: int, time_limit: float
) -> LoadResult:
    """Run ``op(i)`` for i in 0..n-1 from ``concurrency`` workers, bounded by ``time_limit``.

    CPU is ``time.process_time()`` of this (client) process; the server runs elsewhere.
    """
    latencies: list[float] = []
    clock = time.perf_counter
    deadline = clock() + time_limit
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < n and clock() < deadline:
            index = next_index
            next_index += 1
            started = clock()
            await op(index)
            latencies.append(clock() - started)

    gc.collect()
    cpu0, wall0 = time.process_time(), clock()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
    wall, cpu = clock() - wall0, time.process_time() - cpu0
    return LoadResult(
        done=len(latencies), wall=wall, cpu=cpu, latencies=latencies, truncated=len(latencies) < n
    )


def loop_names(choice: str) -> list[str]:
    """Return the loops to run: ``asyncio``, ``uvloop`` (when importable), or both."""
    names = ["asyncio", "uvloop"] if choice == "both" else [choice]
    if "uvloop" in names and not _uvloop_available():
        print("uvloop is not importable: running under asyncio only", file=sys.stderr)
        names = [n for n in names if n != "uvloop"] or ["asyncio"]
    return names


def _uvloop_available() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def run_on_loop(loop: str, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` on a fresh event loop of the named kind (like ``asyncio.run``)."""
    if loop == "uvloop":
        import uvloop

        event_loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    else:
        event_loop = asyncio.new_event_loop()
    asyncio.set_event_loop(event_loop)
    try:
        return event_loop.run_until_complete(main())
    finally:
        try:
            event_loop.run_until_complete(event_loop.shutdown_asyncgens())
            event_loop.run_until_complete(event_loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            event_loop.close()


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """Versions and machine facts that the figures depend on."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "packages": {
            name: _version(name)
            for name in (
                "swoogo-async",
                "aiohttp",
                "cattrs",
                "attrs",
                "uvloop",
                "backoff",
                "pydantic",
                "pydantic-core",
                "msgspec",
            )
        },
    }
