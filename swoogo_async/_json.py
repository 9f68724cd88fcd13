"""JSON decoding: the one function that turns a response body into Python values."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads"]


def loads(raw: bytes) -> Any:
    """Decode a UTF-8 JSON document; raise ``ValueError`` (bad UTF-8 included) if it is not one."""
    # JSON on the wire is UTF-8 (RFC 8259). Decoding it here skips ``json.loads``'s
    # encoding detection (UTF-16/32, BOM), a Python-level step as costly as a small body.
    return json.loads(raw.decode())
