"""The one cattrs converter that turns API payloads into models and back.

``make_converter()`` builds it, in the spirit of cattrs' ``preconf``: every conversion
rule is a hook registered here (the rules themselves are in ``_scalars.py``), none
sits on the models:

- type drift: ``capacity`` as ``"20"`` or ``20``; flags as ``0``/``1``, ``"0"``/``"1"``
  or ``true``/``false``;
- formats: ``YYYY-MM-DD``, ``HH:MM:SS``, and ``YYYY-MM-DD HH:MM:SS`` read as UTC;
- open enums: unknown ``session_status`` values are kept;
- custom fields: ``custom_fields`` and top-level ``c_<digits>`` keys end up together;
- unknown fields: kept in ``extra``, never an error. A known field whose value cannot
  be converted is moved to ``extra`` too (parsing a page never fails on one odd value).

The model functions come from cattrs' code generation (``cattrs.gen``), with a direct
hook per optional type (no ``Optional`` dispatch per call) and without detailed
validation: a value that will not convert raises, and the record is then converted
field by field (``_salvage``) so that only that value lands in ``extra``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .models import SelectionControl, Session, SessionStatus, Speaker
from .scalars import (
    CUSTOM_FIELD_RE,
    custom_fields,
    format_date,
    format_datetime,
    format_time,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_int,
    parse_selection,
    parse_status,
    parse_str,
    parse_time,
)

__all__ = [
    "CUSTOM_FIELD_RE",
    "converter",
    "format_datetime",
    "format_time",
    "make_converter",
    "parse_int",
    "structure_record",
    "structure_session",
    "structure_sessions",
    "unstructure_session",
]

T = TypeVar("T")

_STRUCTURE: dict[Any, Callable[[Any, Any], Any]] = {
    int | None: parse_int,
    str | None: parse_str,
    bool | None: parse_bool,
    dt.date | None: parse_date,
    dt.time | None: parse_time,
    dt.datetime | None: parse_datetime,
    SessionStatus | None: parse_status,
    SelectionControl | None: parse_selection,
}
_UNSTRUCTURE: dict[Any, Callable[[Any], Any]] = {
    int | None: identity,
    str | None: identity,
    bool | None: identity,
    dt.date | None: format_date,
    dt.time | None: format_time,
    dt.datetime | None: format_datetime,
    SessionStatus | None: lambda v: None if v is None else v.value,
    SelectionControl | None: lambda v: None if v is None else v.value,
}


def _as_is(value: Any, _type: Any = None) -> Any:
    return value


def make_converter() -> cattrs.Converter:
    """Build a converter holding every drift rule of the Swoogo API."""
    conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=False)
    for tp, structure in _STRUCTURE.items():
        conv.register_structure_hook(tp, structure)
    for tp, unstructure in _UNSTRUCTURE.items():
        conv.register_unstructure_hook(tp, unstructure)
    # Payload values of any shape (location, track, gender, extra) are taken as they come.
    conv.register_structure_hook_func(
        lambda tp: tp in (Any, dict[str, Any], dict[str, Any] | None), _as_is
    )
    # Wire keys that are not a field are sorted out before the generated function runs
    # (see ``_split``); ``custom_fields`` is merged there too.
    skip = override(struct_hook=_as_is)
    conv.register_structure_hook(
        Session,
        make_dict_structure_fn(
            Session,
            conv,
            _cattrs_detailed_validation=False,
            custom_fields=override(struct_hook=custom_fields),
            extra=skip,
        ),
    )
    conv.register_structure_hook(
        Speaker,
        make_dict_structure_fn(
            Speaker, conv, _cattrs_detailed_validation=False, sessions=skip, extra=skip
        ),
    )
    conv.register_unstructure_hook(
        Session, make_dict_unstructure_fn(Session, conv, extra=override(omit=True))
    )
    conv.register_unstructure_hook(
        Speaker,
        make_dict_unstructure_fn(
            Speaker, conv, extra=override(omit=True), sessions=override(omit=True)
        ),
    )
    return conv


converter = make_converter()
_session_from_dict = converter.get_structure_hook(Session)
_speaker_from_dict = converter.get_structure_hook(Speaker)
_session_to_dict = converter.get_unstructure_hook(Session)
_speaker_to_dict = converter.get_unstructure_hook(Speaker)
_SESSION_KEYS = frozenset(a.name for a in attrs.fields(Session)) - {"extra"}
_SPEAKER_KEYS = frozenset(a.name for a in attrs.fields(Speaker)) - {"extra"}


def _split(data: Mapping[str, Any], known: frozenset[str], *, custom: bool) -> dict[str, Any]:
    """Return the known fields of a payload, with the others in ``extra``.

    With ``custom``, top-level ``c_<digits>`` keys join ``custom_fields`` instead.
    """
    fields = dict(data)
    extra: dict[str, Any] = {}
    top: dict[str, Any] = {}
    for key in [key for key in data if key not in known]:
        if custom and type(key) is str and CUSTOM_FIELD_RE.match(key):
            top[key] = fields.pop(key)
        else:
            extra[key] = fields.pop(key)
    if top:
        fields["custom_fields"] = {**custom_fields(fields.get("custom_fields")), **top}
    fields["extra"] = extra
    return fields


def _salvage(cls: type[T], fields: dict[str, Any]) -> T:
    """Convert field by field, moving any value that will not convert to ``extra``."""
    extra = fields["extra"]
    good: dict[str, Any] = {}
    for attribute in attrs.fields(cls):  # type: ignore[arg-type]
        name = attribute.name
        if name not in fields or name == "extra":
            continue
        try:
            if name == "custom_fields":
                good[name] = custom_fields(fields[name])
            else:
                good[name] = converter.structure(fields[name], attribute.type)
        except (ValueError, TypeError):
            extra[name] = fields[name]
    good["extra"] = extra
    return cls(**good)


def structure_session(data: Mapping[str, Any]) -> Session:
    """Turn one session payload into a ``Session``, tolerating drift."""
    if type(data) is not dict and not isinstance(data, Mapping):
        raise ValueError(f"expected a session object, got {type(data).__name__}")
    # When every key is a field, the generated function reads the payload as it is.
    fields = data if _SESSION_KEYS.issuperset(data) else _split(data, _SESSION_KEYS, custom=True)
    try:
        session: Session = _session_from_dict(fields, Session)
        return session
    except (ValueError, TypeError):
        return _salvage(Session, dict(fields, extra=dict(fields.get("extra", {}))))


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


def _structure_speaker(data: Any, _: Any = None) -> Speaker:
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a speaker object, got {type(data).__name__}")
    fields = _split(data, _SPEAKER_KEYS, custom=False)
    sessions = fields.pop("sessions", None)
    try:
        speaker: Speaker = _speaker_from_dict(fields, Speaker)
    except (ValueError, TypeError):
        speaker = _salvage(Speaker, fields)
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


converter.register_structure_hook(Session, lambda data, _: structure_session(data))
converter.register_unstructure_hook(Session, unstructure_session)
converter.register_structure_hook(Speaker, _structure_speaker)
converter.register_unstructure_hook(Speaker, _unstructure_speaker)


def structure_record(cls: type[T], data: Any) -> T:
    """Turn a payload into any attrs model with an ``extra`` field, by the same rules.

    For models beyond sessions and speakers (webhooks): unknown keys go to ``extra``,
    a value that will not convert is moved there too.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"expected an object, got {type(data).__name__}")
    known = frozenset(a.name for a in attrs.fields(cls)) - {"extra"}  # type: ignore[arg-type]
    fields = _split(data, known, custom=False)
    try:
        return converter.structure(fields, cls)
    except (ValueError, TypeError):
        return _salvage(cls, fields)
