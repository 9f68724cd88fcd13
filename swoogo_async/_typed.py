"""Typed decoding of session bodies with msgspec (the ``speed`` extra).

With msgspec installed, a session body or a list page is decoded straight into
structs that have one attribute per ``Session`` field, instead of into a dict per
record; the generated hook then reads the attributes. No dict is built, hashed or
copied per record: a 1,000-session page goes from about 67 M CPU instructions
(msgspec to dicts, then the hook) to about 42 M, 103 M with the standard library
(``benchmarks/bench_instructions.py --page``).

Two struct shapes are tried in turn:

1. **exact**: each int, string and flag field holds only its canonical kind
   (``int | None``, ``str | None``, ``bool | Literal[0, 1] | None``), so the hook
   (``session_from_exact``) stores those values without looking at them;
2. **tolerant**: each field takes every JSON kind its rule in ``_scalars.py`` reads
   (``"20"`` for an int, ``"true"`` for a flag: the drift real responses show), and
   the hook (``session_from_attributes``) runs the same checks as on a dict.

A body that drifts fails the first shape at its first drifted value, usually in the
first record, so trying it costs little.

This is only a faster road to the same result. The result is always the one the
general road (decode to dicts, then ``structure_session``) gives, because anything
this road is unsure of makes it give up on the whole body, and the caller then takes
the general road:

- an unknown key in a record (``forbid_unknown_fields``): the general road keeps it
  in ``extra`` or, for ``c_<digits>``, in ``custom_fields``;
- a value of a JSON kind the tolerant shape does not take (the careful path would
  salvage it into ``extra``);
- a value the rule refuses (``ValueError``/``TypeError`` from the hook);
- anything that is not the expected envelope, and anything msgspec cannot decode.

Each value is decoded exactly as msgspec's untyped decoder would decode it (integers
of any size, floats, strings), so the hook sees what it would have seen in the dict.
The tests hold both roads equal on random and drifted bodies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Literal

import attrs

from ._models import SelectionControl, Session, SessionStatus
from ._sessionhook import session_from_attributes, session_from_exact

__all__ = ["PageParts", "decode_page", "decode_session"]

#: ``(items, _meta, _links)`` of a list page.
PageParts = tuple[list[Session], Any, Any]

_STRING = str | None
_SCALAR = str | int | float | bool | None
# Per field type, the JSON kinds each shape takes. Tolerant: every kind the field's
# rule in ``_scalars.py`` reads; any other kind the careful path salvages into extra.
_TOLERANT: dict[Any, Any] = {
    int | None: int | float | str | None,
    str | None: str | int | float | None,
    bool | None: bool | int | float | str | None,
    dt.date | None: _STRING,
    dt.time | None: _STRING,
    dt.datetime | None: _STRING,
    SessionStatus | None: _SCALAR,  # open enums: the rule reads str(value)
    SelectionControl | None: _SCALAR,
    Any: Any,
}
_EXACT: dict[Any, Any] = {
    **_TOLERANT,
    int | None: int | None,
    str | None: str | None,
    bool | None: bool | Literal[0, 1] | None,
}


def _shape(name: str, kinds: dict[Any, Any]) -> Any:
    import msgspec

    attrs.resolve_types(Session)
    fields = [
        (a.name, Any if a.name == "custom_fields" else kinds[a.type], None)
        for a in attrs.fields(Session)
        if a.name != "extra"
    ]
    # gc=False: a struct holds only decoded JSON values, which cannot refer back to it.
    return msgspec.defstruct(
        name, fields, forbid_unknown_fields=True, kw_only=True, gc=False, module=__name__
    )


def _envelope(name: str, record: Any) -> Any:
    import msgspec

    return msgspec.defstruct(
        name,
        [
            ("items", list[record] | dict[str, record]),
            ("meta", Any, msgspec.field(default=None, name="_meta")),
            ("links", Any, msgspec.field(default=None, name="_links")),
        ],
        kw_only=True,
        module=__name__,
    )


def _build() -> tuple[Callable[[bytes], Session], Callable[[bytes], PageParts]] | None:
    try:
        import msgspec
    except ImportError:
        return None
    exact, tolerant = _shape("ExactSession", _EXACT), _shape("TolerantSession", _TOLERANT)
    read_exact = msgspec.json.Decoder(exact).decode
    read_tolerant = msgspec.json.Decoder(tolerant).decode
    read_exact_page = msgspec.json.Decoder(_envelope("ExactPage", exact)).decode
    read_tolerant_page = msgspec.json.Decoder(_envelope("TolerantPage", tolerant)).decode
    drifted = msgspec.ValidationError  # a kind the shape does not take, or an unknown key

    def decode_session(raw: bytes) -> Session:
        try:
            return session_from_exact(read_exact(raw), None, {})
        except drifted:
            return session_from_attributes(read_tolerant(raw), None, {})

    def decode_page(raw: bytes) -> PageParts:
        try:
            page: Any = read_exact_page(raw)
            build = session_from_exact
        except drifted:
            page = read_tolerant_page(raw)
            build = session_from_attributes
        items = page.items
        if type(items) is dict:
            items = list(items.values())
        return [build(item, None, {}) for item in items], page.meta, page.links

    return decode_session, decode_page


_decoders = _build()
#: Decode a session body into a ``Session``, or raise ``ValueError``/``TypeError``
#: (msgspec's errors are ``ValueError``\\ s) for the caller to take the general road.
#: None without msgspec.
decode_session: Callable[[bytes], Session] | None = _decoders[0] if _decoders else None
#: The same for a list page's envelope.
decode_page: Callable[[bytes], PageParts] | None = _decoders[1] if _decoders else None
