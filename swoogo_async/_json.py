"""JSON decoding: the one function that turns a response body into Python values."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads"]


def loads(raw: bytes) -> Any:
    """Decode a JSON document; raise ``ValueError`` (bad UTF-8 included) if it is not one."""
    return json.loads(raw)
