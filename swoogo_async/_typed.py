"""Typed decoding of session bodies with msgspec (on by default on CPython).

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
first record, so trying it costs little; and the next few bodies try the tolerant
shape first, as a server that drifts once tends to keep drifting.

**Learned keys.** Responses gain fields over time, and ``fields=c_1234`` adds
top-level custom fields. A struct that forbids unknown keys refuses such a record,
and msgspec's error names the key; the road then learns it: it builds structs that
also hold that key (``msgspec.UNSET`` when a record lacks it) and hooks that put its
value where the general road does (``extra``, or ``custom_fields`` for
``c_<digits>``), and decodes again. Learning happens once per key for the process,
at most ``LEARN_MAX`` keys in all; past that, such bodies take the general road.

This is only a faster road to the same result. The result is always the one the
general road (decode to dicts, then ``structure_session``) gives (in ``extra`` and
``custom_fields``, the same keys and values, perhaps in another order), because
anything this road is unsure of makes it give up on the whole body, and the caller
then takes the general road:

- an unknown key it cannot learn (past the cap, too long, or a name msgspec refuses);
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
import re
from collections.abc import Callable
from operator import attrgetter
from typing import Any, Literal, TypeVar, cast

import attrs

from ._models import SelectionControl, Session, SessionStatus
from ._scalars import CUSTOM_FIELD_RE
from ._sessionhook import SESSION_FIELDS, Learned, typed_hooks

__all__ = ["LEARN_MAX", "PageParts", "decode_page", "decode_session", "forget", "learned"]

T = TypeVar("T")
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


def _shape(name: str, kinds: dict[Any, Any], learned: tuple[Learned, ...]) -> Any:
    import msgspec

    attrs.resolve_types(Session)
    fields: list[tuple[str, Any, Any]] = [
        (a.name, Any if a.name == "custom_fields" else kinds[a.type], None)
        for a in attrs.fields(Session)
        if a.name != "extra"
    ]
    fields += [(a, Any, msgspec.field(default=msgspec.UNSET, name=k)) for a, k, _ in learned]
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


class _Road:
    """The decoders for one set of learned keys."""

    __slots__ = ("learned", "page", "session", "tolerant_first")

    def __init__(self, learned: tuple[Learned, ...]) -> None:
        import msgspec

        self.learned = learned
        exact = _shape("ExactSession", _EXACT, learned)
        tolerant = _shape("TolerantSession", _TOLERANT, learned)
        from_exact, from_attributes = typed_hooks(learned, msgspec.UNSET)
        read_exact = msgspec.json.Decoder(exact).decode
        read_tolerant = msgspec.json.Decoder(tolerant).decode
        read_exact_page = msgspec.json.Decoder(_envelope("ExactPage", exact)).decode
        read_tolerant_page = msgspec.json.Decoder(_envelope("TolerantPage", tolerant)).decode
        drifted = msgspec.ValidationError  # a kind the shape does not take, or an unknown key

        # After a body that drifted, the next few try the tolerant shape first: a
        # server that sends ``"20"`` for an int tends to keep doing so, and the exact
        # shape would fail on each. The tolerant shape takes everything the exact one
        # does, with the same result, so the order only changes the cost.
        tolerant_first = self.tolerant_first = [0, 0]  # [session bodies, pages]: how many more

        def session(raw: bytes) -> Session:
            if tolerant_first[0]:
                tolerant_first[0] -= 1
                return from_attributes(read_tolerant(raw), None, {})
            try:
                return from_exact(read_exact(raw), None, {})
            except drifted as error:
                if _unknown_key(error) is not None:
                    raise  # the tolerant shape would refuse it too
                tolerant_first[0] = _STICKY
                return from_attributes(read_tolerant(raw), None, {})

        def page(raw: bytes) -> PageParts:
            if tolerant_first[1]:
                tolerant_first[1] -= 1
                parts: Any = read_tolerant_page(raw)
                build = from_attributes
            else:
                try:
                    parts = read_exact_page(raw)
                    build = from_exact
                except drifted as error:
                    if _unknown_key(error) is not None:
                        raise
                    tolerant_first[1] = _STICKY
                    parts = read_tolerant_page(raw)
                    build = from_attributes
            items = parts.items
            if type(items) is dict:
                items = list(items.values())
            return [build(item, None, {}) for item in items], parts.meta, parts.links

        self.session = session
        self.page = page


# msgspec's words for a key no field takes: "Object contains unknown field `key`",
# then " - at `$.items[0]`" inside a page.
_UNKNOWN = re.compile(r"Object contains unknown field `(.*?)`(?: - at `[^`]*`)?\Z", re.DOTALL)
# How many bodies try the tolerant shape first after one drifted.
_STICKY = 16
#: At most this many keys are learned, in all: past that, a body with another unknown
#: key takes the general road (a payload may carry any keys).
LEARN_MAX = 32
_LEARN_LONGEST = 128


def _unknown_key(error: Exception) -> str | None:
    """The unknown key a ``ValidationError`` names, or None when it names none."""
    found = _UNKNOWN.match(str(error))
    return found.group(1) if found else None


def _learn(road: _Road, error: Exception) -> bool:
    """Make the road that also takes the unknown key ``error`` names the current one;
    False when there is none to learn (another error, a key already learned, the cap)."""
    global _current
    key = _unknown_key(error)
    if (
        key is None
        or len(key) > _LEARN_LONGEST  # a name, not a payload: each becomes generated code
        or key in SESSION_FIELDS
        or any(key == known for _, known, _ in road.learned)
        or len(road.learned) >= LEARN_MAX
    ):
        return False
    if key in _UNLEARNABLE:
        return False
    custom = CUSTOM_FIELD_RE.match(key) is not None
    try:
        _current = _Road((*road.learned, (f"learned_{len(road.learned)}", key, custom)))
    except ValueError:  # msgspec takes no backslash, quote or control character in a name
        if len(_UNLEARNABLE) < LEARN_MAX:
            _UNLEARNABLE.add(key)
        return False
    return True


# Keys a struct cannot take: not tried again.
_UNLEARNABLE: set[str] = set()


def forget() -> None:
    """Drop every learned key, and the memory of drift (for tests)."""
    global _current
    _current = cast(_Road, _BASE)
    _current.tolerant_first[:] = [0, 0]
    _UNLEARNABLE.clear()


def learned() -> tuple[str, ...]:
    """The keys learned so far, in the order they were met."""
    return tuple(key for _, key, _ in _current.learned)


def _give_up(error: Exception) -> Exception:
    # msgspec's errors are ValueErrors only since 0.21; the callers catch ValueError.
    return error if isinstance(error, (ValueError, TypeError)) else ValueError(str(error))


def _learning(pick: Callable[[_Road], Callable[[bytes], T]]) -> Callable[[bytes], T]:
    """A decoder that runs ``pick(current road)``, learning keys as it meets them."""

    def decode(raw: bytes) -> T:
        while True:
            road = _current
            try:
                return pick(road)(raw)
            except _FAILED as error:
                if not _learn(road, error):
                    raise _give_up(error) from None

    return decode


def _failures() -> tuple[type[Exception], ...] | None:
    try:
        import msgspec
    except ImportError:
        return None
    return (ValueError, TypeError, msgspec.MsgspecError)


_FAILED = _failures() or (ValueError, TypeError)
_BASE: _Road | None = _Road(()) if _failures() else None
# Never read without msgspec: ``decode_session`` and ``decode_page`` are None then.
_current: _Road = cast(_Road, _BASE)
#: Decode a session body into a ``Session``, or raise ``ValueError``/``TypeError``
#: (msgspec's errors included) for the caller to take the general road.
#: None without msgspec.
decode_session: Callable[[bytes], Session] | None = (
    _learning(attrgetter("session")) if _BASE else None
)
#: The same for a list page's envelope.
decode_page: Callable[[bytes], PageParts] | None = _learning(attrgetter("page")) if _BASE else None
