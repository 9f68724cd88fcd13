"""The ``speakers`` resource: list, get, attach sessions.

Paths: ``GET /speakers?event_id=`` is documented (without ``fields`` it returns only
``id``, ``first_name``, ``last_name``); ``GET /speakers/{id}`` is inferred from the
``GET /{resource}/{id}`` pattern of the reference (its page was not read).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

import attrs

from .._api.converter import converter
from .._api.endpoints import (
    LIST_COST,
    MAX_PER_PAGE,
    MAX_PER_PAGE_EXPANDED,
    Call,
    _names,
    add_sessions_call,
    parse_speaker,
)
from .._api.fields import check_id
from .._api.models import Page, Speaker
from .._api.pages import Listing
from .._api.raw import parse_raw_page
from .._exceptions import InvalidInputError, ResponseDecodeError

if TYPE_CHECKING:
    from .client import SwoogoClient

__all__ = [
    "DEFAULT_SPEAKER_FIELDS",
    "SPEAKERS_PATH",
    "SPEAKER_PATH",
    "Speakers",
    "get_speaker_call",
    "list_speakers_call",
    "parse_speaker_page",
]

#: Documented: ``GET /speakers?event_id=…`` (``event_id`` required).
SPEAKERS_PATH: Final = "/speakers"
#: Inferred from the reference's ``GET /{resource}/{id}`` pattern.
SPEAKER_PATH: Final = "/speakers/{speaker_id}"
#: What ``speakers.list`` asks for by default: every field of ``Speaker`` but the
#: expanded ``sessions`` (the API alone would send only id and the two names).
DEFAULT_SPEAKER_FIELDS: Final = tuple(
    a.name for a in attrs.fields(Speaker) if a.name not in ("sessions", "extra")
)


def _query(fields: Any, expand: Any) -> list[tuple[str, str]]:
    query: list[tuple[str, str]] = []
    for name, value in (("fields", fields), ("expand", expand)):
        joined = _names(name, value)
        if joined is not None:
            query.append((name, joined))
    return query


def list_speakers_call(
    event_id: int,
    *,
    page: int = 1,
    per_page: int = 200,
    fields: str | Iterable[str] | None = DEFAULT_SPEAKER_FIELDS,
    expand: str | Iterable[str] | None = None,
) -> Call:
    """Build ``GET /speakers?event_id=…`` for one page."""
    check_id("event_id", event_id)
    check_id("page", page)
    query = [("event_id", str(event_id)), ("page", str(page))]
    extra = _query(fields, expand)
    limit = MAX_PER_PAGE_EXPANDED if any(k == "expand" for k, _ in extra) else MAX_PER_PAGE
    if type(per_page) is not int or not 1 <= per_page <= limit:
        raise InvalidInputError("per_page", f"must be an integer from 1 to {limit}")
    query.append(("per-page", str(per_page)))
    return Call("GET", SPEAKERS_PATH, urlencode(query + extra), cost=LIST_COST)


def get_speaker_call(
    speaker_id: int,
    *,
    fields: str | Iterable[str] | None = None,
    expand: str | Iterable[str] | None = None,
) -> Call:
    """Build ``GET /speakers/{id}``."""
    check_id("speaker_id", speaker_id)
    query = _query(fields, expand)
    return Call("GET", SPEAKER_PATH.format(speaker_id=speaker_id), urlencode(query))


def parse_speaker_page(
    raw: bytes, *, method: str, url: str, page: int, per_page: int
) -> Page[Speaker]:
    """Read a list envelope of speakers."""
    plain = parse_raw_page(raw, method=method, url=url, page=page, per_page=per_page)
    try:
        items = [converter.structure(item, Speaker) for item in plain.items]
    except ValueError:
        raise ResponseDecodeError(status=200, method=method, url=url, body=None, raw=raw) from None
    return Page(
        items=items,
        total_count=plain.total_count,
        page_count=plain.page_count,
        current_page=plain.current_page,
        per_page=plain.per_page,
        has_next=plain.has_next,
    )


class Speakers:
    """Speakers: list an event's, get one, attach sessions to one."""

    def __init__(self, client: SwoogoClient) -> None:
        self._client = client

    def list(
        self,
        event_id: int,
        *,
        fields: str | Iterable[str] | None = DEFAULT_SPEAKER_FIELDS,
        expand: str | Iterable[str] | None = None,
        per_page: int = 200,
    ) -> Listing[Speaker]:
        """List an event's speakers (``GET /speakers?event_id=``, documented).

        Each page costs 10 rate-limit credits. Without ``fields`` the API returns
        only ``id``, ``first_name`` and ``last_name``, so by default every field of
        ``Speaker`` is asked for (``DEFAULT_SPEAKER_FIELDS``).

        Args:
            event_id: The event.
            fields: Fields to return; ``None`` leaves the choice to the server.
            expand: Related objects, e.g. ``"sessions"``.
            per_page: Page size (up to 1000; 200 with ``expand``).

        Returns:
            An async iterable of ``Speaker``, with ``.pages()``, ``.page(n)``, ``.collect()``.

        Raises:
            InvalidInputError: an argument is invalid (raised here, nothing sent).
        """
        fields = (
            list(fields) if isinstance(fields, Iterable) and not isinstance(fields, str) else fields
        )
        expand = (
            list(expand) if isinstance(expand, Iterable) and not isinstance(expand, str) else expand
        )
        options: dict[str, Any] = {"fields": fields, "expand": expand, "per_page": per_page}
        list_speakers_call(event_id, **options)  # check the arguments before any request
        client = self._client

        async def fetch(number: int) -> Page[Speaker]:
            call = list_speakers_call(event_id, page=number, **options)
            parse = functools.partial(parse_speaker_page, page=number, per_page=per_page)
            return await client.send(call, parse)

        return Listing(fetch)

    async def get(
        self,
        speaker_id: int,
        *,
        fields: str | Iterable[str] | None = None,
        expand: str | Iterable[str] | None = None,
    ) -> Speaker:
        """Fetch one speaker (``GET /speakers/{id}``, inferred from the API's pattern).

        Args:
            speaker_id: The speaker's id.
            fields: Only these fields.
            expand: Related objects, e.g. ``"sessions"``.

        Returns:
            The speaker.

        Raises:
            NotFoundError: no such speaker.
            InvalidInputError: an argument is invalid (nothing was sent).
        """
        call = get_speaker_call(speaker_id, fields=fields, expand=expand)
        return await self._client.send(call, parse_speaker)

    async def add_sessions(self, speaker_id: int, session_ids: Iterable[int]) -> Speaker:
        """Associate sessions with a speaker; all must belong to the speaker's event.

        Returns:
            The whole speaker, with its ``sessions``.

        Raises:
            InvalidInputError: an id is invalid (nothing was sent).
            NotFoundError: no such speaker.
            ValidationError: a session id is unknown or in another event.
        """
        return await self._client.send(add_sessions_call(speaker_id, session_ids), parse_speaker)
