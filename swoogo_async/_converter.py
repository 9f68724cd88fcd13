"""The one cattrs converter that turns API payloads into models and back.

All conversion policy lives here and in ``_scalars.py`` (the per-value rules), none on
the models:

- type drift: ``capacity`` as ``"20"`` or ``20``; flags as ``0``/``1``, ``"0"``/``"1"``
  or ``true``/``false``;
- formats: ``YYYY-MM-DD``, ``HH:MM:SS``, and ``YYYY-MM-DD HH:MM:SS`` read as UTC;
- open enums: unknown ``session_status`` values are kept;
- custom fields: ``custom_fields`` and top-level ``c_<digits>`` keys end up together;
- unknown fields: kept in ``extra``, never an error. A known field whose value cannot
  be converted is moved to ``extra`` too (parsing a page never fails on one odd value).

Speed: ``Session`` is structured by one generated function (``_sessionhook.py``)
that checks each value's wire type inline and defers to the general rule only for
drift; it reads the payload in place (no copy) and fills the instance's slots
directly. ``structure_session_carefully`` is the field-by-field reference it must
agree with, and the path taken when a value will not convert. Unstructuring uses
cattrs' generated function with a direct hook per attribute. With msgspec installed,
session bodies skip the dict altogether when they can (``_typed.py``), with the same
result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.fns import identity
from cattrs.gen import (
    make_dict_structure_fn,
    make_dict_unstructure_fn,
    override,
)

from ._models import SelectionControl, Session, SessionStatus, Speaker
from ._scalars import (
    _SCALARS,
    CUSTOM_FIELD_RE,
    _any,
    _fast_bool,
    _fast_date,
    _fast_datetime,
    _fast_int,
    _fast_selection,
    _fast_status,
    _fast_str,
    _fast_time,
    _out_date,
    _out_datetime,
    _out_enum,
    _out_time,
    format_datetime,
    format_time,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_int,
    parse_time,
)
from ._sessionhook import SESSION_FIELDS, session_from_full, session_from_mapping

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


def _out_any(value: Any) -> Any:
    # JSON containers are copied (as cattrs does for ``Any``); scalars pass as they are.
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list:
        return [_out_any(item) for item in value]
    if kind is dict:
        return {_out_any(key): _out_any(item) for key, item in value.items()}
    return converter.unstructure(value)


def _out_mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _out_any(item) for key, item in value.items()}


_STRUCTURE: dict[Any, Callable[[Any, Any], Any]] = {
    int | None: _fast_int,
    str | None: _fast_str,
    bool | None: _fast_bool,
    dt.date | None: _fast_date,
    dt.time | None: _fast_time,
    dt.datetime | None: _fast_datetime,
    SessionStatus | None: _fast_status,
    SelectionControl | None: _fast_selection,
}
_UNSTRUCTURE: dict[Any, Callable[[Any], Any]] = {
    int | None: identity,
    str | None: identity,
    bool | None: identity,
    dt.date | None: _out_date,
    dt.time | None: _out_time,
    dt.datetime | None: _out_datetime,
    SessionStatus | None: _out_enum,
    SelectionControl | None: _out_enum,
}


def _drop_tz_hooks(conv: cattrs.Converter) -> None:
    conv.register_unstructure_hook(dt.date, dt.date.isoformat)
    conv.register_unstructure_hook(dt.time, format_time)
    conv.register_unstructure_hook(dt.datetime, format_datetime)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=False)
    for tp, fn in _STRUCTURE.items():
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


def _session_unstructure_overrides() -> dict[str, Any]:
    """Give every ``Session`` attribute its direct unstructure hook (no per-call dispatch)."""
    attrs.resolve_types(Session)
    unstructure: dict[str, Any] = {"extra": override(omit=True)}
    for attribute in attrs.fields(Session):
        name, tp = attribute.name, attribute.type
        if name in ("custom_fields", "extra"):
            continue
        unstructure[name] = override(unstruct_hook=_out_any if tp is Any else _UNSTRUCTURE[tp])
    unstructure["custom_fields"] = override(unstruct_hook=_out_mapping)
    return unstructure


_SPEAKER_FIELDS = frozenset(a.name for a in attrs.fields(Speaker)) - {"extra"}
_N_SESSION_FIELDS = len(SESSION_FIELDS)
_session_out = _session_unstructure_overrides()
_session_to_dict = make_dict_unstructure_fn(Session, converter, **_session_out)


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


#: Whether an unknown key is a top-level custom field, by key (the regex, cached).
_CUSTOM_KEYS: dict[Any, bool] = {}
_CUSTOM_KEYS_MAX = 4096


def _sort_unknown(
    data: Mapping[str, Any], unknown: Iterable[Any]
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Sort unknown keys (in payload order) into top-level custom fields and extra."""
    top: dict[str, Any] | None = None
    extra: dict[str, Any] = {}
    custom = _CUSTOM_KEYS
    for key in unknown:
        is_custom = custom.get(key)
        if is_custom is None:
            is_custom = type(key) is str and CUSTOM_FIELD_RE.match(key) is not None
            if len(custom) < _CUSTOM_KEYS_MAX:  # bounded: payloads may carry any keys
                custom[key] = is_custom
        if is_custom:
            if top is None:
                top = {}
            top[key] = data[key]
        else:
            extra[key] = data[key]
    return top, extra


