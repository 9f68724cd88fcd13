"""The typed msgspec road (``_typed.py``) gives what the general road gives, or gives up."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swoogo_async import SelectionControl, Session, SessionStatus, _json, _sessionhook, _typed
from swoogo_async._converter import structure_session
from swoogo_async._endpoints import parse_page, parse_session
from swoogo_async._exceptions import ResponseDecodeError

from .test_pure_models import (
    SAMPLES,
    _dates,
    _opt_int,
    _selections,
    _stamps,
    _statuses,
    _text,
    _times,
    wire_payloads,
)
from .test_pure_models import _json as _json_values

assert _typed.decode_session is not None
assert _typed.decode_page is not None
decode_session = _typed.decode_session
decode_page = _typed.decode_page


def _general(raw: bytes, **page: int) -> Any:
    """Parse with the typed road switched off: decode to dicts, then the hooks."""
    saved, _json.typed = _json.typed, False
    try:
        if page:
            return parse_page(raw, method="GET", url="u", **page)
        return parse_session(raw, method="GET", url="u")
    finally:
        _json.typed = saved


def _same(a: Session, b: Session) -> None:
    assert type(a) is type(b) is Session
    assert a == b
    # The same keys and values; a learned key's place among them may differ.
    assert a.extra == b.extra
    assert a.custom_fields == b.custom_fields


@pytest.fixture
def fresh() -> Iterator[None]:
    """No key learned before the test, and none left for the next one."""
    _typed.forget()
    yield
    _typed.forget()


def test_the_typed_road_is_on_with_msgspec() -> None:
    assert _json.typed


def test_a_real_record_and_page_take_the_typed_road() -> None:
    raw = (SAMPLES / "create_session.json").read_bytes()
    record = json.loads(raw)
    record.pop("c_1001", None)
    record = {k: v for k, v in record.items() if not k.startswith("c_")}
    raw = json.dumps(record).encode()
    _same(decode_session(raw), _general(raw))
    envelope = {"items": [record, record], "_meta": {"totalCount": 2}, "_links": {"next": {}}}
    items, meta, links = decode_page(json.dumps(envelope).encode())
    assert meta == {"totalCount": 2}
    assert links == {"next": {}}
    for got in items:
        _same(got, _general(raw))


def _known_keys_only(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k in _sessionhook.SESSION_FIELDS}


attrs.resolve_types(Session)
# Each field's canonical wire kind only: what the exact shape takes.
_CANONICAL: dict[Any, Any] = {
    int | None: _opt_int,
    str | None: st.none() | _text,
    bool | None: st.sampled_from([0, 1, True, False, None]),
    dt.date | None: _dates,
    dt.time | None: _times,
    dt.datetime | None: _stamps,
    SessionStatus | None: _statuses,
    SelectionControl | None: _selections,
    Any: _json_values,
}
_canonical = st.fixed_dictionaries(
    {},
    optional={
        a.name: _CANONICAL[a.type]
        for a in attrs.fields(Session)
        if a.name not in ("custom_fields", "extra")
    },
)
# Drifted records, the same without unknown keys, and canonical records: all three
# shapes of the typed road (exact, tolerant, given up) are taken often.
_bodies = wire_payloads() | wire_payloads().map(_known_keys_only) | _canonical


@settings(max_examples=400, deadline=None)
@given(_bodies)
def test_a_session_body_reads_the_same_on_both_roads(payload: dict[str, Any]) -> None:
    raw = json.dumps(payload).encode()
    expected = _general(raw)
    _same(parse_session(raw, method="GET", url="u"), expected)
    plain = (
        payload.keys() <= _sessionhook.SESSION_FIELDS
        and not expected.extra
        and all(type(v) in _SCALARS for k, v in payload.items() if k not in _ANY)
    )
    try:
        typed = decode_session(raw)
    except (ValueError, TypeError):
        # Giving up is always safe (the general road then decides), but it must not
        # give up on a plain record: known keys, scalar values its rules all take.
        assert not plain, payload
    else:
        _same(typed, expected)


_SCALARS = {type(None), bool, int, float, str}
_ANY = {"location", "track", "custom_fields"}


_envelopes: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {},
    optional={
        "_meta": st.none()
        | st.just([])
        | st.fixed_dictionaries({}, optional={"totalCount": st.integers(0, 9) | st.just("7")}),
        "_links": st.none() | st.just({"next": {"href": "x"}}) | st.just({"self": {}}),
        "other": st.integers(),
    },
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_bodies, max_size=4), st.booleans(), _envelopes)
def test_a_page_reads_the_same_on_both_roads(
    records: list[dict[str, Any]], keyed: bool, envelope: dict[str, Any]
) -> None:
    items: Any = {str(i): r for i, r in enumerate(records)} if keyed else records
    raw = json.dumps({**envelope, "items": items}).encode()
    expected = _general(raw, page=3, per_page=10)
    got = parse_page(raw, method="GET", url="u", page=3, per_page=10)
    assert (got.total_count, got.page_count, got.current_page, got.per_page, got.has_next) == (
        expected.total_count,
        expected.page_count,
        expected.current_page,
        expected.per_page,
        expected.has_next,
    )
    assert len(got.items) == len(expected.items)
    for a, b in zip(got.items, expected.items, strict=True):
        _same(a, b)


@pytest.mark.parametrize(
    "body",
    [
        b'{"capacity": [1]}',  # a kind the field's rule does not read
        b'{"session_status": ["live"]}',
        b'{"start_time": "noon"}',  # a value the rule refuses
        b'{"id": 1e400}',  # what msgspec cannot decode
        b"[]",
        b"{",
    ],
)
def test_it_gives_up_and_the_general_road_decides(body: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - msgspec's errors are ValueErrors
        decode_session(body)
    if body in (b"[]", b"{"):
        with pytest.raises(ResponseDecodeError) as raised:
            parse_session(body, method="GET", url="u")
        assert raised.value.raw == body
    else:
        _same(parse_session(body, method="GET", url="u"), _general(body))


def test_msgspec_names_the_unknown_key_in_words_the_road_reads() -> None:
    # Learning depends on this message; a msgspec that words it otherwise fails here.
    assert _typed._BASE is not None
    for body in (b'{"id": 1, "zoom": 2}', b'{"items": [{"zoom": 2}]}'):
        with pytest.raises(_typed._FAILED) as raised:
            _typed._BASE.page(body) if b"items" in body else _typed._BASE.session(body)
        assert _typed._unknown_key(raised.value) == "zoom"
    assert _typed._unknown_key(ValueError("Expected `int`, got `str`")) is None
    odd = ValueError("Object contains unknown field `a`b` - at `$.items[3]`")
    assert _typed._unknown_key(odd) == "a`b"


def test_it_learns_new_fields_and_top_level_custom_fields(fresh: None) -> None:
    # Responses gain fields over time, and ``fields=c_1234`` adds top-level custom
    # fields: after the first body that has them, they no longer leave the typed road.
    record = {"id": 1, "virtual_hub": {"id": 9}, "c_1003": "top", "custom_fields": {"c_1": 1}}
    raw = json.dumps(record).encode()
    got = decode_session(raw)
    _same(got, _general(raw))
    assert got.extra == {"virtual_hub": {"id": 9}}
    assert got.custom_fields == {"c_1": 1, "c_1003": "top"}
    assert set(_typed.learned()) == {"virtual_hub", "c_1003"}
    # A page: records with some, all or none of them, and a null; nothing more learned.
    items = [record, {"id": 2}, {"id": 3, "virtual_hub": None}, {"c_1003": 5}]
    page = json.dumps({"items": items}).encode()
    road = _typed._current
    parsed, _, _ = decode_page(page)
    assert _typed._current is road
    for a, b in zip(parsed, _general(page, page=1, per_page=4).items, strict=True):
        _same(a, b)
    assert parsed[1].extra == {}
    assert parsed[2].extra == {"virtual_hub": None}  # present, null: kept
    assert parsed[3].custom_fields == {"c_1003": 5}
    # A top-level custom field wins over the nested one of the same name, as on the
    # general road.
    both = b'{"c_1003": "top", "custom_fields": {"c_1003": "nested"}}'
    assert decode_session(both).custom_fields == {"c_1003": "top"}
    _same(decode_session(both), _general(both))


def test_learning_stops_at_its_cap(fresh: None) -> None:
    keys = [f"new_{i}" for i in range(_typed.LEARN_MAX + 5)]
    raw = json.dumps({"id": 1, **dict.fromkeys(keys, 0)}).encode()
    with pytest.raises(ValueError):  # noqa: PT011 - the general road then decides
        decode_session(raw)
    assert len(_typed.learned()) == _typed.LEARN_MAX
    _same(parse_session(raw, method="GET", url="u"), _general(raw))
    # What was learned still serves.
    first = json.dumps({"id": 2, keys[0]: [1]}).encode()
    _same(decode_session(first), _general(first))


@pytest.mark.parametrize("key", ["k" * 500, "a\nb", 'say "hi"', "back\\slash"])
def test_a_key_that_cannot_be_a_field_name_is_not_learned(
    fresh: None, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Too long to be a name, or characters msgspec takes in no field name.
    built: list[object] = []

    class Counted(_typed._Road):
        __slots__ = ()

        def __init__(self, learned: Any) -> None:
            built.append(learned)
            super().__init__(learned)

    monkeypatch.setattr(_typed, "_Road", Counted)
    body = json.dumps({"id": 1, key: 0}).encode()
    for _ in range(3):
        with pytest.raises(ValueError):  # noqa: PT011 - the general road then decides
            decode_session(body)
        assert _typed.learned() == ()
        _same(parse_session(body, method="GET", url="u"), _general(body))
    assert len(built) == (0 if len(key) > 128 else 1)  # tried at most once


def test_drifted_kinds_take_the_tolerant_shape() -> None:
    # The exact shape refuses each of these; the tolerant one reads them.
    for body in (
        b'{"capacity": "20"}',
        b'{"use_event_timezone": "true"}',
        b'{"locked_when_saved": 1.0}',
        b'{"name": 2025}',
        b'{"session_status": 5}',
    ):
        _same(decode_session(body), _general(body))
        page = b'{"items": [{"id": 1}, ' + body + b"]}"
        assert decode_page(page)[0] == _general(page, page=1, per_page=2).items


def test_after_a_drifted_body_the_tolerant_shape_goes_first_for_a_while(fresh: None) -> None:
    road = _typed._current
    canonical, drifted = b'{"id": 1, "capacity": 20}', b'{"id": 1, "capacity": "20"}'
    decode_session(canonical)
    assert road.tolerant_first == [0, 0]
    _same(decode_session(drifted), _general(drifted))
    assert road.tolerant_first[0] == _typed._STICKY
    # Canonical bodies read the same through the tolerant shape, and use up the count.
    for _ in range(_typed._STICKY):
        _same(decode_session(canonical), _general(canonical))
    assert road.tolerant_first[0] == 0
    decode_session(canonical)  # the exact shape again: nothing counted
    assert road.tolerant_first[0] == 0
    # Pages keep their own count.
    page = b'{"items": [{"id": 1}, {"use_event_timezone": "true"}]}'
    assert decode_page(page)[0] == _general(page, page=1, per_page=2).items
    assert road.tolerant_first == [0, _typed._STICKY]


def test_duplicate_keys_keep_the_last_value_on_both_roads() -> None:
    raw = b'{"id": 1, "name": "a", "id": 2, "custom_fields": {"c_1": 1, "c_1": 2}}'
    got = decode_session(raw)
    assert got.id == 2
    assert got.custom_fields == {"c_1": 2}
    _same(got, _general(raw))


def test_a_typed_record_owns_its_custom_fields() -> None:
    a = decode_session(b'{"custom_fields": {"c_1": 1}}')
    b = decode_session(b'{"custom_fields": {"c_1": 1}}')
    assert a.custom_fields == b.custom_fields
    assert a.custom_fields is not b.custom_fields
    assert decode_session(b'{"custom_fields": []}').custom_fields == {}


@pytest.fixture
def small_time_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, dt.time]]:
    monkeypatch.setattr(_sessionhook, "_TIMES_MAX", 8)
    _sessionhook._TIMES.clear()
    yield _sessionhook._TIMES
    _sessionhook._TIMES.clear()


def test_the_time_cache_stays_bounded_and_right(small_time_cache: dict[str, dt.time]) -> None:
    for minute in range(60):
        text = f"10:{minute:02}:00"
        assert structure_session({"start_time": text}).start_time == dt.time(10, minute)
        assert len(small_time_cache) <= 8
    assert small_time_cache["10:59:00"] == dt.time(10, 59)
    # Read again from the cache: the same value, not a different parse.
    assert structure_session({"end_time": "10:59:00"}).end_time == dt.time(10, 59)
    # Not kept: empty strings and what the rule refuses.
    assert structure_session({"start_time": ""}).start_time is None
    assert structure_session({"start_time": "noon"}).extra == {"start_time": "noon"}
    assert "" not in small_time_cache
    assert "noon" not in small_time_cache
