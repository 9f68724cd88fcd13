"""``Sender``: the client as the writes see it, so that nothing here imports the client."""

from __future__ import annotations

from typing import Literal, Protocol, TypeVar

from .._http.retry import RetryPolicy
from .._http.transport import Call, Parse

__all__ = ["Sender"]

T = TypeVar("T")


class Sender(Protocol):
    """Sends calls through the client's one request seam, and says how creates behave.

    ``SwoogoClient`` is one (and so is each copy ``with_options`` makes).
    """

    @property
    def retry(self) -> RetryPolicy: ...
    @property
    def create_policy(self) -> Literal["reconcile", "raise"]: ...
    @property
    def reconcile_delay(self) -> float: ...

    def clock(self) -> float:
        """Return the client's monotonic time, on which every deadline is measured."""
        ...

    async def server_clock_offset(self, deadline: float) -> float | None:
        """Return the server's clock minus ours, or None when no answer can be trusted."""
        ...

    async def send(self, call: Call, parse: Parse[T], *, deadline: float | None = None) -> T:
        """Send ``call`` (token, pacing, retries) and return ``parse`` of its 2xx body."""
        ...
