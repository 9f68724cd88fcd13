"""Response decoding: msgspec when installed, the standard library otherwise, same results."""

from __future__ import annotations

import importlib
import json

import pytest

from swoogo_async import _json

DOCUMENTS = [
    b'{"id": 1, "name": "A", "capacity": "20", "custom_fields": {"c_1": [1, {"x": null}]}}',
    b'{"big": 123456789012345678901234567890}',  # over 64 bits: orjson would make it a float
    b'{"n": NaN, "i": Infinity}',  # not JSON, but the standard library reads it
    b'{"f": 1e400}',
    b'{"s": "\\ud800"}',  # a lone surrogate escape
    b'{"k": 1, "k": 2}',
    b'{"t": "caf\\u00e9 \xe2\x82\xac"}',
    b"[]",
]


@pytest.mark.parametrize("raw", DOCUMENTS)
def test_the_decoders_agree(raw: bytes) -> None:
    expected = json.loads(raw)
    got = _json.loads(raw)
    assert json.dumps(got) == json.dumps(expected)  # NaN-safe comparison


@pytest.mark.parametrize("raw", [b"{", b"<html>", b"", b'{"a": 1} trailing'])
def test_malformed_json_raises_value_error_either_way(raw: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - json.JSONDecodeError is a ValueError
        _json.loads(raw)


def test_msgspec_is_the_default_and_the_switch_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The suite also runs with the switch on (``nox -s decoders``): read both ways here.
    monkeypatch.delenv("SWOOGO_ASYNC_JSON", raising=False)
    try:
        importlib.reload(_json)
        assert _json.DECODER == "msgspec"  # a dependency on CPython
        assert _json.loads is _json.msgspec_loads
        assert _json.typed
        monkeypatch.setenv("SWOOGO_ASYNC_JSON", "stdlib")
        importlib.reload(_json)
        assert _json.DECODER == "stdlib"
        assert _json.loads is _json.stdlib_loads
        assert not _json.typed  # nor does the typed road run
    finally:
        monkeypatch.undo()
        importlib.reload(_json)
