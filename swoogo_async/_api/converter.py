"""The one cattrs converter: API payloads to models (``c_<digits>`` keys to ``custom_fields``,
what will not convert to ``extra``) and back (``to_dict``, ``to_json``: the API's shape)."""

from __future__ import annotations

import datetime as dt
import enum
import functools
import json
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs

from .._exceptions import InvalidInputError, ResponseDecodeError
from .._json import ERRORS as JSON_ERRORS
from .._json import decoder, loads
from .models import (
    AS_IS_TYPES,
    CUSTOM_FIELD_RE,
    STRUCTURE,
    UNSTRUCTURE,
    Page,
    SelectionControl,
    Session,
    SessionBatch,
    SessionStatus,
    Speaker,
    custom_fields,
    from_fields,
)

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "converter",
    "decode_json",
    "parse_session",
    "parse_speaker",
    "refused",
    "structure_record",
    "structure_session",
    "structure_sessions",
    "structure_speaker",
    "to_dict",
    "to_json",
    "unstructure_session",
]

T = TypeVar("T")
# ``_session_records``' inline test of a value ``v`` by field type; others go to its rule ``hv``.
_WIRE_FORMS: dict[Any, str] = {
    int | None: "if type(v) not in INT: o[k] = hv(v, tv)",
    str | None: "if type(v) not in STR: o[k] = hv(v, tv)",
    bool | None: "o[k] = FLAG[v] if type(v) in FLAG_KINDS else hv(v, tv)",
    dt.date | None: "if v is not None: o[k] = DATE(v) if type(v) is str else hv(v, tv)",
    dt.time | None: "if v is not None: o[k] = TIME(v) if type(v) is str else hv(v, tv)",
    dt.datetime | None: (
        "o[k] = UTC_DATETIME(v + '+00:00') if type(v) is str and len(v) == 19 else hv(v, tv)"
    ),
    SessionStatus | None: "o[k] = STATUS[v] if type(v) in STR else hv(v, tv)",
    SelectionControl | None: "o[k] = SELECTION[v] if type(v) in STR else hv(v, tv)",
    dict[str, Any]: "o[k] = dict(v) if type(v) is dict else hv(v, tv)",
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
# ``_other_keys``' answers by model and key layout, which a page's records share. Bounded.
_SPLITS: dict[tuple[Any, ...], tuple[tuple[Any, ...], tuple[Any, ...]]] = {}


@functools.cache
def converter() -> cattrs.Converter:
    """The one converter, built on first use: sessions read whole need no cattrs."""
    import cattrs

    conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=False)
    for tp, structure in STRUCTURE.items():
        if tp not in AS_IS_TYPES:
            conv.register_structure_hook(tp, structure)
    conv.register_structure_hook_func(lambda tp: tp in AS_IS_TYPES, STRUCTURE[Any])
    for tp, write in UNSTRUCTURE.items():
        conv.register_unstructure_hook(tp, write)
    # Taken as it came, written as it is: a drifted ``gender`` may be text, not an object.
    conv.register_unstructure_hook_func(lambda tp: tp in AS_IS_TYPES, conv.unstructure)
    conv.register_structure_hook(Session, lambda data, _: structure_session(data))
    conv.register_structure_hook(Speaker, structure_speaker)
    conv.register_unstructure_hook(Session, unstructure_session)
    conv.register_unstructure_hook(Speaker, unstructure_session)
    return conv


