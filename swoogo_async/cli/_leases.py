"""The events a file's rows go to, and the write lease a run holds on each.

Writes to one event are one run at a time (``import`` and ``sync`` alike): a run
holds the lease of each of its events (``SharedState.lease``: a Redis lock when the
client shares state through Redis, else a file lock on this machine) from before it
reads the event until its last row has finished. A second run says it waits, then
waits up to ``--lease-wait`` seconds, then stops with ``LeaseBusyError``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from .._api.fields import prepare_session_fields
from .._client.client import SwoogoClient
from .._exceptions import InvalidInputError, LeaseBusyError
from ._columns import RowOptions
from ._rows import SourceRow, iter_rows

__all__ = ["PROG", "EventRows", "event_leases", "event_of", "file_events"]

PROG = "swoogo-async"


def event_of(row: SourceRow, default: int | None) -> int | None:
    value = row.fields.get("event_id")
    if value in (None, ""):
        return default
    try:
        event: int = prepare_session_fields({"event_id": value}, creating=False)["event_id"]
    except InvalidInputError:
        return None
    return event


def file_events(file: Path, opts: RowOptions, event_id: int | None) -> list[int]:
    """Return the events the file's rows go to, in order."""
    with contextlib.closing(iter_rows(file, opts)) as source:
        found = {event_of(row, event_id) for row in source}
    return sorted(event for event in found if event is not None)


@contextlib.asynccontextmanager
async def event_leases(
    client: SwoogoClient, events: Iterable[int], wait: float, err: TextIO
) -> AsyncIterator[None]:
    """Hold the write lease of each event (in order, so two runs cannot deadlock).

    The lease lives where the client's shared state does: in Redis for every process
    on the credential, else in a file lock for every process on this machine.

    Raises:
        LeaseBusyError: another run kept an event's lease for ``wait`` seconds.
    """
    async with contextlib.AsyncExitStack() as stack:
        for event in sorted(set(events)):
            try:
                await stack.enter_async_context(client.sessions.lease(event, wait=0.0))
                continue
            except LeaseBusyError:
                err.write(
                    f"{PROG}: event {event} is being written by another run (sync or import);"
                    f" waiting up to {wait:g} s for it to finish\n"
                )
                err.flush()
            try:
                await stack.enter_async_context(client.sessions.lease(event, wait=wait))
            except LeaseBusyError as exc:
                raise LeaseBusyError(
                    f"event {event} is still being written by another run (sync or import)"
                    f" after {wait:g} s; nothing was written. Run again when it has finished,"
                    " or wait longer with --lease-wait",
                    name=exc.name,
                    waited=exc.waited,
                ) from None
        yield


class EventRows:
    """The file's rows of one event, read afresh on each iteration (the planner's scan)."""

    def __init__(self, file: Path, opts: RowOptions, event_id: int | None, event: int) -> None:
        self.file, self.opts, self.event_id, self.event = file, opts, event_id, event

    def __iter__(self) -> Iterator[SourceRow]:
        with contextlib.closing(iter_rows(self.file, self.opts)) as source:
            for row in source:
                if event_of(row, self.event_id) == self.event:
                    yield row
