"""Fault injection for the fake Swoogo server."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import attrs

__all__ = ["CREATE_ROUTE", "HTML_ERROR", "ROUTES", "TOKEN_ROUTE", "Fault", "FaultPlan"]

#: The page a proxy in front of the API sends for ``Fault.error(..., html=True)``.
HTML_ERROR = (
    "<html><head><title>{status} Error</title></head><body><center><h1>{status} Error</h1>"
    "</center><hr><center>nginx</center></body></html>"
)

TOKEN_ROUTE = "POST /oauth2/token"

ROUTES: tuple[str, ...] = (
    TOKEN_ROUTE,
    "GET /sessions/{id}",
    "GET /sessions",
    "POST /sessions/create",
    "PUT /sessions/update/{id}",
    "POST /speakers/{id}/session.json",
    "GET /speakers",
    "GET /speakers/{id}",
)
CREATE_ROUTE = "POST /sessions/create"


def _derive_name(fault: Fault) -> str:
    if fault.late:
        return "commit_late"
    if math.isinf(fault.delay) and fault.responds_normally:
        return "hang_acted" if fault.acted else "hang"
    parts: list[str] = []
    if fault.drop is not None:
        parts.append(f"drop_{fault.drop}")
    if fault.malformed:
        parts.append("malformed_json")
    if fault.html:
        parts.append(f"html_{fault.status or 502}")
    elif fault.status == 429:
        parts.append("rate_limited")
    elif fault.status is not None:
        parts.append(f"error_{fault.status}")
    if fault.delay:
        parts.append(f"timeout_{fault.delay:g}")
    if fault.acted and fault.drop is None and not fault.malformed:
        parts.append("acted")
    return "_".join(parts) or "none"


@attrs.frozen
class Fault:
    """A misbehaviour the fake server plays instead of (or after) the normal response.

    ``acted`` means the operation is performed before the failure is shown to the client
    (the backend did the work; the gateway failed).  ``drop="after"`` and ``malformed``
    always act.  A ``delay`` ends early when the client hangs up or the fake closes;
    an infinite one (``hang``) also ends on ``FakeSwoogo.release_held()``.  ``late``
    (create only) drops the connection and keeps the new session out of the store
    until ``FakeSwoogo.commit_late_creates()``.
    """

    status: int | None = None
    delay: float = 0.0
    drop: Literal["before", "after"] | None = None
    malformed: bool = False
    html: bool = False
    acted: bool = False
    headers: Mapping[str, str] | None = attrs.field(default=None, hash=False)
    body: bytes | None = None
    late: bool = False
    name: str = attrs.field(
        default=attrs.Factory(_derive_name, takes_self=True),
    )

    @property
    def performs(self) -> bool:
        """Whether the operation runs *before* the fault is shown."""
        return self.acted or self.drop == "after" or self.malformed

    @property
    def responds_normally(self) -> bool:
        """A pure delay: the normal response follows (late)."""
        return (
            self.status is None
            and self.drop is None
            and not self.malformed
            and not self.html
            and self.body is None
        )

    @classmethod
    def error(cls, status: int = 503, *, acted: bool = False) -> Fault:
        """Answer ``status`` (a JSON error body); ``acted=True`` applies the request first."""
        return cls(status=status, acted=acted)

    @classmethod
    def rate_limited(cls, reset: int = 1) -> Fault:
        """Answer 429 with no credits left and the window resetting in ``reset`` seconds."""
        return cls(
            status=429,
            headers={"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": str(int(reset))},
        )

    @classmethod
    def timeout(cls, delay: float, *, acted: bool = False) -> Fault:
        """Answer normally only after ``delay`` seconds; ``acted=True`` applies it at once."""
        return cls(delay=float(delay), acted=acted)

    @classmethod
    def drop_before(cls) -> Fault:
        """Close the connection without answering, before the request acted."""
        return cls(drop="before")

    @classmethod
    def drop_after(cls) -> Fault:
        """Close the connection without answering, after the request acted."""
        return cls(drop="after", acted=True)

    @classmethod
    def malformed_json(cls) -> Fault:
        """Answer 200 with half of the JSON body, after the request acted."""
        return cls(malformed=True, acted=True)

    @classmethod
    def html_error(cls, status: int = 502) -> Fault:
        """Answer ``status`` with a proxy's HTML page instead of the API's JSON."""
        return cls(status=status, html=True)

    @classmethod
    def hang(cls, *, acted: bool = False) -> Fault:
        """Answer only once the test calls ``release_held()`` (or never, if the client leaves)."""
        return cls(delay=math.inf, acted=acted)

    @classmethod
    def commit_late(cls) -> Fault:
        """Drop a create's connection; store it only at ``commit_late_creates()``."""
        return cls(drop="after", acted=True, late=True)


