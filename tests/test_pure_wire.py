"""Pure, synchronous tests of request building and response decoding."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, quote_plus

import pytest

import swoogo_async
from swoogo_async import (
    APIError,
    AuthenticationError,
    BadRequestError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    SessionStatus,
    SwoogoError,
    ValidationError,
)
from swoogo_async._api.endpoints import (
    add_sessions_call,
    create_session_call,
    encode_form,
    flatten_form,
    list_sessions_call,
    read_query,
    update_session_call,
)
from swoogo_async._api.fields import prepare_session_fields
from swoogo_async._api.pages import parse_page
from swoogo_async._exceptions import make_status_error
from swoogo_async._http.auth import _read_expires_at, basic_auth_header, parse_token_response

SAMPLES = Path(__file__).parent / "samples"


def test_public_names_are_exported_sorted() -> None:
    names = swoogo_async.__all__
    # ruff's RUF022 order: CONSTANTS, then Classes, then the rest (__version__, functions).
    assert sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n)) == (
        names
    )
    for name in names:
        assert hasattr(swoogo_async, name), name
    public = {n for n in dir(swoogo_async) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(names)


def test_public_names_are_the_designed_ones() -> None:
    # One client type (with_options returns a SwoogoClient), one listing type (Listing),
    # every exception from the one exception module.
    assert set(swoogo_async.__all__) == {
        "DEFAULT_BASE_URL",
        "DEFAULT_SPEAKER_FIELDS",
        "UNSET",
        "APIError",
        "AiohttpTransport",
        "AmbiguousMatchError",
        "AuthenticationError",
        "BadRequestError",
        "BulkProgress",
        "BulkResult",
        "BulkRun",
        "BulkSummary",
        "CacheStats",
        "CacheTTL",
        "ClientStateError",
        "ConnectError",
        "ConnectionLostError",
        "FieldError",
        "InvalidInputError",
        "Listing",
        "LocalSharedState",
        "LeaseBusyError",
        "LookupIncompleteError",
        "MockTransport",
        "NotFoundError",
        "Page",
        "PermissionDeniedError",
        "RateLimit",
        "RateLimitError",
        "RateLimitState",
        "ReadCache",
        "ReadTimeoutError",
        "Request",
        "RequestInfo",
        "Response",
        "ResponseDecodeError",
        "ResponseInfo",
        "ResponseTooLargeError",
        "RetryPolicy",
        "RowPlan",
        "SelectionControl",
        "ServerError",
        "Session",
        "SessionBatch",
        "SessionCreateFields",
        "SessionStatus",
        "SessionUpdateFields",
        "Sessions",
        "SharedState",
        "SharedStateError",
        "Speaker",
        "Speakers",
        "SwoogoClient",
        "SwoogoError",
        "Transport",
        "TransportError",
        "UnknownOutcomeError",
        "UnsetType",
        "ValidationError",
        "__version__",
        "to_dict",
        "to_json",
    }
    for gone in ("ClientView", "SessionList", "SpeakerList"):
        assert not hasattr(swoogo_async, gone), gone
    errors = {n for n in swoogo_async.__all__ if n.endswith("Error")}
    assert all(getattr(swoogo_async, n).__module__ == "swoogo_async._exceptions" for n in errors)


#: What neither ``import swoogo_async`` nor a client's first get loads: cattrs (a session
#: read whole does not need it), the create path, the writable fields, webhooks, and
#: ``_strptime`` (the token's ``expires_at`` is read by ``fromisoformat``).
NOT_ON_THE_READ_PATH = [
    "cattrs",
    "swoogo_async._writes.create",
    "swoogo_async._writes.lookup",
    "swoogo_async._api.fields",
    "swoogo_async._api.webhooks",
    "swoogo_async._client.webhooks",
    "_strptime",
]


def test_import_loads_the_client_path_only() -> None:
    """Bulk, sync, the cache, Redis, the command, the fake, cattrs, the create path and
    webhooks load when first used."""
    script = (
        "import json, sys, swoogo_async\n"
        "before = sorted(sys.modules)\n"
        "swoogo_async.BulkRun, swoogo_async.RowPlan, swoogo_async.ReadCache\n"
        "print(json.dumps([before, sorted(sys.modules)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    before, after = json.loads(out.stdout)
    later = [
        "swoogo_async._writes.bulk",
        "swoogo_async._writes.bulk_results",
        "swoogo_async._writes.sync_plan",
        "swoogo_async._shared.cache",
        "swoogo_async.cli",
        "swoogo_async.redis",
        "swoogo_async.testing",
        "redis",
        "msgspec",  # the JSON decoder: the first body read loads it
        *NOT_ON_THE_READ_PATH,
    ]
    assert [name for name in later if name in before] == []
    assert "swoogo_async._client.client" in before  # the client path itself is loaded
    # Asking for a bulk, sync or cache name loads its module.
    loaded = {
        "swoogo_async._writes.bulk",
        "swoogo_async._writes.sync_plan",
        "swoogo_async._shared.cache",
    }
    assert loaded <= set(after)


def test_a_get_loads_nothing_beyond_the_read_path_and_the_rest_loads_when_used() -> None:
    """A fresh process's first get decodes without cattrs, the create path or webhooks;
    each of them then works when first used."""
    script = """
