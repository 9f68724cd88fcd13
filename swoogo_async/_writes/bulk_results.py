"""What a bulk run yields and counts: each row's ``BulkResult``, and live counters."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal, TypeAlias, get_args

import attrs

from .._api.models import Session
from .._exceptions import SwoogoError

__all__ = ["BulkProgress", "BulkResult", "BulkStatus", "BulkSummary", "RowInput"]

BulkStatus: TypeAlias = Literal[
    "created", "updated", "unchanged", "present", "failed", "invalid", "ambiguous", "unknown"
]
#: One input row: field name to value (text is parsed), or a ``Session``.
RowInput: TypeAlias = "Mapping[str, Any] | Session"


@attrs.frozen(slots=True)
class BulkResult:
    """The outcome of one row of a bulk run.

    Attributes:
        index: The row's 0-based position in the source.
        row: The row as given.
        status: ``created``/``updated``, ``unchanged``/``present`` (a sync or import found it),
            ``invalid``, ``failed``, ``ambiguous`` or ``unknown`` (see the bulk guide).
        session: The session the server returned, when done.
        error: The error, when not done.
        changed: The fields a sync's update sent (or would send, in a dry run).
        session_id: The session's id, when one is known (also for ``unchanged``).
    """

    index: int
    row: RowInput = attrs.field(repr=False)
    status: BulkStatus
    session: Session | None = attrs.field(default=None, repr=False)
    error: SwoogoError | None = None
    changed: tuple[str, ...] = ()
    session_id: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the row was created, updated, or found unchanged or already present."""
        return self.status in ("created", "updated", "unchanged", "present")

    @property
    def id(self) -> int | None:
        """The session's id, from ``session`` or ``session_id``."""
        if self.session is not None and self.session.id is not None:
            return self.session.id
        return self.session_id


@attrs.define
class BulkSummary:
    """Counts of a bulk run's results; fold results in with ``add``."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    present: int = 0
    failed: int = 0
    invalid: int = 0
    ambiguous: int = 0
    unknown: int = 0

    def add(self, result: BulkResult) -> BulkResult:
        """Count ``result`` and return it (handy inside a loop)."""
        self.count(result.status)
        return result

    def count(self, status: BulkStatus) -> None:
        """Count one row of ``status``."""
        setattr(self, status, getattr(self, status) + 1)

    @property
    def total(self) -> int:
        """How many results were counted."""
        return sum(getattr(self, status) for status in get_args(BulkStatus))

    @property
    def all_ok(self) -> bool:
        """Whether every counted row was created, updated, unchanged or present."""
        return self.failed == self.invalid == self.ambiguous == self.unknown == 0


@attrs.define
class BulkProgress(BulkSummary):
    """Live counters of a running bulk operation.

    Attributes:
        submitted: Rows taken from the source so far.
        done: Rows finished (whatever their status).
        started_at: ``time.monotonic()`` when the run started.
        credits: Credits the client spent since the run started (all its requests).
    """

    submitted: int = 0
    done: int = 0
    started_at: float = attrs.field(factory=time.monotonic)
    credits: int = 0

    @property
    def credits_per_row(self) -> float:
        """Credits spent per finished row so far."""
        return self.credits / self.done if self.done else 0.0

    @property
    def in_flight(self) -> int:
        """Rows taken but not yet finished."""
        return self.submitted - self.done

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started_at

    @property
    def rate(self) -> float:
        """Finished rows per second so far."""
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0

    def eta(self, total: int | None) -> float | None:
        """Seconds until ``total`` rows are done at the current rate, if it can be told."""
        rate = self.rate
        return None if total is None or rate <= 0 else max(total - self.done, 0) / rate

    def finish(self, result: BulkResult) -> None:
        """Count one finished row."""
        self.done += 1
        self.count(result.status)
