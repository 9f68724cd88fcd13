"""Response bodies that are not JSON become a typed error that keeps the raw bytes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swoogo_async import (
    MockTransport,
    Request,
    Response,
    ResponseDecodeError,
    SwoogoClient,
    to_dict,
    to_json,
)
from swoogo_async._api.converter import decode_json, parse_session

from .conftest import FAST_RETRY


@pytest.mark.parametrize(
    "raw", [b"{", b"<html>", b"", b'{"a": 1} trailing', b'{"s": "\xff"}', b"\xfe\xff\x00"]
)
def test_a_body_that_is_not_json_raises_response_decode_error(raw: bytes) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        decode_json(raw, method="GET", url="https://api.test/sessions/1")
    assert info.value.raw == raw


def test_big_integers_stay_exact() -> None:
    assert decode_json(b'{"big": 123456789012345678901234567890}', method="GET", url="u") == {
        "big": 123456789012345678901234567890
    }


# Python's json reads these, and then ``to_json`` (strict JSON) cannot write them back.
NON_STANDARD = [
    b'{"id": 1, "capacity": NaN}',
    b'{"id": 1, "capacity": Infinity}',
    b'{"id": 1, "capacity": -Infinity}',
    b'{"id": 1, "location": {"lat": NaN}}',
    b'{"id": 1, "virtual_hub": [1e999]}',
    b'{"id": 1, "name": "\\ud800"}',
]


@pytest.mark.parametrize("raw", NON_STANDARD)
def test_non_standard_json_is_refused_at_decode_time(raw: bytes) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        decode_json(raw, method="GET", url="https://api.test/sessions/1")
    assert info.value.raw == raw


def test_a_byte_order_mark_is_ignored() -> None:
    assert decode_json(b'\xef\xbb\xbf{"id": 1}', method="GET", url="u") == {"id": 1}


@pytest.mark.parametrize("raw", NON_STANDARD)
async def test_get_refuses_a_non_standard_body_with_response_decode_error(raw: bytes) -> None:
    def handler(request: Request) -> Response:
        if request.url.endswith("/oauth2/token"):
            return Response(200, {}, b'{"access_token":"t","expires_at":"2099-01-01 00:00:00"}')
        return Response(200, {}, raw)

    async with SwoogoClient("k", "s", transport=MockTransport(handler), retry=FAST_RETRY) as c:
        with pytest.raises(ResponseDecodeError) as info:
            await c.sessions.get(1)
    assert info.value.status == 200
    assert info.value.raw == raw


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    record=st.dictionaries(
        st.sampled_from(["id", "name", "capacity", "date", "location", "c_7", "new_field"]),
        json_values,
    )
)
def test_every_decoded_session_is_serialisable(record: dict[str, Any]) -> None:
    """Whatever values a body holds, a model decoded from it writes back as JSON."""
    # Python's encoder writes what any producer could: NaN included, on purpose.
    raw = json.dumps(record).encode()
    try:
        session = parse_session(raw, method="GET", url="u")
    except ResponseDecodeError:
        return  # refused at decode time: nothing reaches the caller to serialise
    assert json.loads(to_json(session)) == to_dict(session)
