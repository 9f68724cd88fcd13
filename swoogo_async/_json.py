"""JSON decoding: the one function that turns a response body into Python values."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads"]


def loads(raw: bytes) -> Any:
    """Decode a JSON document; raise ``ValueError`` (bad UTF-8 included) if it is not one."""
    try:
        return json.loads(raw)
    except RecursionError:
        # A hostile body nested deeper than the interpreter's stack is not a document
        # we can use: one error type for every unusable body.
        raise ValueError("JSON nested too deeply") from None
