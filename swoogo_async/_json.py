"""JSON decoding: msgspec (a dependency on CPython), or the standard library.

Responses are decoded by msgspec, about three times faster than ``json.loads`` (a
1,000-session page: 1.8 ms instead of 5 ms on the benchmark machine), and session
bodies and list pages go further, straight into typed records (``_typed.py``).
msgspec has no PyPy build, so on PyPy, or with ``SWOOGO_ASYNC_JSON=stdlib``, the
standard library decodes; the results are the same either way (``nox -s decoders``
runs the suites on that road). What msgspec refuses and the standard library
accepts (``NaN``, ``1e400``, lone surrogate escapes) falls back to the standard
library.

Why msgspec and not orjson: orjson turns an integer over 64 bits into a float without
a word; msgspec keeps it exact.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

__all__ = ["DECODER", "loads", "msgspec_loads", "stdlib_loads", "typed"]

stdlib_loads: Callable[[bytes], Any] = json.loads


def _msgspec() -> Callable[[bytes], Any] | None:
    try:
        import msgspec
    except ImportError:
        return None
    fast = msgspec.json.Decoder().decode
    refused = msgspec.DecodeError

    def msgspec_loads(raw: bytes) -> Any:
        try:
            return fast(raw)
        except refused:
            return stdlib_loads(raw)  # its answer, or its error

    return msgspec_loads


#: The msgspec decoder (with the standard-library fallback), if msgspec is installed.
msgspec_loads = _msgspec()
_use_fast = (
    msgspec_loads is not None and os.environ.get("SWOOGO_ASYNC_JSON", "").lower() != "stdlib"
)
#: Which decoder ``loads`` is: ``"msgspec"`` or ``"stdlib"``.
DECODER = "msgspec" if _use_fast else "stdlib"
#: Decode a JSON document (bytes). Read as ``_json.loads`` at each call, so the
#: benchmarks can compare both decoders in one process.
loads: Callable[[bytes], Any] = msgspec_loads if msgspec_loads and _use_fast else stdlib_loads
#: Whether session bodies and list pages are first decoded straight into typed records
#: (``_typed.py``); on whenever msgspec is in use.
typed: bool = _use_fast
