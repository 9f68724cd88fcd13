"""AsyncPacer's waiters: a response wakes one of them, not all; nothing is lost or leaked.

Deterministic: an injected clock, windows far longer than the test (no waiter's timer
fires unless the test makes its delay short), and ``asyncio.sleep(0)`` to let woken
tasks run; no assertion on elapsed time.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from swoogo_async import SwoogoClient
from swoogo_async._http.pacer import AsyncPacer, BulkMark, bulk_pacing
from swoogo_async._http.pacing import Pacer
from swoogo_async.testing import FakeSwoogo

from .conftest import FAST_RETRY


class CountingPacer(Pacer):
    """A ``Pacer`` that counts the reservations asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def reserve(self, cost: int, now: float, *args: Any, **kwargs: Any) -> tuple[bool, float]:
        self.asked += 1
        return super().reserve(cost, now, *args, **kwargs)


def _headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {
        "X-Rate-Limit-Limit": str(limit),
        "X-Rate-Limit-Remaining": str(remaining),
        "X-Rate-Limit-Reset": str(reset),
    }


def _spent(clock: list[float]) -> tuple[CountingPacer, AsyncPacer]:
    """A pacer whose 600-second window is spent as of ``clock[0] == 0``."""
    pacer = CountingPacer()
    pacer.reserve(1, 0.0)
    pacer.observe_rate((100, 0, 600), 1, 0.0, ok=True)
    assert pacer.available == 0
    return pacer, AsyncPacer(pacer, clock=lambda: clock[0])


