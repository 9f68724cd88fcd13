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

Speed: every ``Session`` attribute gets its own direct hook through cattrs
overrides, so no field is dispatched per call, and each hook handles the canonical
wire form inline before deferring to the general rule. A payload holding only known
keys is converted as it is (no copy); a full record goes through a second generated
function that skips the per-field ``in`` tests; only payloads with unknown or
top-level custom fields are split first.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs
from attrs import NOTHING
from cattrs.fns import identity
from cattrs.gen import (
    make_dict_structure_fn,
    make_dict_structure_fn_from_attrs,
    make_dict_unstructure_fn,
    override,
)

from ._models import SelectionControl, Session, SessionStatus, Speaker
from ._scalars import (
    _SCALARS,
    CUSTOM_FIELD_RE,
    _any,
    _custom_fields,
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


def _session_overrides() -> tuple[dict[str, Any], dict[str, Any]]:
    """Give every ``Session`` attribute its direct hooks, so no field dispatches per call."""
    attrs.resolve_types(Session)
    structure: dict[str, Any] = {}
    unstructure: dict[str, Any] = {"extra": override(omit=True)}
    for attribute in attrs.fields(Session):
        name, tp = attribute.name, attribute.type
        if name in ("custom_fields", "extra"):
            continue
        if tp is Any:
            structure[name] = override(struct_hook=_any)
            unstructure[name] = override(unstruct_hook=_out_any)
        else:
            structure[name] = override(struct_hook=_STRUCTURE[tp])
            unstructure[name] = override(unstruct_hook=_UNSTRUCTURE[tp])
    structure["custom_fields"] = override(struct_hook=_custom_fields)
    unstructure["custom_fields"] = override(unstruct_hook=_out_mapping)
    return structure, unstructure


_SESSION_FIELDS = frozenset(a.name for a in attrs.fields(Session)) - {"extra"}
_SPEAKER_FIELDS = frozenset(a.name for a in attrs.fields(Speaker)) - {"extra"}
_N_SESSION_FIELDS = len(_SESSION_FIELDS)
_session_in, _session_out = _session_overrides()
#: Any subset of the known fields (``fields=`` restricts what the server returns).
_session_from_dict = make_dict_structure_fn(
    Session, converter, extra=override(struct_hook=_any), **_session_in
)
#: A full record: every known field present, so cattrs emits no ``in`` test and no
#: intermediate dict; the values go straight into ``Session(...)``.
_session_from_full_dict = make_dict_structure_fn_from_attrs(
    [a.evolve(default=NOTHING) for a in attrs.fields(Session) if a.name != "extra"],
    Session,
    converter,
    **_session_in,
)
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


def _split_session(
    data: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``_split`` for sessions: copy in one call, then move out only the unknown keys."""
    fields = dict(data)
    given = fields.get("custom_fields")
    custom = dict(given) if isinstance(given, Mapping) else {}
    extra: dict[str, Any] = {}
    known = _SESSION_FIELDS
    for key in [key for key in fields if key not in known]:  # payload order
        if CUSTOM_FIELD_RE.match(key):
            custom[key] = fields.pop(key)
        else:
            extra[key] = fields.pop(key)
    return fields, extra, custom


def structure_session(data: Mapping[str, Any]) -> Session:
    """Turn one session payload into a ``Session``, tolerating drift."""
    if type(data) is not dict and not isinstance(data, Mapping):
        raise ValueError(f"expected a session object, got {type(data).__name__}")
    if _SESSION_FIELDS.issuperset(data):
        # No unknown and no top-level custom fields: convert the payload as it is.
        try:
            if len(data) == _N_SESSION_FIELDS:
                return _session_from_full_dict(data, Session)
            return _session_from_dict(data, Session)
        except (ValueError, TypeError):
            pass  # a value that will not convert: the careful path below salvages it
    fields, extra, custom = _split_session(data)
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


def loads_json(raw: bytes) -> Any:
    """Decode a JSON body."""
    return json.loads(raw)
