"""The ``sessions`` resource of a client."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from .._api import endpoints
from .._api.converter import parse_session
from .._api.models import Session, SessionBatch
from .._api.pages import Listing, numbered_listing, parse_page
from .._checks import check_number
from .._http.retry import RetryPolicy
from .._http.transport import Call, check_id
from .._shared.state import DEFAULT_LEASE_WAIT, credential_id, file_lease
from .._writes import DEFAULT_CONCURRENCY, DEFAULT_KEY

if TYPE_CHECKING:
    import datetime as dt

    from typing_extensions import Unpack

    # Annotations only: the fields and the writes load on first use (see ``create``).
    from .._api.endpoints import SessionListOptions
    from .._api.fields import SessionCreateFields, SessionUpdateFields
    from .._writes.bulk import BulkRun, ProgressCallback, RowSource, RunOptions
    from .._writes.bulk_results import RowInput
    from .._writes.create import Creator
    from .._writes.sync_plan import BeforeWrite
    from .client import SwoogoClient

__all__ = ["Sessions", "reusable"]


def reusable(values: Any) -> Any:
    """Return an iterator as a list: a listing builds each page's call from it."""
    return list(values) if isinstance(values, Iterator) else values


class Sessions:
    """Sessions (agenda items): get, list, create, update. A bad argument raises
    ``InvalidInputError`` naming it before anything is sent (a listing's, when it is made)."""

    def __init__(self, client: SwoogoClient) -> None:
        self._client = client
        self._send = client.send

    @functools.cached_property
    def _creator(self) -> Creator:
        from .._writes.create import Creator

        return Creator(self._client, self._client._core.creates)

    def _bulk(self, retry: RetryPolicy | None) -> Sessions:
        """Return the sessions of a bulk run's copy: ``RetryPolicy.for_bulk``, never cached."""
        policy = retry if retry is not None else self._client.retry.for_bulk()
        return self._client.with_options(retry=policy, cache=False).sessions

    async def _update(self, session_id: int, prepared: Mapping[str, Any]) -> Session:
        """Send an update of fields checked by ``prepare_session_fields``."""
        return await self._send(endpoints.update_session_call(session_id, prepared), parse_session)

    def _run_options(
        self, concurrency: int, ordered: bool, on_progress: ProgressCallback | None
    ) -> RunOptions:
        """The options of a run of these sessions; its ``credits`` are the client's."""
        return {
            "concurrency": concurrency,
            "ordered": ordered,
            "on_progress": on_progress,
            "credits": lambda: self._client.credits_spent,
        }

    async def get(
        self,
        session_id: int,
        *,
        fields: str | Iterable[str] | None = None,
        expand: str | Iterable[str] | None = None,
    ) -> Session:
        """Fetch one session.

        Args:
            fields: Only these fields (``c_1234`` names give custom fields).
            expand: Related objects to include, e.g. ``["track"]``.

        Raises:
            NotFoundError: no such session.
        """
        query = "" if fields is None and expand is None else endpoints.read_query(fields, expand)
        call = Call("GET", f"/sessions/{check_id('session_id', session_id)}", query)
        return await self._send(call, parse_session)

    async def get_many(
        self,
        ids: Iterable[int],
        *,
        event_id: int,
        fields: str | Iterable[str] | None = None,
    ) -> SessionBatch:
        """Fetch many sessions of an event by id: one 10-credit list call per 100 ids.

        Args:
            ids: Session ids (any number; a repeated id is asked for once).
            event_id: Their event; ids of another event come back missing.
            fields: Fields to return (``id`` is always added); else the server's default.

        Returns:
            A ``SessionBatch``: ``.sessions`` in the order asked, ``.missing``, ``.by_id``.
        """
        check_id("event_id", event_id)
        wanted = list(dict.fromkeys(check_id("ids", i) for i in endpoints.as_list("ids", ids)))
        joined = endpoints.join_names("fields", fields)
        if joined is not None and "id" not in joined.split(","):
            joined = f"id,{joined}"  # found sessions are matched to the ids asked for
        found: dict[int | None, Session] = {}
        for start in range(0, len(wanted), endpoints.MAX_IDS):
            chunk = wanted[start : start + endpoints.MAX_IDS]
            call = endpoints.list_sessions_call(
                event_id, per_page=len(chunk), fields=joined, ids=chunk
            )
            parse = functools.partial(parse_page, page=1, per_page=len(chunk))
            asked = set(chunk)  # a server ignoring ``ids=`` answers with others too
            for session in (await self._send(call, parse)).items:
                if session.id in asked:
                    found.setdefault(session.id, session)
        return SessionBatch(
            sessions=[found[i] for i in wanted if i in found],
            missing=tuple(i for i in wanted if i not in found),
        )

    def list(self, event_id: int, **options: Unpack[SessionListOptions]) -> Listing[Session]:
        """List an event's sessions, a page (10 credits, whatever its size) at a time.

        Args:
            fields: Fields to return; without it the server returns ``id`` and ``name``.
            search: Swoogo search expressions, e.g. ``"name=*contains*Keynote"``.
            search_condition: ``"or"`` to match any expression instead of all.
            sort: Field names, ``-`` prefix for descending.
            ids: At most 100 session ids.
            per_page: Page size (up to 1000; 200 with ``expand``).
        """
        given = {name: reusable(value) for name, value in options.items()}
        return numbered_listing(
            self._send,
            lambda number: endpoints.list_sessions_call(event_id, page=number, **given),
            parse_page,
            per_page=options.get("per_page", 200),
        )

    async def create(
        self,
        *,
        event_id: int,
        name: str,
        date: dt.date | str,
        **fields: Unpack[SessionCreateFields],
    ) -> Session:
        """Create a session, sending exactly the fields given, never twice silently.

        An attempt that may have acted is looked up before anything is re-sent (see
        ``create_policy``); ``RetryPolicy.deadline`` bounds the whole call.

        Args:
            date: A ``datetime.date`` or ``"YYYY-MM-DD"``.
            **fields: Any other writable field, e.g. ``custom_fields={"c_1": "x"}``.

        Returns:
            The created session, as the server returned it or a lookup read it.

        Raises:
            ValidationError: the server rejected a field.
            UnknownOutcomeError: whether the session exists could not be settled, or a
                re-send and a late commit both landed (it carries the fields and ids).
        """
        from .._api.fields import prepare_session_fields

        prepared = prepare_session_fields(
            {"event_id": event_id, "name": name, "date": date, **fields}, creating=True
        )
        return await self._creator.create(prepared)

    async def update(self, session_id: int, **fields: Unpack[SessionUpdateFields]) -> Session:
        """Change only the fields passed (``None`` clears one; ``UNSET`` leaves it out).

        Raises:
            InvalidInputError: no field was given.
            NotFoundError: no such session.
            ValidationError: the server rejected a field.
        """
        from .._api.fields import prepare_session_fields

        return await self._update(session_id, prepare_session_fields(fields, creating=False))

    def create_many(
        self,
        rows: RowSource,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        ordered: bool = False,
        on_progress: ProgressCallback | None = None,
        event_id: int | None = None,
        retry: RetryPolicy | None = None,
    ) -> BulkRun:
        """Create a session per row through ``create``; stream the results (see Bulk).

        Args:
            rows: An iterable or async iterable of rows (mappings of field to value, or
                ``Session`` objects), read lazily.
            concurrency: Rows in flight at once (and rows read ahead of the results).
            ordered: Yield results in input order (a slow row holds back the rest).
            on_progress: Called with the live ``BulkProgress`` after each row.
            event_id: For rows that have none.
            retry: Each row's ``RetryPolicy``; by default ``client.retry.for_bulk()``.

        Returns:
            A ``BulkRun``: an async iterator of ``BulkResult`` with a live ``progress``.
        """
        from .._writes.bulk import BulkRun, prepare_create_row, sending_create

        create = self._bulk(retry)._creator.create
        return BulkRun(
            rows,
            lambda _, row: sending_create(create, prepare_create_row(row, event_id)),
            "created",
            **self._run_options(concurrency, ordered, on_progress),
        )

    def update_many(
        self,
        rows: RowSource,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        ordered: bool = False,
        on_progress: ProgressCallback | None = None,
        retry: RetryPolicy | None = None,
    ) -> BulkRun:
        """Update one session per row (``id`` or ``session_id`` names it); options and
        result as for ``create_many``."""
        from .._writes.bulk import BulkRun, prepare_update, sending_update

        update = self._bulk(retry)._update
        return BulkRun(
            rows,
            lambda _, row: sending_update(update, *prepare_update(row)),
            "updated",
            **self._run_options(concurrency, ordered, on_progress),
        )

    def sync(
        self,
        rows: RowSource,
        *,
        event_id: int,
        key: str | Sequence[str] = DEFAULT_KEY,
        concurrency: int = DEFAULT_CONCURRENCY,
        ordered: bool = False,
        on_progress: ProgressCallback | None = None,
        dry_run: bool = False,
        scan: Iterable[RowInput] | None = None,
        before_write: BeforeWrite | None = None,
        retry: RetryPolicy | None = None,
        updates: bool = True,
        lease_wait: float | None = DEFAULT_LEASE_WAIT,
    ) -> BulkRun:
        """Make the event's sessions match ``rows`` under its lease (see Sync): create what
        no session has, update what differs; stream the results. The errors below are raised
        while the run is iterated, before any write.

        Args:
            rows: Rows as for ``create_many`` (read twice; see ``scan``).
            event_id: Rows naming another event are invalid.
            key: The fields that identify a row: names, or ``"name,date"``.
            dry_run: Plan but send nothing: each result says what would happen.
            scan: The rows again for the first pass, when ``rows`` can be read only once.
            before_write: Called with each row and its plan before its write; False skips it.
            retry: Of the reads and rows, as for ``create_many``.
            updates: False to create only (an import): a row whose key exists is ``present``.
            lease_wait: Seconds to wait for the event's lease (see ``lease``); None when the
                caller holds it already. A dry run takes no lease.

        Returns:
            A ``BulkRun`` of ``BulkResult`` (``changed`` names an update's fields).

        Raises:
            LeaseBusyError: another run kept the event's lease for ``lease_wait`` seconds.
            LookupIncompleteError: the event's sessions could not all be read, twice.
            InvalidInputError: a custom key field the rows set is held by no session.
        """
        from .._writes.sync_plan import SyncPlanner, parse_key, sync_rows

        planner = SyncPlanner(
            event_id=check_id("event_id", event_id), key=parse_key(key), update=updates
        )
        if lease_wait is not None:
            check_number("lease_wait", lease_wait, at_least=0.0)
        bulk = self._bulk(retry)
        return sync_rows(
            rows,
            planner=planner,
            creator=bulk._creator,
            update=bulk._update,
            scan=scan,
            concurrency=concurrency,
            ordered=ordered,
            on_progress=on_progress,
            dry_run=dry_run,
            before_write=before_write,
            credits=lambda: self._client.credits_spent,
            hold=None
            if lease_wait is None or dry_run
            else lambda: self.lease(event_id, wait=lease_wait),
        )

    def lease(
        self, event_id: int, *, wait: float = DEFAULT_LEASE_WAIT
    ) -> AbstractAsyncContextManager[None]:
        """Hold an event's write lease (``sync`` takes it) in every process sharing the
        client's state (Redis), else on this machine: other syncs of the event wait.

        Raises:
            LeaseBusyError: another run kept it for ``wait`` seconds (on entering).
        """
        name = f"event:{check_id('event_id', event_id)}"
        check_number("wait", wait, at_least=0.0)
        core = self._client._core
        if core.shared is not None:
            return core.shared.lease(name, wait=wait)
        return file_lease(credential_id(core.api_key, self._client.base_url), name, wait=wait)
