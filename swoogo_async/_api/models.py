"""The data the API returns, as frozen attrs classes: plain data, every conversion rule
(type drift, flags, date formats, unknown fields) is in ``converter.py``."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Generic, TypeVar

import attrs

__all__ = [
    "Page",
    "SelectionControl",
    "Session",
    "SessionStatus",
    "Speaker",
    "from_fields",
]

T = TypeVar("T")


class _OpenEnum(str, enum.Enum):
    """A string enum that keeps values it does not know instead of rejecting them."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        known = cls._value2member_map_.get(value.strip().lower())
        if known is not None:
            return known
        # Not cached: a worker fed ever-new strings must not grow the member map.
        member = str.__new__(cls, value)
        member._name_ = value.upper()
        member._value_ = value
        return member

    def __str__(self) -> str:
        return str(self.value)

    @property
    def known(self) -> bool:
        """Whether this value is one the SDK was built with."""
        return self._name_ in type(self).__members__


class SessionStatus(_OpenEnum):
    """A session's status; values the SDK does not know yet are kept, not rejected."""

    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    CONVERTED = "converted"
    LIVE = "live"


class SelectionControl(_OpenEnum):
    """Whether attendees may opt into a session, or get it included."""

    OPTIONAL = "optional"
    INCLUDED = "included"


# Not slotted: the converter makes a session read whole with ``from_fields``.
@attrs.frozen(slots=False, kw_only=True)
class Session:
    """A session (agenda item).

    Every field is optional, as ``fields=`` restricts what the server returns. Custom
    fields (inside ``custom_fields`` or top-level ``c_<digits>`` keys) are in
    ``custom_fields``; a field this version of the SDK does not know is kept in ``extra``.
    """

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
    custom_fields: dict[str, Any] = attrs.field(factory=dict)
    extra: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(slots=True, kw_only=True)
class Speaker:
    """A speaker, as returned when sessions are added to one."""

    id: int | None = None
    event_id: int | None = None
    contact_id: int | None = None
    cfs_speaker: bool | None = None
    email: str | None = None
    bio: str | None = None
    prefix: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    suffix: str | None = None
    company: str | None = None
    job_title: str | None = None
    work_phone: str | None = None
    mobile_phone: str | None = None
    profile_picture: str | None = None
    twitter_handle: str | None = None
    gender: dict[str, Any] | None = None
    birth_date: dt.date | None = None
    cc_email: str | None = None
    vat_number: str | None = None
    direct_link: str | None = None
    event_sort: int | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    sessions: list[Session] = attrs.field(factory=list)
    extra: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(slots=True, kw_only=True)
class Page(Generic[T]):
    """One page of a list call, with the envelope's counts."""

    items: list[T]
    total_count: int | None
    page_count: int | None
    current_page: int
    per_page: int
    has_next: bool | None = None

    @property
    def is_last(self) -> bool:
        """Whether no page follows this one."""
        if not self.items:
            return True
        if self.page_count is not None:
            return self.current_page >= self.page_count
        if self.has_next is not None:
            return not self.has_next
        return len(self.items) < self.per_page


def from_fields(cls: type[T], fields: dict[str, Any]) -> T:
    """Make a model whose attributes are ``fields`` itself, which must hold every field and
    nothing else, each value already of its type: what ``__init__`` would store one by one
    (no model here validates or converts), as pydantic-core makes a model."""
    record = object.__new__(cls)
    object.__setattr__(record, "__dict__", fields)
    return record