import asyncio, json, sys
from swoogo_async import SwoogoClient, to_dict
from swoogo_async.testing import FakeSwoogo

async def main():
    async with FakeSwoogo("k", "s") as fake:
        sid = fake.add_session(event_id=1, name="A", date="2026-05-01")["id"]
        async with SwoogoClient("k", "s", base_url=fake.base_url) as client:
            got = await client.sessions.get(sid)
            after_get = sorted(sys.modules)
            made = await client.sessions.create(event_id=1, name="B", date="2026-05-02")
            hooks = await client.webhooks.list().collect()
            spk = fake.add_speaker(event_id=1, first_name="S", last_name="T")["id"]
            speaker = await client.speakers.get(spk)
            partial = await client.sessions.get(sid, fields=["id", "name"])
            copy = client.with_options(timeout=5.0)
            again = await copy.sessions.create(event_id=1, name="C", date="2026-05-03")
        out = {
            "after_get": after_get,
            "got": [got.id, got.name, str(got.date)],
            "made": [made.name, str(made.date)],
            "again": again.name,
            "same_locks": copy._core.creates is client._core.creates,
            "hooks": len(hooks),
            "speaker": speaker.first_name,
            "partial": [partial.id, partial.name, partial.date],
            "dict": to_dict(got)["name"],
            "later": sorted(sys.modules),
        }
    print(json.dumps(out))

asyncio.run(main())
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    result = json.loads(out.stdout)
    assert [name for name in NOT_ON_THE_READ_PATH if name in result["after_get"]] == []
    assert result["got"][1:] == ["A", "2026-05-01"]
    assert result["made"] == ["B", "2026-05-02"]
    assert result["again"] == "C"
    assert result["same_locks"] is True  # a copy's creates share the client's locks
    assert result["hooks"] == 0
    assert result["speaker"] == "S"
    assert result["partial"] == [result["got"][0], "A", None]  # cattrs' generated function
    assert result["dict"] == "A"  # through the converter, built on first use
    assert "msgspec" in result["after_get"]
    now = set(result["later"])
    assert {"cattrs", "swoogo_async._writes.create", "swoogo_async._client.webhooks"} <= now


