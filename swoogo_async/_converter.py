"""The one cattrs converter that turns API payloads into models and back.

All conversion policy lives here, none on the models:

- type drift: ``capacity`` as ``"20"`` or ``20``; flags as ``0``/``1``, ``"0"``/``"1"``
  or ``true``/``false``;
- formats: ``YYYY-MM-DD``, ``HH:MM:SS``, and ``YYYY-MM-DD HH:MM:SS`` read as UTC;
- open enums: unknown ``session_status`` values are kept;
- custom fields: ``custom_fields`` and top-level ``c_<digits>`` keys end up together;
- unknown fields: kept in ``extra``, never an error. A known field whose value cannot
  be converted is moved to ``extra`` too (parsing a page never fails on one odd value).

The hot optional types get direct hooks: cattrs' generic ``Optional`` path looks
the hook up on every call.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._models import SelectionControl, Session, SessionStatus, Speaker

__all__ = [
    "CUSTOM_FIELD_RE",
    "converter",
    "format_datetime",
    "format_time",
    "parse_bool",
    "parse_date",
    "parse_datetime",
    "parse_int",
    "parse_time",
    "structure_session",
    "structure_sessions",
    "unstructure_session",
]

T = TypeVar("T")
UTC = dt.timezone.utc
CUSTOM_FIELD_RE = re.compile(r"c_\d+\Z")
_TRUE = frozenset({"1", "true", "True", "TRUE", "yes"})
_FALSE = frozenset({"0", "false", "False", "FALSE", "no", ""})


def parse_int(value: Any, _type: Any = None) -> int | None:
    """Read an int that may arrive as a string; ``None`` and ``""`` are None."""
    if value is None or type(value) is int:
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
    if value is None or type(value) is bool:
        return value
    if value == 1 and not isinstance(value, str):
        return True
    if value == 0 and not isinstance(value, str):
        return False
    if isinstance(value, str):
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    raise ValueError(f"expected a flag (0/1 or true/false), got {value!r}")


def parse_date(value: Any, _type: Any = None) -> dt.date | None:
    """Read ``YYYY-MM-DD``; empty values are None."""
    if value is None or type(value) is dt.date:
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10]) if value else None
    raise ValueError(f"expected a date YYYY-MM-DD, got {value!r}")


def parse_time(value: Any, _type: Any = None) -> dt.time | None:
    """Read ``HH:MM:SS`` (or ``HH:MM``); empty values are None."""
    if value is None or type(value) is dt.time:
        return value
    if isinstance(value, str):
        return dt.time.fromisoformat(value) if value else None
    raise ValueError(f"expected a time HH:MM:SS, got {value!r}")


def parse_datetime(value: Any, _type: Any = None) -> dt.datetime | None:
    """Read ``YYYY-MM-DD HH:MM:SS``; a value without an offset is UTC."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        if not value:
            return None
        parsed = dt.datetime.fromisoformat(value)
    else:
        raise ValueError(f"expected a datetime, got {value!r}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed


def parse_str(value: Any, _type: Any = None) -> str | None:
    """Read a string; numbers that drifted in are turned back into text."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {value!r}")


def format_time(value: dt.time) -> str:
    """Write a time as ``HH:MM:SS``."""
    return value.strftime("%H:%M:%S")


def format_datetime(value: dt.datetime) -> str:
    """Write a datetime as UTC ``YYYY-MM-DD HH:MM:SS``."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _status(value: Any, _type: Any = None) -> SessionStatus | None:
    return None if value is None or value == "" else SessionStatus(str(value))


def _selection(value: Any, _type: Any = None) -> SelectionControl | None:
    return None if value is None or value == "" else SelectionControl(str(value))


def _any(value: Any, _type: Any = None) -> Any:
    return value


def _drop_tz_hooks(conv: cattrs.Converter) -> None:
    conv.register_unstructure_hook(dt.date, dt.date.isoformat)
    conv.register_unstructure_hook(dt.time, format_time)
    conv.register_unstructure_hook(dt.datetime, format_datetime)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=False)
    direct: list[tuple[Any, Callable[[Any, Any], Any]]] = [
        (int | None, parse_int),
        (str | None, parse_str),
        (bool | None, parse_bool),
        (dt.date | None, parse_date),
        (dt.time | None, parse_time),
        (dt.datetime | None, parse_datetime),
        (SessionStatus | None, _status),
        (SelectionControl | None, _selection),
    ]
    for tp, fn in direct:
        conv.register_structure_hook(tp, fn)
    # Payload dicts (custom fields, extra, gender) are taken as they come.
    conv.register_structure_hook_func(
        lambda tp: tp in (dict[str, Any], dict[str, Any] | None, Any), _any
    )
    _drop_tz_hooks(conv)
    conv.register_unstructure_hook(SessionStatus, lambda v: v.value)
    conv.register_unstructure_hook(SelectionControl, lambda v: v.value)
    return conv


