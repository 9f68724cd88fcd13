"""The one JSON decoder: bytes to Python values, standard JSON only.

It sits below every layer (it imports nothing of the package), so the exception module,
the token manager and the converter all read bodies by the same rule.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["ERRORS", "decoder", "loads"]

_BOM = b"\xef\xbb\xbf"
#: What ``decoder()`` raises for a body that is not JSON (msgspec's ``DecodeError`` is a
#: ``ValueError``), or nested too deep.
ERRORS = (ValueError, RecursionError)


@functools.cache
def decoder() -> Callable[[bytes], Any]:
    """Return msgspec's JSON decoder (the one ``cattrs.preconf.msgspec`` uses): it keeps big
    integers exact and holds every body to RFC 8259, so what it returns can always be
    written back as JSON. msgspec is imported by the first body read, not by
    ``import swoogo_async``."""
    import msgspec

    return msgspec.json.decode


def loads(raw: bytes) -> Any:
    """Decode a UTF-8 JSON document; raise ``ValueError`` if it is not standard JSON.

    ``NaN``, ``Infinity``, ``1e999``, lone surrogates and invalid UTF-8 are refused. A
    leading byte-order mark is dropped: a proxy may add one, and RFC 8259 lets a parser
    ignore it.
    """
    if raw[:3] == _BOM:
        raw = raw[3:]
    try:
        return decoder()(raw)
    except ERRORS as exc:
        raise ValueError(f"not a standard JSON document: {exc}") from None
