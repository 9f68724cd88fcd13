"""``Pacer``'s table of sized bulk runs: what each still needs, and which may finish at once.

The runs are taken from the least needing (then by id) while their needs together fit
in what the window has left for bulk work; ``redis/budget.lua`` mirrors this too.
"""

from __future__ import annotations

from typing import TypeAlias

__all__ = ["MAX_RUNS", "Runs", "finishing", "forget", "record", "spend"]

MAX_RUNS = 64  # sized bulk runs followed at once; a run beyond them is paced as an unsized one

#: run id -> (credits it still needs, when it last asked).
Runs: TypeAlias = dict[int, tuple[float, float]]


def record(runs: Runs, run: int, needs: float, now: float, stray: float) -> float:
    """Forget the runs silent for ``stray`` seconds, record ``run``'s needs; return them.

    A run's needs only shrink: a call that read them before another's grant was
    counted (across processes, while the script ran) says too much.
    """
    for other in [r for r, (_, seen) in runs.items() if now - seen > stray]:
        del runs[other]
    if run > 0 and (run in runs or len(runs) < MAX_RUNS):
        needs = min(needs, runs[run][0]) if run in runs else needs
        runs[run] = (needs, now)
    return needs


def finishing(
    runs: Runs, run: int, needs: float, free: float, took: frozenset[int] | None = None
) -> tuple[bool, float, set[int]]:
    """Return whether ``run`` may finish at once in the ``free`` credits, what the runs
    that may (others than it) still need, and those runs (it included, if it may).

    Once a window's floor is ``took``, only those runs may: one that came later, needing
    less, would otherwise push them out of the credits and leave both waiting."""
    total = 0.0
    ids: set[int] = set()
    for left, other in sorted((left, other) for other, (left, _) in runs.items()):
        if took is not None and other not in took:
            continue
        if total + left > free:
            break
        total += left
        ids.add(other)
    found = run in ids
    return found, total - (needs if found else 0.0), ids


def spend(runs: Runs, run: int, cost: int) -> None:
    """Count a grant against its run's needs; forget a run that needs no more."""
    if run in runs:
        left, seen = runs.pop(run)
        if left - cost > 0:
            runs[run] = (left - cost, seen)


def forget(runs: Runs, took: frozenset[int] | None) -> None:
    """Forget, as a window ends, the runs that took its floor: a live one says its needs
    again with its next call; one that died holds the next window's floor no longer."""
    for run in took or ():
        runs.pop(run, None)
