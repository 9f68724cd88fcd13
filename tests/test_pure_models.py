"""Pure tests of the converter: drift, unknown fields, and Hypothesis round trips."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from swoogo_async import SelectionControl, Session, SessionStatus, Speaker
from swoogo_async._converter import (
    converter,
    structure_session,
    structure_sessions,
    unstructure_session,
)

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
    assert converter.structure(converter.unstructure(speaker), Speaker) == speaker
