"""Pure tests of the retry rule, the pacer and the reconciliation helpers."""

from __future__ import annotations

import asyncio
import datetime as dt
import math

import pytest

from swoogo_async import (
    ConnectError,
    ConnectionLostError,
    RateLimit,
    RateLimitState,
    ReadTimeoutError,
    ResponseTooLargeError,
    RetryPolicy,
    Session,
)
from swoogo_async._exceptions import SwoogoError, make_status_error
from swoogo_async._http.pacer import _BULK, BulkMark, bulk_pacing
from swoogo_async._http.pacing import (
    FLOOR,
    GUARD,
    HEADROOM,
    MAX_WINDOW,
    MIN_BLOCK,
    PROBE_AFTER,
    STRAY_AFTER,
    Pacer,
    read_rate_headers,
)
from swoogo_async._http.retry import parse_retry_after
from swoogo_async._writes.create import KeyedLocks, RecentClaims, fingerprint
from swoogo_async._writes.lookup import lookup_search, pick_match

POLICY = RetryPolicy(
    max_attempts=4, backoff_base=1.0, backoff_cap=3.0, deadline=30.0, max_server_wait=20.0
)


def _status(status: int, retry_after: float | None = None) -> SwoogoError:
    return make_status_error(
        status=status, method="GET", url="u", raw=b"{}", retry_after=retry_after
    )


def _gives_up(error: SwoogoError, *, idempotent: bool = True) -> bool:
    return POLICY.gives_up(error, idempotent=idempotent)


def _waits(
    errors: list[SwoogoError],
    *,
    budget: float = 30.0,
    rand: float = 1.0,
    clock: list[float] | None = None,
) -> list[float]:
    """Drive ``POLICY.waits`` as backoff does: prime it, then send each error in."""
    now = clock if clock is not None else [0.0]
    waits = POLICY.waits(deadline=now[0] + budget, clock=lambda: now[0], rand=lambda: rand)
    waits.send(None)
    out: list[float] = []
    for error in errors:
        try:
            out.append(waits.send(error))
        except StopIteration:
            break
    return out


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_reads_and_updates_retry_on_transient_statuses(status: int) -> None:
    assert not _gives_up(_status(status))
    assert _waits([_status(status)]) == [1.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 415, 422, 501])
def test_client_errors_are_not_retried(status: int) -> None:
    assert _gives_up(_status(status))


@pytest.mark.parametrize(
    "error",
    [
        ConnectError("x", method="GET", url="u"),
        ReadTimeoutError("x", method="GET", url="u"),
        ConnectionLostError("x", method="GET", url="u"),
    ],
)
def test_transport_errors_retry_for_idempotent_calls(error: SwoogoError) -> None:
    assert not _gives_up(error)


def test_creates_retry_only_when_the_server_certainly_did_not_act() -> None:
    assert not _gives_up(ConnectError("x", method="POST", url="u"), idempotent=False)
    assert not _gives_up(_status(429), idempotent=False)
    for error in (
        ReadTimeoutError("x", method="POST", url="u"),
        ConnectionLostError("x", method="POST", url="u"),
        _status(500),
        _status(503),
    ):
        assert _gives_up(error, idempotent=False)


def test_a_response_too_large_is_never_retried() -> None:
    error = ResponseTooLargeError(method="GET", url="u", status=200, limit=10)
    assert _gives_up(error)


def test_backoff_is_full_jitter_capped_exponential() -> None:
    assert _waits([_status(503)] * 5) == [1, 2, 3, 3, 3]
    assert _waits([_status(503)] * 3, rand=0.25) == [0.25, 0.5, 0.75]


def test_server_requested_wait_is_honoured_up_to_the_cap() -> None:
    assert _waits([_status(429, retry_after=7.0), _status(503)]) == [7.0, 2.0]
    assert _gives_up(_status(429, retry_after=21.0))


@pytest.mark.parametrize("hint", [0.0, None])
def test_a_429_saying_retry_now_still_waits_out_the_backoff(hint: float | None) -> None:
    # Retry-After: 0, or a reset in the past (parsed as 0): never a reason to hammer.
    assert _waits([_status(429, retry_after=hint)] * 3, rand=0.0) == [0.5, 1.0, 1.5]
    assert _waits([_status(429, retry_after=hint)] * 3, rand=1.0) == [1.0, 2.0, 3.0]
    assert _waits([_status(429, retry_after=0.7)], rand=0.0) == [0.7]


