"""The generated structuring hook for ``Session``: the converter's hot path.

A list page turns hundreds of records into ``Session`` objects, so this one hook is
worth specialising. It is a single function generated from the model's fields (like
cattrs' own generated hooks) that, per field:

- reads the value with one subscript (``d.get`` when fields may be missing, an
  attribute read for a record msgspec decoded into a struct, see ``_typed.py``),
- keeps it as it is when it already has the canonical wire type (``type(v) is int``),
  or hands it to the general rule in ``_scalars.py`` (``"20"`` -> 20, ``"1"`` -> True),
- stores it straight into the instance's slot.

Building the instance: ``Session`` is a frozen attrs class, so its ``__init__`` sets
each of its 34 slots through ``object.__setattr__``, about 2.8 µs per record. The hook
instead fills an instance of ``_SessionBuilder``, a subclass that adds no slots and has
the ordinary ``__setattr__`` (0.6 µs for all 34), then assigns ``__class__ = Session``.
Python allows that assignment because the two classes have the same layout; the object
that leaves this module is an ordinary, frozen ``Session``, equal to one built through
``__init__`` (the tests check both, field by field, on random payloads).

The functions raise ``ValueError``/``TypeError`` when a value will not convert; the
converter then takes its careful path, which salvages that value into ``extra``.
"""

from __future__ import annotations

import datetime as dt
import linecache
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ._models import SelectionControl, Session, SessionStatus
from ._scalars import (
    _SELECTIONS,
    _STATUSES,
    _custom_fields,
    _selection,
    _status,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_int,
    parse_str,
    parse_time,
)

__all__ = [
    "SESSION_FIELDS",
    "session_from_attributes",
    "session_from_exact",
    "session_from_full",
    "session_from_mapping",
    "typed_hooks",
]


class _SessionBuilder(Session):
    """``Session``'s exact layout without the frozen guard; never leaves this module."""

    __slots__ = ()
    # Both must be object's own, or Python keeps the slow Python-level setattr slot.
    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__


# One statement block per field type: ``v`` holds the wire value, ``o`` the instance.
_TEMPLATES: dict[Any, str] = {
    int | None: "o.{n} = v if type(v) is int or v is None else _parse_int(v)",
    str | None: "o.{n} = v if type(v) is str or v is None else _parse_str(v)",
    bool | None: "o.{n} = (v == 1) if type(v) is int and 0 <= v <= 1 else _parse_bool(v)",
    dt.date | None: ("o.{n} = _date_iso(v) if type(v) is str and len(v) == 10 else _parse_date(v)"),
    # An agenda has a few slot times, read again on every record: kept once read.
    dt.time | None: "o.{n} = _TIMES.get(v) or _time(v)",
    # ``YYYY-MM-DD HH:MM:SS`` carries no offset: read it as UTC in one C call.
    dt.datetime | None: (
        "if type(v) is str and len(v) == 19:\n"
        "    try:\n"
        "        v = _datetime_iso(v + '+00:00')\n"
        "    except ValueError:\n"
        "        v = _parse_datetime(v)\n"
        "else:\n"
        "    v = _parse_datetime(v)\n"
        "o.{n} = v"
    ),
    SessionStatus | None: ("o.{n} = (_STATUSES.get(v) if type(v) is str else None) or _status(v)"),
    SelectionControl | None: (
        "o.{n} = (_SELECTIONS.get(v) if type(v) is str else None) or _selection(v)"
    ),
    Any: "o.{n} = v",
}
_CUSTOM = (
    "v = dict(v) if type(v) is dict else _custom_fields(v)\n"
    "if top is not None:\n"
    "    v.update(top)\n"
    "o.custom_fields = v"
)
# A record msgspec decoded is ours alone: its ``custom_fields`` dict needs no copy.
_CUSTOM_OWNED = "o.custom_fields = v if type(v) is dict else _custom_fields(v)"
# For a struct whose values msgspec already held to their canonical kind (``_typed.py``:
# ``int | None``, ``str | None``, ``bool | Literal[0, 1] | None``), what the general
# template would do to them, without the checks. Other types keep the general template.
_EXACT_TEMPLATES: dict[Any, str] = {
    int | None: "o.{n} = v",
    str | None: "o.{n} = v",
    bool | None: "o.{n} = None if v is None else v == 1",
    Any: "o.{n} = v",
}
_TIMES: dict[str, dt.time] = {}
_TIMES_MAX = 1024


def _time(value: Any) -> dt.time | None:
    """Read a time (the rule in ``_scalars.parse_time``), keeping ``HH:MM:SS`` strings read.

    The hook looks in ``_TIMES`` first, so this runs once per distinct string (an
    unhashable value makes that lookup raise ``TypeError``: the careful path's job).
    """
    if type(value) is not str or not value:
        return parse_time(value)
    parsed = dt.time.fromisoformat(value)
    if len(_TIMES) >= _TIMES_MAX:  # bounded: a payload may hold any strings
        _TIMES.clear()
    _TIMES[value] = parsed
    return parsed


