"""JSON decoding: the standard library, or msgspec when it is installed.

The standard library is the default and always correct. With the ``speed`` extra
(``pip install "swoogo-async[speed]"``) responses are decoded by msgspec, about three
times faster (a 1,000-session page: 2.1 ms instead of 4.5-7.5 ms on the benchmark
machine). What msgspec refuses and the standard library accepts (``NaN``, ``1e400``,
lone surrogate escapes) falls back to the standard library, so the result is the same
either way; ``SWOOGO_ASYNC_JSON=stdlib`` turns msgspec off. Session bodies and list
pages go further with msgspec: see ``_typed.py``.

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
