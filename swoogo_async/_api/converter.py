"""The one cattrs converter that turns API payloads into models and back.

``converter()`` builds it on first use, in the spirit of cattrs' ``preconf``: every rule is
a hook registered here (the rules themselves are in ``scalars.py``), none sits on the
models. Type drift (``"20"`` for ``20``, flags as ``0``/``"1"``/``true``), the wire's date
and time formats, open enums, custom fields (``custom_fields`` and top-level ``c_<digits>``
keys together) and unknown fields (kept in ``extra``, as is a known field's value that will
not convert: a page never fails on one odd value). ``parse_session``/``parse_speaker`` (and
``pages.parse_page``) are what a resource hands the request seam: the body goes through the
one JSON decoder (``_json.py``), then full session records through one generated function
with inline per-field tests (the drift rules run only for a value not in its usual wire
form), other records through cattrs' generated function, and a record that still will not
convert field by field (``_salvage``).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import operator
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from .._exceptions import ResponseDecodeError
from .._json import ERRORS as JSON_ERRORS
from .._json import decoder as json_decoder
from .._json import loads
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

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "CUSTOM_FIELD_RE",
    "converter",
    "decode_json",
    "format_datetime",
    "format_time",
    "make_converter",
    "parse_int",
    "parse_session",
    "parse_speaker",
    "refused",
    "structure_record",
    "structure_session",
    "structure_sessions",
    "structure_speaker",
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
#: Payload values of any shape (location, track, gender, extra) are taken as they come.
_AS_IS_TYPES = (Any, dict[str, Any], dict[str, Any] | None)


def _as_is(value: Any, _type: Any = None) -> Any:
    return value


def _enum_value(value: SessionStatus | SelectionControl | None) -> str | None:
    return None if value is None else value.value


def _structure_hook(tp: Any) -> Callable[[Any, Any], Any]:
    """The drift rule the converter holds for a field of type ``tp``, read from its tables."""
    if tp in _AS_IS_TYPES:
        return _as_is
    return _STRUCTURE[tp]


def make_converter() -> cattrs.Converter:
    """Build a converter holding every drift rule of the Swoogo API."""
    # Imported here: a client that reads whole records never needs cattrs (see ``converter``).
    import cattrs
    from cattrs.fns import identity

    unstructure: dict[Any, Callable[[Any], Any]] = {
        int | None: identity,
        str | None: identity,
        bool | None: identity,
        dt.date | None: format_date,
        dt.time | None: format_time,
        dt.datetime | None: format_datetime,
        SessionStatus | None: _enum_value,
        SelectionControl | None: _enum_value,
    }
    conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=False)
    for tp, structure in _STRUCTURE.items():
        conv.register_structure_hook(tp, structure)
    for tp, write in unstructure.items():
        conv.register_unstructure_hook(tp, write)
    conv.register_structure_hook_func(lambda tp: tp in _AS_IS_TYPES, _as_is)
    return conv


@functools.cache
def converter() -> cattrs.Converter:
    """The one converter, built on first use: a session read whole takes
    ``_session_records()``, which holds the same rules, so a client's gets need no cattrs."""
    conv = make_converter()
    conv.register_structure_hook(Session, lambda data, _: structure_session(data))
    conv.register_unstructure_hook(Session, unstructure_session)
    conv.register_structure_hook(Speaker, structure_speaker)
    conv.register_unstructure_hook(Speaker, _unstructure_speaker)
    return conv


@functools.cache
def _generated_fn(cls: type[Any], *, structure: bool) -> Callable[..., Any]:
    """Return cattrs' generated function for ``cls`` (``fields=`` reads, speakers,
    ``to_dict``); a payload's other keys join the record's ``extra`` afterwards."""
    from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

    omit = override(omit=True)
    if not structure:
        return make_dict_unstructure_fn(cls, converter(), extra=omit, sessions=omit)
    hooks: dict[str, Any] = {"extra": omit, "sessions": omit}
    if cls is Session:
        hooks["custom_fields"] = override(struct_hook=custom_fields)
    return make_dict_structure_fn(cls, converter(), _cattrs_detailed_validation=False, **hooks)


def _field_names(cls: Any) -> frozenset[str]:
    return frozenset(a.name for a in attrs.fields(cls)) - {"extra"}


_SESSION_KEYS = _field_names(Session)
_SPEAKER_KEYS = _field_names(Speaker)

