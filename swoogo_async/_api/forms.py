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
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(" ", "seconds")
    if isinstance(value, dt.time):
        return value.replace(tzinfo=None).isoformat("seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def flatten_form(value: Mapping[str, Any], prefix: Any = None) -> Iterator[tuple[str, str]]:
    """Yield a form's ``(key, text)`` pairs, nesting mappings and lists as ``a[b][0][c]``."""
    if isinstance(value, Mapping):
        items: Any = value.items()
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        items = enumerate(value)
    else:
        yield prefix, form_value(value)
        return
    if not value and prefix is not None:
        yield prefix, ""  # an empty container is sent as an empty value: it clears
    for key, item in items:
        yield from flatten_form(item, key if prefix is None else f"{prefix}[{key}]")


def encode_form(fields: Mapping[str, Any]) -> bytes:
    """Encode fields as ``application/x-www-form-urlencoded`` bytes."""
    pairs = flatten_form(fields)
    return "&".join(f"{quote_plus(k, safe='[]')}={quote_plus(v)}" for k, v in pairs).encode()
