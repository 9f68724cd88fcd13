"""What a bulk run yields and counts: each row's ``BulkResult``, and live counters."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

import attrs

from ._exceptions import SwoogoError
from ._models import Session

__all__ = ["BulkProgress", "BulkResult", "BulkStatus", "BulkSummary", "RowInput"]

BulkStatus: TypeAlias = Literal["created", "updated", "failed", "invalid", "unknown"]
#: One input row: field name to value (text is parsed), or a ``Session``.
RowInput: TypeAlias = "Mapping[str, Any] | Session"


@attrs.frozen(slots=True)
class BulkResult:
    """The outcome of one row of a bulk run.

    Attributes:
        index: The row's 0-based position in the source.
        row: The row as given.
        status: ``created``/``updated`` (done), ``invalid`` (rejected before
            sending), ``failed`` (the API refused or could not be reached) or
            ``unknown`` (a create that may or may not have happened; the error
            carries the submitted fields).
        session: The session the server returned, when done.
        error: The error, when not done.
    """

    index: int
    row: RowInput = attrs.field(repr=False)
    status: BulkStatus
    session: Session | None = attrs.field(default=None, repr=False)
    error: SwoogoError | None = None

    @property
    def ok(self) -> bool:
        """Whether the row was created or updated."""
        return self.status in ("created", "updated")


@attrs.define
class BulkSummary:
    """Counts of a bulk run's results; fold results in with ``add``."""

    created: int = 0
    updated: int = 0
    failed: int = 0
    invalid: int = 0
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
        return self.created + self.updated + self.failed + self.invalid + self.unknown

    @property
    def all_ok(self) -> bool:
        """Whether every counted row was created or updated."""
        return self.failed == self.invalid == self.unknown == 0


@attrs.define
class BulkProgress(BulkSummary):
    """Live counters of a running bulk operation (also readable while it runs).

    Attributes:
        submitted: Rows taken from the source so far.
        done: Rows finished (whatever their status).
        started_at: ``time.monotonic()`` when the run started.
    """

    submitted: int = 0
    done: int = 0
    started_at: float = attrs.field(factory=time.monotonic)

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
        if total is None or rate <= 0:
            return None
        return max(total - self.done, 0) / rate

    def finish(self, result: BulkResult) -> None:
        """Count one finished row."""
        self.done += 1
        self.count(result.status)