converter = _make_converter()

_SESSION_FIELDS = frozenset(a.name for a in attrs.fields(Session)) - {"extra"}
_SPEAKER_FIELDS = frozenset(a.name for a in attrs.fields(Speaker)) - {"extra"}
_session_from_dict = make_dict_structure_fn(Session, converter)
_session_to_dict = make_dict_unstructure_fn(Session, converter, extra=override(omit=True))


def _split(
    data: Mapping[str, Any], known: frozenset[str], *, custom: bool
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """Split a payload into known fields, extra fields and (merged) custom fields."""
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    custom_fields: dict[str, Any] | None = None
    if custom:
        given = data.get("custom_fields")
        custom_fields = dict(given) if isinstance(given, Mapping) else {}
    for key, value in data.items():
        if key in known:
            fields[key] = value
        elif custom and custom_fields is not None and CUSTOM_FIELD_RE.match(key):
            custom_fields[key] = value
        else:
            extra[key] = value
    return fields, extra, custom_fields


def structure_session(data: Mapping[str, Any]) -> Session:
    """Turn one session payload into a ``Session``, tolerating drift."""
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a session object, got {type(data).__name__}")
    fields, extra, custom = _split(data, _SESSION_FIELDS, custom=True)
    fields["custom_fields"] = custom
    fields["extra"] = extra
    try:
        return _session_from_dict(fields, Session)
    except (ValueError, TypeError):
        return _salvage(Session, fields, extra)


def _salvage(cls: type[T], fields: dict[str, Any], extra: dict[str, Any]) -> T:
    """Convert field by field, moving any value that will not convert to ``extra``."""
    good: dict[str, Any] = {}
    for attribute in attrs.fields(cls):  # type: ignore[arg-type]
        name = attribute.name
        if name not in fields or name in ("extra", "custom_fields"):
            continue
        try:
            good[name] = converter.structure(fields[name], attribute.type)
        except (ValueError, TypeError):
            extra[name] = fields[name]
    if "custom_fields" in fields:
        good["custom_fields"] = fields["custom_fields"]
    good["extra"] = extra
    return cls(**good)


def structure_sessions(items: Any) -> list[Session]:
    """Turn the ``items`` of a list page (a list, or an object keyed by id) into sessions."""
    if isinstance(items, Mapping):
        items = list(items.values())
    if not isinstance(items, list):
        raise ValueError(f"expected a list of sessions, got {type(items).__name__}")
    return [structure_session(item) for item in items]


def unstructure_session(session: Session) -> dict[str, Any]:
    """Turn a ``Session`` back into an API-shaped dict (unknown fields included)."""
    out: dict[str, Any] = _session_to_dict(session)
    out.update(session.extra)
    return out


def _structure_speaker(data: Any, _: Any) -> Speaker:
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a speaker object, got {type(data).__name__}")
    fields, extra, _custom = _split(data, _SPEAKER_FIELDS, custom=False)
    sessions = fields.pop("sessions", None)
    fields["extra"] = extra
    try:
        speaker = _speaker_from_dict(fields, Speaker)
    except (ValueError, TypeError):
        speaker = _salvage(Speaker, fields, extra)
    if sessions is not None:
        speaker = attrs.evolve(speaker, sessions=structure_sessions(sessions))
    return speaker


def _unstructure_speaker(speaker: Speaker) -> dict[str, Any]:
    out: dict[str, Any] = _speaker_to_dict(speaker)
    out["sessions"] = [unstructure_session(s) for s in speaker.sessions]
    out.update(speaker.extra)
    return out


_speaker_from_dict = make_dict_structure_fn(Speaker, converter, sessions=override(omit=True))
_speaker_to_dict = make_dict_unstructure_fn(
    Speaker, converter, extra=override(omit=True), sessions=override(omit=True)
)
converter.register_structure_hook(Session, lambda d, _: structure_session(d))
converter.register_unstructure_hook(Session, unstructure_session)
converter.register_structure_hook(Speaker, _structure_speaker)
converter.register_unstructure_hook(Speaker, _unstructure_speaker)


def loads_json(raw: bytes) -> Any:
    """Decode a JSON body."""
    return json.loads(raw)
