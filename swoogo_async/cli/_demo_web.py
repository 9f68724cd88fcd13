"""``swoogo-async demo --web [SECONDS]``: an agenda web app on Swoogo's budget, cached or not.

Two embedded fake APIs, each with the real budget (2,000 credits per 600 s), serve the
same seeded visitors (page views at a fixed rate: an event's list page, 10 credits, one
time in five; a session page, 1 credit, otherwise) for SECONDS (20 by default):

- the naive app reads Swoogo on every page view, and soon gets 429s for all of them;
- the cached app reads through ``SwoogoClient(cache="memory")`` and a webhook receiver
  (``WebhookReceiver(invalidate=client.cache)``) on loopback.

Half way, a session is renamed on the cached app's API as an admin would: the demo
waits for the cached app's page to show the new name (the webhook) and prints how long
that took. The figures printed: page views served and refused (429), the credits each
app spent or would have needed, and the cached app's cache hits and read latency.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import random
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

import attrs
from aiohttp import web

from .._client.client import SwoogoClient
from .._exceptions import RateLimitError, SwoogoError
from .._http.retry import RetryPolicy
from ..testing import FakeSwoogo
from ..webhooks import WebhookEvent, WebhookReceiver

__all__ = ["WebFigures", "percentile", "read_page", "run_web_demo", "visitor_plan"]

EVENT_ID = 4242
BUDGET, WINDOW = 2000, 600.0
#: One page view in this many is the event's list page.
LIST_EVERY = 5
LIST_COST, GET_COST = 10, 1
SECRET = "Bearer demo-webhook-secret"
#: Seconds the demo waits for an edit to show before calling it not visible.
VISIBLE_WITHIN = 5.0


def visitor_plan(session_ids: Sequence[int], views: int, *, seed: int) -> list[int | None]:
    """Return the page views in order: a session id, or None for the event's list page."""
    rng = random.Random(seed)
    return [
        None if rng.randrange(LIST_EVERY) == 0 else rng.choice(session_ids) for _ in range(views)
    ]


def plan_cost(plan: Sequence[int | None]) -> int:
    """Return the credits ``plan`` costs when every view reads Swoogo."""
    return sum(LIST_COST if view is None else GET_COST for view in plan)


async def read_page(client: SwoogoClient, view: int | None, event_id: int = EVENT_ID) -> str:
    """Read what one page view shows (the list page or one session); return a name on it."""
    if view is None:
        page = await client.sessions.list(event_id, fields=["name", "date"]).page(1)
        return str(page.items[0].name if page.items else "")
    return str((await client.sessions.get(view)).name)


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the ``pct`` percentile of ``values`` (nearest rank; 0.0 when empty)."""
    if not values:
        return 0.0
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, max(0, round(pct / 100 * len(ranked)) - 1))]


@attrs.define
class WebFigures:
    """What one app did with the visitors' page views."""

    failed: int = 0
    credits: int = 0
    #: The seconds each served view took, and the credits each refused (429) one asked for.
    latencies: list[float] = attrs.Factory(list)
    refused: list[int] = attrs.Factory(list)


async def _visit(
    client: SwoogoClient, plan: Sequence[int | None], rate: float, figures: WebFigures
) -> None:
    """Send ``plan``'s page views at ``rate`` per second (open loop) and count the outcomes."""

    async def view(page: int | None) -> None:
        start = time.perf_counter()
        try:
            await read_page(client, page)
        except RateLimitError:
            figures.refused.append(LIST_COST if page is None else GET_COST)
            return
        except SwoogoError:
            figures.failed += 1
            return
        figures.latencies.append(time.perf_counter() - start)

    loop = asyncio.get_running_loop()
    start, tasks = loop.time(), []
    for index, page in enumerate(plan):
        delay = start + index / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(view(page)))
    await asyncio.gather(*tasks)


async def _serve(receiver: WebhookReceiver) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/hooks/swoogo", receiver.aiohttp_handler())
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/swoogo"


def _client(fake: FakeSwoogo, **options: Any) -> SwoogoClient:
    """A client of ``fake`` (built once it serves: its URL names its port)."""
    return SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url, **options)


def _fake(sessions: int) -> tuple[FakeSwoogo, list[int]]:
    fake = FakeSwoogo("demo-key", "demo-secret", rate_limit=BUDGET, rate_window=WINDOW)
    ids = [
        fake.add_session(event_id=EVENT_ID, name=f"Session {n + 1}", date="2026-06-09")["id"]
        for n in range(sessions)
    ]
    return fake, ids


async def _edit(fake: FakeSwoogo, app: SwoogoClient, session_id: int, at: float) -> float | None:
    """Rename a session as an admin would; return seconds until ``app`` shows it (or None)."""
    await asyncio.sleep(at)
    async with _client(fake) as admin:
        await admin.sessions.update(session_id, name="Renamed by an admin")
    edited = time.perf_counter()
    while time.perf_counter() - edited < VISIBLE_WITHIN:
        if await read_page(app, session_id) == "Renamed by an admin":
            return time.perf_counter() - edited
        await asyncio.sleep(0.005)
    return None


