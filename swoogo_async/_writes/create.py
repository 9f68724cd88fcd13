"""The duplicate-safe create (docs/resilience.md): a create that fails after the server may
have acted is looked up before anything is re-sent, and again after a re-send."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Hashable, Mapping
from typing import Any, Literal, Protocol, TypeVar

import attrs

from .._api.converter import parse_session
from .._api.endpoints import create_session_call, list_sessions_call
from .._api.models import Page, Session
from .._api.pages import parse_page
from .._exceptions import InvalidInputError, SwoogoError, UnknownOutcomeError
from .._http.retry import RetryPolicy
from .._http.transport import Call, Parse
from .lookup import Batcher

__all__ = ["UNTRUSTED_CLOCK_MARGIN", "CreateLocks", "Creator", "Sender"]

T = TypeVar("T")

#: Allowance for the server's clock and its whole-second ``created_at``.
CLOCK_MARGIN = 2.0
#: The allowance when the server's clock is unknown and the lookup measures on the local one.
UNTRUSTED_CLOCK_MARGIN = 60.0


class Sender(Protocol):
    """The client as the writes see it (``SwoogoClient``), so nothing here imports the client."""

    @property
    def retry(self) -> RetryPolicy: ...
    @property
    def create_policy(self) -> Literal["reconcile", "raise"]: ...
    @property
    def reconcile_delay(self) -> float: ...
    def clock(self) -> float: ...  # the monotonic time every deadline is measured on
    async def server_clock_offset(self, deadline: float) -> float | None: ...
    async def send(self, call: Call, parse: Parse[T], *, deadline: float | None = None) -> T: ...


class KeyedLocks:
    """One lock per key, alive only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, list[int]]] = {}  # lock, [users]

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._locks[key]


def fingerprint(fields: Mapping[str, Any]) -> tuple[Any, ...]:
    """Creates sharing this key, which a lookup could confuse, run one at a time."""
    name = fields.get("name")
    folded = name.casefold() if isinstance(name, str) else name
    return (fields.get("event_id"), folded, fields.get("date"))


class RecentClaims:
    """Ids this client's creates returned in the last ``keep`` seconds (a lookup drops older)."""

    def __init__(self, keep: float = 10.0) -> None:
        self.keep = keep
        self._order: deque[tuple[float, Hashable, int]] = deque()
        self._by_key: defaultdict[Hashable, set[int]] = defaultdict(set)

    def add(self, key: Hashable, session_id: int, now: float | None = None) -> None:
        self._order.append((time.monotonic() if now is None else now, key, session_id))
        self._by_key[key].add(session_id)

    def recent(self, key: Hashable, now: float | None = None) -> frozenset[int]:
        """Return the ids handed out for ``key`` (a create asks before it adds: old ones go)."""
        horizon = (time.monotonic() if now is None else now) - self.keep
        while self._order and self._order[0][0] < horizon:
            _, old, session_id = self._order.popleft()
            self._by_key[old].discard(session_id)
            if not self._by_key[old]:
                del self._by_key[old]
        return frozenset(self._by_key.get(key, ()))

    def __len__(self) -> int:
        return len(self._order)


@attrs.define(eq=False)
class CreateLocks:
    """Shared by a client and its copies: one create per fingerprint at a time, recent ids."""

    locks: KeyedLocks = attrs.field(factory=KeyedLocks)
    handed_out: RecentClaims = attrs.field(factory=RecentClaims)


def _may_have_acted(error: SwoogoError) -> bool:
    return bool(getattr(error, "may_have_acted", False))  # a TransportError's or APIError's


class Creator:
    """Runs creates for one client: one at a time per fingerprint, never twice silently."""

    def __init__(self, client: Sender, shared: CreateLocks) -> None:
        self._client, self._locks, self._handed_out = client, shared.locks, shared.handed_out
        self.batcher = Batcher(self.list_page, client.clock)

    async def create(self, prepared: Mapping[str, Any]) -> Session:
        """Create from checked fields; see ``Sessions.create``."""
        key = fingerprint(prepared)
        async with self._locks.hold(key):
            # Handed out just before: a lookup may see them, but they are not this row's.
            excluded = self._handed_out.recent(key)
            with self.batcher.running(prepared.get("event_id")):
                session = await _CreateCall(self, prepared, excluded).run()
            if session.id is not None:
                self._handed_out.add(key, session.id)
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
        parse = functools.partial(parse_page, page=number, per_page=200)
        return await self._client.send(call, parse, deadline=deadline)


