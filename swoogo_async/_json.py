"""The one JSON decoder: bytes to Python values, standard JSON only.

It sits below every layer (it imports nothing of the package), so the exception module,
the token manager and the converter all read bodies by the same rule.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["decode", "loads"]

_BOM = b"\xef\xbb\xbf"
#: msgspec's decoder (the one ``cattrs.preconf.msgspec`` uses): it keeps big integers exact
#: and holds every body to RFC 8259, so what it returns can always be written back as JSON.
decode = msgspec.json.decode
ERRORS = (msgspec.DecodeError, RecursionError)  # RecursionError: nested too deep


def loads(raw: bytes) -> Any:
    """Decode a UTF-8 JSON document; raise ``ValueError`` if it is not standard JSON.

    ``NaN``, ``Infinity``, ``1e999``, lone surrogates and invalid UTF-8 are refused. A
    leading byte-order mark is dropped: a proxy may add one, and RFC 8259 lets a parser
    ignore it.
    """
    if raw[:3] == _BOM:
        raw = raw[3:]
    try:
        return decode(raw)
    except ERRORS as exc:
        raise ValueError(f"not a standard JSON document: {exc}") from None