async def web_demo(seconds: float, *, rate: float, sessions: int, seed: int) -> dict[str, Any]:
    """Run both apps over one seeded plan; return their figures."""
    plan = visitor_plan(range(1, sessions + 1), max(1, round(seconds * rate)), seed=seed)
    naive_fake, naive_ids = _fake(sessions)
    cached_fake, cached_ids = _fake(sessions)
    naive, cached = WebFigures(), WebFigures()

    def on(ids: list[int]) -> list[int | None]:  # the plan, on one fake's session ids
        return [None if view is None else ids[view - 1] for view in plan]

    async def on_event(event: WebhookEvent) -> None:
        """The app's own work after the cache dropped the edit (nothing, in the demo)."""

    async with naive_fake, cached_fake:
        # A naive app's 429 is final: on a 600-s window there is nothing to wait for.
        plain = _client(naive_fake, rate_limit=None, retry=RetryPolicy(max_attempts=1))
        async with plain, _client(cached_fake, cache="memory") as app:
            receiver = WebhookReceiver(on_event, secret=SECRET, invalidate=app.cache)
            runner, url = await _serve(receiver)
            try:
                async with _client(cached_fake) as admin:
                    await admin.webhooks.create(
                        name="agenda app",
                        url=url,
                        trigger_object="session",
                        headers={"Authorization": SECRET},
                    )
                _, _, visible = await asyncio.gather(
                    _visit(plain, on(naive_ids), rate, naive),
                    _visit(app, on(cached_ids), rate, cached),
                    _edit(cached_fake, app, cached_ids[0], seconds / 2),
                )
                await cached_fake.deliveries_settled()
            finally:
                await runner.cleanup()
            # A refused request is not charged: the rest is what the budget took.
            naive.credits = plain.credits_spent - sum(naive.refused)
            cached.credits = app.credits_spent
            stats = app.cache.stats if app.cache is not None else None
    deliveries = [d.status for d in cached_fake.deliveries]
    return {
        "seconds": seconds,
        "rate": rate,
        "views": len(plan),
        "needed": plan_cost(plan),
        "naive": naive,
        "naive_429": naive_fake.rate_limited,
        "cached": cached,
        "cached_429": cached_fake.rate_limited,
        "hits": 0 if stats is None else stats.hits + stats.stale_hits + stats.coalesced,
        "misses": 0 if stats is None else stats.misses,
        "visible_after": visible,
        "deliveries": deliveries,
    }


def print_web_demo(f: dict[str, Any], out: TextIO) -> bool:
    """Print the figures of ``web_demo``; return whether the cached app did what it should."""
    naive: WebFigures = f["naive"]
    cached: WebFigures = f["cached"]
    share = 100 * cached.credits / f["needed"] if f["needed"] else 0.0
    p50, p99 = (percentile(cached.latencies, p) * 1000 for p in (50, 99))
    visible = f["visible_after"]
    out.write(
        f"Web demo: {f['seconds']:g} s of visitors, {f['rate']:g} page views/s ({f['views']:,}"
        f" in all; an event page costs {LIST_COST} credits, a session page {GET_COST}), against"
        f" two embedded fake APIs with Swoogo's budget of {BUDGET:,} credits per {WINDOW:g} s.\n\n"
        f"naive app (no cache):  {len(naive.latencies):,} views served,"
        f" {len(naive.refused):,} refused"
        f" ({f['naive_429']:,} x 429); spent {naive.credits:,} credits, needed"
        f" {f['needed']:,}\n"
        f"cached app:            {len(cached.latencies):,} views served,"
        f" {len(cached.refused):,} refused"
        f" ({f['cached_429']:,} x 429); spent {cached.credits:,} credits"
        f" ({share:.1f} % of what the naive app needed)\n"
        f"                       cache: {f['hits']:,} hits, {f['misses']:,} misses;"
        f" read p50 {p50:.2f} ms, p99 {p99:.2f} ms\n"
    )
    delivered = 200 in f["deliveries"]
    if visible is None or not delivered:
        out.write(
            f"An admin edit did NOT reach the cached app (webhook answers: {f['deliveries']};"
            f" page updated: {'no' if visible is None else 'yes'}).\n"
        )
    else:
        out.write(
            f"An admin renamed a session half way: the webhook reached the cached app and its"
            f" page showed the new name {visible * 1000:.0f} ms after the edit.\n"
        )
    ok = not cached.refused and cached.failed == 0 and visible is not None and delivered
    out.write(f"\nWeb demo {'passed' if ok else 'FAILED'}. See docs/web-apps.md.\n")
    return ok


def run_web_demo(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run the web demo for ``args.web`` seconds; return the exit status."""
    seconds = float(args.web)
    if not 0 < seconds <= 3600:
        sys.stderr.write(f"--web: expected seconds between 0 and 3600, got {args.web}\n")
        return 2
    if importlib.util.find_spec("cashews") is None:
        sys.stderr.write("demo --web needs the read cache: pip install 'swoogo-async[cache]'\n")
        return 2
    figures = asyncio.run(web_demo(seconds, rate=100.0, sessions=30, seed=args.seed))
    return 0 if print_web_demo(figures, out or sys.stdout) else 1
