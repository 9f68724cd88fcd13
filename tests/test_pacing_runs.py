"""Sized bulk runs: a run that can finish in the window takes the floor; runs never overcommit.

Pure and deterministic: one ``Pacer`` driven by a simulated server and an injected clock
(calls of ``concurrency`` per run in flight, answered after a fixed latency); then the
same through the public API against ``FakeSwoogo`` with frozen clocks.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import attrs
import pytest

from swoogo_async import SwoogoClient
from swoogo_async._http.pacer import BulkMark
from swoogo_async._http.pacing import FLOOR, GUARD, SIZED_FLOOR, STRAY_AFTER, Pacer
from swoogo_async.testing import FakeSwoogo, Fault

from .conftest import FAST_RETRY

LIMIT, WINDOW = 2000, 600.0  # the real budget
LATENCY = 0.01


@attrs.define
class Run:
    """A bulk run of ``size`` one-credit rows, ``concurrency`` calls in flight."""

    id: int
    size: int
    sized: bool = True
    start: float = 0.0
    concurrency: int = 8
    spent: int = 0
    answered: int = 0
    out: int = 0
    wake: float = 0.0
    finished: float | None = None

    def needs(self) -> float:
        return float(self.size - self.spent)

    def ready(self, now: float) -> bool:
        """Whether the run would send a row at ``now`` (a slot free, a row left)."""
        return (
            self.start <= now
            and self.wake <= now
            and self.out < self.concurrency
            and (self.spent < self.size)
        )

    def final(self) -> bool:
        """An unsized run knows only that its last ``concurrency`` rows are taken."""
        return self.size - self.spent <= self.concurrency


@attrs.define
class Sim:
    """A server counting each window's credits, and the one ``Pacer`` of every run."""

    pacer: Pacer = attrs.field(factory=Pacer)
    spent: dict[int, int] = attrs.field(factory=dict)  # window index -> credits spent
    answers: list[tuple[float, int, int]] = attrs.field(factory=list)  # (at, run, remaining)
    interactive_waits: list[float] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        self.pacer.reserve(1, 0.0)
        self._send(0.0, -1)

    def _send(self, now: float, run: int) -> None:
        window = int(now // WINDOW)
        self.spent[window] = self.spent.get(window, 0) + 1
        assert self.spent[window] <= LIMIT, f"a 429 at {now}"  # the server would refuse it
        heapq.heappush(self.answers, (now + LATENCY, run, LIMIT - self.spent[window]))

    def _answer(self, at: float, remaining: int) -> None:
        reset = math.ceil((int(at // WINDOW) + 1) * WINDOW - at)
        self.pacer.observe_rate((LIMIT, remaining, reset), 1, at, ok=True)

    def interactive(self, now: float, first: float) -> float | None:
        """An interactive call first asked at ``first`` asks at ``now``: when to ask again."""
        ok, delay = self.pacer.reserve(1, now, again=now > first)
        if not ok:
            return now + delay
        self._send(now, -1)
        self.interactive_waits.append(now - first)
        return None

    def run(self, runs: list[Run], interactive_at: tuple[float, ...] = ()) -> None:
        """Run ``runs`` (and interactive calls at ``interactive_at``) to their end."""
        now = 0.0
        pending = [(at, at) for at in sorted(interactive_at)]  # (asks at, first asked at)
        while any(r.finished is None for r in runs) and now < 4000.0:
            while self.answers and self.answers[0][0] <= now:
                at, run_id, remaining = heapq.heappop(self.answers)
                self._answer(at, remaining)
                for r in runs:
                    if r.id == run_id:
                        r.out -= 1
                        r.answered += 1
                        if r.answered == r.size:
                            r.finished = at
            while pending and pending[0][0] <= now:
                at, first = heapq.heappop(pending)
                again = self.interactive(now, first)
                if again is not None:
                    heapq.heappush(pending, (again, first))
            for r in runs:
                while r.ready(now):
                    ok, delay = self.pacer.reserve(
                        1,
                        now,
                        bulk=True,
                        final=not r.sized and r.final(),
                        run=r.id if r.sized else 0,
                        needs=r.needs() if r.sized else 0.0,
                    )
                    if not ok:
                        r.wake = now + delay
                        break
                    r.spent += 1
                    r.out += 1
                    self._send(now, r.id)
            times = [a[0] for a in self.answers[:1]] + [p[0] for p in pending[:1]]
            times += [max(r.wake, r.start) for r in runs if r.ready(math.inf)]
            if times:
                now = max(min(times), now)


def test_a_sized_run_of_1_9_budgets_finishes_its_second_window_at_once() -> None:
    sim = Sim()
    run = Run(1, 3800)
    sim.run([run])
    # The first window: all but the floor at once, the floor at the release; the second
    # window: the 1,800 credits left fit, so they go at once, floor included.
    assert run.finished is not None
    assert WINDOW < run.finished < WINDOW + 5.0
    assert sim.spent == {0: LIMIT, 1: 1801}  # and the first call, which learned the budget


def test_an_unsized_run_of_1_9_budgets_keeps_the_floor_until_its_last_rows() -> None:
    # Today's rule for a source of unknown size: the last window's floor is held
    # until the release, as the run learns it is ending only at its last rows.
    sim = Sim()
    run = Run(1, 3800, sized=False)
    sim.run([run])
    assert run.finished is not None
    assert run.finished > 1.5 * WINDOW


@pytest.mark.parametrize("sizes", [(300, 1100, 1200), (1300, 1300)], ids=["three", "two-equal"])
def test_overlapping_runs_that_exceed_the_window_drop_the_floor_only_as_far_as_it_goes(
    sizes: tuple[int, ...],
) -> None:
    # The least needing runs whose needs fit in the 2,000 credits together finish at
    # once (300 + 1,100; or the first of two equal runs); the last run leaves them their
    # needs and the floor, so an interactive call at any time of the window is served
    # at once, and it finishes at once in the next window (what it still needs fits).
    sim = Sim()
    runs = [Run(k + 1, size) for k, size in enumerate(sizes)]
    interactive = (0.5, 5.0, 60.0, 300.0, 590.0)
    sim.run(runs, interactive)
    *first, last = runs
    assert all(r.finished is not None and r.finished < 5.0 for r in first)
    assert sim.interactive_waits == [0.0] * len(interactive)
    assert sim.spent[0] == LIMIT  # every credit of the window spent
    assert last.finished is not None
    assert WINDOW < last.finished < WINDOW + 5.0


@pytest.mark.parametrize("sized", [True, False], ids=["sized", "unsized"])
def test_interactive_traffic_that_starts_after_a_sized_run_took_the_window_goes_at_once(
    sized: bool,
) -> None:
    # 1.5 credits a second (75 % of the rate a sized run's floor serves, 150 % of an
    # unsized run's) start 100 s into a window a bulk run of 2.5 budgets took.
    sim = Sim()
    run = Run(1, 5000, sized=sized)
    interactive = tuple(100.0 + k / 1.5 for k in range(600))
    sim.run([run], interactive)
    if sized:
        assert max(sim.interactive_waits) == 0.0
    else:
        assert max(sim.interactive_waits) > 10.0  # once the smaller floor runs out
    assert run.finished is not None
    assert run.finished < 3 * WINDOW


def test_runs_that_each_fit_but_not_together_do_not_all_take_the_floor() -> None:
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe_rate((100, 100, 10), 1, 0.0, ok=True)
    # Each needs 60 of the 100: the first (least needing, then by id) takes its 60
    # at once; the other leaves those and its floor, so it takes nothing yet.
    assert all(pacer.reserve(1, 0.0, bulk=True, run=1, needs=60 - k)[0] for k in range(60))
    ok, delay = pacer.reserve(1, 0.0, bulk=True, run=2, needs=60)
    assert not ok
    # It waits until the floor it leaves has shrunk to the 40 left, then takes them as
    # the floor shrinks, the rest at the release.
    assert delay == pytest.approx(9.5 - 39 / (SIZED_FLOOR * 10))
    assert pacer.available == 40  # interactive calls still find more than the floor
    assert pacer.available > FLOOR * 10 * 9.5


def test_a_run_that_goes_silent_is_forgotten() -> None:
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe_rate((100, 100, 600), 1, 0.0, ok=True)
    while pacer.reserve(1, 0.0, bulk=True)[0]:
        pass  # an unsized run leaves only the floor
    assert pacer.available == 30
    # A run needing 20 asks once, then dies; another needing 25 leaves it its needs
    # (together they do not fit), until it has been silent for STRAY_AFTER.
    assert pacer.reserve(1, 0.0, bulk=True, run=7, needs=20)[0]
    assert not pacer.reserve(1, 1.0, bulk=True, run=9, needs=25)[0]
    assert not pacer.reserve(1, 1.0 + STRAY_AFTER, bulk=True)[0]  # the floor still holds
    # Forgotten, it is left nothing; it took this window's floor, so run 9 waits for
    # that to shrink to the 28 spare (not to the 9 left beside run 7's needs).
    now = 1.0 + STRAY_AFTER + GUARD
    ok, delay = pacer.reserve(1, now, bulk=True, run=9, needs=25)
    assert not ok
    assert 7 not in pacer.runs
    assert delay == pytest.approx(599.5 - 28 / (SIZED_FLOOR * 100 / 600) - now)


# -- through the public API ----------------------------------------------------------------
# Both clocks stand still: the window never resets and the floor never shrinks, so a run
# ends only if its calls may take the floor. A sized run may as soon as what it needs
# fits; an unsized one only for its last ``concurrency`` rows (here it would wait for
# ever with a dozen rows still to send).


def _row(i: int) -> dict[str, Any]:
    return {"event_id": 7, "name": f"Talk {i}", "date": "2026-06-01", "start_time": "09:00"}


@pytest.mark.parametrize("kind", ["create_many", "sync"])
async def test_a_sized_run_takes_the_floor_at_once_when_it_fits(kind: str) -> None:
    rows = [_row(i) for i in range(55)]
    async with (
        FakeSwoogo(rate_limit=70, rate_window=600.0, clock=lambda: 0.0) as server,
        SwoogoClient(server.api_key, server.api_secret, base_url=server.base_url) as client,
    ):
        assert client._core.pipeline.pacer is not None
        client._core.pipeline.pacer._clock = lambda: 0.0
        pacer = client._core.pipeline.pacer.pacer
        if kind == "create_many":
            run = client.sessions.create_many(rows, concurrency=4)
        else:  # reads the event's sessions first (a list call: 10 credits)
            run = client.sessions.sync(rows, event_id=7, concurrency=4)
        async with run:
            results = [result async for result in run]
        assert sorted(r.status for r in results) == ["created"] * 55
        # It took the floor, which other bulk calls may not take yet.
        assert pacer.available < pacer.held_back(0.0)
        assert pacer.runs == {}  # a run that needs no more is forgotten


def test_a_bulk_mark_counts_what_its_run_still_needs() -> None:
    mark = BulkMark()
    assert mark.needs() is None  # unsized until told
    mark.size(12)
    mark.size(10)  # the smallest count holds (the CLI's count, then the scan's)
    assert mark.needs() == 10
    mark.skip()  # a row settled without a call
    for _ in range(5):
        mark.called()
    for _ in range(3):
        mark.finished()  # whatever the credits its calls took (retries, lookups)
    assert mark.needs() == 6
    mark.end(5)  # the source is exhausted: 5 rows went to a call, 3 of them finished
    assert mark.needs() == 2
    grown = BulkMark()
    grown.size(2)
    for _ in range(3):
        grown.called()  # one row more than its size: the size was wrong
    assert grown.needs() is None
    assert not mark.final
    unsized = BulkMark()
    unsized.end()
    assert unsized.final
    assert unsized.needs() is None


# -- a size that turns out wrong ---------------------------------------------------------
# The credits a run still needs count rows, not grants: retried attempts and the lookups
# of a create that may have acted cost credits no row count foresaw, and a list can grow
# while it is read. Before, either made the run tell the pacer it needed nothing while
# rows were still to send, so every later call took the floor as a run about to finish.


def _told_needs(client: SwoogoClient) -> list[float]:
    """Record the needs each sized bulk reservation tells the pacer."""
    assert client._core.pipeline.pacer is not None
    pacer = client._core.pipeline.pacer.pacer
    told: list[float] = []
    reserve = pacer.reserve

    def recording(cost: int, now: float, *args: Any, **kwargs: Any) -> tuple[bool, float]:
        if kwargs.get("run") and not kwargs.get("final"):  # an unsized run's last: no needs
            told.append(kwargs["needs"])
        return reserve(cost, now, *args, **kwargs)

    pacer.reserve = recording  # type: ignore[method-assign]
    return told


async def test_retried_rows_do_not_make_a_sized_run_say_it_needs_nothing() -> None:
    rows = [_row(i) for i in range(12)]
    async with (
        FakeSwoogo(rate_limit=1000, rate_window=600.0) as server,
        SwoogoClient(
            server.api_key, server.api_secret, base_url=server.base_url, retry=FAST_RETRY
        ) as client,
    ):
        # Creates fail before the server acts: a lookup (10 credits) and another attempt
        # follow (the first rows may end unknown: not what is tested here).
        server.inject("POST /sessions/create", Fault(status=503), times=6)
        told = _told_needs(client)
        async with client.sessions.create_many(rows, concurrency=1) as run:
            results = [result async for result in run]
        assert len(results) == 12
        assert server.rate_limited == 0
        assert len(told) > 12  # the retries and lookups asked too
        # One row in flight at a time: each call says what its row and those after need.
        assert told[0] == 12
        assert min(told) == 1
        assert told[-1] == 1


async def test_a_list_that_grows_while_it_is_read_is_no_longer_sized() -> None:
    rows = [_row(i) for i in range(5)]

    def grow(progress: Any) -> None:
        if len(rows) < 20:
            rows.append(_row(len(rows)))

    async with (
        FakeSwoogo(rate_limit=1000, rate_window=600.0) as server,
        SwoogoClient(server.api_key, server.api_secret, base_url=server.base_url) as client,
    ):
        told = _told_needs(client)
        async with client.sessions.create_many(rows, concurrency=1, on_progress=grow) as run:
            results = [result async for result in run]
        assert sorted(r.status for r in results) == ["created"] * 20
        # The five rows it was sized by are told; the rows beyond them go as an unsized
        # run's (its last ones final), never as a run that needs nothing more.
        assert told == [5.0, 4.0, 3.0, 2.0, 1.0]


class _Uncountable:
    """Rows whose length cannot be told (a lazy source's ``__len__`` that refuses)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows

    def __iter__(self) -> Any:
        return iter(self._rows)

    def __len__(self) -> int:
        raise TypeError("the length is known only once read")


async def test_a_source_that_cannot_tell_its_length_runs_unsized() -> None:
    # A size is only a hint to the pacer: a source that is read fine is never refused
    # for it (before, create_many raised the TypeError of its __len__).
    async with (
        FakeSwoogo(rate_limit=1000, rate_window=600.0) as server,
        SwoogoClient(server.api_key, server.api_secret, base_url=server.base_url) as client,
    ):
        told = _told_needs(client)
        summary = await client.sessions.create_many(
            _Uncountable([_row(i) for i in range(3)])
        ).summary()
        assert summary.created == 3
        assert told == []


def _batches(pacer: Pacer, sized: bool, first: int, now: float) -> float:
    """Run 40 batches of 5 rows (create_many jobs, one after another) from ``now``."""
    for batch in range(first, first + 40):
        for k in range(5):
            needs = float(5 - k) if sized else 0.0
            if pacer.reserve(1, now, bulk=True, final=not sized, run=batch, needs=needs)[0]:
                pacer.observe_rate((100, int(pacer.available), 10), 1, now, ok=True)
        now += 0.01
    return now


@pytest.mark.parametrize("sized", [True, False], ids=["sized", "unsized"])
def test_a_stream_of_small_runs_does_not_take_the_floor_window_after_window(sized: bool) -> None:
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe_rate((100, 99, 10), 1, 0.0, ok=True)
    _batches(pacer, sized, 1, 0.0)
    # One batch took 5 credits of the floor; the others wait for it to shrink. Web
    # traffic that starts now (no demand seen) finds the rest of it.
    floor = (SIZED_FLOOR if sized else FLOOR) * 10 * (9.5 - 0.4)
    assert floor - 5 <= pacer.available < floor + 1
    assert pacer.reserve(1, 1.0) == (True, 0.0)
    # A later window (the refused batches given up, so forgotten): another batch (one
    # only) may take its floor.
    later = 10.0 * math.ceil(STRAY_AFTER / 10.0 + 1.0)
    pacer.observe_rate((100, 100, 10), 0, later, ok=True)
    _batches(pacer, sized, 100, later)
    assert floor - 5 <= pacer.available < floor + 1
    assert pacer.took is not None
    assert len(pacer.took) == 1
    assert min(pacer.took) >= 100


async def test_a_syncs_read_of_its_event_is_bulk_work_not_interactive_demand() -> None:
    # The read (a list call: 10 credits) is part of the run. Counted as interactive, it
    # made bulk work hold back twice its rate for web traffic that was never there (more
    # than the whole budget's rate on a 10-s window, for seconds), and went out ahead of
    # other runs' bulk work.
    rows = [_row(i) for i in range(6)]
    async with (
        FakeSwoogo(rate_limit=100, rate_window=10.0) as server,
        SwoogoClient(server.api_key, server.api_secret, base_url=server.base_url) as client,
    ):
        assert client._core.pipeline.pacer is not None
        pacer = client._core.pipeline.pacer.pacer
        kinds: list[bool] = []
        reserve = pacer.reserve

        def recording(cost: int, now: float, *args: Any, **kwargs: Any) -> tuple[bool, float]:
            kinds.append(bool(kwargs.get("bulk")))
            return reserve(cost, now, *args, **kwargs)

        pacer.reserve = recording  # type: ignore[method-assign]
        summary = await client.sessions.sync(rows, event_id=7, concurrency=2).summary()
        assert summary.created == 6
        assert kinds
        assert all(kinds)
        assert pacer.demand == 0.0


def test_a_run_that_took_the_floor_is_not_stalled_by_one_that_came_later() -> None:
    """A run that arrives after the window's floor was taken cannot take it, so it must
    not count among the runs finishing: else, needing less, it pushes the run that took
    the floor out of them, and both wait for the release."""
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe_rate((100, 100, 600), 1, 0.0, ok=True)
    while pacer.reserve(1, 0.0, bulk=True)[0]:
        pass  # an unsized run leaves only the floor
    assert pacer.reserve(1, 1.0, bulk=True, run=7, needs=20) == (True, 0.0)
    assert pacer.took == frozenset({7})
    assert not pacer.reserve(1, 2.0, bulk=True, run=9, needs=15)[0]  # after: it waits
    for left in range(19, 0, -1):  # run 7 still finishes at once, beside run 9's needs
        assert pacer.reserve(1, 2.0, bulk=True, run=7, needs=left) == (True, 0.0), left
    assert pacer.took == frozenset({7})
    assert 7 not in pacer.runs


@pytest.mark.parametrize("told", [True, False], ids=["answer", "rollover"])
@pytest.mark.parametrize(
    "dies",
    [
        1.0,
        WINDOW - STRAY_AFTER / 2,  # so it is not forgotten as silent before the reset
    ],
    ids=["early", "near-the-reset"],
)
def test_a_run_that_took_the_floor_and_died_holds_it_for_its_window_only(
    told: bool, dies: float
) -> None:
    """The window's floor is held for a dead run that took it until the window ends; the
    next window (whether an answer tells of it or the pacer rolls over on its own) lets
    another run take its floor at once, and the dead run is not among those that took it."""
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe_rate((LIMIT, LIMIT, int(WINDOW)), 1, 0.0, ok=True)
    while pacer.reserve(1, dies, bulk=True)[0]:
        pass  # bulk work took the window but the floor
    assert pacer.reserve(1, dies, bulk=True, run=5, needs=10) == (True, 0.0)  # then dies
    assert pacer.took == frozenset({5})
    assert not pacer.reserve(1, dies, bulk=True, run=6, needs=5)[0]  # held for run 5
    now = WINDOW + GUARD
    if told:
        pacer.observe_rate((LIMIT, LIMIT, int(WINDOW)), 0, now, ok=True)
    while pacer.reserve(1, now, bulk=True)[0]:
        pass
    assert pacer.took is None
    for left in range(5, 0, -1):
        assert pacer.reserve(1, now, bulk=True, run=6, needs=left) == (True, 0.0), left
    assert pacer.took == frozenset({6})