def _last_unknown(data: dict[str, Any], count: int) -> list[Any]:
    """The last ``count`` unknown keys of a payload, in payload order.

    When every known field is present, that is all of them. Scanning from the end
    finds them after a few lookups when they were appended, as new fields usually are.
    """
    found = []
    known = SESSION_FIELDS
    for key in reversed(data):
        if key not in known:
            found.append(key)
            if len(found) == count:
                break
    found.reverse()
    return found


def structure_session(data: Mapping[str, Any]) -> Session:
    """Turn one session payload into a ``Session``, tolerating drift."""
    if type(data) is dict:
        unknown = len(data) - _N_SESSION_FIELDS
        if unknown >= 0:
            # Probably every known field (``GET /sessions/{id}``, list pages), perhaps
            # beside new ones: subscripts, no ``get``. A ``KeyError`` means a known
            # field is missing after all: the general path below.
            try:
                if not unknown:
                    return session_from_full(data, None, {})
                top, extra = _sort_unknown(data, _last_unknown(data, unknown))
                return session_from_full(data, top, extra)
            except KeyError:
                pass
            except (ValueError, TypeError):
                return structure_session_carefully(data)
    elif not isinstance(data, Mapping):
        raise ValueError(f"expected a session object, got {type(data).__name__}")
    known = SESSION_FIELDS
    top, extra = _sort_unknown(data, [key for key in data if key not in known])
    try:
        return session_from_mapping(data, top, extra)
    except (ValueError, TypeError):
        return structure_session_carefully(data)


def structure_session_carefully(data: Mapping[str, Any]) -> Session:
    """The reference path: split, then convert field by field through the converter's
    hooks, moving any value that will not convert to ``extra``.

    ``structure_session`` gives the same result, faster, for every payload; it comes
    here only when a value will not convert.
    """
    fields, extra, custom = _split(data, SESSION_FIELDS, custom=True)
    fields["custom_fields"] = custom
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
    structure = structure_session
    return [structure(item) for item in items]


def unstructure_session(session: Session) -> dict[str, Any]:
    """Turn a ``Session`` back into an API-shaped dict (unknown fields included)."""
    out: dict[str, Any] = _session_to_dict(session)
    if session.extra:
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
        try:
            speaker = attrs.evolve(speaker, sessions=structure_sessions(sessions))
        except ValueError:
            # Not a list of session records (ids only, say): keep it as it came.
            speaker.extra["sessions"] = sessions
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