# How a record read whole reads each field, by type, when its value ``v`` has the wire's
# usual form: one inline test, no call. A value in another form goes to the converter's
# hook ``hv`` for the field's type ``tv`` (the drift rules); a form the line cannot read
# raises, and the record takes cattrs' generated function instead.
_WIRE_FORMS: dict[Any, str] = {
    int | None: "if type(v) not in INT: v = hv(v, tv)",
    str | None: "if type(v) not in STR: v = hv(v, tv)",
    bool | None: "v = FLAG[v] if type(v) in FLAG_KINDS else hv(v, tv)",
    dt.date | None: "if v is not None: v = DATE(v) if type(v) is str else hv(v, tv)",
    dt.time | None: "if v is not None: v = TIME(v) if type(v) is str else hv(v, tv)",
    dt.datetime
    | None: "v = UTC_DATETIME(v + '+00:00') if type(v) is str and len(v) == 19 else hv(v, tv)",
    SessionStatus | None: "v = STATUS[v] if type(v) in STR else hv(v, tv)",
    SelectionControl | None: "v = SELECTION[v] if type(v) in STR else hv(v, tv)",
    dict[str, Any]: "v = dict(v) if type(v) is dict else hv(v, tv)",
    Any: "",
}
_WIRE_NAMES: dict[str, Any] = {
    "INT": frozenset({int, type(None)}),
    "STR": frozenset({str, type(None)}),
    "FLAG": {0: False, 1: True, None: None},
    "FLAG_KINDS": frozenset({int, bool, type(None)}),
    "DATE": dt.date.fromisoformat,
    "TIME": dt.time.fromisoformat,
    "UTC_DATETIME": dt.datetime.fromisoformat,
    "STATUS": {None: None, **SessionStatus._value2member_map_},
    "SELECTION": {None: None, **SelectionControl._value2member_map_},
}


def _records_fn(cls: type[Any], **hooks: Callable[[Any, Any], Any]) -> Callable[..., list[Any]]:
    """Generate the function that reads a list of records of ``cls``.

    Like cattrs' generated functions, with the test of ``_WIRE_FORMS`` inline where they
    call a hook: a value already in its usual form costs no call. A record lacking a
    field, or with a value in no usual form, goes to ``general(record)``; one with keys
    that are not fields, to ``other(instance, record)`` once read.
    """
    fields = [a for a in attrs.fields(attrs.resolve_types(cls)) if a.name != "extra"]
    get = operator.itemgetter(*(a.name for a in fields))
    names: dict[str, Any] = {**_WIRE_NAMES, "cls": cls, "get": get, "N": len(fields)}
    values = [f"v{i}" for i in range(len(fields))]
    lines = [
        f"def structure_{cls.__name__}_list(records, general, other):",
        "  out = []",
        "  for o in records:",
        "    try:",
        f"      {', '.join(values)}, = get(o)",
    ]
    for v, a in zip(values, fields, strict=True):
        names["h" + v] = hooks.get(a.name) or _structure_hook(a.type)
        names["t" + v] = a.type
        if _WIRE_FORMS[a.type]:
            lines.append("      " + re.sub(r"\b([ht]?)v\b", rf"\g<1>{v}", _WIRE_FORMS[a.type]))
    lines += [
        f"      record = cls({', '.join(values)})",
        "    except (KeyError, ValueError, TypeError):",
        "      record = general(o)",
        "    else:",
        "      if len(o) != N: other(record, o)",
        "    out.append(record)",
        "  return out",
    ]
    exec(compile("\n".join(lines), f"<{cls.__name__} records>", "exec"), names)
    return names[f"structure_{cls.__name__}_list"]  # type: ignore[no-any-return]


@functools.cache
def _session_records() -> Callable[..., list[Session]]:
    """The generated function that reads session records, built when the first is read."""
    return _records_fn(Session, custom_fields=custom_fields)


# A session payload's keys that are not fields, by the order of its keys (its layout):
# the top-level custom fields (``c_<digits>``), then the others. A page's records share
# one layout, so each is sorted out once. Bounded: a process fed ever-new layouts sorts
# the others out each time.
_OTHER_KEYS: dict[tuple[Any, ...], tuple[tuple[Any, ...], tuple[Any, ...]]] = {}


def _keep_other_session_keys(session: Session, data: Mapping[str, Any]) -> None:
    """Put a session payload's keys that are not fields into ``session``, in payload order."""
    layout = tuple(data)
    split = _OTHER_KEYS.get(layout)
    if split is None:
        other = [key for key in layout if key not in _SESSION_KEYS]
        top = tuple(k for k in other if type(k) is str and CUSTOM_FIELD_RE.match(k))
        split = (top, tuple(k for k in other if k not in top))
        if len(_OTHER_KEYS) < 256:
            _OTHER_KEYS[layout] = split
    # The record's own new dicts: frozen forbids rebinding them, not filling them.
    for key in split[0]:
        session.custom_fields[key] = data[key]
    for key in split[1]:
        session.extra[key] = data[key]


