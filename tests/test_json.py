"""Response bodies that are not JSON become a typed error that keeps the raw bytes."""

from __future__ import annotations

import pytest

from swoogo_async import ResponseDecodeError
from swoogo_async._api.endpoints import decode_json


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
