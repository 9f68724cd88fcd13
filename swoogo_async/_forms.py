"""Form encoding the way the server's framework parses it (PHP-style brackets)."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

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
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def flatten_form(fields: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Yield ``(key, text)`` pairs, nesting mappings and lists as ``a[b][0][c]``."""
    for key, value in fields.items():
        yield from _flatten(key, value)


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    kind = type(value)
    if kind is str or kind is int:  # the common scalars, before the ABC checks
        yield prefix, value if kind is str else str(value)
    elif isinstance(value, Mapping):
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


_ALWAYS_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def _quote_table(safe: bytes) -> dict[int, str]:
    """``quote_plus`` as a ``str.translate`` table over UTF-8 bytes seen as Latin-1."""
    table = {b: chr(b) if b in _ALWAYS_SAFE or b in safe else f"%{b:02X}" for b in range(256)}
    table[ord(" ")] = "+"
    return table


_VALUE_TABLE = _quote_table(b"")
_KEY_TABLE = _quote_table(b"[]")


_SAFE_TEXT = re.compile(r"[A-Za-z0-9_.~-]*\Z")
_SAFE_WORDS = re.compile(r"[A-Za-z0-9_.~ -]*\Z")
_SAFE_URL = re.compile(r"[A-Za-z0-9_.~:/-]*\Z")
_KEYS: dict[str, str] = {}  # field names repeat on every row: quote each once
_PREFIXES: dict[str, str] = {}
_TIMES_WRITTEN: dict[dt.time, str] = {}
_MAX_KEYS = 4096


def _quote_key(key: str) -> str:
    quoted = _KEYS.get(key)
    if quoted is None:
        quoted = key.encode().decode("latin-1").translate(_KEY_TABLE)
        if len(_KEYS) < _MAX_KEYS:
            _KEYS[key] = quoted
    return quoted


def _quote_text(text: str) -> str:
    if _SAFE_TEXT.match(text):
        return text
    if _SAFE_WORDS.match(text):  # prose: only spaces to turn into "+"
        return text.replace(" ", "+")
    if _SAFE_URL.match(text):  # a plain link: only ":" and "/" to escape
        return text.replace(":", "%3A").replace("/", "%2F")
    return text.encode().decode("latin-1").translate(_VALUE_TABLE)


def _prefix(key: str) -> str:
    """``quoted key=``, kept: field names repeat on every row."""
    prefix = _PREFIXES.get(key)
    if prefix is None:
        prefix = _quote_key(key) + "="
        if len(_PREFIXES) < _MAX_KEYS:
            _PREFIXES[key] = prefix
    return prefix


def encode_form(fields: Mapping[str, Any]) -> bytes:
    """Encode fields as ``application/x-www-form-urlencoded`` bytes."""
    # Same bytes as quote_plus(key, safe="[]") / quote_plus(text), in C: quote_plus
    # loops over the bytes in Python, which made it most of a create's client cost.
    # The scalars a session form holds are written inline; containers are flattened.
    parts: list[str] = []
    append = parts.append
    prefixes = _PREFIXES
    safe = _SAFE_TEXT.match
    for key, value in fields.items():
        prefix = prefixes.get(key) or _prefix(key)
        kind = type(value)
        if kind is str:
            append(prefix + (value if safe(value) else _quote_text(value)))
        elif kind is int:
            append(prefix + str(value))
        elif kind is _DATE:
            append(prefix + value.isoformat())
        elif kind is _TIME and value.tzinfo is None:
            text = _TIMES_WRITTEN.get(value)
            if text is None:  # a few slot times, on every row of an import
                text = value.isoformat("seconds").replace(":", "%3A")
                if len(_TIMES_WRITTEN) < _MAX_KEYS:
                    _TIMES_WRITTEN[value] = text
            append(prefix + text)
        else:
            parts += [
                f"{_quote_key(name)}={_quote_text(text)}" for name, text in _flatten(key, value)
            ]
    return "&".join(parts).encode("ascii")


_DATE = dt.date
_TIME = dt.time
