"""Form encoding the way the server's framework parses it (PHP-style brackets)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus

__all__ = ["encode_form", "flatten_form", "form_value"]


def form_value(value: Any) -> str:
    """Return the text a scalar is sent as: flags ``0``/``1``, ``HH:MM:SS``, ``None`` empty."""
    if value is None:
        return ""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(" ", "seconds")
    if isinstance(value, dt.time):
        return value.replace(tzinfo=None).isoformat("seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def flatten_form(fields: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Yield ``(key, text)`` pairs, nesting mappings and lists as ``a[b][0][c]``."""
    for key, value in fields.items():
        yield from _flatten(key, value)


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        if not value:  # an empty container is sent as an empty value: it clears
            yield prefix, ""
        for key, item in value.items():
            yield from _flatten(f"{prefix}[{key}]", item)
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        if not value:
            yield prefix, ""
        for index, item in enumerate(value):
            yield from _flatten(f"{prefix}[{index}]", item)
    else:
        yield prefix, form_value(value)


def encode_form(fields: Mapping[str, Any]) -> bytes:
    """Encode fields as ``application/x-www-form-urlencoded`` bytes."""
    pairs = flatten_form(fields)
    return "&".join(f"{quote_plus(k, safe='[]')}={quote_plus(v)}" for k, v in pairs).encode()
