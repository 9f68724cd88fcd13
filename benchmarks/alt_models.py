"""Benchmark-only models of the ``Session`` shape in pydantic v2 and msgspec.

Same fields, same types, lax parsing (``"150"`` to 150, ``1`` to True). They do less
than the SDK's converter: no ``c_<digits>`` merging, no salvage of bad values, naive
datetimes are not made UTC. pydantic keeps unknown fields (``extra="allow"``), as the SDK
does in ``extra``; msgspec drops them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pydantic

from swoogo_async import SelectionControl, SessionStatus

__all__ = ["MsgspecPage", "MsgspecSession", "PydanticPage", "PydanticSession"]


class PydanticSession(pydantic.BaseModel):
    """The session shape in pydantic v2 (frozen, unknown fields kept)."""

    model_config = pydantic.ConfigDict(extra="allow", frozen=True)

    id: int | None = None
    event_id: int | None = None
    name: str | None = None
    admin_short_name: str | None = None
    badge_name: str | None = None
    description: str | None = None
    date: dt.date | None = None
    start_time: dt.time | None = None
    end_time: dt.time | None = None
    times_with_timezone: str | None = None
    use_event_timezone: bool | None = None
    timezone: str | None = None
    capacity: int | None = None
    notes: str | None = None
    location: Any = None
    location_id: int | None = None
    track: Any = None
    track_id: int | None = None
    type_id: int | None = None
    webinar_url: str | None = None
    sold_out_message: str | None = None
    secure_id: str | None = None
    session_status: SessionStatus | None = None
    selection_control: SelectionControl | None = None
    session_included: bool | None = None
    locked_when_saved: bool | None = None
    selected_by_default: bool | None = None
    prevent_session_conflicts: bool | None = None
    direct_link: str | None = None
    virtual_link: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    custom_fields: dict[str, Any] = pydantic.Field(default_factory=dict)


class PydanticPage(pydantic.BaseModel):
    """A list page's envelope in pydantic."""

    items: list[PydanticSession]
    meta: dict[str, Any] = pydantic.Field(default_factory=dict, alias="_meta")


class MsgspecSession(msgspec.Struct, frozen=True, kw_only=True):
    """The session shape as a msgspec Struct (decoded with ``strict=False``)."""

    id: int | None = None
    event_id: int | None = None
    name: str | None = None
    admin_short_name: str | None = None
    badge_name: str | None = None
    description: str | None = None
    date: dt.date | None = None
    start_time: dt.time | None = None
    end_time: dt.time | None = None
    times_with_timezone: str | None = None
    use_event_timezone: bool | None = None
    timezone: str | None = None
    capacity: int | None = None
    notes: str | None = None
    location: Any = None
    location_id: int | None = None
    track: Any = None
    track_id: int | None = None
    type_id: int | None = None
    webinar_url: str | None = None
    sold_out_message: str | None = None
    secure_id: str | None = None
    session_status: SessionStatus | None = None
    selection_control: SelectionControl | None = None
    session_included: bool | None = None
    locked_when_saved: bool | None = None
    selected_by_default: bool | None = None
    prevent_session_conflicts: bool | None = None
    direct_link: str | None = None
    virtual_link: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    custom_fields: dict[str, Any] = msgspec.field(default_factory=dict)


class MsgspecPage(msgspec.Struct, kw_only=True):
    """A list page's envelope in msgspec."""

    items: list[MsgspecSession]
    meta: dict[str, Any] = msgspec.field(default_factory=dict, name="_meta")
