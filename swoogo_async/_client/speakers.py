"""The ``speakers`` resource (``GET /speakers/{id}`` is inferred from the API's pattern)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._api import endpoints
from .._api.converter import parse_speaker
from .._api.models import Speaker
from .._api.pages import Listing, numbered_listing, parse_speaker_page
from .._http.transport import Call, check_id
from .sessions import reusable

if TYPE_CHECKING:
    from .client import SwoogoClient

__all__ = ["Speakers"]


class Speakers:
    """Speakers: list an event's, get one, attach sessions to one. A bad argument raises
    ``InvalidInputError`` naming it before anything is sent (a listing's, when it is made)."""

    def __init__(self, client: SwoogoClient) -> None:
        self._send = client.send

    def list(
        self,
        event_id: int,
        *,
        fields: str | Iterable[str] | None = endpoints.DEFAULT_SPEAKER_FIELDS,
        expand: str | Iterable[str] | None = None,
        per_page: int = 200,
    ) -> Listing[Speaker]:
        """List an event's speakers, a page (10 credits) at a time.

        Args:
            fields: By default every field of ``Speaker`` (the API alone sends only the id
                and names); ``None`` leaves it to the server.
            expand: Related objects, e.g. ``"sessions"``.
            per_page: Page size (up to 1000; 200 with ``expand``).
        """
        options: dict[str, Any] = {"fields": reusable(fields), "expand": reusable(expand)}
        return numbered_listing(
            self._send,
            lambda number: endpoints.list_speakers_call(
                event_id, page=number, per_page=per_page, **options
            ),
            parse_speaker_page,
            per_page=per_page,
        )

    async def get(
        self,
        speaker_id: int,
        *,
        fields: str | Iterable[str] | None = None,
        expand: str | Iterable[str] | None = None,
    ) -> Speaker:
        """Fetch one speaker (``fields`` and ``expand`` as for ``list``).

        Raises:
            NotFoundError: no such speaker.
        """
        query = "" if fields is None and expand is None else endpoints.read_query(fields, expand)
        call = Call("GET", f"/speakers/{check_id('speaker_id', speaker_id)}", query)
        return await self._send(call, parse_speaker)

    async def add_sessions(self, speaker_id: int, session_ids: Iterable[int]) -> Speaker:
        """Associate sessions with a speaker; all must belong to the speaker's event.

        Returns:
            The whole speaker, with its ``sessions``.

        Raises:
            NotFoundError: no such speaker.
            ValidationError: a session id is unknown or in another event.
        """
        return await self._send(endpoints.add_sessions_call(speaker_id, session_ids), parse_speaker)
