"""``SessionList``: the sessions of an event, read page by page as iteration needs them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .._api.endpoints import list_sessions_call, parse_page
from .._api.models import Page, Session
from .._api.pages import PageWalk
from .._writes.create import Host

__all__ = ["SessionList"]


class SessionList:
    """The sessions of an event, page by page: ``async for session in ...``.

    Pages are fetched one at a time as iteration needs them; page URLs are built
    by the client, not taken from ``_links``. A session seen on an earlier page
    (the list shifted while it was read) is not yielded twice. A server whose
    pagination misbehaves cannot make it loop: iteration stops cleanly at a page
    that brings no new session, or past the first page's ``pageCount``
    (``stopped`` then says why). A listing that changed while it was read (fewer
    distinct sessions than the first page's ``totalCount``) does not raise; it
    leaves ``complete`` False and ``stopped`` saying so.
    """

    def __init__(self, client: Host, event_id: int, options: dict[str, Any]) -> None:
        self._client = client
        self._event_id = event_id
        self._options = options
        #: Why the last walk over the pages stopped before the server's end, if it did.
        self.stopped: str | None = None
        #: Whether the last walk read every session the server announced.
        self.complete = False
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
        """Yield every page in turn, each at most once (see the class docstring)."""
        walk = PageWalk(self.page)
        async for current in walk:
            yield current
        self.stopped, self.complete = walk.stopped, walk.complete

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