def test_a_429_with_a_zero_reset_blocks_for_a_minimum() -> None:
    pacer = Pacer()
    pacer.limited(0.0, 0, 10.0)
    assert pacer.blocked_until == 10.0 + MIN_BLOCK
    ok, delay = pacer.reserve(1, 10.0)
    assert not ok
    assert delay == pytest.approx(MIN_BLOCK)
    assert pacer.reserve(1, 10.0 + MIN_BLOCK) == (True, 0.0)


def test_the_deadline_stops_the_waits() -> None:
    clock = [0.0]
    waits = POLICY.waits(deadline=10.0, clock=lambda: clock[0], rand=lambda: 1.0)
    waits.send(None)
    assert waits.send(_status(503)) == 1.0
    clock[0] = 8.0  # 8 s + the next 2 s wait reaches the deadline
    with pytest.raises(StopIteration):
        waits.send(_status(503))
    assert _waits([_status(429, retry_after=9.0)], budget=9.0) == []
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


def test_parse_retry_after() -> None:
    assert parse_retry_after({"Retry-After": "3", "X-Rate-Limit-Reset": "9"}) == 3.0
    assert parse_retry_after({"X-Rate-Limit-Reset": "9"}) == 9.0
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480) == 10
    assert parse_retry_after({}) is None
    assert parse_retry_after({"X-Rate-Limit-Reset": "soon"}) is None


def _headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {
        "X-Rate-Limit-Limit": str(limit),
        "X-Rate-Limit-Remaining": str(remaining),
        "X-Rate-Limit-Reset": str(reset),
    }


def test_pacer_probes_once_then_follows_the_headers() -> None:
    pacer = Pacer()
    assert pacer.reserve(1, 0.0) == (True, 0.0)
    assert pacer.reserve(1, 0.0) == (False, 1.0)  # wait for the probe (at most its patience)
    pacer.observe(_headers(100, 99, 10), 1, 0.1)
    assert pacer.available == 99
    # Interactive calls spend what is left at full speed, down to the last credit.
    for _ in range(99):
        assert pacer.reserve(1, 0.2) == (True, 0.0)
    spent, delay = pacer.reserve(1, 0.2)
    assert not spent  # nothing left in this window: wait for the reset
    assert delay == pytest.approx(10.1 - 0.2 + 0.05)
    for _ in range(99):
        pacer.observe(_headers(100, 0, 10), 1, 0.3)
    assert pacer.reserve(10, 10.3) == (True, 0.0)  # new window
    assert pacer.available == 90


def test_callers_behind_a_probe_after_a_block_wait_for_it_rather_than_spin() -> None:
    # A 429 before any budget was known; once the block ends one probe goes out and the
    # others wait for its answer (at most its patience): never a negative wait, which
    # had them re-ask every millisecond (a Redis command each, with shared state).
    pacer = Pacer()
    assert pacer.reserve(1, 0.0) == (True, 0.0)
    pacer.limited(5.0, 1, 0.5)
    assert pacer.reserve(1, 5.5) == (True, 0.0)  # the probe
    ok, delay = pacer.reserve(1, 5.8)
    assert not ok
    assert delay == pytest.approx(0.7)


def test_with_others_spending_unseen_bulk_calls_go_out_one_at_a_time() -> None:
    # A process whose shared state is away: the server's Remaining is the only view of
    # what the others spend, so each bulk call waits for the answer of the one before.
    pacer = Pacer()
    pacer.others_unseen = True
    pacer.reserve(1, 0.0)
    pacer.observe(_headers(100, 99, 10), 1, 0.0)
    assert pacer.reserve(1, 0.1, bulk=True, final=True) == (True, 0.0)
    assert pacer.reserve(1, 0.1, bulk=True, final=True)[0] is False
    assert pacer.reserve(1, 0.1) == (True, 0.0)  # interactive calls are not held
    pacer.observe(_headers(100, 40, 10), 1, 0.2)  # the others spent meanwhile
    pacer.observe(_headers(100, 39, 10), 1, 0.2)
    assert pacer.reserve(1, 0.3, bulk=True, final=True) == (True, 0.0)
    assert pacer.available == 38


def _refused(result: tuple[bool, float]) -> float:
    """Return the wait of a refused reservation."""
    ok, delay = result
    assert not ok
    return delay


