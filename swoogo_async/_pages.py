"""Walking a paginated listing so that a misbehaving server cannot make it loop.

A page's own counters cannot be trusted (``currentPage`` stuck, ``pageCount`` of
10⁹, ``next`` always present, ``?page`` ignored): the walk numbers pages itself
and stops when a page brings no session it has not seen, past the first page's
``pageCount``, once it has seen the first page's ``totalCount`` sessions, or at
``max_pages``. ``complete`` says whether it reached the end the server described.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from ._models import Page, Session

__all__ = ["PageWalk"]


class PageWalk:
    """``async for page in PageWalk(fetch)``: each page once, never endlessly.

    Args:
        fetch: Fetches page ``n`` (1-based).
        max_pages: Pages at most; reaching it with more to read leaves ``complete`` False.
    """

    def __init__(
        self, fetch: Callable[[int], Awaitable[Page[Session]]], *, max_pages: int | None = None
    ) -> None:
        self._fetch = fetch
        self._max_pages = max_pages
        #: Whether the walk ended where the server said the listing ends.
        self.complete = False
        #: Why the walk stopped early, when it did.
        self.stopped: str | None = None
        self.seen: set[int] = set()

    async def __aiter__(self) -> AsyncIterator[Page[Session]]:
        seen = self.seen
        page_count: int | None = None
        total: int | None = None
        number = 1
        while True:
            page = await self._fetch(number)
            new = [s.id for s in page.items if s.id is not None and s.id not in seen]
            if number == 1:
                page_count, total = page.page_count, page.total_count
            elif page.items and not new:
                self.stopped = f"page {number} brought no new session (is ?page ignored?)"
                return
            seen.update(new)
            yield page
            if page.is_last or (page_count is not None and number >= page_count):
                self.complete = True
                return
            if total is not None and len(seen) >= total:
                self.complete = True
                return
            if self._max_pages is not None and number >= self._max_pages:
                self.stopped = f"stopped after {number} pages"
                return
            number += 1
