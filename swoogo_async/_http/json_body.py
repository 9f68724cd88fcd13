"""JSON decoding: the one function that turns a response body into Python values."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads"]


def loads(raw: bytes) -> Any:
    """Decode a UTF-8 JSON document; raise ``ValueError`` (bad UTF-8 included) if it is not one."""
    # JSON on the wire is UTF-8 (RFC 8259); decoding it here skips ``json.loads``'s
    # Python-level encoding detection. "utf-8-sig" still accepts a proxy's BOM.
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except RecursionError:
        # A hostile body nested deeper than the interpreter's stack is not a document
        # we can use: one error type for every unusable body.
        raise ValueError("JSON nested too deeply") from None
