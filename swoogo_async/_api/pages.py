"""Listings that a server whose counters lie (``currentPage`` stuck, ``next`` always there,
``?page`` ignored, ``totalCount`` stale) cannot make loop, and the list envelope's parsers."""

from __future__ import annotations

import contextlib
import functools
import operator
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

import attrs

from .converter import decode_json, refused, structure_sessions, structure_speaker
from .models import Page, Session, Speaker

__all__ = [
    "UNCOUNTED_PAGE_CAP",
    "KeysetWalk",
    "Listing",
    "numbered_listing",
    "page_of",
    "parse_page",
    "parse_raw_page",
    "parse_speaker_page",
]

T = TypeVar("T")
C = TypeVar("C")

#: Pages a walk reads at most when no ``totalCount`` bounds it (``next`` on every page).
UNCOUNTED_PAGE_CAP = 1000
_item_id = operator.attrgetter("id")


def _short(read: int, total: int | None) -> str | None:
    """Why a walk that reached the server's end is incomplete (an item deleted meanwhile)."""
    if total is None or read >= total:
        return None
    return (
        f"the listing ended with {read} distinct items of the {total} its first page"
        " announced (it changed while it was read)"
    )


def _runaway(
    read: int, total: int | None, number: int, page_count: int | None, pages: int
) -> str | None:
    """Why a walk with more to read must stop (past ``totalCount`` and ``pageCount``), or None."""
    if total is not None and read > total and (page_count is None or page_count > number + 1):
        return (
            f"the listing went past the {total} items its first page announced"
            f" ({read} distinct items in {pages} pages) and still promised more"
        )
    if total is None and pages >= UNCOUNTED_PAGE_CAP:
        return f"stopped after {pages} pages: the listing gave no totalCount to end it"
    return None


def _more(page: Page[Any], number: int, page_count: int | None) -> bool:
    """Whether a page follows: ``pageCount``, else ``next``, else a full page (no stale total)."""
    if page_count is not None:
        return number < page_count
    if page.has_next is not None:
        return page.has_next
    return len(page.items) >= page.per_page


class KeysetWalk(Generic[T]):
    """``async for page in KeysetWalk(fetch)``: ``fetch(last)`` reads the items above id ``last``
    by id, so a delete meanwhile cannot hide one; ``complete``, ``stopped`` as for ``Listing``."""

    def __init__(self, fetch: Callable[[int], Awaitable[Page[T]]]) -> None:
        self._fetch = fetch
        self.complete = False
        self.stopped: str | None = None

    async def __aiter__(self) -> AsyncIterator[Page[T]]:
        seen: set[int] = set()
        last = pages = 0
        page = await self._fetch(last)
        total = page.total_count
        while True:
            ids: list[int] = []
            for ident in map(_item_id, page.items):
                if type(ident) is not int or ident <= (ids[-1] if ids else last):
                    # The server ignored the search or the sort: reading on could skip items.
                    self.stopped = f"the page read after id {last} is not in id order above it"
                    return
                ids.append(ident)
            seen.update(ids)
            yield page
            if not ids or not _more(page, 1, page.page_count):
                break
            pages += 1
            self.stopped = _runaway(len(seen), total, 1, page.page_count, pages)
            if self.stopped is not None:
                return
            last = ids[-1]
            page = await self._fetch(last)
        self.stopped = _short(len(seen), total)
        self.complete = self.stopped is None


