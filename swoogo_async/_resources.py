"""The ``sessions`` and ``speakers`` resources of a client."""

from __future__ import annotations

import asyncio
import builtins
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._bulk import BulkRun, ProgressCallback, RowSource
from ._bulk import create_many as _create_many
from ._bulk import update_many as _update_many
from ._endpoints import (
    Call,
    add_sessions_call,
    create_session_call,
    get_session_call,
    list_sessions_call,
    parse_page,
    parse_session,
    parse_speaker,
    update_session_call,
)
from ._exceptions import APIError, SwoogoError, TransportError, UnknownOutcomeError
from ._fields import SessionCreateFields, SessionUpdateFields, prepare_session_fields
from ._models import Page, Session, Speaker
from ._reconcile import (
    KeyedLocks,
    RecentClaims,
    fingerprint,
    lookup_fields,
    lookup_search,
    pick_match,
)
from ._transport import Response

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._client import SwoogoClient

__all__ = ["SessionList", "Sessions", "Speakers"]

T = TypeVar("T")

#: Allowance for the server's clock and its whole-second ``created_at``.
CLOCK_MARGIN = 2.0


def _decoder(parse: Callable[..., T], call: Call, client: SwoogoClient) -> Callable[[Response], T]:
    """Bind a body parser to the call it reads, for ``_execute``."""
    method, url = call.method, client.base_url + call.path

    def decode(response: Response) -> T:
        return parse(response.body, method=method, url=url)

    return decode


def _may_have_acted(error: SwoogoError) -> bool:
    if isinstance(error, (TransportError, APIError)):
        return error.may_have_acted
    return False


class SessionList:
    """The sessions of an event, page by page: ``async for session in ...``.

    Pages are fetched one at a time as iteration needs them; page URLs are built
    by the client, not taken from ``_links``. A session seen on an earlier page
    (the list shifted while it was read) is not yielded twice.
    """

    def __init__(self, client: SwoogoClient, event_id: int, options: dict[str, Any]) -> None:
        self._client = client
        self._event_id = event_id
        self._options = options
        # Check the arguments now, before any request.
        list_sessions_call(event_id, **options)

    async def page(self, number: int = 1) -> Page[Session]:
        """Fetch one page (1-based), with the envelope's total and page counts."""
        call = list_sessions_call(self._event_id, page=number, **self._options)
        url = self._client.base_url + call.path
        per_page = self._options["per_page"]
        return await self._client._execute(
            call,
            lambda r: parse_page(
                r.body, method=call.method, url=url, page=number, per_page=per_page
            ),
        )

    async def pages(self) -> AsyncIterator[Page[Session]]:
        """Yield every page in turn."""
        number = 1
        while True:
            current = await self.page(number)
            yield current
            if current.is_last:
                return
            number += 1

    async def __aiter__(self) -> AsyncIterator[Session]:
        seen: set[int] = set()
        async for current in self.pages():
            for session in current.items:
                if session.id is not None:
                    if session.id in seen:
                        continue
                    seen.add(session.id)
                yield session

    async def collect(self) -> list[Session]:
        """Return every session as a list."""
        return [session async for session in self]