class _CreateCall:
    """One create: its attempts, lookups and deadline."""

    def __init__(
        self, creator: Creator, fields: Mapping[str, Any], excluded: frozenset[int]
    ) -> None:
        client = self.client = creator._client
        self.prepared, self.excluded, self.batcher = fields, excluded, creator.batcher
        self.started = time.time()
        self.began = self.last_began = client.clock()  # first and latest attempt
        self.deadline = self.began + client.retry.deadline

    def _unknown(self, message: str, cause: SwoogoError, ids: tuple[int, ...] = ()) -> Exception:
        return UnknownOutcomeError(
            f"create of {self.prepared.get('name')!r} {message}",
            fields=self.prepared,
            cause=cause,
            candidates=ids,
        )

    def _candidates_unknown(self, cause: SwoogoError, candidates: list[int]) -> Exception:
        ids = tuple(sorted(candidates))
        return self._unknown(
            f"may have happened: sessions {list(ids)} hold every submitted field but"
            " not the defaults in the others; not re-sent, none claimed",
            cause,
            ids,
        )

    async def run(self) -> Session:
        client = self.client
        try:
            call = create_session_call(self.prepared)
        except (TypeError, ValueError, ArithmeticError) as exc:  # a value the form cannot hold
            raise InvalidInputError("fields", f"cannot be sent: {exc}") from None
        try:
            return await client.send(call, parse_session, deadline=self.deadline)
        except SwoogoError as error:
            if not _may_have_acted(error):
                raise
            if client.create_policy == "raise":
                raise self._unknown(
                    "failed after the server may have acted; create_policy='raise'", error
                ) from error
            uncertain = error  # the server may have acted on it
        found, candidates = await self._look_up(uncertain)
        if found:  # the lookup read the whole session: no need to fetch it
            return found[0]
        if candidates:
            raise self._candidates_unknown(uncertain, candidates) from uncertain
        if client.retry.max_attempts < 2 or client.clock() >= self.deadline:
            raise self._unknown(
                "failed in a way the server may have acted on; no such session was found,"
                " but a late commit cannot be ruled out",
                uncertain,
            ) from uncertain
        self.last_began = client.clock()
        try:
            session = await client.send(call, parse_session, deadline=self.deadline)
        except SwoogoError as error:  # the first attempt may still have created it
            return await self._settle_resend(error, uncertain)
        return await self._check_after(session, uncertain)

    async def _look_up(
        self, error: SwoogoError, not_before: float | None = None
    ) -> tuple[list[Session], list[int]]:
        """Return [the session] an uncertain attempt made ([] if none) and candidates' ids."""
        client = self.client
        # On the server's clock (its Date) or, when none can be trusted, with a wider margin.
        offset = await client.server_clock_offset(self.deadline)
        margin = CLOCK_MARGIN if offset is not None else UNTRUSTED_CLOCK_MARGIN
        since = dt.datetime.fromtimestamp(
            self.started + (offset or 0.0) - margin, dt.timezone.utc
        ).replace(microsecond=0)
        now = client.clock()  # wait out reconcile_delay (and not_before), never past the deadline
        wanted = max(now + client.reconcile_delay, now if not_before is None else not_before)
        try:
            matches, taken_twice, candidates = await self.batcher.look_up(
                self.prepared,
                since=since,
                excluded=self.excluded,
                ready_at=max(min(wanted, self.deadline), now),
                deadline=self.deadline,
            )
        except SwoogoError as lookup_error:
            raise self._unknown(
                "may or may not have happened, and the lookup failed too"
                f" ({type(lookup_error).__name__}: {lookup_error})",
                error,
            ) from lookup_error
        if len(matches) > 1 or taken_twice:
            raise self._unknown(
                f"may have happened: {len(matches)} matching sessions were created since the"
                " attempt began" + (", one also matching another create" if taken_twice else ""),
                error,
                tuple(s.id for s in matches if s.id),
            ) from error
        return matches, candidates

    async def _settle_resend(self, error: SwoogoError, uncertain: SwoogoError) -> Session:
        """After a re-send failed too, look once more: exactly one copy is this create's."""
        found, candidates = await self._look_up(error if _may_have_acted(error) else uncertain)
        if len(found) == 1:  # a re-send the server may have acted on may still land
            return await self._settle_open(found[0], error) if _may_have_acted(error) else found[0]
        if candidates:
            raise self._candidates_unknown(uncertain, candidates)
        raise self._unknown(
            f"failed ({type(error).__name__}) after an earlier attempt that the server may"
            " have acted on, and no copy was found",
            uncertain,
        ) from error

    async def _settle_open(self, copy: Session, error: SwoogoError) -> Session:
        """Keep ``copy`` if still the one match once the re-send had as long as ``copy`` took."""
        not_before = self.last_began + (self.client.clock() - self.began)
        if not_before > self.deadline:
            raise self._unknown(
                f"may have happened twice: session {copy.id} was found, but the re-sent"
                " attempt may still land and the deadline leaves no time to look again",
                error,
                (copy.id,) if copy.id is not None else (),
            )
        found, _ = await self._look_up(error, not_before)
        if len(found) == 1 and found[0].id == copy.id:
            return found[0]
        ids = tuple(sorted({s.id for s in (*found, copy) if s.id is not None}))
        raise self._unknown(
            f"may have happened: sessions {ids} matched across two lookups after every"
            " attempt failed in ways the server may have acted on",
            error,
            ids,
        )

    async def _check_after(self, session: Session, uncertain: SwoogoError) -> Session:
        """After a re-send succeeded, make sure the uncertain attempt did not land too."""
        mine = {session.id} if session.id is not None else set()
        try:
            found, candidates = await self._look_up(uncertain)
            # A candidate: another copy need not match strictly to be this create's too.
            ids = {s.id for s in found if s.id is not None} | set(candidates)
        except UnknownOutcomeError as error:
            if not error.candidates:  # the lookup itself failed
                raise self._unknown(
                    f"was created as {session.id} after an uncertain attempt, but whether that"
                    " attempt landed too could not be checked",
                    uncertain,
                    tuple(mine),
                ) from error
            ids = set(error.candidates)
        both = tuple(sorted(ids | mine))
        if len(both) > 1:
            raise self._unknown(
                f"was re-sent after an uncertain attempt and both landed: sessions {both}",
                uncertain,
                both,
            )
        return session