_NAMESPACE: dict[str, Any] = {
    "_new": object.__new__,
    "_Builder": _SessionBuilder,
    "_Session": Session,
    "_parse_int": parse_int,
    "_parse_str": parse_str,
    "_parse_bool": parse_bool,
    "_parse_date": parse_date,
    "_parse_datetime": parse_datetime,
    "_date_iso": dt.date.fromisoformat,
    "_datetime_iso": dt.datetime.fromisoformat,
    "_STATUSES": _STATUSES,
    "_SELECTIONS": _SELECTIONS,
    "_status": _status,
    "_selection": _selection,
    "_custom_fields": _custom_fields,
    "_TIMES": _TIMES,
    "_time": _time,
}

#: The payload keys ``Session`` models (``extra`` is ours, not the API's).
SESSION_FIELDS = frozenset(a.name for a in attrs.fields(Session)) - {"extra"}


def _indent(block: str) -> str:
    return "".join(f"    {line}\n" for line in block.splitlines())


_READS = {"subscript": "d[{f!r}]", "get": "d.get({f!r})", "attribute": "d.{f}"}


#: A key the typed road learned (``_typed.py``): ``(attribute, payload key, custom)``,
#: where ``custom`` says it is a top-level custom field (``c_<digits>``).
Learned = tuple[str, str, bool]
# A learned key's value, when the record has it (a missing one holds ``_UNSET``).
_LEARNED_EXTRA = "v = d.{a}\nif v is not _UNSET:\n    extra[{k!r}] = v"
_LEARNED_CUSTOM = "v = d.{a}\nif v is not _UNSET:\n    o.custom_fields[{k!r}] = v"


def _generate(
    name: str,
    *,
    read: str,
    exact: bool = False,
    learned: tuple[Learned, ...] = (),
    unset: object = None,
) -> Callable[..., Session]:
    attrs.resolve_types(Session)
    body = ["o = _new(_Builder)"]
    for attribute in attrs.fields(Session):
        field = attribute.name
        if field == "extra":
            continue
        body.append("v = " + _READS[read].format(f=field))
        if field == "custom_fields":
            template = _CUSTOM_OWNED if read == "attribute" else _CUSTOM
        elif exact and attribute.type in _EXACT_TEMPLATES:
            template = _EXACT_TEMPLATES[attribute.type]
        else:
            template = _TEMPLATES[attribute.type]
        body.append(template.format(n=field))
    # After ``custom_fields``, as the general road merges top-level ones over it.
    for attribute_name, key, custom in learned:
        body.append((_LEARNED_CUSTOM if custom else _LEARNED_EXTRA).format(a=attribute_name, k=key))
    body += ["o.extra = extra", "o.__class__ = _Session", "return o"]
    source = f"def {name}(d, top, extra):\n" + "".join(_indent(b) for b in body)
    filename = f"<swoogo_async generated {name}{f' +{len(learned)} learned' if learned else ''}>"
    # Registered with linecache so a traceback through it shows the generated line.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(_NAMESPACE, _UNSET=unset)
    exec(compile(source, filename, "exec"), namespace)
    function: Callable[..., Session] = namespace[name]
    return function


#: ``(payload, top-level custom fields or None, extra) -> Session`` for a payload
#: holding every known field (a ``KeyError`` means it does not).
session_from_full: Callable[
    [Mapping[str, Any], Mapping[str, Any] | None, dict[str, Any]], Session
] = _generate("session_from_full", read="subscript")
#: The same for any mapping: a missing field is None.
session_from_mapping: Callable[
    [Mapping[str, Any], Mapping[str, Any] | None, dict[str, Any]], Session
] = _generate("session_from_mapping", read="get")
#: The same for a record msgspec decoded into a struct (``_typed.py``): each field an
#: attribute, ``None`` when missing; ``top`` is always None (unknown keys never get
#: this far) and the record's ``custom_fields`` dict is taken without a copy.
session_from_attributes: Callable[[Any, None, dict[str, Any]], Session] = _generate(
    "session_from_attributes", read="attribute"
)
#: The same for a struct whose ints, strings and flags msgspec held to their canonical
#: kinds (``_typed.py``): those values go in as they are.
session_from_exact: Callable[[Any, None, dict[str, Any]], Session] = _generate(
    "session_from_exact", read="attribute", exact=True
)


def typed_hooks(
    learned: tuple[Learned, ...], unset: object
) -> tuple[Callable[[Any, None, dict[str, Any]], Session], ...]:
    """``session_from_exact`` and ``session_from_attributes`` for structs that also hold
    the keys the typed road learned: each present one goes to ``extra`` or, when it is
    a top-level custom field, into ``custom_fields``, as the general road puts it."""
    if not learned:
        return session_from_exact, session_from_attributes
    return (
        _generate("session_from_exact", read="attribute", exact=True, learned=learned, unset=unset),
        _generate("session_from_attributes", read="attribute", learned=learned, unset=unset),
    )
