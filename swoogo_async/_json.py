"""The one JSON decoder, standard JSON only; it imports nothing of the package."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["ERRORS", "decoder", "loads"]

#: What ``decoder()`` raises for a body that is not JSON, or nested too deep.
ERRORS = (ValueError, RecursionError)


@functools.cache
def decoder() -> Callable[[bytes], Any]:
    """Return msgspec's decoder (big integers exact, output writable as JSON), loaded lazily."""
    import msgspec

    return msgspec.json.decode


def loads(raw: bytes) -> Any:
    """Decode UTF-8 JSON, a leading byte-order mark dropped (RFC 8259 allows it); raise
    ``ValueError`` if it is not standard JSON (``NaN``, ``1e999``, lone surrogates)."""
    try:
        return decoder()(raw.removeprefix(b"\xef\xbb\xbf"))
    except ERRORS as exc:
        raise ValueError(f"not a standard JSON document: {exc}") from None