def test_a_wait_for_a_probes_answer_is_a_guess_cut_to_the_deadline_never_a_refusal() -> None:
    # When the answer comes is unknown: a call with a short deadline is told to wait
    # at most its deadline (for the answer), not a wait past it (a refusal up front).
    pacer = Pacer()
    assert pacer.reserve(1, 0.0) == (True, 0.0)  # the probe
    assert _refused(pacer.reserve(1, 0.1, within=0.3)) == pytest.approx(0.3)
    assert _refused(pacer.reserve(1, 0.1)) == pytest.approx(0.9)  # no deadline: the patience
    assert pacer.reserve(1, 0.4, within=-0.1) == (False, 0.0)  # past its deadline: not negative
    pacer.observe(_headers(100, 99, 10), 1, 0.35)  # the answer shows budget: it goes
    assert pacer.reserve(1, 0.35, within=0.05) == (True, 0.0)
    # An absurd 429's block: the wait for its probe is known (none before PROBE_AFTER),
    # then the wait for the probe's answer is a guess again.
    pacer.limited(3600.0, 1, 1.0)
    assert _refused(pacer.reserve(1, 2.0, within=0.5)) == pytest.approx(PROBE_AFTER - 1.0)
    assert pacer.reserve(1, 1.0 + PROBE_AFTER) == (True, 0.0)
    assert _refused(pacer.reserve(1, 1.2 + PROBE_AFTER, within=0.5)) == pytest.approx(0.5)


def test_a_wait_known_to_pass_the_deadline_is_still_refused_up_front() -> None:
    # The budget spent until the reset (2 s away): a call with a 0.5 s deadline is told
    # the whole wait, which the client turns into a refusal without waiting.
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe(_headers(100, 1, 2), 1, 0.0)
    assert pacer.reserve(1, 0.0, within=0.5) == (True, 0.0)
    assert _refused(pacer.reserve(1, 0.0, within=0.5)) == pytest.approx(2.0 + GUARD)


def test_a_bulk_call_behind_an_unseen_spenders_answer_waits_up_to_its_deadline() -> None:
    pacer = Pacer()
    pacer.others_unseen = True
    pacer.reserve(1, 0.0)
    pacer.observe(_headers(100, 99, 10), 1, 0.0)
    assert pacer.reserve(1, 0.1, bulk=True, final=True) == (True, 0.0)
    assert _refused(pacer.reserve(1, 0.1, 0.2, bulk=True, final=True)) == pytest.approx(0.2)
    pacer.observe(_headers(100, 98, 10), 1, 0.2)
    assert pacer.reserve(1, 0.2, 0.1, bulk=True, final=True) == (True, 0.0)


def test_a_reservation_unanswered_for_a_whole_window_is_presumed_lost() -> None:
    # A reservation nobody will answer (its command ran in a frozen Redis after its
    # caller gave up): before, it shrank every later window while grants went on.
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe(_headers(100, 100, 10), 1, 0.0)
    for _ in range(50):
        assert pacer.reserve(1, 1.0, bulk=True) == (True, 0.0)  # never answered
    assert pacer.reserve(1, 10.1, bulk=True) == (True, 0.0)  # roll: those 50 may land here
    assert pacer.available == 100 - 50 - 1
    pacer.observe(_headers(100, 49, 10), 1, 10.2)
    for second in range(11, 20):  # grants go on, a few a second, each answered
        assert pacer.reserve(1, float(second), bulk=True)[0]
        pacer.observe(_headers(100, 40, 20 - second), 1, second + 0.1)
    assert pacer.reserve(1, 20.2, bulk=True) == (True, 0.0)  # the next roll forgets them
    # At most this window's own ten reservations are still counted (was 100 - 50 - 1).
    assert pacer.available == 100 - 10 - 1


def test_a_new_window_the_server_reports_also_forgets_lost_reservations() -> None:
    # The same rule when an answer, not our own clock, shows the next window: before,
    # fifty lost reservations kept every such window at half its size.
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe(_headers(100, 100, 10), 1, 0.0)
    for _ in range(50):
        assert pacer.reserve(1, 1.0, bulk=True)[0]  # never answered
    for window in range(1, 4):
        now = 10.0 * window + 0.01
        assert pacer.reserve(1, now - 0.02, bulk=True)[0]  # just before the server's reset
        pacer.observe(_headers(100, 99, 10), 1, now)  # its answer: a new window
    assert pacer.available == 99 - 1  # at most the ending window's one grant still counted