def _keep_other_keys(record: Any, data: Mapping[str, Any], known: frozenset[str]) -> None:
    """Put a payload's keys that are not fields into ``record``'s ``extra`` (a session's
    top-level custom fields into ``custom_fields``), in payload order."""
    for key in list(itertools.filterfalse(known.__contains__, data)):
        if type(record) is Session and type(key) is str and CUSTOM_FIELD_RE.match(key):
            record.custom_fields[key] = data[key]
        else:
            record.extra[key] = data[key]


def _salvage(cls: type[T], data: Mapping[str, Any]) -> T:
    """Convert field by field, moving any value that will not convert to ``extra``."""
    good: dict[str, Any] = {}
    bad: dict[str, Any] = {}
    for attribute in attrs.fields(cls):  # type: ignore[arg-type]
        name = attribute.name
        if name not in data or name in ("extra", "sessions"):
            continue
        try:
            if name == "custom_fields":
                good[name] = custom_fields(data[name])
            else:
                good[name] = converter().structure(data[name], attribute.type)
        except (ValueError, TypeError):
            bad[name] = data[name]
    record = cls(**good)
    _keep_other_keys(record, data, _field_names(cls))
    record.extra.update(bad)  # type: ignore[attr-defined]
    return record


def _general_session(data: Any) -> Session:
    """Read a session payload that lacks a field (``fields=`` asked for fewer) or holds a
    value in no usual form, with cattrs' generated function; salvage it if that fails."""
    if type(data) is not dict and not isinstance(data, Mapping):
        raise ValueError(f"expected a session object, got {type(data).__name__}")
    try:
        session: Session = _generated_fn(Session, structure=True)(data, Session)
    except (ValueError, TypeError):
        return _salvage(Session, data)
    _keep_other_session_keys(session, data)
    return session


def structure_sessions(items: Any) -> list[Session]:
    """Turn the ``items`` of a list page (a list, or an object keyed by id) into sessions."""
    if isinstance(items, Mapping):
        items = list(items.values())
    if not isinstance(items, list):
        raise ValueError(f"expected a list of sessions, got {type(items).__name__}")
    return _session_records()(items, _general_session, _keep_other_session_keys)


def structure_session(data: Mapping[str, Any]) -> Session:
    """Turn one session payload into a ``Session``, tolerating drift."""
    records = _session_records()((data,), _general_session, _keep_other_session_keys)
    return records[0]


def unstructure_session(session: Session) -> dict[str, Any]:
    """Turn a ``Session`` back into an API-shaped dict (unknown fields included)."""
    out: dict[str, Any] = _generated_fn(Session, structure=False)(session)
    out.update(session.extra)
    return out


def structure_speaker(data: Any, _: Any = None) -> Speaker:
    """Turn one speaker payload into a ``Speaker`` (its ``sessions`` too), tolerating drift."""
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a speaker object, got {type(data).__name__}")
    try:
        speaker: Speaker = _generated_fn(Speaker, structure=True)(data, Speaker)
    except (ValueError, TypeError):
        speaker = _salvage(Speaker, data)
    else:
        _keep_other_keys(speaker, data, _SPEAKER_KEYS)
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


def structure_record(cls: type[T], data: Any) -> T:
    """Turn a payload into any attrs model with an ``extra`` field, by the same rules.

    For models beyond sessions and speakers (webhooks): unknown keys go to ``extra``,
    a value that will not convert is moved there too.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"expected an object, got {type(data).__name__}")
    known = _field_names(cls)
    fields = {key: value for key, value in data.items() if key in known}
    try:
        record = converter().structure(fields, cls)
    except (ValueError, TypeError):
        return _salvage(cls, data)
    _keep_other_keys(record, data, known)
    return record


def decode_json(raw: bytes, *, method: str, url: str, status: int = 200) -> Any:
    """Decode a success body, or raise ``ResponseDecodeError`` keeping the raw bytes."""
    try:
        return json_decoder()(raw)  # the usual body; anything else takes the one rule
    except JSON_ERRORS:
        pass
    try:
        return loads(raw)
    except ValueError:
        raise ResponseDecodeError(
            status=status, method=method, url=url, body=None, raw=raw
        ) from None


def refused(raw: bytes, payload: Any, *, method: str, url: str) -> ResponseDecodeError:
    """The error for a 2xx body that decoded but is not what the call returns."""
    return ResponseDecodeError(status=200, method=method, url=url, body=payload, raw=raw)


def parse_session(raw: bytes, *, method: str, url: str) -> Session:
    """Read a session body."""
    payload = decode_json(raw, method=method, url=url)
    if type(payload) is not dict:
        raise refused(raw, payload, method=method, url=url)
    return structure_session(payload)


def parse_speaker(raw: bytes, *, method: str, url: str) -> Speaker:
    """Read a speaker body."""
    payload = decode_json(raw, method=method, url=url)
    if type(payload) is not dict:
        raise refused(raw, payload, method=method, url=url)
    return structure_speaker(payload)
