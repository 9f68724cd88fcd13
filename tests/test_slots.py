"""The request slots: FIFO hand-over, no slot lost to a cancellation."""

from __future__ import annotations

import asyncio

import pytest

from swoogo_async._slots import Slots


async def test_free_slots_are_taken_synchronously_then_callers_queue_in_order() -> None:
    slots = Slots(2)
    assert slots.take_now()
    assert slots.take_now()
    assert not slots.take_now()
    order: list[int] = []

    async def waiter(n: int) -> None:
        await slots.take()
        order.append(n)

    tasks = [asyncio.create_task(waiter(n)) for n in range(3)]
    await asyncio.sleep(0)
    assert slots.waiting == 3
    slots.give()
    slots.give()
    await asyncio.sleep(0)
    assert order == [0, 1]
    assert slots.free == 0
    # A newcomer may not overtake the one still waiting.
    assert not slots.take_now()
    slots.give()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]
    slots.give()  # the last two holders return theirs
    slots.give()
    assert slots.free == 2


async def test_a_cancelled_waiter_leaves_the_queue_and_loses_no_slot() -> None:
    slots = Slots(1)
    assert slots.take_now()
    cancelled = asyncio.create_task(slots.take())
    kept = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert slots.waiting == 1
    slots.give()
    await asyncio.wait_for(kept, 1)
    slots.give()
    assert slots.free == 1


async def test_a_slot_handed_to_a_waiter_being_cancelled_is_passed_on() -> None:
    slots = Slots(1)
    assert slots.take_now()
    first = asyncio.create_task(slots.take())
    second = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    slots.give()  # hands the slot to ``first``...
    first.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)  # so it went to ``second``
    slots.give()
    assert slots.free == 1
    assert slots.waiting == 0


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="size"):
        Slots(0)