def _known(limit: int = 100, reset: int = 10, now: float = 0.0) -> Pacer:
    pacer = Pacer()
    pacer.reserve(1, now)
    pacer.observe(_headers(limit, limit, reset), 1, now)
    return pacer


def test_bulk_work_alone_spends_every_window_fully() -> None:
    pacer = _known()
    for window in range(3):
        assert pacer.reset_at is not None
        start = pacer.reset_at + GUARD if window else 0.0
        granted = 0
        while pacer.reserve(1, start, bulk=True) == (True, 0.0):
            granted += 1
        assert pacer.reset_at is not None
        releases = pacer.reset_at - 0.5  # nothing is held back in the final half second
        # All but the floor (FLOOR of the budget's rate until then) at once...
        assert granted == 100 - math.ceil(FLOOR * 100 / 10 * (releases - start))
        # ...the floor as it shrinks, and the rest in the window's final half second.
        ok, delay = pacer.reserve(1, start + 5.0, bulk=True)
        assert ok or 0.0 < delay < 1.0
        now = releases
        while pacer.reserve(1, now, bulk=True)[0]:
            pass
        assert pacer.available < 1  # every credit of the window spent
        for _ in range(100):
            pacer.observe(_headers(100, 0, 1), 1, now)


def test_an_interactive_call_after_bulk_took_the_rest_goes_at_once() -> None:
    pacer = _known()
    while pacer.reserve(1, 0.0, bulk=True)[0]:
        pass
    # No interactive demand was seen: the floor, FLOOR of the rate until the release.
    assert pacer.available == math.ceil(FLOOR * 10 * 9.5)
    # Interactive traffic that starts now, at up to that rate, is served at once.
    for k in range(28):
        assert pacer.reserve(1, 0.5 + k / 3) == (True, 0.0)
    # Bulk work waits meanwhile: the demand seen is held back on top of the floor.
    assert not pacer.reserve(1, 5.0, bulk=True)[0]


def test_the_floor_shrinks_to_nothing_in_the_window_final_half_second() -> None:
    pacer = _known()
    while pacer.reserve(1, 0.0, bulk=True)[0]:
        pass
    while pacer.reserve(1, 5.0, bulk=True)[0]:
        pass  # the floor has shrunk: what it no longer holds back goes
    assert pacer.available == math.ceil(FLOOR * 10 * 4.5)
    ok, delay = pacer.reserve(1, 5.0, bulk=True)
    assert not ok
    spare = pacer.available - 1
    assert 5.0 + delay == pytest.approx(9.5 - spare / (FLOOR * 10))
    assert pacer.reserve(1, 9.5, bulk=True) == (True, 0.0)
    while pacer.reserve(1, 9.5, bulk=True)[0]:
        pass
    assert pacer.available == 0
    # An interactive call that arrives once bulk took it all waits at most for the reset.
    ok, delay = pacer.reserve(1, 9.5)
    assert not ok
    assert delay <= 0.5 + GUARD


def test_a_bulk_run_final_calls_take_the_floor_at_once() -> None:
    pacer = _known()
    while pacer.reserve(1, 0.0, bulk=True)[0]:
        pass
    floor = pacer.available
    assert floor > 0
    assert all(pacer.reserve(1, 0.5, bulk=True, final=True) == (True, 0.0) for _ in range(29))
    assert not pacer.reserve(1, 0.5, bulk=True, final=True)[0]  # the window is spent
    # The demand seen is still left to interactive calls by a run's final calls.
    seen = _known()
    seen.reserve(1, 0.0)
    assert seen.held_back(0.0, final=True) > 0
    assert not all(seen.reserve(1, 0.0, bulk=True, final=True)[0] for _ in range(99))


def test_a_bulk_mark_wakes_its_waiters_when_it_ends() -> None:
    async def main() -> bool:
        mark = BulkMark()
        ended = mark.ended()
        assert not ended.done()
        mark.end()
        await ended
        return mark.final and mark.ended().done()

    assert asyncio.run(main())