@functools.cache
def _unstructure_fn(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    from cattrs.gen import make_dict_unstructure_fn, override

    return make_dict_unstructure_fn(cls, converter(), extra=override(omit=True))


@functools.cache
def _structure_hooks(cls: type[Any]) -> list[tuple[str, Callable[[Any, Any], Any], Any]]:
    hook = converter().get_structure_hook
    custom = ("custom_fields", dict[str, Any])  # a session's map; a webhook's is as sent
    return [
        (a.name, custom_fields if (a.name, a.type) == custom else hook(a.type), a.type)
        for a in attrs.fields(attrs.resolve_types(cls))
        if a.name not in ("extra", "sessions")
    ]


@functools.cache
def _session_records() -> Callable[..., list[Session]]:
    """Generate the session records reader: ``_WIRE_FORMS`` inline, each record converted in
    place, one lacking a field or holding an unusual value to ``general`` (rules are idempotent)."""
    fields = [a for a in attrs.fields(attrs.resolve_types(Session)) if a.name != "extra"]
    names = {**_WIRE_NAMES, "cls": Session, "new": from_fields, "N": len(fields)}
    names["get"] = operator.itemgetter(*(a.name for a in fields))
    values = [f"v{i}" for i in range(len(fields))]
    lines = ["def sessions(records, general, other):", "  out = []", "  for o in records:"]
    lines += ["    try:", f"      {', '.join(values)}, = get(o)"]
    for v, a in zip(values, fields, strict=True):
        names["h" + v] = custom_fields if a.name == "custom_fields" else STRUCTURE[a.type]
        names["t" + v] = a.type
        line = re.sub(r"\b([ht]?)v\b", rf"\g<1>{v}", _WIRE_FORMS[a.type])
        if line:
            lines.append("      " + line.replace("o[k]", f"o[{a.name!r}]"))
    lines += [
        "    except (KeyError, ValueError, TypeError):",
        "      out.append(general(o))",
        "      continue",
        "    if len(o) == N: o['extra'] = {}",
        "    else: other(o)",
        "    out.append(new(cls, o))",
        "  return out",
    ]
    exec(compile("\n".join(lines), "<session records>", "exec"), names)
    return names["sessions"]  # type: ignore[no-any-return]


def _other_keys(cls: type[Any], data: Mapping[Any, Any]) -> tuple[tuple[Any, ...], ...]:
    layout = (cls, *data)
    split = _SPLITS.get(layout)
    if split is None:
        known = {a.name for a in attrs.fields(cls)} - {"extra"}
        other = [key for key in data if key not in known]
        top = [k for k in other if cls is Session and type(k) is str and CUSTOM_FIELD_RE.match(k)]
        split = (tuple(top), tuple(k for k in other if k not in top))
        if len(_SPLITS) < 256:
            _SPLITS[layout] = split
    return split


def _move_other_keys(data: dict[str, Any]) -> None:
    top, rest = _SPLITS.get((Session, *data)) or _other_keys(Session, data)
    custom, extra = data["custom_fields"], {}  # the record's own copy, a new dict
    for key in top:
        custom[key] = data.pop(key)
    for key in rest:  # a loop: a comprehension would cost a call per record
        extra[key] = data.pop(key)
    data["extra"] = extra


def structure_record(cls: type[T], data: Any) -> T:
    """Turn a payload into a model, keys that are not fields and bad values into ``extra``."""
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a {cls.__name__} object, got {type(data).__name__}")
    good: dict[str, Any] = {}
    bad: dict[str, Any] = {}
    for name, hook, tp in _structure_hooks(cls):  # type: ignore[arg-type]
        if name in data:
            try:
                good[name] = hook(data[name], tp)
            except (ValueError, TypeError):
                bad[name] = data[name]
    top, rest = _other_keys(cls, data)
    for key in top:  # a session's top-level custom fields
        good.setdefault("custom_fields", {})[key] = data[key]
    good["extra"] = {key: data[key] for key in rest} | bad
    return cls(**good)


def structure_sessions(items: Any, *, copy: bool = True) -> list[Session]:
    """Turn a page's ``items`` (a list, or an object keyed by id) into sessions; ``copy=False``
    makes the records (a body just decoded) the sessions' own."""
    if isinstance(items, Mapping):
        items = list(items.values())
    if not isinstance(items, list):
        raise ValueError(f"expected a list of sessions, got {type(items).__name__}")
    if copy:
        items = [dict(o) if isinstance(o, Mapping) else o for o in items]
    general = functools.partial(structure_record, Session)
    return _session_records()(items, general, _move_other_keys)


def structure_session(data: Mapping[str, Any]) -> Session:
    """Turn one session payload into a ``Session``, tolerating drift."""
    return structure_sessions([data])[0]


def unstructure_session(record: Session | Speaker) -> dict[str, Any]:
    """Turn a ``Session`` (or a ``Speaker``) back into an API-shaped dict, ``extra`` included."""
    out = _unstructure_fn(type(record))(record)  # type: ignore[arg-type]
    out.update(record.extra)
    return out


def structure_speaker(data: Any, _: Any = None) -> Speaker:
    """Turn one speaker payload into a ``Speaker`` (its ``sessions`` too), tolerating drift."""
    speaker = structure_record(Speaker, data)
    sessions = data.get("sessions")
    if sessions is not None:
        try:
            speaker = attrs.evolve(speaker, sessions=structure_sessions(sessions))
        except ValueError:  # not session records (ids only, say): kept as they came
            speaker.extra["sessions"] = sessions
    return speaker


def decode_json(raw: bytes, *, method: str, url: str) -> Any:
    """Decode a success body, or raise ``ResponseDecodeError`` keeping the raw bytes."""
    try:
        return decoder()(raw)  # the usual body; anything else takes the one rule
    except JSON_ERRORS:
        pass
    try:
        return loads(raw)
    except ValueError:
        raise ResponseDecodeError(status=200, method=method, url=url, body=None, raw=raw) from None


def refused(raw: bytes, payload: Any, *, method: str, url: str) -> ResponseDecodeError:
    """The error for a 2xx body that decoded but is not what the call returns."""
    return ResponseDecodeError(status=200, method=method, url=url, body=payload, raw=raw)


def _json_object(raw: bytes, method: str, url: str) -> dict[str, Any]:
    payload = decode_json(raw, method=method, url=url)
    if type(payload) is not dict:
        raise refused(raw, payload, method=method, url=url)
    return payload


def parse_session(raw: bytes, *, method: str, url: str) -> Session:
    return structure_sessions([_json_object(raw, method, url)], copy=False)[0]


def parse_speaker(raw: bytes, *, method: str, url: str) -> Speaker:
    return structure_speaker(_json_object(raw, method, url))


def _json_ready(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError("obj", f"holds {value!r}, which JSON cannot hold")
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (Session, Speaker, Page, SessionBatch)):
        return _json_ready(converter().unstructure(value))
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    # Left as it came (``extra``, custom fields): written as the converter writes a model's.
    for kind in (dt.datetime, dt.date, dt.time, enum.Enum):
        if isinstance(value, kind):
            return converter().unstructure(value, unstructure_as=kind | None)
    raise InvalidInputError("obj", f"holds a {type(value).__name__}, which JSON cannot hold")


def to_dict(obj: Session | Speaker | Page[Any] | SessionBatch) -> dict[str, Any]:
    """Return a model as a new dict of JSON types in the API's shape (it converts back equal).

    Args:
        obj: A ``Session``, ``Speaker``, ``Page`` or ``SessionBatch``.

    Raises:
        InvalidInputError: ``obj`` is none of those, or holds what JSON cannot (in ``extra``).
    """
    if not isinstance(obj, (Session, Speaker, Page, SessionBatch)):
        raise InvalidInputError(
            "obj", f"expected a Session, Speaker, Page or SessionBatch, got {type(obj).__name__}"
        )
    return cast("dict[str, Any]", _json_ready(obj))


def to_json(
    obj: Session | Speaker | Page[Any] | SessionBatch | Sequence[Session | Speaker],
    *,
    indent: int | None = None,
) -> str:
    """Return a model, or a list of models, as JSON text (non-ASCII characters kept).

    Args:
        obj: What ``to_dict`` takes, or a list of sessions or speakers.
        indent: Indentation, for people to read; compact by default.

    Raises:
        InvalidInputError: as ``to_dict``.
    """
    if isinstance(obj, (list, tuple)):
        data: Any = [to_dict(item) for item in obj]
    else:
        data = to_dict(obj)  # type: ignore[arg-type]
    separators = (",", ":") if indent is None else None
    return json.dumps(data, ensure_ascii=False, indent=indent, separators=separators)