DEFAULT_CHAOS: tuple[Fault, ...] = (
    Fault.error(503),
    Fault.error(500),
    Fault.html_error(502),
    Fault.drop_before(),
)


def _check_route(route: str) -> str:
    if route != "*" and route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; expected '*' or one of {ROUTES}")
    return route


def _check_late(faults: Iterable[Fault], routes: Iterable[str] | None) -> None:
    if any(f.late for f in faults) and (routes is None or set(routes) != {CREATE_ROUTE}):
        raise ValueError(f"a late commit applies to {CREATE_ROUTE!r} only")


def _matches(pattern: str, route: str) -> bool:
    if pattern == "*":
        return route != TOKEN_ROUTE
    return pattern == route


@attrs.define
class _Injection:
    route: str
    fault: Fault
    remaining: int


class FaultPlan:
    """Queued one-shot faults plus optional random chaos."""

    __slots__ = ("_chaos_faults", "_chaos_rate", "_chaos_routes", "_queue", "_rng")

    def __init__(self) -> None:
        self._queue: list[_Injection] = []
        self._chaos_rate = 0.0
        self._chaos_faults: tuple[Fault, ...] = ()
        self._chaos_routes: tuple[str, ...] | None = None
        self._rng = random.Random(0)

    def inject(self, route: str, fault: Fault, times: int) -> None:
        if times < 1:
            raise ValueError("times must be >= 1")
        _check_late([fault], [route])
        self._queue.append(_Injection(_check_route(route), fault, times))

    def chaos(
        self, rate: float, faults: Sequence[Fault] | None, seed: int, routes: Iterable[str] | None
    ) -> None:
        """Check and start the chaos ``FakeSwoogo.chaos`` describes (its defaults are there)."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        chosen = tuple(faults) if faults is not None else DEFAULT_CHAOS
        if rate > 0 and not chosen:
            raise ValueError("chaos needs at least one fault")
        checked = None if routes is None else tuple(_check_route(r) for r in routes)
        _check_late(chosen, checked)
        self._chaos_rate = rate
        self._chaos_faults = chosen
        self._chaos_routes = checked
        self._rng = random.Random(seed)

    def clear(self) -> None:
        self._queue.clear()
        self._chaos_rate = 0.0
        self._chaos_faults = ()
        self._chaos_routes = None

    @property
    def active(self) -> bool:
        return bool(self._queue) or self._chaos_rate > 0

    def pick(self, route: str) -> Fault | None:
        """Return the fault for this request (consuming an injected one), or None."""
        for i, entry in enumerate(self._queue):
            if _matches(entry.route, route):
                entry.remaining -= 1
                if entry.remaining <= 0:
                    del self._queue[i]
                return entry.fault
        if self._chaos_rate <= 0:
            return None
        routes = self._chaos_routes
        if routes is None:
            if route == TOKEN_ROUTE:
                return None
        elif not any(_matches(p, route) for p in routes):
            return None
        if self._rng.random() < self._chaos_rate:
            return self._rng.choice(self._chaos_faults)
        return None