def test_bulk_work_leaves_the_interactive_demand_seen_its_share() -> None:
    pacer = _known(reset=10)
    # Interactive calls, one every half second for a few seconds, then bulk work.
    for k in range(8):
        assert pacer.reserve(1, k * 0.5) == (True, 0.0)
    now = 4.0
    held = pacer.held_back(now, final=True)
    rate = pacer.interactive_rate(now)
    assert held == pytest.approx(HEADROOM * rate * 5.5)
    assert held > 4.0  # about what the interactive calls will need until the reset
    granted = 0
    while pacer.reserve(1, now, bulk=True, final=True)[0]:
        granted += 1
    assert pacer.available == pytest.approx(math.ceil(held), abs=1)
    # Refused bulk work is not booked: an interactive call still goes out at once...
    assert pacer.reserve(1, now) == (True, 0.0)
    # ...and bulk work is told when the share will have shrunk enough for it.
    ok, delay = pacer.reserve(1, now, bulk=True, final=True)
    assert not ok
    assert 0.0 < delay < 6.0
    assert pacer.reserve(1, now + delay, bulk=True, final=True)[0]
    assert granted == 100 - 8 - pacer.available - 2


def test_the_share_held_back_shrinks_to_nothing_without_interactive_calls() -> None:
    pacer = _known(reset=10)
    pacer.reserve(1, 0.0)
    assert pacer.held_back(0.0) > 0
    # Long after the last interactive call, the next window holds (almost) nothing back.
    pacer.observe(_headers(100, 0, 10), 1, 0.1)
    assert pacer.interactive_rate(60.0) < 1e-9
    assert pacer.held_back(60.0) < 1e-6
    # A configured reserve is a floor held back on top of the demand seen.
    floor = Pacer(reserve=0.1)
    floor.reserve(1, 0.0)
    floor.observe(_headers(100, 100, 10), 1, 0.0)
    # (Both are held until the window's final half second.)
    assert floor.held_back(0.0) == pytest.approx((0.1 + FLOOR) * 10 * 9.5)
    assert floor.held_back(9.0) == pytest.approx((0.1 + FLOOR) * 10 * 0.5)
    assert floor.held_back(9.0, final=True) == 0.0


def test_a_new_window_leaves_out_the_reservations_still_unanswered() -> None:
    pacer = _known(reset=10)
    for _ in range(95):
        pacer.reserve(1, 0.0, bulk=True, final=True)
    for _ in range(90):
        pacer.observe(_headers(100, 5, 10), 1, 0.2)
    for _ in range(5):
        assert pacer.reserve(1, 9.9, bulk=True, final=True)[0]  # sent just before the reset
    # Ten answers are still out: they may reach the server in its new window.
    assert pacer.reserve(1, 10.0 + GUARD, bulk=True, final=True)[0]
    assert pacer.available == 100 - 10 - 1
    # A holder that never answers is forgotten after a while.
    stale = _known(reset=10)
    stale.reserve(5, 0.0)
    assert stale.reserve(1, 10.0 + STRAY_AFTER + 1.0)[0]
    assert stale.available == 99


def test_an_unlimited_budget_is_never_paced() -> None:
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe(_headers(10**9, 10**9, 600), 1, 0.0)
    assert all(pacer.reserve(1, 0.0, bulk=True) == (True, 0.0) for _ in range(10_000))


def test_one_long_429_blocks_briefly_then_a_probe_heals_the_client() -> None:
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe(_headers(2000, 1500, 300), 1, 0.0)
    pacer.reserve(1, 1.0)
    pacer.limited(3600.0, 1, 1.0)  # a gateway's "come back in an hour": absurd
    assert pacer.blocked_until == 1.0 + MAX_WINDOW  # capped at the window
    ok, delay = pacer.reserve(1, 1.0, within=2.0)
    assert not ok  # fail fast for a short deadline
    assert delay == pytest.approx(PROBE_AFTER)
    # After a short while one call (and only one) asks the server again.
    assert pacer.reserve(1, 1.0 + PROBE_AFTER) == (True, 0.0)
    assert pacer.reserve(1, 1.0 + PROBE_AFTER)[0] is False
    pacer.observe(_headers(2000, 1400, 200), 1, 1.5 + PROBE_AFTER)
    assert pacer.blocked_until == 0.0
    assert pacer.reserve(1, 2.0 + PROBE_AFTER) == (True, 0.0)
    assert pacer.available == 1399