async def _settle() -> None:
    """Let every task that can run, run (woken waiters, and those they wake)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def _waiting(
    pacer: AsyncPacer, n: int, mark: BulkMark | None = None
) -> list[asyncio.Task[Any]]:
    """Start ``n`` calls, in order, and let each be refused and queue up."""
    tasks = []
    for _ in range(n):
        if mark is None:
            tasks.append(asyncio.ensure_future(pacer.acquire(1)))
        else:
            with bulk_pacing(mark):
                tasks.append(asyncio.ensure_future(pacer.acquire(1)))
        await asyncio.sleep(0)
    await _settle()
    assert not any(task.done() for task in tasks)
    return tasks


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.parametrize("credits", [1, 3])
async def test_a_response_wakes_as_many_waiters_as_it_brings_credits(credits: int) -> None:
    clock = [0.0]
    pacer, paced = _spent(clock)
    tasks = await _waiting(paced, 100)
    asked = pacer.asked
    # A response from the next window, with ``credits`` left.
    clock[0] = 400.0
    paced.observe(_headers(100, credits, 600), 0)
    await _settle()
    assert pacer.asked - asked == credits  # only those that get credits ask again
    assert [task.done() for task in tasks] == [True] * credits + [False] * (100 - credits)
    assert pacer.available == 0
    # Another response of the same window teaches nothing new: one asks, is refused.
    paced.observe(_headers(100, 0, 590), 0)
    await _settle()
    assert pacer.asked - asked == credits + 1
    assert sum(task.done() for task in tasks) == credits
    await _cancel(tasks)
    assert paced._queues == {}  # nothing left behind


async def test_a_cancelled_head_passes_its_turn_on() -> None:
    clock = [0.0]
    _pacer, paced = _spent(clock)
    tasks = await _waiting(paced, 3)
    clock[0] = 400.0
    paced.observe(_headers(100, 1, 600), 0)  # the head is handed the one credit...
    tasks[0].cancel()  # ...and cancelled before it runs
    await _settle()
    assert tasks[0].cancelled()
    assert tasks[1].done()  # the turn went to the next
    assert tasks[1].result() is None
    assert not tasks[2].done()
    await _cancel(tasks)
    assert paced._queues == {}


async def test_a_cancelled_waiter_leaves_its_queue_and_loses_no_wake() -> None:
    clock = [0.0]
    _pacer, paced = _spent(clock)
    tasks = await _waiting(paced, 3)
    tasks[0].cancel()  # cancelled while waiting, before any wake-up
    await _settle()
    assert len(paced._queues[None]) == 2
    clock[0] = 400.0
    paced.observe(_headers(100, 1, 600), 0)
    await _settle()
    assert tasks[1].done()
    assert tasks[1].result() is None
    assert not tasks[2].done()
    await _cancel(tasks)
    assert paced._queues == {}


async def test_a_refused_head_hands_its_turn_to_a_cheaper_call() -> None:
    clock = [0.0]
    _pacer, paced = _spent(clock)
    costly = asyncio.ensure_future(paced.acquire(10))
    await asyncio.sleep(0)
    cheap = await _waiting(paced, 2)
    clock[0] = 400.0
    paced.observe(_headers(100, 1, 600), 0)  # one credit: too few for the head
    await _settle()
    assert not costly.done()
    assert [task.done() for task in cheap] == [True, False]
    assert [waiter.cost for waiter in paced._queues[None]] == [10, 1]  # the head kept its place
    await _cancel([costly, *cheap])


async def test_interactive_calls_are_woken_before_bulk_calls() -> None:
    clock = [0.0]
    _pacer, paced = _spent(clock)
    bulk = await _waiting(paced, 3, BulkMark())
    interactive = await _waiting(paced, 3)
    clock[0] = 400.0
    paced.observe(_headers(100, 1, 600), 0)
    await _settle()
    assert [task.done() for task in interactive] == [True, False, False]
    assert not any(task.done() for task in bulk)
    await _cancel(bulk + interactive)
    assert paced._queues == {}


async def test_a_run_ending_wakes_its_waiters_to_take_the_floor() -> None:
    clock = [0.0]
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe_rate((100, 5, 600), 1, 0.0, ok=True)  # 5 credits: the floor holds them
    paced = AsyncPacer(pacer, clock=lambda: clock[0])
    mark = BulkMark()
    bulk = await _waiting(paced, 3, mark)
    mark.end()  # its last calls may take the floor: one wakes, and passes on
    await _settle()
    assert all(task.done() for task in bulk)
    assert pacer.available == 2
    assert paced._queues == {}
    assert mark.ended().done()


async def test_a_waiter_asks_again_on_its_timer_without_any_response() -> None:
    clock = [0.0]
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe_rate((100, 0, 0), 1, 0.0, ok=True)  # spent; the window resets at once
    paced = AsyncPacer(pacer, clock=lambda: clock[0])
    task = asyncio.ensure_future(paced.acquire(1))
    await _settle()
    assert not task.done()
    clock[0] = 10.0  # past the reset: the next window is a whole one
    await asyncio.wait_for(task, timeout=30.0)  # woken by its own timer alone
    assert pacer.available == 99
    assert paced._queues == {}


async def test_a_call_behind_the_probe_waits_for_its_answer_then_goes() -> None:
    # A deadline shorter than the probe's patience: it waits (not refused at once),
    # and goes as soon as the answer shows budget.
    clock = [0.0]
    pacer = Pacer()
    paced = AsyncPacer(pacer, clock=lambda: clock[0])
    assert await paced.acquire(1, within=0.5) is None  # the probe
    task = asyncio.ensure_future(paced.acquire(1, within=0.5))
    await _settle()
    assert not task.done()
    clock[0] = 0.2
    paced.observe(_headers(100, 99, 600), 1)
    assert await asyncio.wait_for(task, timeout=30.0) is None
    assert pacer.available == 98


async def test_a_call_behind_an_unanswered_probe_fails_at_its_deadline() -> None:
    clock = [0.0]
    pacer = Pacer()
    paced = AsyncPacer(pacer, clock=lambda: clock[0])
    assert await paced.acquire(1) is None  # the probe, never answered here
    task = asyncio.ensure_future(paced.acquire(1, within=0.01))
    await _settle()
    assert not task.done()  # waiting, not refused up front
    clock[0] = 0.02  # its deadline has passed when its timer fires
    assert await asyncio.wait_for(task, timeout=30.0) == 0.0  # "the deadline passed"
    assert paced._queues == {}
    assert pacer.inflight == 1  # nothing reserved for it


def test_an_unlimited_budget_turns_pacing_off_for_every_follower() -> None:
    pacer = Pacer()
    one, other = AsyncPacer(pacer), AsyncPacer(pacer)  # one LocalSharedState's clients
    assert (one.paced, other.paced) == (True, True)
    one.observe({}, 1)  # a server that says nothing paces nothing, for every client
    assert (pacer.unpaced, one.paced, other.paced) == (True, False, False)
    other.limited(5.0, 1)  # ...until one of them meets a 429
    assert (pacer.unpaced, one.paced, other.paced) == (False, True, True)
    one.observe(_headers(10**9, 10**9, 600), 1)  # a limit that is no budget
    assert (pacer.unpaced, one.paced, other.paced) == (True, False, False)
    other.observe(_headers(100, 99, 600), 0)  # a real one: its reader paces again...
    assert (pacer.unpaced, one.paced, other.paced) == (False, False, True)
    one.observe(_headers(100, 98, 600), 0)  # ...and the other once it reads one too
    assert (pacer.unpaced, one.paced, other.paced) == (False, True, True)


async def test_an_unlimited_server_costs_no_acquire_per_call() -> None:
    async with FakeSwoogo() as fake:  # it reports an unlimited budget
        rec = fake.add_session(event_id=1, name="A")
        async with SwoogoClient(
            fake.api_key, fake.api_secret, base_url=fake.base_url, retry=FAST_RETRY
        ) as client:
            paced = client._core.pipeline.pacer
            assert paced is not None
            assert paced.paced
            acquired = 0
            acquire = paced.acquire

            async def counting(cost: int, within: float = float("inf")) -> float | None:
                nonlocal acquired
                acquired += 1
                return await acquire(cost, within)

            paced.acquire = counting  # type: ignore[method-assign]
            await client.sessions.get(rec["id"])
            assert not paced.paced
            for _ in range(5):
                await client.sessions.get(rec["id"])
            assert acquired == 1  # the first call, before the server said
