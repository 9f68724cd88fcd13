"""The fake's rate limit: credits per fixed window, the windows back to back."""

from __future__ import annotations

import math

__all__ = ["Budget"]

UNLIMITED = "1000000000"


class Budget:
    """Credits per window; the first charge starts the first window. Time is passed in."""

    def __init__(self, limit: int | None, window: float) -> None:
        self.limit, self.window = limit, window
        self._start: float | None = None
        self._used = 0

    def _roll(self, now: float) -> None:
        start = self._start
        if start is not None and now >= start + self.window:
            # Windows follow each other whether or not anyone asked in between.
            self._start = start + self.window * ((now - start) // self.window)
            self._used = 0

    def headers(self, now: float) -> dict[str, str]:
        """Return the ``X-Rate-Limit-*`` headers at ``now``."""
        if self.limit is None:
            # Unlimited: a budget no client can spend, so pacing never engages.
            return {
                "X-Rate-Limit-Limit": UNLIMITED,
                "X-Rate-Limit-Remaining": UNLIMITED,
                "X-Rate-Limit-Reset": str(math.ceil(self.window)),
            }
        self._roll(now)
        if self._start is None:
            used, reset = 0, math.ceil(self.window)
        else:
            used, reset = self._used, max(0, math.ceil(self._start + self.window - now))
        return {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(max(0, self.limit - used)),
            "X-Rate-Limit-Reset": str(reset),
        }

    def consume(self, cost: int, now: float) -> bool:
        """Charge ``cost`` credits; False when over budget (nothing charged)."""
        if self.limit is None:
            return True
        self._roll(now)
        if self._start is None:
            self._start = now
        if self._used + cost > self.limit:
            return False
        self._used += cost
        return True
