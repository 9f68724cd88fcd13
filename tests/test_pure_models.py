"""Pure tests of the converter: drift, unknown fields, and Hypothesis round trips."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swoogo_async import SelectionControl, Session, SessionStatus, Speaker
from swoogo_async._api.converter import (
    converter,
    structure_session,
    structure_sessions,
    unstructure_session,
)
from swoogo_async._api.models import CUSTOM_FIELD_RE

SAMPLES = Path(__file__).parent / "samples"


def test_drift_in_numbers_and_flags() -> None:
    for capacity in ("20", 20, 20.0):
        assert structure_session({"capacity": capacity}).capacity == 20
    for true in (1, "1", True, "true"):
        assert structure_session({"use_event_timezone": true}).use_event_timezone is True
    for false in (0, "0", False, "false"):
        assert structure_session({"locked_when_saved": false}).locked_when_saved is False
    assert structure_session({"capacity": ""}).capacity is None


def test_dates_times_and_utc_datetimes() -> None:
    s = structure_session(
        {"date": "2025-07-20", "start_time": "10:00:00", "created_at": "2015-09-28 09:20:03"}
    )
    assert s.date == dt.date(2025, 7, 20)
    assert s.start_time == dt.time(10)
    assert s.created_at == dt.datetime(2015, 9, 28, 9, 20, 3, tzinfo=dt.timezone.utc)


def test_open_enums_keep_unknown_values() -> None:
    s = structure_session({"session_status": "archived", "selection_control": "included"})
    assert s.session_status == SessionStatus("archived")
    assert s.session_status is not None
    assert s.session_status.value == "archived"
    assert not s.session_status.known
    assert SessionStatus.LIVE.known
    assert s.selection_control is SelectionControl.INCLUDED
    assert unstructure_session(s)["session_status"] == "archived"


def test_unknown_fields_and_custom_fields() -> None:
    s = structure_session(
        {"id": 1, "virtual_hub": {"a": 1}, "c_55": "top", "custom_fields": {"c_1": "in"}}
    )
    assert s.extra == {"virtual_hub": {"a": 1}}
    assert s.custom_fields == {"c_1": "in", "c_55": "top"}


def test_unconvertible_known_value_is_salvaged_into_extra() -> None:
    s = structure_session({"id": 7, "capacity": "unlimited", "date": "soon", "name": "N"})
    assert (s.id, s.name, s.capacity, s.date) == (7, "N", None, None)
    assert s.extra == {"capacity": "unlimited", "date": "soon"}


def test_a_full_sized_payload_with_a_known_field_missing() -> None:
    # As many keys as a full record, but an unknown one stands in for ``name``.
    payload: dict[str, Any] = {name: None for name in _KNOWN if name != "extra"}
    del payload["name"]
    payload["virtual_hub"] = {"id": 9}
    s = structure_session(payload)
    assert s.name is None
    assert s.extra == {"virtual_hub": {"id": 9}}
    # More keys than a full record, yet one known field missing: two unknown keys at the
    # end are found, and the missing field still sends it down the general path.
    payload = {"c_7": "top", **payload, "zoom": 1}
    s = structure_session(payload)
    assert s.name is None
    assert s.extra == {"virtual_hub": {"id": 9}, "zoom": 1}
    assert list(s.extra) == ["virtual_hub", "zoom"]  # payload order
    assert s.custom_fields == {"c_7": "top"}


def test_a_full_payload_with_more_keys_keeps_them_in_payload_order() -> None:
    full: dict[str, Any] = {name: None for name in _KNOWN if name != "extra"}
    full.update(id=3, capacity="40", custom_fields={"c_1": "in"})
    payload = {"zoom": 1, **full, "c_9": "top", "extra": "a key named extra", "hub": {}}
    s = structure_session(payload)
    assert (s.id, s.capacity) == (3, 40)
    assert s.custom_fields == {"c_1": "in", "c_9": "top"}
    assert list(s.extra.items()) == [("zoom", 1), ("extra", "a key named extra"), ("hub", {})]
    # The same payload with a value that will not convert: only that value moves to extra.
    s = structure_session({**payload, "date": "soon"})
    assert (s.id, s.date, s.custom_fields["c_9"]) == (3, None, "top")
    assert s.extra == {"zoom": 1, "extra": "a key named extra", "hub": {}, "date": "soon"}
    # Each record gets dicts of its own: filling one never shows in another.
    other = structure_session(full)
    assert other.extra == {}
    assert other.custom_fields == {"c_1": "in"}


def test_items_as_object_and_samples() -> None:
    sample = json.loads((SAMPLES / "create_session.json").read_text())
    sessions = structure_sessions({"12345": sample})
    assert sessions[0].custom_fields["c_1002"] == [{"id": 123}]
    assert sessions[0].locked_when_saved is True


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
_opt_int = st.none() | st.integers(min_value=0, max_value=10**9)
_opt_bool = st.none() | st.booleans()
_datetimes = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
    lambda d: d.replace(microsecond=0, tzinfo=dt.timezone.utc)
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
_KNOWN = {a.name for a in attrs.fields(Session)}
_extra_keys = _text.filter(
    lambda k: k not in _KNOWN and not (k.startswith("c_") and k[2:].isdigit() and k[2:].isascii())
)
sessions = st.builds(
    Session,
    id=_opt_int,
    event_id=_opt_int,
    name=st.none() | _text,
    description=st.none() | _text,
    date=st.none() | st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 1, 1)),
    start_time=st.none() | st.times().map(lambda t: t.replace(microsecond=0)),
    end_time=st.none() | st.times().map(lambda t: t.replace(microsecond=0)),
    use_event_timezone=_opt_bool,
    capacity=_opt_int,
    track=_json,
    track_id=_opt_int,
    session_status=st.none()
    | st.sampled_from(list(SessionStatus))
    | st.sampled_from(["archived", "draft"]).map(SessionStatus),
    selection_control=st.none() | st.sampled_from(list(SelectionControl)),
    locked_when_saved=_opt_bool,
    prevent_session_conflicts=_opt_bool,
    created_at=st.none() | _datetimes,
    updated_at=st.none() | _datetimes,
    custom_fields=st.dictionaries(st.integers(1, 99999).map(lambda i: f"c_{i}"), _json, max_size=3),
    extra=st.dictionaries(_extra_keys, _json, max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(sessions)
def test_session_round_trip(session: Session) -> None:
    data: dict[str, Any] = unstructure_session(session)
    assert structure_session(data) == session
    # And through JSON, as it would travel.
    assert structure_session(json.loads(json.dumps(data))) == session


@settings(max_examples=50, deadline=None)
@given(st.lists(sessions, max_size=3), _opt_int, st.none() | _text)
def test_speaker_round_trip(
    session_list: list[Session], speaker_id: int | None, email: str | None
) -> None:
    speaker = Speaker(
        id=speaker_id, email=email, sessions=session_list, gender={"id": None, "value": None}
    )
    assert converter().structure(converter().unstructure(speaker), Speaker) == speaker


# -- any wire payload: each value converted by its rule, or kept in ``extra`` -----------------

# Per field type: values that convert (canonical or drifted), then values that do not.
_ints = st.sampled_from(["20", " 7 ", "", 20.0]) | _opt_int
_bad_ints = st.sampled_from(["x", "2.5", 2.5, True, [], {}])
_strs = st.none() | _text | st.integers() | st.just(1.5)
_bad_strs = st.sampled_from([True, [], {"a": 1}])
_flags = st.sampled_from([0, 1, "0", "1", "true", "", True, False, None])
_bad_flags = st.sampled_from([2, -1, "maybe", 0.5, []])
_dates = st.sampled_from(["2025-07-20", "2025-07-20 10:00:00", "", None])
_bad_dates = st.sampled_from(["soon", "2025-13-01", 5])
_times = st.sampled_from(["10:00:00", "10:00", "", None])
_bad_times = st.sampled_from(["25:00:00", "noon", 10])
_stamps = st.sampled_from(
    [
        "2015-09-28 09:20:03",
        "2015-09-28T09:20:03",
        "2015-09-28T09:20:03+02:00",
        "2015-09-28T09:20+01",
        "",
        None,
    ]
)
_bad_stamps = st.sampled_from(["2015-09-28 09:20:0Z", "x" * 19, 3])
_statuses = st.sampled_from(["live", " LIVE ", "Approved", "archived", "", None, 5, "x"])
_selections = st.sampled_from(["optional", "Included", "both", "", None, 0])
_WIRE: dict[Any, tuple[Any, Any]] = {
    int | None: (_ints, _bad_ints),
    str | None: (_strs, _bad_strs),
    bool | None: (_flags, _bad_flags),
    dt.date | None: (_dates, _bad_dates),
    dt.time | None: (_times, _bad_times),
    dt.datetime | None: (_stamps, _bad_stamps),
    SessionStatus | None: (_statuses, st.just([])),
    SelectionControl | None: (_selections, st.just({})),
    Any: (_json, _json),
}
attrs.resolve_types(Session)
_wire_fields = {
    a.name: _WIRE[a.type] for a in attrs.fields(Session) if a.name not in ("custom_fields", "extra")
}
_custom_values = (
    st.none()
    | st.sampled_from([[], "", 0])
    | st.dictionaries(st.integers(1, 99).map(lambda i: f"c_{i}"), _json, max_size=2)
)


@st.composite
def wire_payloads(draw: st.DrawFn) -> dict[str, Any]:
    names = list(_wire_fields)
    full = draw(st.booleans())  # a full record takes the generated fast path
    kept = names if full else draw(st.lists(st.sampled_from(names), unique=True))
    payload = {name: draw(_wire_fields[name][0]) for name in kept}
    payload["custom_fields"] = draw(_custom_values)
    if kept and draw(st.integers(0, 3)) == 0:  # now and then, one value that won't convert
        name = draw(st.sampled_from(kept))
        payload[name] = draw(_wire_fields[name][1])
    payload.update(draw(st.dictionaries(_extra_keys, _json, max_size=2)))
    payload.update(
        draw(st.dictionaries(st.integers(1, 99).map(lambda i: f"c_{i}"), _json, max_size=2))
    )
    if draw(st.booleans()):  # unknown keys anywhere, not only after the known ones
        return {key: payload[key] for key in draw(st.permutations(list(payload)))}
    return payload


@settings(max_examples=400, deadline=None)
@given(wire_payloads())
def test_a_payload_never_fails_and_each_value_is_converted_or_kept(
    payload: dict[str, Any],
) -> None:
    session = structure_session(payload)
    assert type(session) is Session
    types: dict[str, Any] = {a.name: a.type for a in attrs.fields(Session)}
    for key, value in payload.items():
        if key in ("custom_fields", "extra"):
            continue
        if key not in types:  # unknown: a top-level custom field, or extra
            kept = session.custom_fields if CUSTOM_FIELD_RE.match(key) else session.extra
            assert kept[key] == value
            continue
        try:
            expected = converter().structure(value, types[key])
        except (ValueError, TypeError):
            assert session.extra[key] == value  # salvaged, not lost
            assert getattr(session, key) is None
        else:
            assert getattr(session, key) == expected
            assert key not in session.extra
    if isinstance(payload["custom_fields"], dict):
        for key, value in payload["custom_fields"].items():
            assert session.custom_fields[key] == payload.get(key, value)


def test_a_structured_session_is_a_real_frozen_session() -> None:
    sample = json.loads((SAMPLES / "create_session.json").read_text())
    built = structure_session(sample)
    assert type(built) is Session
    try:
        built.name = "changed"  # type: ignore[misc]
    except attrs.exceptions.FrozenInstanceError:
        pass
    else:
        raise AssertionError("a structured Session must be frozen")
    assert attrs.evolve(built, name="changed").name == "changed"
    assert built == Session(**{a.name: getattr(built, a.name) for a in attrs.fields(Session)})
    assert built.custom_fields is not sample["custom_fields"]  # the payload is not shared


# For each kind of field: its usual wire forms, then drift and values that will not
# convert (those end in ``extra``).
_USUAL: dict[str, list[Any]] = {
    "int": [None, 7],
    "str": [None, "text"],
    "bool": [None, 0, 1],
    "date": [None, "2025-06-01"],
    "time": [None, "10:00:00"],
    "datetime": [None, "2025-06-01 09:20:03"],
    "enum": [None, "approved", "optional"],
    "any": [None, {"id": 1}],
    "custom": [{}, {"c_1": "in"}],
}
_DRIFT: dict[str, list[Any]] = {
    "int": [0, "12", " 12 ", "", 3.0, 2.5, True, "x", [1]],
    "str": ["", 12, 1.5, False, {"a": 1}],
    "bool": [2, -1, True, False, "1", "0", "true", "no", "", 1.0, "x", {}],
    "date": ["", "2025-06-01 10:00:00", "20250601", "soon", 5],
    "time": ["", "10:00", "25:00", "x", 5],
    "datetime": [
        "",
        "2025-06-01T09:20:03+02:00",
        "2025-06-01",
        "2025-06-01 09:20",
        "2025-06-01 09:20:03Z",
        "2025-06-01 09:20:0x",
        "x",
        5,
    ],
    "enum": ["", "Approved", "archived", 3, ["a"]],
    "any": [0, "x", [1]],
    "custom": [[], None, "x"],
}
_KIND: dict[Any, str] = {
    int | None: "int",
    str | None: "str",
    bool | None: "bool",
    dt.date | None: "date",
    dt.time | None: "time",
    dt.datetime | None: "datetime",
    SessionStatus | None: "enum",
    SelectionControl | None: "enum",
    Any: "any",
    dict[str, Any]: "custom",
}
_FIELD_KINDS = {
    a.name: _KIND[a.type] for a in attrs.fields(attrs.resolve_types(Session)) if a.name != "extra"
}
_whole_records = st.fixed_dictionaries(
    {name: st.sampled_from(_USUAL[kind]) for name, kind in _FIELD_KINDS.items()}
)
_drifted_fields = st.lists(st.sampled_from(sorted(_FIELD_KINDS)), max_size=3, unique=True).flatmap(
    lambda names: st.fixed_dictionaries(
        {name: st.sampled_from(_DRIFT[_FIELD_KINDS[name]]) for name in names}
    )
)


@settings(max_examples=400)
@given(
    _whole_records,
    _drifted_fields,
    st.dictionaries(_extra_keys | st.sampled_from(["c_5", "c_77"]), _json, max_size=2),
)
def test_a_whole_record_reads_as_cattrs_general_function_does(
    record: dict[str, Any], drift: dict[str, Any], more: dict[str, Any]
) -> None:
    # A record holding every field takes the generated function with inline wire tests; the
    # general path (cattrs' function, then salvage) is the reference it must agree with.
    from swoogo_async._api.converter import structure_record

    payload = {**record, **drift, **more}
    assert structure_session(payload) == structure_record(Session, payload)
    expected = [structure_record(Session, payload), structure_record(Session, record)]
    assert structure_sessions([payload, record]) == expected


def test_a_session_read_whole_is_an_ordinary_session() -> None:
    # A record read whole becomes the session's attributes (``from_fields``), not a
    # call to ``__init__``: it must behave exactly like a session ``__init__`` made.
    import copy
    import pickle

    # What ``__init__`` would do beyond storing: nothing, or ``from_fields`` would skip it.
    assert not hasattr(Session, "__attrs_post_init__")
    assert all(a.validator is None and a.converter is None for a in attrs.fields(Session))
    sample = json.loads((SAMPLES / "create_session.json").read_text())
    record = unstructure_session(structure_session(sample))  # every field present
    fast = structure_sessions([{**record, "c_9": "x", "new": 1}], copy=False)[0]
    made = Session(**attrs.asdict(fast, recurse=False))
    assert set(vars(fast)) == {a.name for a in attrs.fields(Session)} == set(vars(made))
    assert fast == made
    assert repr(fast) == repr(made)
    assert (fast.custom_fields["c_9"], fast.extra) == ("x", {"new": 1})
    assert attrs.evolve(fast) == fast
    for clone in (pickle.loads(pickle.dumps(fast)), copy.deepcopy(fast)):
        assert clone == fast
        assert clone.extra is not fast.extra
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.name = "B"  # type: ignore[misc]
    before = copy.deepcopy(record)
    other = structure_sessions([record])[0]  # copied: the caller's dict is left as it was
    assert record == before
    assert other.extra is not structure_session(record).extra