@pytest.mark.parametrize("window", [10, None], ids=["window-known", "window-unknown"])
def test_a_429_within_the_window_is_waited_out_without_probing(window: int | None) -> None:
    pacer = Pacer()
    if window is not None:
        pacer.reserve(1, 0.0)
        pacer.observe(_headers(100, 50, window), 1, 0.0)
    pacer.limited(8.0, 0, 1.0)
    # No probe inside the block: every caller waits for the reset the server gave.
    for t in (1.0, 1.0 + PROBE_AFTER, 8.9):
        ok, delay = pacer.reserve(1, t)
        assert not ok
        assert delay == pytest.approx(9.0 - t)
    assert pacer.reserve(1, 9.0 + GUARD)[0]


def test_a_probe_that_meets_another_429_renews_the_block() -> None:
    pacer = _known(reset=10)
    pacer.limited(60.0, 0, 0.0)  # longer than the 10-s window: absurd, so probe
    assert pacer.reserve(1, PROBE_AFTER) == (True, 0.0)
    pacer.limited(55.0, 1, PROBE_AFTER)
    ok, delay = pacer.reserve(1, PROBE_AFTER + 1.0)
    assert not ok
    assert delay == pytest.approx(PROBE_AFTER - 1.0)
    # A probe that gets no answer lets the next caller probe.
    assert pacer.reserve(1, 2 * PROBE_AFTER)[0]
    pacer.release(1, sent=True)
    assert pacer.reserve(1, 2 * PROBE_AFTER)[0]


def test_pacer_never_raises_its_estimate_from_a_late_response() -> None:
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe(_headers(100, 50, 10), 1, 0.0)
    pacer.observe(_headers(100, 80, 10), 0, 0.5)  # stale: same window
    assert pacer.available == 50
    pacer.limited(4.0, 1, 1.0)
    assert pacer.reserve(1, 2.0)[0] is False


def test_a_late_answer_from_the_previous_window_does_not_open_a_second_budget() -> None:
    pacer = Pacer()
    assert pacer.reserve(1, 0.0)[0]
    pacer.observe(_headers(10, 9, 10), 1, 0.0)  # the server's window ends at 10
    for _ in range(9):
        assert pacer.reserve(1, 1.0)[0]  # one of them is answered only after the reset
    for _ in range(8):
        pacer.observe(_headers(10, 1, 9), 1, 2.0)
    assert pacer.reserve(1, 10.1)[0]  # past the reset: the pacer rolls into a new window
    rolled_reset = pacer.reset_at
    # The late answer was counted in the old window and says so: reset in 0 s.
    pacer.observe(_headers(10, 0, 0), 1, 10.2)
    assert pacer.reset_at == rolled_reset  # the new window's end is not pulled in
    # So no second budget opens a second later, inside the server's new window.
    # (The answer still out at the reset was kept out of the new window's budget.)
    granted = sum(pacer.reserve(1, 11.5)[0] for _ in range(20))
    assert granted == 8


@pytest.mark.parametrize(
    "headers",
    [
        {
            "X-Rate-Limit-Limit": "2000",
            "X-Rate-Limit-Remaining": "12.0",
            "X-Rate-Limit-Reset": "9.5",
        },
        {"X-Rate-Limit-Limit": "2000", "X-Rate-Limit-Remaining": "nan", "X-Rate-Limit-Reset": "3"},
        {"X-Rate-Limit-Limit": "1e400", "X-Rate-Limit-Remaining": "5", "X-Rate-Limit-Reset": "3"},
        {"X-Rate-Limit-Remaining": "5", "X-Rate-Limit-Reset": "3"},
    ],
)
def test_the_pacer_and_the_hooks_read_the_rate_headers_alike(headers: dict[str, str]) -> None:
    # One reader: what a hook sees (RateLimitState) is what the pacer paces by.
    state = RateLimitState.from_headers(headers)
    paced = read_rate_headers(headers)
    if None in (state.limit, state.remaining, state.reset):
        assert paced is None
    else:
        assert state.reset is not None
        assert paced == (state.limit, state.remaining, int(state.reset))


@pytest.mark.parametrize(("limit", "remaining", "reset"), [(0, 0, 0), (0, 39, 4), (-5, 3, 3)])
def test_a_limit_of_zero_is_no_budget_and_never_locks_the_client_out(
    limit: int, remaining: int, reset: int
) -> None:
    assert read_rate_headers(_headers(limit, remaining, reset)) is None
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe(_headers(limit, remaining, reset), 1, 0.0)
    assert all(pacer.reserve(1, t) == (True, 0.0) for t in (0.0, 60.0, 3600.0))


def test_pacer_without_headers_does_not_pace() -> None:
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe({}, 1, 0.0)
    assert all(pacer.reserve(1, 0.0) == (True, 0.0) for _ in range(1000))


