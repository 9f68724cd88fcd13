"""The data the API returns, as frozen attrs classes, and the drift rules between wire and
Python by field type (``STRUCTURE``, ``UNSTRUCTURE``) that ``converter.py`` applies."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import attrs

__all__ = [
    "AS_IS_TYPES",
    "CUSTOM_FIELD_RE",
    "STRUCTURE",
    "UNSTRUCTURE",
    "Page",
    "SelectionControl",
    "Session",
    "SessionBatch",
    "SessionStatus",
    "Speaker",
    "custom_fields",
    "format_datetime",
    "format_time",
    "from_fields",
    "parse_bool",
    "parse_int",
]

T = TypeVar("T")
CUSTOM_FIELD_RE = re.compile(r"c_[0-9]+\Z")
_FLAGS: dict[Any, bool] = {
    **dict.fromkeys([1, "1", "true", "True", "TRUE", "yes"], True),
    **dict.fromkeys([0, "0", "false", "False", "FALSE", "no", ""], False),
}
_FLAG_KINDS = frozenset({bool, int, float, str})  # hashed safely: no Decimal('sNaN')


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
    """A session (agenda item). Every field is optional (``fields=`` restricts them); custom
    fields (also top-level ``c_<digits>`` keys) are in ``custom_fields``, unknown in ``extra``."""

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


@attrs.frozen(slots=True, kw_only=True)
class SessionBatch:
    """What ``sessions.get_many`` found, and which ids it did not.

    Args:
        sessions: The sessions found, in the order their ids were asked for.
        missing: The ids not found (deleted, in another event, or never existed), in order.
    """

    sessions: list[Session]
    missing: tuple[int, ...]

    @property
    def by_id(self) -> Mapping[int, Session]:
        """The sessions found, by id."""
        return {s.id: s for s in self.sessions if s.id is not None}

    @property
    def complete(self) -> bool:
        """Whether every id asked for was found."""
        return not self.missing


def from_fields(cls: type[T], fields: dict[str, Any]) -> T:
    """A model whose attributes are ``fields`` itself, as pydantic-core does (none validates)."""
    record = object.__new__(cls)
    object.__setattr__(record, "__dict__", fields)
    return record


# The drift rules, each with cattrs' hook signature ``(value, type)``.
def parse_int(value: Any, _type: Any = None) -> int | None:
    """Read an int that may arrive as a string; ``None`` and ``""`` are None."""
    if type(value) is int or value is None:
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, str):
        value = value.strip()
        return int(value) if value else None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def parse_bool(value: Any, _type: Any = None) -> bool | None:
    """Read a flag sent as ``0``/``1``, ``"0"``/``"1"`` or ``true``/``false``."""
    if type(value) is int and (value == 0 or value == 1):  # the wire's usual form
        return value == 1
    flag = _FLAGS.get(value) if type(value) in _FLAG_KINDS else None
    if flag is not None or value is None:
        return flag
    raise ValueError(f"expected a flag (0/1 or true/false), got {value!r}")


def parse_str(value: Any, _type: Any = None) -> str | None:
    """Read a string; numbers that drifted in are turned back into text."""
    if type(value) is str or value is None:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {value!r}")


def parse_date(value: Any, _type: Any = None) -> dt.date | None:
    """Read ``YYYY-MM-DD`` (a datetime's date part too); empty values are None."""
    if type(value) is str and value:
        return dt.date.fromisoformat(value[:10])
    if value is None or value == "" or type(value) is dt.date:
        return value or None
    raise ValueError(f"expected a date YYYY-MM-DD, got {value!r}")


def parse_time(value: Any, _type: Any = None) -> dt.time | None:
    """Read ``HH:MM:SS`` (or ``HH:MM``); empty values are None."""
    if type(value) is str and value:
        return dt.time.fromisoformat(value)
    if value is None or value == "" or type(value) is dt.time:
        return value or None
    raise ValueError(f"expected a time HH:MM:SS, got {value!r}")


def parse_datetime(value: Any, _type: Any = None) -> dt.datetime | None:
    """Read ``YYYY-MM-DD HH:MM:SS``; a value without an offset is UTC."""
    if type(value) is str and value:
        parsed = dt.datetime.fromisoformat(value)
    elif isinstance(value, dt.datetime):
        parsed = value
    elif value is None or value == "":
        return None
    else:
        raise ValueError(f"expected a datetime, got {value!r}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)


def parse_enum(value: Any, tp: Any) -> Any:
    """Read an open enum of optional type ``tp``; a value this release does not know is kept."""
    if value is None or value == "":
        return None
    if isinstance(value, (list, dict)):
        raise ValueError(f"expected one of {[m.value for m in tp.__args__[0]]}, got {value!r}")
    return tp.__args__[0](str(value))


def custom_fields(value: Any, _type: Any = None) -> dict[str, Any]:
    """Read ``custom_fields``; a non-object (PHP renders an empty map as ``[]``) is none."""
    return dict(value) if type(value) is dict or isinstance(value, Mapping) else {}


def format_date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def format_time(value: dt.time | None) -> str | None:
    return None if value is None else value.replace(tzinfo=None).isoformat("seconds")


def format_datetime(value: dt.datetime | None) -> str | None:
    """Write a datetime as UTC ``YYYY-MM-DD HH:MM:SS``."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(" ", "seconds")


def _as_is(value: Any, _type: Any = None) -> Any:
    return value


def _enum_value(value: SessionStatus | SelectionControl | None) -> str | None:
    return None if value is None else value.value


#: Field types whose values (location, track, gender, …) are taken as they come.
AS_IS_TYPES = (Any, dict[str, Any], dict[str, Any] | None)
#: Each field type's rule, wire to Python.
STRUCTURE: dict[Any, Callable[[Any, Any], Any]] = {
    int | None: parse_int,
    str | None: parse_str,
    bool | None: parse_bool,
    dt.date | None: parse_date,
    dt.time | None: parse_time,
    dt.datetime | None: parse_datetime,
    SessionStatus | None: parse_enum,
    SelectionControl | None: parse_enum,
    **dict.fromkeys(AS_IS_TYPES, _as_is),
}
#: Each field type's rule, Python to wire.
UNSTRUCTURE: dict[Any, Callable[[Any], Any]] = {
    int | None: _as_is,
    str | None: _as_is,
    bool | None: _as_is,
    dt.date | None: format_date,
    dt.time | None: format_time,
    dt.datetime | None: format_datetime,
    SessionStatus | None: _enum_value,
    SelectionControl | None: _enum_value,
}