def test_first_use_from_two_threads_lazy_names_and_pickles_in_a_fresh_process() -> None:
    """Two clients in two threads (each its own event loop) make the first reads and
    ``to_dict``/``to_json`` at once; the lazy names resolve; ``import *`` gives every
    public name; errors and models pickled here load in another fresh interpreter."""
    script = """
import asyncio, json, pickle, sys, threading
import swoogo_async
from swoogo_async import *
from swoogo_async.testing import FakeSwoogo

start = threading.Barrier(2)
seen = {}

def worker(name):
    async def main():
        async with FakeSwoogo("k", "s") as fake:
            sid = fake.add_session(event_id=1, name=name, date="2026-05-01")["id"]
            spk = fake.add_speaker(event_id=1, first_name=name, last_name="T")["id"]
            async with SwoogoClient("k", "s", base_url=fake.base_url) as client:
                start.wait()  # both loops make their first use together
                got = await client.sessions.get(sid)
                speaker = await client.speakers.get(spk)
                seen[name] = [to_dict(got)["name"], json.loads(to_json(speaker))["first_name"]]
    asyncio.run(main())

threads = [threading.Thread(target=worker, args=(n,)) for n in ("A", "B")]
for t in threads: t.start()
for t in threads: t.join()
g = globals()
err = NotFoundError(status=404, method="GET", url="http://h/sessions/1", body={"m": 1}, raw=b"{}")
fields = SessionCreateFields(name="x")
got = swoogo_async._api.converter.parse_session(
    b'{"id": 5, "event_id": 1, "name": "S", "date": "2026-05-01"}', method="GET", url="u")
print(json.dumps({
    "seen": seen,
    "star": [n for n in swoogo_async.__all__ if n not in g],
    "pickled": pickle.dumps([err, got, fields, InvalidInputError("name", "empty")]).hex(),
    "modules": "cattrs" in sys.modules,
}))
"""
    load = """
import json, pickle, sys
err, got, fields, bad = pickle.loads(bytes.fromhex(sys.stdin.read()))
print(json.dumps([type(err).__name__, err.status, err.body, got.id, str(got.date), fields,
                  type(bad).__name__, str(bad)]))
"""

    def run(code: str, given: str | None = None) -> str:
        return subprocess.run(
            [sys.executable, "-c", code],
            input=given,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout

    result = json.loads(run(script))
    assert result["seen"] == {"A": ["A", "A"], "B": ["B", "B"]}
    assert result["star"] == []
    assert result["modules"] is True
    back = json.loads(run(load, result["pickled"]))
    assert back[:6] == ["NotFoundError", 404, {"m": 1}, 5, "2026-05-01", {"name": "x"}]
    assert back[6] == "InvalidInputError"
    assert "name" in back[7]


def test_basic_header_url_encodes_each_part() -> None:
    header = basic_auth_header("my key", "p@ss:w/rd")
    raw = base64.b64decode(header.removeprefix("Basic ")).decode()
    assert raw == "my+key:p%40ss%3Aw%2Frd"


def test_token_lifetime_comes_from_expires_at_and_server_date() -> None:
    body = json.dumps(
        {"access_token": "tok", "expires_at": "2024-11-08 16:04:40", "type": "bearer"}
    ).encode()
    # Our wall clock is 5 minutes fast; the server's Date says 15:34:40: 30 minutes left.
    server_now = dt.datetime(2024, 11, 8, 15, 34, 40, tzinfo=dt.timezone.utc)
    headers = {"Date": "Fri, 08 Nov 2024 15:34:40 GMT"}
    token = parse_token_response(
        body, headers, now=1000.0, wall_now=server_now.timestamp() + 300, margin=60
    )
    assert token.expires_at == pytest.approx(1000.0 + 1800)
    assert token.refresh_at == pytest.approx(1000.0 + 1800 - 60)
    assert not token.due(2000.0)
    assert token.due(1000.0 + 1741)
    assert "tok" not in repr(token)
    short = parse_token_response(
        json.dumps({"access_token": "t", "expires_at": "2024-11-08 15:34:50"}).encode(),
        headers,
        now=0.0,
        wall_now=0.0,
    )
    assert short.refresh_at == pytest.approx(9.0)  # a tenth early for short lifetimes


@pytest.mark.parametrize(
    "text",
    [
        "2024-11-08 16:04:40",
        " 2024-11-08 16:04:40 ",
        "2024-1-8 6:4:4",  # only strptime reads single digits
        "2024-11-08  16:04:40",  # nor two spaces
        "2024-11-08T16:04:40",
        "2024-11-08T16:04:40Z",
        "2024-11-08 16:04:40+02:00",
        "2024-11-08 16:04:40.250",
        "2024-11-08",
        "2024-11-08 16:04",
        "2024-02-30 10:00:00",
        "2024-11-08 16:04:60",
        "2024-11-08 24:00:00",
        "16:04:40",
        "",
        "soon",
    ],
)
def test_expires_at_reads_as_strptime_then_fromisoformat_did(text: str) -> None:
    """``fromisoformat`` first (no ``_strptime`` to load) reads every value as the rule
    before it did: ``strptime`` of the documented form, else ISO 8601."""
    try:
        before: dt.datetime | None = dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        try:
            before = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            before = None
    if before is not None and before.tzinfo is None:
        before = before.replace(tzinfo=dt.timezone.utc)
    expected = None if before is None else before.timestamp()
    assert _read_expires_at(text) == expected


def test_token_with_an_implausible_expiry_gets_the_documented_lifetime() -> None:
    past = json.dumps({"access_token": "t", "expires_at": "2000-01-01 00:00:00"}).encode()
    token = parse_token_response(past, {}, now=100.0, wall_now=dt.datetime.now().timestamp())
    assert token.expires_at == pytest.approx(100.0 + 1800)
    assert token.refresh_at == pytest.approx(100.0 + 1800 - 60)


@pytest.mark.parametrize(
    "body", [b"", b"<html>", b'{"expires_at": "2024-11-08 16:04:40"}', b'{"access_token": ""}']
)
def test_bad_token_response_raises_without_echoing_it(body: bytes) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        parse_token_response(body, {}, now=0, wall_now=0)
    assert info.value.raw.startswith(b"(token response withheld")


def test_form_encoding_php_brackets_and_scalars() -> None:
    body = encode_form(
        {
            "name": "Q&A: 100% fun",
            "date": dt.date(2026, 5, 1),
            "start_time": dt.time(9, 5),
            "locked_when_saved": True,
            "selected_by_default": False,
            "session_status": SessionStatus.APPROVED,
            "notes": None,
            "custom_fields": {"c_1001": "V", "c_1002": [{"id": 123}, {"id": 4}]},
        }
    )
    assert parse_qsl(body.decode(), keep_blank_values=True) == [
        ("name", "Q&A: 100% fun"),
        ("date", "2026-05-01"),
        ("start_time", "09:05:00"),
        ("locked_when_saved", "1"),
        ("selected_by_default", "0"),
        ("session_status", "approved"),
        ("notes", ""),
        ("custom_fields[c_1001]", "V"),
        ("custom_fields[c_1002][0][id]", "123"),
        ("custom_fields[c_1002][1][id]", "4"),
    ]


def test_empty_containers_are_sent_as_empty_values() -> None:
    body = encode_form({"custom_fields": {"c_1": [], "c_2": {}}, "notes": None})
    assert parse_qsl(body.decode(), keep_blank_values=True) == [
        ("custom_fields[c_1]", ""),
        ("custom_fields[c_2]", ""),
        ("notes", ""),
    ]


def test_prepare_fields_parses_text_and_folds_custom_columns() -> None:
    out = prepare_session_fields(
        {
            "event_id": "12",
            "name": "Talk",
            "date": "2026-05-01",
            "start_time": "9:00",
            "capacity": " 150 ",
            "locked_when_saved": "TRUE",
            "session_status": "Approved",
            "c_1001": "x",
            "custom_fields": {"c_7": "y"},
        },
        creating=True,
    )
    assert out == {
        "event_id": 12,
        "name": "Talk",
        "date": dt.date(2026, 5, 1),
        "start_time": dt.time(9),
        "capacity": 150,
        "locked_when_saved": True,
        "session_status": SessionStatus.APPROVED,
        "custom_fields": {"c_7": "y", "c_1001": "x"},
    }


_BASE = {"event_id": 1, "name": "x", "date": "2026-01-01"}


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("date", "2026-05-011"),
        ("date", "2026-05-01garbage"),
        ("date", "2026-05-01\r\nX: y"),
        ("date", "2026-05-01T10:00"),
        ("date", "20260501"),
        ("date", "2026-02-30"),
        ("date", "\u0662026-05-01"),
        ("start_time", "09:00:001"),
        ("start_time", "09:00garbage"),
        ("start_time", "09:00\r\nX: y"),
        ("start_time", "09:00:00.5"),
        ("start_time", "09:00+01:00"),
        ("end_time", "25:00"),
        ("end_time", "T10:00"),
    ],
)
def test_dates_and_times_must_be_exactly_that(field: str, text: str) -> None:
    """Issue 12 item 11: text after a valid date or time used to be dropped silently."""
    with pytest.raises(InvalidInputError) as info:
        prepare_session_fields({**_BASE, field: text}, creating=True)
    assert info.value.field == field


