"""Per-call options (``client.with_options(...)``): checked once, read on every attempt."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .._exceptions import InvalidInputError
from .retry import RetryPolicy

__all__ = [
    "RESERVED_HEADERS",
    "CallOptions",
    "check_headers",
    "check_timeout",
    "merge_headers",
]

#: Headers the client owns: credentials, and what the body and connection decide.
RESERVED_HEADERS = frozenset(
    {"authorization", "content-type", "content-length", "host", "transfer-encoding"}
)
# RFC 9110 token characters: a header name with anything else is refused.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return extra request headers, refusing reserved names and CR, LF or NUL anywhere."""
    if not isinstance(headers, Mapping):
        raise InvalidInputError("headers", f"expected a mapping, got {type(headers).__name__}")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise InvalidInputError("headers", f"invalid header name {name!r}")
        if name.lower() in RESERVED_HEADERS:
            raise InvalidInputError("headers", f"{name} is set by the client and cannot be given")
        if not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
            raise InvalidInputError(
                "headers", f"{name}: the value must be text without CR, LF or NUL"
            )
        checked[name] = value
    return checked


def check_timeout(timeout: Any) -> float:
    """Return ``timeout`` if it is a positive, finite number of seconds."""
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise InvalidInputError("timeout", f"must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


class CallOptions:
    """The options of one ``with_options`` view; ``None`` means the client's own.

    ``loops`` caches the retry loops the pipeline builds for ``retry`` (one per
    idempotency), so a view builds them once. ``cache`` False skips the read cache;
    ``max_age`` bounds the age of a cached read (see ``ReadCache``).
    """

    __slots__ = ("cache", "headers", "loops", "max_age", "retry", "timeout")

    def __init__(
        self,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        cache: bool | None = None,
        max_age: float | None = None,
    ) -> None:
        self.timeout = timeout
        self.retry = retry
        self.headers = headers or {}
        self.cache = cache
        self.max_age = max_age
        self.loops: dict[bool, Callable[[Any], Awaitable[Any]]] = {}

    def merged(
        self,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        cache: bool | None = None,
        max_age: float | None = None,
    ) -> CallOptions:
        """Return these options with the given ones laid over them (headers are merged)."""
        return CallOptions(
            timeout=timeout if timeout is not None else self.timeout,
            retry=retry if retry is not None else self.retry,
            headers=merge_headers(self.headers, headers or {}),
            cache=cache if cache is not None else self.cache,
            max_age=max_age if max_age is not None else self.max_age,
        )


def merge_headers(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """Return ``base`` with ``extra`` laid over it; names compare case-insensitively."""
    replaced = {name.lower() for name in extra}
    return {**{k: v for k, v in base.items() if k.lower() not in replaced}, **extra}