def test_explicit_rate_spaces_requests_evenly() -> None:
    pacer = Pacer(RateLimit(credits=10, window=1.0, burst=0.0))
    delays = [pacer.reserve(1, 0.0)[1] for _ in range(5)]
    assert delays == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3])


def test_reconcile_search_and_match() -> None:
    since = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.timezone.utc)
    fields = {
        "event_id": 1,
        "name": "Keynote",
        "date": dt.date(2026, 5, 1),
        "start_time": dt.time(9),
        "capacity": 10,
    }
    assert lookup_search(fields, since) == [
        "created_at>=2026-05-01 08:00:00",
        "name=Keynote",
        "date=2026-05-01",
        "start_time=09:00:00",
    ]
    assert "name=Q&A" not in lookup_search({**fields, "name": "Q&A"}, since)
    ok = Session(
        id=5,
        name="Keynote",
        date=dt.date(2026, 5, 1),
        start_time=dt.time(9),
        capacity=10,
        created_at=since,
    )
    other_cap = Session(
        id=6,
        name="Keynote",
        date=dt.date(2026, 5, 1),
        start_time=dt.time(9),
        capacity=11,
        created_at=since,
    )
    older = Session(
        id=7,
        name="Keynote",
        date=dt.date(2026, 5, 1),
        start_time=dt.time(9),
        capacity=10,
        created_at=since - dt.timedelta(seconds=1),
    )
    assert pick_match(fields, [ok, other_cap, older], since=since, excluded=frozenset()) == [ok]
    assert pick_match(fields, [ok], since=since, excluded=frozenset({5})) == []
    assert fingerprint({**fields, "name": "KEYNOTE"}) == fingerprint(fields)
    # Rows that differ only in a field one of them leaves out share a lock.
    assert fingerprint({**fields, "start_time": None}) == fingerprint(fields)


def test_recent_claims_expire() -> None:
    claims = RecentClaims(keep=5.0)
    claims.add("k", 1, now=0.0)
    claims.add("k", 2, now=3.0)
    claims.add("other", 3, now=3.0)
    assert claims.recent("k", now=4.0) == {1, 2}
    assert claims.recent("k", now=6.0) == {2}
    assert claims.recent("k", now=9.0) == frozenset()
    assert len(claims) == 0


async def test_keyed_locks_serialise_one_key_and_clean_up() -> None:
    import asyncio

    locks = KeyedLocks()
    order: list[str] = []

    async def run(key: str, tag: str) -> None:
        async with locks.hold(key):
            order.append(tag + "+")
            await asyncio.sleep(0.01)
            order.append(tag + "-")

    await asyncio.gather(run("a", "1"), run("a", "2"), run("b", "3"))
    assert order.index("1-") < order.index("2+")
    assert len(locks) == 0
    # Five on one key: one at a time, in arrival order; then a free key again.
    order.clear()
    await asyncio.gather(*(run("a", str(i)) for i in range(5)))
    assert order == [f"{i}{s}" for i in range(5) for s in "+-"]
    assert len(locks) == 0
    await run("a", "x")
    assert order[-2:] == ["x+", "x-"]


async def test_keyed_locks_survive_a_cancelled_waiter() -> None:
    import asyncio

    locks = KeyedLocks()
    inside: list[str] = []
    release = asyncio.Event()

    async def run(tag: str) -> None:
        async with locks.hold("k"):
            inside.append(tag)
            assert len(inside) == 1, inside  # never two holders
            await release.wait()
            inside.remove(tag)

    first = asyncio.create_task(run("1"))
    await asyncio.sleep(0)  # 1 holds the key, no lock made
    second = asyncio.create_task(run("2"))
    third = asyncio.create_task(run("3"))
    await asyncio.sleep(0)  # 2 and 3 wait
    second.cancel()
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, third)
    assert second.cancelled()
    assert len(locks) == 0
    # A holder that was constructed before the key freed up takes it without waiting.
    early = locks.hold("k")
    async with locks.hold("k"):
        pass
    async with early:
        assert len(locks) == 1
    assert len(locks) == 0


