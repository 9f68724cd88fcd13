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
field by field (``_salvage``) so that only that value lands in ``extra``. A record that
holds every field (the server's full rendering) takes the function generated as if every
field were required, which reads each key without checking for it first.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.fns import identity
from cattrs.gen import (
    make_dict_structure_fn,
    make_dict_structure_fn_from_attrs,
    make_dict_unstructure_fn,
    override,
)

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
    return conv


converter = make_converter()
_OMIT = override(omit=True)


@functools.cache
def _generated_fn(cls: type[Any], *, structure: bool) -> Callable[..., Any]:
    """Return cattrs' generated function for ``cls``, built on first use.

    Only a full session record's function is built at import (below): the others serve
    ``fields=`` reads, speakers and ``to_dict``, and ``import swoogo_async`` need not pay
    for them. The generated functions read the fields; a payload's other keys join the
    new record's ``extra`` (or ``custom_fields``) afterwards, see ``structure_session``.
    """
    if not structure:
        return make_dict_unstructure_fn(cls, converter, extra=_OMIT, sessions=_OMIT)
    hooks: dict[str, Any] = {"extra": _OMIT, "sessions": _OMIT}
    if cls is Session:
        hooks["custom_fields"] = override(struct_hook=custom_fields)
    return make_dict_structure_fn(cls, converter, _cattrs_detailed_validation=False, **hooks)


_SESSION_KEYS = frozenset(a.name for a in attrs.fields(Session)) - {"extra"}
_SPEAKER_KEYS = frozenset(a.name for a in attrs.fields(Speaker)) - {"extra"}
# The server renders every field of a record unless ``fields=`` asks for fewer. For such
# a record cattrs generates the function of a class whose fields are all required: it
# reads each key without first asking whether it is there.
_session_from_full_dict = make_dict_structure_fn_from_attrs(
    [
        a.evolve(default=attrs.NOTHING)
        for a in attrs.fields(attrs.resolve_types(Session))  # annotations are strings
        if a.name != "extra"
    ],
    Session,
    converter,
    _cattrs_detailed_validation=False,
    custom_fields=override(struct_hook=custom_fields),
)


def _other_keys(
    data: Mapping[str, Any], known: frozenset[str], *, custom: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return a payload's keys that are not fields: top-level custom fields (with
    ``custom``, ``c_<digits>`` keys), and the others, for ``extra``; in payload order."""
    top: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key in data:
        if key not in known:
            if custom and type(key) is str and CUSTOM_FIELD_RE.match(key):
                top[key] = data[key]
            else:
                extra[key] = data[key]
    return top, extra


def _field_names(cls: type[Any]) -> frozenset[str]:
    if cls is Session:
        return _SESSION_KEYS
    if cls is Speaker:
        return _SPEAKER_KEYS
    return frozenset(a.name for a in attrs.fields(cls)) - {"extra"}


def _salvage(cls: type[T], data: Mapping[str, Any], *, custom: bool = True) -> T:
    """Convert field by field, moving any value that will not convert to ``extra``."""
    top, extra = _other_keys(data, _field_names(cls), custom=custom)
    good: dict[str, Any] = {}
    for attribute in attrs.fields(cls):  # type: ignore[arg-type]
        name = attribute.name
        if name not in data or name in ("extra", "sessions"):
            continue
        try:
            if name == "custom_fields":
                good[name] = custom_fields(data[name])
            else:
                good[name] = converter.structure(data[name], attribute.type)
        except (ValueError, TypeError):
            extra[name] = data[name]
    if top:
        good["custom_fields"] = {**good.get("custom_fields", {}), **top}
    good["extra"] = extra
    return cls(**good)


def _structure_known(data: Mapping[str, Any]) -> tuple[Session, bool]:
    """Read a payload's fields with cattrs' generated function; say whether it holds
    every field (its other keys are not read here)."""
    if len(data) >= len(_SESSION_KEYS):
        try:
            return _session_from_full_dict(data, Session), True
        except KeyError:
            pass  # a field is missing: ``fields=`` asked for fewer
    return _generated_fn(Session, structure=True)(data, Session), False


def structure_session(data: Mapping[str, Any]) -> Session:
    """Turn one session payload into a ``Session``, tolerating drift."""
    if type(data) is not dict and not isinstance(data, Mapping):
        raise ValueError(f"expected a session object, got {type(data).__name__}")
    try:
        session, every_field = _structure_known(data)
    except (ValueError, TypeError):
        return _salvage(Session, data)
    # With every field found, a payload holds another key only if it has more keys.
    if not every_field or len(data) > len(_SESSION_KEYS):
        top, extra = _other_keys(data, _SESSION_KEYS, custom=True)
        # The record's own new dicts: frozen forbids rebinding them, not filling them.
        session.custom_fields.update(top)
        session.extra.update(extra)
    return session


def structure_sessions(items: Any) -> list[Session]:
    """Turn the ``items`` of a list page (a list, or an object keyed by id) into sessions."""
    if isinstance(items, Mapping):
        items = list(items.values())
    if not isinstance(items, list):
        raise ValueError(f"expected a list of sessions, got {type(items).__name__}")
    return [structure_session(item) for item in items]


def unstructure_session(session: Session) -> dict[str, Any]:
    """Turn a ``Session`` back into an API-shaped dict (unknown fields included)."""
    out: dict[str, Any] = _generated_fn(Session, structure=False)(session)
    out.update(session.extra)
    return out


def _structure_speaker(data: Any, _: Any = None) -> Speaker:
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a speaker object, got {type(data).__name__}")
    try:
        speaker: Speaker = _generated_fn(Speaker, structure=True)(data, Speaker)
    except (ValueError, TypeError):
        speaker = _salvage(Speaker, data, custom=False)
    else:
        speaker.extra.update(_other_keys(data, _SPEAKER_KEYS, custom=False)[1])
    sessions = data.get("sessions")
    if sessions is not None:
        try:
            speaker = attrs.evolve(speaker, sessions=structure_sessions(sessions))
        except ValueError:
            # Not a list of session records (ids only, say): keep it as it came.
            speaker.extra["sessions"] = sessions
    return speaker


def _unstructure_speaker(speaker: Speaker) -> dict[str, Any]:
    out: dict[str, Any] = _generated_fn(Speaker, structure=False)(speaker)
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
    known = _field_names(cls)
    fields = {key: value for key, value in data.items() if key in known}
    fields["extra"] = _other_keys(data, known, custom=False)[1]
    try:
        return converter.structure(fields, cls)
    except (ValueError, TypeError):
        return _salvage(cls, data, custom=False)