class Listing(Generic[T]):
    """Any list endpoint, page by page: ``async for item in listing``.

    Pages are fetched as iteration needs them; an item seen on an earlier page is not yielded
    twice, and a misbehaving server cannot make it loop (see the resilience guide). A listing
    that changed while read does not raise: ``complete`` is then False, ``stopped`` says why.

    Args:
        fetch: Fetches page ``n`` (1-based).
        key: An item's identity.
        max_pages: Pages read at most.
    """

    def __init__(
        self,
        fetch: Callable[[int], Awaitable[Page[T]]],
        *,
        key: Callable[[T], Hashable | None] = _item_id,
        max_pages: int | None = None,
    ) -> None:
        self._fetch, self._key, self._max_pages = fetch, key, max_pages
        #: Why the last walk over the pages stopped before the server's end, if it did.
        self.stopped: str | None = None
        #: Whether the last walk reached the end the server described.
        self.complete = False

    async def page(self, number: int = 1) -> Page[T]:
        """Fetch one page (1-based), with the envelope's total and page counts."""
        return await self._fetch(number)

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Yield every page in turn, each at most once (see the class docstring)."""
        seen: set[Hashable] = set()
        anonymous = 0  # items without an identity, counted towards the total
        page_count: int | None = None
        total: int | None = None
        number = 1
        while True:
            page = await self._fetch(number)
            keys = list(map(self._key, page.items))
            new = [k for k in keys if k is not None and k not in seen]
            if number == 1:
                page_count, total = page.page_count, page.total_count
            elif page.items and not new:
                stopped: str | None = f"page {number} brought no new item (is ?page ignored?)"
                break
            seen.update(new)
            anonymous += keys.count(None)
            yield page
            read = len(seen) + anonymous
            if not page.items or not _more(page, number, page_count):
                stopped = _short(read, total)
                break
            if self._max_pages is not None and number >= self._max_pages:
                stopped = f"stopped after {number} pages"
                break
            stopped = _runaway(read, total, number, page_count, number)
            if stopped is not None:
                break
            number += 1
        self.stopped, self.complete = stopped, stopped is None

    async def __aiter__(self) -> AsyncIterator[T]:
        seen: set[Hashable] = set()
        async for current in self.pages():
            for item in current.items:
                ident = self._key(item)
                if ident is None or ident not in seen:
                    seen.add(ident)
                    yield item

    async def collect(self) -> list[T]:
        """Return every item as a list."""
        return [item async for item in self]


def numbered_listing(
    send: Callable[[C, Callable[..., Page[T]]], Awaitable[Page[T]]],
    call_for: Callable[[int], C],
    parse: Callable[..., Page[T]],
    *,
    per_page: int,
) -> Listing[T]:
    """A ``Listing`` whose page ``n`` is ``send(call_for(n), parse)``, ``parse`` told the page."""
    call_for(1)  # an unusable argument raises before any request

    async def fetch(number: int) -> Page[T]:
        page_parse = functools.partial(parse, page=number, per_page=per_page)
        return await send(call_for(number), page_parse)

    return Listing(fetch)


def _count(meta: Any, name: str) -> int | None:
    value = meta.get(name) if isinstance(meta, dict) else None
    if value is not None and not isinstance(value, bool):
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            return int(value)
    return None


def page_of(
    payload: Any, raw: bytes, *, method: str, url: str, page: int, per_page: int
) -> Page[dict[str, Any]]:
    """The ``Page`` a decoded list envelope (or a bare list) holds, or ``ResponseDecodeError``."""
    if isinstance(payload, list):
        payload = {"items": payload}
    items = payload.get("items") if isinstance(payload, dict) else None
    if isinstance(items, Mapping):
        items = list(items.values())
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise refused(raw, payload, method=method, url=url)
    meta, links = payload.get("_meta"), payload.get("_links")
    return Page(
        items=items,
        total_count=_count(meta, "totalCount"),
        page_count=_count(meta, "pageCount"),
        current_page=_count(meta, "currentPage") or page,
        per_page=_count(meta, "perPage") or per_page,
        has_next=bool(links.get("next")) if isinstance(links, dict) else None,
    )


def parse_raw_page(
    raw: bytes, *, method: str, url: str, page: int, per_page: int
) -> Page[dict[str, Any]]:
    """Read a list envelope into a ``Page`` of plain dicts."""
    payload = decode_json(raw, method=method, url=url)
    return page_of(payload, raw, method=method, url=url, page=page, per_page=per_page)


def parse_page(raw: bytes, *, method: str, url: str, page: int, per_page: int) -> Page[Session]:
    """Read a list envelope of sessions (``items`` a list or an object keyed by id)."""
    plain: Page[Any] = parse_raw_page(raw, method=method, url=url, page=page, per_page=per_page)
    return attrs.evolve(plain, items=structure_sessions(plain.items, copy=False))


def parse_speaker_page(
    raw: bytes, *, method: str, url: str, page: int, per_page: int
) -> Page[Speaker]:
    """Read a list envelope of speakers."""
    plain: Page[Any] = parse_raw_page(raw, method=method, url=url, page=page, per_page=per_page)
    return attrs.evolve(plain, items=[structure_speaker(item) for item in plain.items])