class Sessions:
    """Sessions (agenda items): get, list, create, update."""

    def __init__(self, client: SwoogoClient) -> None:
        self._client = client
        self._locks = KeyedLocks()
        self._claims = RecentClaims()
        self._create_decode: Callable[[Response], Session] | None = None

    async def get(
        self,
        session_id: int,
        *,
        fields: str | Iterable[str] | None = None,
        expand: str | Iterable[str] | None = None,
    ) -> Session:
        """Fetch one session.

        Args:
            session_id: The session's id.
            fields: Only these fields (``c_1234`` names give custom fields).
            expand: Related objects to include, e.g. ``["track"]``.

        Returns:
            The session.

        Raises:
            NotFoundError: no such session.
            InvalidInputError: an argument is invalid (nothing was sent).
        """
        call = get_session_call(session_id, fields=fields, expand=expand)
        return await self._client._execute(call, _decoder(parse_session, call, self._client))

    def list(
        self,
        event_id: int,
        *,
        fields: str | Iterable[str] | None = None,
        expand: str | Iterable[str] | None = None,
        search: str | Sequence[str] | None = None,
        search_condition: str | None = None,
        sort: str | Iterable[str] | None = None,
        ids: Iterable[int] | None = None,
        per_page: int = 200,
    ) -> SessionList:
        """List an event's sessions, fetching pages as iteration needs them.

        Without ``fields`` the server returns only ``id`` and ``name``. Each page
        costs 10 rate-limit credits, whatever its size: large pages are cheaper.

        Args:
            event_id: The event.
            fields: Fields to return.
            expand: Related objects to include.
            search: Swoogo search expressions, e.g. ``"name=*contains*Keynote"``;
                several are joined with ``&``.
            search_condition: ``"or"`` to match any expression instead of all.
            sort: Field names, ``-`` prefix for descending.
            ids: At most 100 session ids.
            per_page: Page size (up to 1000; 200 with ``expand``).

        Returns:
            An async iterable of sessions, with ``.pages()`` and ``.page(n)``.

        Raises:
            InvalidInputError: an argument is invalid (raised here, nothing sent).
        """
        options: dict[str, Any] = {
            "fields": fields,
            "expand": expand,
            "search": search,
            "search_condition": search_condition,
            "sort": sort,
            "ids": list(ids) if ids is not None else None,
            "per_page": per_page,
        }
        return SessionList(self._client, event_id, options)

    async def create(
        self,
        *,
        event_id: int,
        name: str,
        date: dt.date | str,
        **fields: Unpack[SessionCreateFields],
    ) -> Session:
        """Create a session; exactly the fields given are sent.

        If the attempt fails after the server may have acted (a read timeout, a
        dropped connection, a 5xx), the session is looked up before anything is
        retried, so a retry never creates a duplicate (see ``create_policy``).

        Args:
            event_id: The event.
            name: The session's title.
            date: Its date (``datetime.date`` or ``"YYYY-MM-DD"``).
            **fields: Any other writable field, e.g. ``start_time``, ``capacity``,
                ``custom_fields={"c_1001": "Value"}``.

        Returns:
            The created session, as the server returned it.

        Raises:
            InvalidInputError: a field is invalid (nothing was sent).
            ValidationError: the server rejected a field.
            UnknownOutcomeError: whether the session exists could not be settled;
                the error carries the submitted fields.
        """
        prepared = prepare_session_fields(
            {"event_id": event_id, "name": name, "date": date, **fields}, creating=True
        )
        return await self.create_prepared(prepared)

    async def create_prepared(self, prepared: Mapping[str, Any]) -> Session:
        """Create from fields already checked by ``prepare_session_fields``."""
        client = self._client
        call = create_session_call(prepared)
        decode = self._create_decode
        if decode is None:  # the same method and URL (for error messages) on every create
            decode = self._create_decode = _decoder(parse_session, call, client)
        key = fingerprint(prepared)
        async with self._locks.hold(key):
            # Sessions this client handed out just before this create began: a lookup
            # may see them (created_at has whole seconds) but they are not this row's.
            excluded = self._claims.recent(key)
            started = time.time()
            attempt = 0
            while True:
                attempt += 1
                try:
                    session = await client._execute(call, decode)
                except SwoogoError as error:
                    if not _may_have_acted(error):
                        raise
                    if client.create_policy == "raise":
                        raise UnknownOutcomeError(
                            f"create of {prepared.get('name')!r} failed after the server may have"
                            " acted; create_policy='raise'",
                            fields=prepared,
                            cause=error,
                        ) from error
                    found = await self._reconcile(prepared, started, excluded, error)
                    if found is not None:
                        session = found
                    elif attempt >= client.retry.max_attempts:
                        raise UnknownOutcomeError(
                            f"create of {prepared.get('name')!r} failed {attempt} times in ways"
                            " the server may have acted on; no such session was found, but a"
                            " late commit cannot be ruled out",
                            fields=prepared,
                            cause=error,
                        ) from error
                    else:
                        continue
                if session.id is not None:
                    self._claims.add(key, session.id)
                return session

    async def _reconcile(
        self,
        prepared: Mapping[str, Any],
        started: float,
        excluded: frozenset[int],
        error: SwoogoError,
    ) -> Session | None:
        """Find the session an uncertain create made: it, None, or raise."""
        client = self._client
        if client.reconcile_delay > 0:
            # A create the server is still committing would be missed by a lookup now.
            await asyncio.sleep(client.reconcile_delay)
        # Measured on the server's clock (learned from its Date header), with a margin
        # for its whole-second created_at; taken now, when the offset is surely known.
        since = dt.datetime.fromtimestamp(
            started + client._server_offset - CLOCK_MARGIN, dt.timezone.utc
        ).replace(microsecond=0)
        try:
            matches = await self.find_matches(prepared, since=since, excluded=excluded)
        except SwoogoError as lookup_error:
            raise UnknownOutcomeError(
                f"create of {prepared.get('name')!r} may or may not have happened, and the"
                f" lookup failed too ({type(lookup_error).__name__})",
                fields=prepared,
                cause=error,
            ) from lookup_error
        if len(matches) == 1:
            session_id = matches[0].id
            assert session_id is not None
            return await self.get(session_id)
        if not matches:
            return None
        raise UnknownOutcomeError(
            f"create of {prepared.get('name')!r} may have happened: {len(matches)} matching"
            " sessions were created since the attempt began",
            fields=prepared,
            cause=error,
            candidates=tuple(s.id for s in matches if s.id),
        ) from error

    def create_many(
        self,
        rows: RowSource,
        *,
        concurrency: int = 8,
        ordered: bool = False,
        on_progress: ProgressCallback | None = None,
        event_id: int | None = None,
    ) -> BulkRun:
        """Create a session per row, at most ``concurrency`` at a time; stream the results.

        Rows are mappings of field name to value (text is parsed; ``c_1234`` keys are
        custom fields) or ``Session`` objects, read lazily: a generator of any length
        runs in flat memory. Each row goes through ``create`` unchanged (pacing,
        retries, reconciliation); bulk adds no retry layer of its own. Leaving
        ``async with`` early cancels the rows in flight::

            async with client.sessions.create_many(rows, event_id=42) as run:
                async for result in run: ...

        Args:
            rows: An iterable or async iterable of rows.
            concurrency: Rows in flight at once (and rows read ahead of the results).
            ordered: Yield results in input order (a slow row holds back the rest).
            on_progress: Called with the live ``BulkProgress`` after each row.
            event_id: ``event_id`` for rows that have none.

        Returns:
            A ``BulkRun``: an async iterator of ``BulkResult`` with a live ``progress``.

        Raises:
            InvalidInputError: ``concurrency`` is not a positive integer.
        """
        return _create_many(
            self,
            rows,
            concurrency=concurrency,
            ordered=ordered,
            on_progress=on_progress,
            event_id=event_id,
        )

    def update_many(
        self,
        rows: RowSource,
        *,
        concurrency: int = 8,
        ordered: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> BulkRun:
        """Update one session per row (``id`` or ``session_id`` names it); stream the results.

        Returns:
            A ``BulkRun`` of ``BulkResult`` with a live ``progress``.

        Raises:
            InvalidInputError: ``concurrency`` is not a positive integer.
        """
        return _update_many(
            self, rows, concurrency=concurrency, ordered=ordered, on_progress=on_progress
        )

    async def find_matches(
        self,
        prepared: Mapping[str, Any],
        *,
        since: dt.datetime,
        excluded: frozenset[int] = frozenset(),
    ) -> builtins.list[Session]:
        """Return the sessions created since ``since`` that match every submitted field.

        ``prepared`` is a create's fields as ``prepare_session_fields`` returns them;
        sessions in ``excluded`` (already attributed elsewhere) are left out.
        """
        listing = self.list(
            prepared["event_id"],
            fields=lookup_fields(prepared),
            search=lookup_search(prepared, since),
            per_page=200,
        )
        return pick_match(prepared, await listing.collect(), since=since, excluded=excluded)

    async def update(self, session_id: int, **fields: Unpack[SessionUpdateFields]) -> Session:
        """Change some fields of a session; only the fields passed are sent.

        ``None`` clears a field; ``UNSET`` (for arguments built dynamically)
        leaves it out.

        Returns:
            The updated session.

        Raises:
            InvalidInputError: a field is invalid, or none was given (nothing sent).
            NotFoundError: no such session.
            ValidationError: the server rejected a field.
        """
        prepared = prepare_session_fields(fields, creating=False)
        return await self.update_prepared(session_id, prepared)

    async def update_prepared(self, session_id: int, prepared: Mapping[str, Any]) -> Session:
        """Update from fields already checked by ``prepare_session_fields``."""
        call = update_session_call(session_id, prepared)
        return await self._client._execute(call, _decoder(parse_session, call, self._client))


class Speakers:
    """Speakers: attach sessions to them."""

    def __init__(self, client: SwoogoClient) -> None:
        self._client = client

    async def add_sessions(self, speaker_id: int, session_ids: Iterable[int]) -> Speaker:
        """Associate sessions with a speaker; all must belong to the speaker's event.

        Returns:
            The whole speaker, with its ``sessions``.

        Raises:
            InvalidInputError: an id is invalid (nothing was sent).
            NotFoundError: no such speaker.
            ValidationError: a session id is unknown or in another event.
        """
        call = add_sessions_call(speaker_id, session_ids)
        return await self._client._execute(call, _decoder(parse_speaker, call, self._client))