def test_exact_dates_and_times_are_read() -> None:
    out = prepare_session_fields(
        {**_BASE, "date": " 2026-03-04 ", "start_time": "9:05", "end_time": "10:00:30"},
        creating=True,
    )
    assert (out["date"], out["start_time"], out["end_time"]) == (
        dt.date(2026, 3, 4),
        dt.time(9, 5),
        dt.time(10, 0, 30),
    )


@pytest.mark.parametrize(
    ("extra", "field", "reason"),
    [
        ({"c_1": b"bytes"}, "c_1", "unsupported value of type bytes"),
        ({"custom_fields": {"c_2": object()}}, "c_2", "unsupported value of type object"),
        ({"c_3": [1, {"id": b"x"}]}, "c_3", "bytes"),
        ({"c_4": float("nan")}, "c_4", "finite"),
        ({"c_5": Decimal("sNaN")}, "c_5", "finite"),
        ({"c_6": Decimal("Infinity")}, "c_6", "finite"),
        ({"c_7": dt.datetime(2026, 1, 1, 9, tzinfo=dt.timezone.utc)}, "c_7", "local time"),
        ({"c_8": dt.time(9, tzinfo=dt.timezone.utc)}, "c_8", "local time"),
        ({"start_time": dt.time(9, tzinfo=dt.timezone.utc)}, "start_time", "local time"),
        ({"name": float("nan")}, "name", "string"),
        ({"notes": 12.5}, "notes", "string"),
        ({"capacity": float("nan")}, "capacity", "integer"),
        ({"capacity": float("inf")}, "capacity", "integer"),
        ({"capacity": Decimal("sNaN")}, "capacity", "integer"),
        ({"locked_when_saved": Decimal("sNaN")}, "locked_when_saved", "flag"),
        ({"capacity": "1_000"}, "capacity", "integer"),
    ],
)
def test_values_that_cannot_be_sent_faithfully_are_refused(
    extra: dict[str, object], field: str, reason: str
) -> None:
    """Issue 12 item 12: these were sent as their repr, lost their offset, or raised
    ``InvalidOperation``."""
    with pytest.raises(InvalidInputError) as info:
        prepare_session_fields({**_BASE, **extra}, creating=True)
    assert info.value.field == field
    assert reason in info.value.reason