def test_cancelled_or_refused_reservations_leave_no_trace() -> None:
    pacer = Pacer(RateLimit(credits=10, window=1.0, burst=0.0))
    with bulk_pacing():
        assert _BULK.get()
    granted = 0
    while pacer.reserve(1, 0.0, within=0.0)[0]:  # the burst allowance goes at once
        granted += 1
    assert granted == 2
    tat, available, inflight = pacer.tat, pacer.available, pacer.inflight
    refused = [pacer.reserve(1, 0.0, within=0.0) for _ in range(100)]
    assert not any(ok for ok, _ in refused)
    assert (pacer.tat, pacer.available, pacer.inflight) == (tat, available, inflight)
    # A reservation cancelled before sending gives back its credit and its slot.
    ok, delay = pacer.reserve(1, 0.0)
    assert ok
    assert delay > 0
    pacer.release(1, sent=False)
    assert (pacer.available, pacer.inflight) == (available, inflight)
    assert pacer.tat == pytest.approx(tat)
    # Bulk work refused for the interactive share leaves no trace either.
    auto = _known()
    auto.reserve(1, 0.0)
    while auto.reserve(1, 0.0, bulk=True)[0]:
        pass
    before = (auto.available, auto.inflight, auto.demand)
    assert not any(auto.reserve(1, 0.0, bulk=True)[0] for _ in range(100))
    assert (auto.available, auto.inflight, auto.demand) == before


def test_error_pages_without_headers_do_not_turn_pacing_off() -> None:
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe({}, 1, 0.0, ok=False)  # a proxy's 502 page
    assert not pacer.unpaced
    pacer.reserve(1, 0.0)
    pacer.observe({}, 1, 0.0, ok=True)
    assert pacer.unpaced
    pacer.observe(_headers(100, 10, 10), 0, 0.0)  # headers after all
    assert not pacer.unpaced
    bare = Pacer()
    bare.reserve(1, 0.0)
    bare.limited(None, 1, 0.0)  # a 429 with no headers at all
    assert bare.reserve(1, 0.5) == (False, pytest.approx(0.5))
    assert bare.reserve(1, 1.1)[0]


def test_absurd_retry_after_values_are_ignored() -> None:
    assert parse_retry_after({"Retry-After": "inf"}) is None
    assert parse_retry_after({"X-Rate-Limit-Reset": "nan"}) is None
    assert (
        parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:10 -0000"}, now=1445412480) == 10
    )


def test_requests_in_flight_are_not_counted_twice() -> None:
    pacer = Pacer()
    pacer.reserve(1, 0.0)
    pacer.observe(_headers(100, 100, 10), 1, 0.0)
    for _ in range(10):
        pacer.reserve(1, 0.1)
    # The server has counted all ten while nine responses are still on their way.
    pacer.observe(_headers(100, 90, 10), 1, 0.2)
    assert pacer.available == 90
    # Someone else spends on this credential: the server's count lowers ours.
    pacer.observe(_headers(100, 70, 10), 1, 0.3)
    assert pacer.available == 70


def test_every_error_pickles_with_its_attributes_also_inside_a_bulk_result() -> None:
    """Errors cross processes (a task queue's worker, a pickled ``BulkResult``)."""
    import pickle

    from swoogo_async import (
        AmbiguousMatchError,
        BulkResult,
        InvalidInputError,
        LeaseBusyError,
        RateLimitError,
        ReadTimeoutError,
        ResponseTooLargeError,
        UnknownOutcomeError,
    )

    cause = ReadTimeoutError("no answer", method="POST", url="http://x/sessions.json")
    errors: list[SwoogoError] = [
        make_status_error(status=422, method="POST", url="http://x/s", raw=b'[{"field":"name"}]'),
        RateLimitError(
            status=429, method="GET", url="http://x/s", body=None, raw=b"", retry_after=3
        ),
        InvalidInputError("name", "must not be empty"),
        LeaseBusyError("busy", name="event:1", waited=1.0),
        UnknownOutcomeError("unknown", fields={"name": "A"}, cause=cause, candidates=(1, 2)),
        AmbiguousMatchError("two", key=("name",), candidates=(1, 2)),
        ResponseTooLargeError(method="GET", url="http://x/s", status=200, limit=10),
        cause,
    ]
    for error in errors:
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error)
        assert (str(back), back.args, vars(back).keys()) == (
            str(error),
            error.args,
            vars(error).keys(),
        )
        result = BulkResult(index=0, row={"name": "A"}, status="failed", error=error)
        assert str(pickle.loads(pickle.dumps(result)).error) == str(error)
    assert pickle.loads(pickle.dumps(errors[4])).cause.url == cause.url
