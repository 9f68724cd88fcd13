"""The duplicate-safe create: send, and settle any doubt by looking the session up.

The API has no idempotency key. When a create fails after the server may have
acted (a read timeout, a dropped connection, a 5xx), the session is looked up
(``_reconcile.py`` builds and judges the lookup) before anything is re-sent. No
lookup can rule out a commit that lands later still, so a create that re-sent
after such a doubt looks again once it succeeded: if two sessions now match, the
caller gets ``UnknownOutcomeError`` carrying both ids, never "created once".

``RetryPolicy.deadline`` bounds the whole create: every attempt, the waits before a
lookup and the lookups themselves.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol, TypeVar

from .._api.endpoints import (
    Call,
    create_session_call,
    list_sessions_call,
    parse_page,
)
from .._api.models import Page, Session
from .._api.pages import PageWalk
from .._exceptions import (
    APIError,
    InvalidInputError,
    SwoogoError,
    TransportError,
    UnknownOutcomeError,
)
from .._http.retry import RetryPolicy
from .._http.transport import Response
from .keyedlocks import KeyedLocks
from .lookup import Batcher
from .reconcile import (
    RecentClaims,
    fingerprint,
    lookup_fields,
    lookup_search,
    pick_match,
)

__all__ = [
    "CLOCK_MARGIN",
    "LOOKUP_MAX_PAGES",
    "UNTRUSTED_CLOCK_MARGIN",
    "Creator",
    "Host",
    "LookupIncompleteError",
    "find_matches",
]

T = TypeVar("T")

#: Allowance for the server's clock and its whole-second ``created_at``.
CLOCK_MARGIN = 2.0
#: The allowance instead when the server's clock is unknown (no readable ``Date``, or one
#: beyond ``_auth.MAX_TRUSTED_OFFSET``) and the lookup measures on the local clock.
UNTRUSTED_CLOCK_MARGIN = 60.0
#: Pages (10 credits each) one lookup may read: 1,000 candidates at 200 a page.
LOOKUP_MAX_PAGES = 5


class Host(Protocol):
    """What the create needs from the client (a protocol, so no import of it)."""

    @property
    def base_url(self) -> str: ...
    @property
    def retry(self) -> RetryPolicy: ...
    @property
    def create_policy(self) -> Literal["reconcile", "raise"]: ...
    @property
    def reconcile_delay(self) -> float: ...
    async def _server_clock_offset(self, deadline: float) -> float | None: ...
    @property
    def _clock(self) -> Callable[[], float]: ...
    @property
    def credits_spent(self) -> int: ...

    async def _execute(
        self, call: Call, decode: Callable[[Response], T], *, deadline: float | None = None
    ) -> T: ...

    def with_options(
        self, *, retry: RetryPolicy | None = None, cache: bool | None = None
    ) -> Host: ...


class LookupIncompleteError(SwoogoError):
    """A lookup could not read every candidate (the listing misbehaved or was too long)."""


def _may_have_acted(error: SwoogoError) -> bool:
    if isinstance(error, (TransportError, APIError)):
        return error.may_have_acted
    return False


async def find_matches(
    host: Host,
    prepared: Mapping[str, Any],
    *,
    since: dt.datetime,
    excluded: frozenset[int] = frozenset(),
    deadline: float | None = None,
) -> tuple[list[Session], list[Session]]:
    """Return the sessions created since ``since`` that match ``prepared``: strictly, loosely.

    Strict (``_reconcile.matches``) may be claimed; loose (``pick_match(loose=True)``)
    only means this create may have landed with a default the server filled its way.

    Raises:
        LookupIncompleteError: the listing could not be read to its end.
        SwoogoError: a lookup request failed.
    """
    fields, search = lookup_fields(prepared), lookup_search(prepared, since)

    async def fetch(number: int) -> Page[Session]:
        call = list_sessions_call(
            prepared["event_id"], page=number, per_page=200, fields=fields, search=search
        )
        url = host.base_url + call.path

        def decode(r: Response) -> Page[Session]:
            return parse_page(r.body, method=call.method, url=url, page=number, per_page=200)

        return await host._execute(call, decode, deadline=deadline)

    walk = PageWalk(fetch, max_pages=LOOKUP_MAX_PAGES)
    candidates = [s async for page in walk for s in page.items]
    if not walk.complete:
        raise LookupIncompleteError(f"the lookup read no further: {walk.stopped}")
    return (
        pick_match(prepared, candidates, since=since, excluded=excluded),
        pick_match(prepared, candidates, since=since, excluded=excluded, loose=True),
    )


class Creator:
    """Runs creates for one client: one at a time per fingerprint, never twice silently."""

    def __init__(self, host: Host, decode: Callable[[Response], Session]) -> None:
        self._host = host
        self._decode = decode
        self._locks = KeyedLocks()
        self._claims = RecentClaims()
        self.batcher = Batcher(
            self.list_page,
            lambda: host._clock(),
            LookupIncompleteError,
            max_pages=LOOKUP_MAX_PAGES,
        )

    def bound_to(self, host: Host) -> Creator:
        """Return a creator calling through ``host`` (a view) that shares this one's locks.

        Two creates of the same session through a client and its view still run one at
        a time and see each other's claims.
        """
        other = Creator(host, self._decode)
        other._locks, other._claims = self._locks, self._claims
        return other

    async def create(self, prepared: Mapping[str, Any]) -> Session:
        """Create from checked fields; see ``Sessions.create``."""
        key = fingerprint(prepared)
        async with self._locks.hold(key):
            # Sessions this client handed out just before this create began: a lookup
            # may see them (created_at has whole seconds) but they are not this row's.
            excluded = self._claims.recent(key)
            with self.batcher.running(prepared.get("event_id")):
                attempts = _Attempts(self._host, prepared, excluded, self._decode, self.batcher)
                session = await attempts.run()
            if session.id is not None:
                self._claims.add(key, session.id)
            return session

    async def list_page(
        self,
        event_id: int,
        number: int,
        fields: list[str],
        search: list[str] | None = None,
        deadline: float | None = None,
        sort: str | None = None,
    ) -> Page[Session]:
        """Fetch page ``number`` (200 sessions) of an event, with ``fields`` and ``search``."""
        call = list_sessions_call(
            event_id, page=number, per_page=200, fields=fields, search=search, sort=sort
        )
        url = self._host.base_url + call.path

        def decode(r: Response) -> Page[Session]:
            return parse_page(r.body, method=call.method, url=url, page=number, per_page=200)

        return await self._host._execute(call, decode, deadline=deadline)


class _Attempts:
    """One create call: its attempts, lookups and deadline."""

    def __init__(
        self,
        host: Host,
        prepared: Mapping[str, Any],
        excluded: frozenset[int],
        decode: Callable[[Response], Session],
        batcher: Batcher,
    ) -> None:
        self.host, self.prepared, self.excluded, self.decode = host, prepared, excluded, decode
        self.batcher = batcher
        self.started = time.time()
        self.deadline = host._clock() + host.retry.deadline
        self.name = prepared.get("name")

    def _unknown(self, message: str, cause: SwoogoError, ids: tuple[int, ...] = ()) -> Exception:
        return UnknownOutcomeError(
            f"create of {self.name!r} {message}", fields=self.prepared, cause=cause, candidates=ids
        )

    def _loose_unknown(self, cause: SwoogoError, loose: list[int]) -> Exception:
        return self._unknown(
            f"may have happened: sessions {sorted(loose)} hold every submitted field but"
            " not the defaults in the others; not re-sent, none claimed",
            cause,
            tuple(sorted(loose)),
        )

    async def run(self) -> Session:
        host = self.host
        try:
            call = create_session_call(self.prepared)
        except (TypeError, ValueError, ArithmeticError) as exc:  # a value the form cannot hold
            raise InvalidInputError("fields", f"cannot be sent: {exc}") from None
        doubt: SwoogoError | None = None  # the last failure the server may have acted on
        attempt = 0
        while True:
            attempt += 1
            try:
                session = await host._execute(call, self.decode, deadline=self.deadline)
            except SwoogoError as error:
                if doubt is not None:  # an earlier attempt may still have created it
                    return await self._settle_resend(error, doubt)
                if not _may_have_acted(error):
                    raise
                if host.create_policy == "raise":
                    raise self._unknown(
                        "failed after the server may have acted; create_policy='raise'", error
                    ) from error
                doubt = error
                found, loose = await self._look_up(error)
                if found:  # the lookup read the whole session: no need to fetch it
                    return found[0]
                if loose:
                    raise self._loose_unknown(error, loose) from error
                if attempt >= host.retry.max_attempts or host._clock() >= self.deadline:
                    raise self._unknown(
                        f"failed {attempt} times in ways the server may have acted on; no such"
                        " session was found, but a late commit cannot be ruled out",
                        error,
                    ) from error
                continue
            if doubt is None:
                return session
            return await self._check_after(session, doubt)

    async def _look_up(self, error: SwoogoError) -> tuple[list[Session], list[int]]:
        """Return [the session] an uncertain attempt made ([] if none) and the loose ids, or raise.

        Loose ids: sessions holding every submitted field but not the defaults in the
        others (``pick_match``). None may be claimed, but one may be this create's with
        a default the server fills differently, so none may be re-sent over either.

        The lookup is shared with the other creates of the event in doubt at the same
        time (``_batch.py``); it waits at least ``reconcile_delay``, so that a create
        the server is still committing is not missed.
        """
        host = self.host
        # Measured on the server's clock (learned from its Date header), with a margin
        # for its whole-second created_at and the header's whole seconds; on the local
        # clock with a wider margin when no Date can be trusted.
        offset = await host._server_clock_offset(self.deadline)
        margin = CLOCK_MARGIN if offset is not None else UNTRUSTED_CLOCK_MARGIN
        since = dt.datetime.fromtimestamp(
            self.started + (offset or 0.0) - margin, dt.timezone.utc
        ).replace(microsecond=0)
        now = host._clock()
        ready_at = now + max(min(host.reconcile_delay, self.deadline - now), 0.0)
        try:
            matches, contested, loose = await self.batcher.look_up(
                self.prepared,
                since=since,
                excluded=self.excluded,
                ready_at=ready_at,
                deadline=self.deadline,
            )
        except SwoogoError as lookup_error:
            raise self._unknown(
                "may or may not have happened, and the lookup failed too"
                f" ({type(lookup_error).__name__}: {lookup_error})",
                error,
            ) from lookup_error
        if len(matches) > 1 or contested:
            raise self._unknown(
                f"may have happened: {len(matches)} matching sessions were created since the"
                " attempt began" + (", one also matching another create" if contested else ""),
                error,
                tuple(s.id for s in matches if s.id),
            ) from error
        return matches, loose

    async def _settle_resend(self, error: SwoogoError, doubt: SwoogoError) -> Session:
        """After a re-send failed too, look once more: exactly one copy is this create's."""
        found, loose = await self._look_up(error if _may_have_acted(error) else doubt)
        if len(found) == 1:
            return found[0]
        if loose:
            raise self._loose_unknown(doubt, loose)
        raise self._unknown(
            f"failed ({type(error).__name__}) after an earlier attempt that the server may"
            " have acted on, and no copy was found",
            doubt,
        ) from error

    async def _check_after(self, session: Session, doubt: SwoogoError) -> Session:
        """After a re-send succeeded, make sure the doubtful attempt did not land too."""
        mine = {session.id} if session.id is not None else set()
        try:
            found, loose = await self._look_up(doubt)
            # Loose: another copy need not match strictly to be this create's too.
            ids = {s.id for s in found if s.id is not None} | set(loose)
        except UnknownOutcomeError as error:
            if not error.candidates:  # the lookup itself failed
                raise self._unknown(
                    f"was created as {session.id} after an uncertain attempt, but whether that"
                    " attempt landed too could not be checked",
                    doubt,
                    tuple(mine),
                ) from error
            ids = set(error.candidates)
        both = tuple(sorted(ids | mine))
        if len(both) > 1:
            raise self._unknown(
                f"was re-sent after an uncertain attempt and both landed: sessions {both}",
                doubt,
                both,
            )
        return session