@pytest.mark.parametrize("value", ["maybe", 2, 0.5])
def test_a_value_that_is_no_flag_is_refused_saying_so_once(value: object) -> None:
    with pytest.raises(InvalidInputError) as info:
        prepare_session_fields({**_BASE, "session_included": value}, creating=True)
    assert info.value.field == "session_included"
    assert info.value.reason == f"must be a flag (true/false or 0/1) (got {value!r})"


def test_supported_custom_values_are_sent() -> None:
    values = {
        "c_1": "text",
        "c_2": 3,
        "c_3": 2.5,
        "c_4": True,
        "c_5": Decimal("1.50"),
        "c_6": dt.date(2026, 1, 2),
        "c_7": dt.datetime(2026, 1, 2, 9, 30),
        "c_8": dt.time(9, 30),
        "c_9": None,
        "c_10": [{"id": 123}, {"id": 4}],
    }
    out = prepare_session_fields({**_BASE, "custom_fields": values}, creating=True)
    assert parse_qsl(encode_form(out).decode(), keep_blank_values=True)[3:] == [
        ("custom_fields[c_1]", "text"),
        ("custom_fields[c_2]", "3"),
        ("custom_fields[c_3]", "2.5"),
        ("custom_fields[c_4]", "1"),
        ("custom_fields[c_5]", "1.50"),
        ("custom_fields[c_6]", "2026-01-02"),
        ("custom_fields[c_7]", "2026-01-02 09:30:00"),
        ("custom_fields[c_8]", "09:30:00"),
        ("custom_fields[c_9]", ""),
        ("custom_fields[c_10][0][id]", "123"),
        ("custom_fields[c_10][1][id]", "4"),
    ]


def test_a_field_name_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidInputError) as info:
        prepare_session_fields({**_BASE, 3: "x"}, creating=True)  # type: ignore[dict-item]
    assert info.value.field == "3"


def test_the_fake_server_reads_fields_from_the_same_table() -> None:
    from swoogo_async._api.fields import WRITABLE_FIELDS
    from swoogo_async.testing import _forms

    assert set(_forms.FLAG_FIELDS) == {k for k, v in WRITABLE_FIELDS.items() if v.wire == "flag"}
    with pytest.raises(_forms.ApiError) as info:
        _forms.validate_form([("event_id", "1"), ("name", "n"), ("session_status", "lvie")], None)
    assert info.value.body == [_forms.err("session_status", "Session Status is invalid.")]
    changes, _ = _forms.validate_form([("event_id", "1"), ("name", "n"), ("capacity", "3")], None)
    assert changes == {"event_id": 1, "name": "n", "capacity": 3}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "x", "date": "2026-01-01"}, "event_id"),
        ({"event_id": 1, "date": "2026-01-01"}, "name"),
        ({"event_id": 1, "name": "x"}, "date"),
        ({"event_id": 0, "name": "x", "date": "2026-01-01"}, "event_id"),
        ({"event_id": 1, "name": "x", "date": dt.datetime(2026, 1, 1)}, "date"),
        ({"event_id": 1, "name": "x", "date": "2026-01-01", "capacity": "lots"}, "capacity"),
        ({"event_id": 1, "name": "x", "date": "2026-01-01", "capacity": True}, "capacity"),
        (
            {"event_id": 1, "name": "x", "date": "2026-01-01", "locked_when_saved": 2},
            "locked_when_saved",
        ),
        (
            {"event_id": 1, "name": "x", "date": "2026-01-01", "session_status": "lvie"},
            "session_status",
        ),
        ({"event_id": 1, "name": "x", "date": "2026-01-01", "start_time": "25:00"}, "start_time"),
        ({"event_id": 1, "name": "x", "date": "2026-01-01", "id": 3}, "id"),
        ({"event_id": 1, "name": "x", "date": "2026-01-01", "notes": None}, "notes"),
    ],
)
def test_prepare_fields_names_the_bad_field(fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        prepare_session_fields(fields, creating=True)
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")


def test_update_allows_none_to_clear() -> None:
    assert prepare_session_fields({"capacity": None, "notes": None}, creating=False) == {
        "capacity": None,
        "notes": None,
    }


def test_calls_are_built_purely() -> None:
    query = read_query(["id", "name"], "track")
    assert dict(parse_qsl(query)) == {"fields": "id,name", "expand": "track"}
    listing = list_sessions_call(
        3,
        page=2,
        per_page=50,
        search=["name=*contains*Key", "date=2026-01-01"],
        sort="-date",
        ids=[1, 2],
        search_condition="or",
    )
    assert listing.cost == 10
    assert dict(parse_qsl(listing.query)) == {
        "event_id": "3",
        "page": "2",
        "per-page": "50",
        "search": "name=*contains*Key&date=2026-01-01",
        "searchCondition": "or",
        "sort": "-date",
        "ids": "1,2",
    }
    create = create_session_call({"event_id": 1, "name": "A"})
    assert (create.method, create.idempotent, create.content_type) == (
        "POST",
        False,
        "application/x-www-form-urlencoded",
    )
    update = update_session_call(9, {"capacity": 3})
    assert (update.method, update.path, update.body) == ("PUT", "/sessions/update/9", b"capacity=3")
    speaker = add_sessions_call(4, [1, 2, 1])
    assert speaker.body == b'{"session_ids":[1,2]}'
    with pytest.raises(InvalidInputError, match="per_page"):
        list_sessions_call(3, per_page=500, expand=["track"])
    with pytest.raises(InvalidInputError, match="ids"):
        list_sessions_call(3, ids=range(1, 102))


def _page(payload: object) -> bytes:
    return json.dumps(payload).encode()


def test_parse_page_accepts_list_or_object_items_and_relative_links() -> None:
    items = [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}]
    meta = {"totalCount": 5, "pageCount": 3, "currentPage": 1, "perPage": 2}
    links = {
        "self": {"href": "/api/v1/sessions?page=1"},
        "next": {"href": "/api/v1/sessions?page=2"},
    }
    as_list = parse_page(
        _page({"items": items, "_meta": meta, "_links": links}),
        method="GET",
        url="u",
        page=1,
        per_page=2,
    )
    as_object = parse_page(
        _page({"items": {"1": items[0], "2": items[1]}, "_meta": meta}),
        method="GET",
        url="u",
        page=1,
        per_page=2,
    )
    assert [s.id for s in as_list.items] == [s.id for s in as_object.items] == [1, 2]
    assert as_list.total_count == 5
    assert not as_list.is_last
    no_meta = parse_page(_page({"items": items}), method="GET", url="u", page=4, per_page=2)
    assert (no_meta.current_page, no_meta.is_last) == (4, False)
    last = parse_page(_page({"items": items[:1]}), method="GET", url="u", page=4, per_page=2)
    assert last.is_last
    with pytest.raises(ResponseDecodeError):
        parse_page(b"{not json", method="GET", url="u", page=1, per_page=2)
    with pytest.raises(ResponseDecodeError):
        parse_page(b'{"nothing": 1}', method="GET", url="u", page=1, per_page=2)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (405, APIError),
        (415, APIError),
        (422, ValidationError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_status_maps_to_exception_class(status: int, cls: type[APIError]) -> None:
    raw = json.dumps({"name": "X", "message": "went wrong", "code": 0, "status": status}).encode()
    err = make_status_error(status=status, method="GET", url="https://h/x", raw=raw)
    assert type(err) is cls
    assert isinstance(err, SwoogoError)
    assert (err.status, err.method, err.url, err.raw) == (status, "GET", "https://h/x", raw)
    assert err.body["message"] == "went wrong"
    assert "went wrong" in str(err)


def test_validation_error_reads_yii_list_and_html_bodies_are_kept_raw() -> None:
    raw = b'[{"field": "name", "message": "Name cannot be blank."}]'
    err = make_status_error(status=422, method="POST", url="u", raw=raw)
    assert isinstance(err, ValidationError)
    assert [(e.field, e.message) for e in err.errors] == [("name", "Name cannot be blank.")]
    assert "name: Name cannot be blank." in str(err)
    html = b"<html><body>502 Bad Gateway</body></html>"
    bad = make_status_error(status=502, method="GET", url="u", raw=html)
    assert bad.body is None
    assert bad.raw == html
    assert bad.may_have_acted


def test_recorded_samples_parse() -> None:
    from swoogo_async._api.converter import parse_session, parse_speaker

    got = parse_session((SAMPLES / "get_session.json").read_bytes(), method="GET", url="u")
    assert got.capacity == 20  # arrived as "20"
    speaker = parse_speaker((SAMPLES / "speaker.json").read_bytes(), method="POST", url="u")
    assert speaker.gender == {"id": None, "value": None}
    assert speaker.sessions[0].use_event_timezone is True
    assert speaker.birth_date == dt.date(1985, 6, 15)


def test_encode_form_writes_the_same_bytes_as_quote_plus() -> None:
    # The inline scalar paths and the C translate tables against the standard library.
    rnd = random.Random(7)
    alphabet = "abc XYZ:/\u00e9\u20ac&=+%[]_-.~\n"
    values: list[object] = [
        None,
        True,
        SessionStatus.LIVE,
        dt.time(10, 0, 0, 500),
        dt.time(10, tzinfo=dt.timezone.utc),
        dt.datetime(2025, 7, 20, 10, 30),
        {"c_1": [1, "x y"], "c_2": {}},
    ]
    for _ in range(2000):
        fields: dict[str, object] = {}
        for index in range(rnd.randint(0, 8)):
            pick = rnd.randint(0, 4 + len(values))
            if pick == 0:
                value: object = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 10)))
            elif pick == 1:
                value = rnd.randint(-5, 10**6)
            elif pick == 2:
                value = dt.date(2025, rnd.randint(1, 12), 3)
            elif pick == 3:
                value = dt.time(rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59))
            else:
                value = values[pick - 4 if pick - 4 < len(values) else 0]
            fields[rnd.choice(["name", "date", "c_1", "a b[x]"]) + str(index)] = value
        expected = "&".join(
            f"{quote_plus(key, safe='[]')}={quote_plus(text)}" for key, text in flatten_form(fields)
        )
        assert encode_form(fields) == expected.encode()
