"""The HTTP options of a client and its copies: checked once, read on every attempt.

``CallOptions`` are what ``with_options`` changes (retry policy, timeout, headers, cache
use, ``max_age``; ``CallOptions.merged`` checks them); the checks refuse an unusable
base URL, user agent, header, timeout or option, naming it. The pipeline reads them as
data when it builds each attempt's request.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import urlsplit

import attrs

from .._checks import check_number, is_header_name, is_header_value
from .._exceptions import InvalidInputError
from .retry import RetryPolicy

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "RESERVED_HEADERS",
    "CallOptions",
    "OptionChanges",
    "check_base_url",
    "check_headers",
    "check_timeout",
    "check_user_agent",
    "merge_headers",
]

#: Headers the client owns: credentials, and what the body and connection decide.
RESERVED_HEADERS = frozenset(
    {"authorization", "content-type", "content-length", "host", "transfer-encoding"}
)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    """Return the API root without its trailing slash, or refuse an unusable one."""
    if not isinstance(base_url, str):
        raise InvalidInputError("base_url", f"must be an http(s) URL, got {base_url!r}")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError("base_url", f"must be an http(s) URL, got {base_url!r}")
    if parts.username or parts.password:
        raise InvalidInputError("base_url", "must not carry credentials")
    if "?" in base_url or "#" in base_url:
        # Paths are appended to it: a query or fragment would swallow them.
        raise InvalidInputError("base_url", "must not carry a ?query or #fragment")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise InvalidInputError(
            "base_url",
            "must be https for a non-loopback host (allow_insecure_http=True to override)",
        )
    return base_url.rstrip("/")


def check_user_agent(user_agent: str) -> str:
    """Return ``user_agent`` if it is text without control characters."""
    if not is_header_value(user_agent):
        raise InvalidInputError("user_agent", "must be text without control characters (CR, LF)")
    return user_agent


def check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return extra request headers, refusing reserved names and any control character.

    A control character (``\\x00``-``\\x1f``, ``\\x7f``-``\\x9f``, a lone surrogate,
    ``\\u2028``, ``\\u2029``) in a value could split, smuggle or silently change a header;
    it is refused when the options are made, naming the header.
    """
    if not isinstance(headers, Mapping):
        raise InvalidInputError("headers", f"expected a mapping, got {type(headers).__name__}")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not is_header_name(name):
            raise InvalidInputError("headers", f"invalid header name {name!r}")
        if name.lower() in RESERVED_HEADERS:
            raise InvalidInputError("headers", f"{name} is set by the client and cannot be given")
        if not is_header_value(value):
            raise InvalidInputError(
                "headers", f"{name}: the value must be text without control characters"
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


@attrs.frozen(slots=True)
class CallOptions:
    """The per-call options of a client: its retry policy, and a copy's timeout and headers.

    ``timeout`` None means the client's ``read_timeout``; ``headers`` are laid over
    the client's own. ``cache`` False skips the read cache; ``max_age`` bounds the age
    of a cached read (see ``ReadCache``).
    """

    retry: RetryPolicy
    timeout: float | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    cache: bool | None = None
    max_age: float | None = None

    def merged(self, **changes: Unpack[OptionChanges]) -> CallOptions:
        """Return these options with the given ones checked and laid over them.

        Headers are merged; an option left out or None keeps its value.

        Raises:
            InvalidInputError: an option is invalid (the error names it, or the header).
        """
        retry, cache, max_age = changes.get("retry"), changes.get("cache"), changes.get("max_age")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidInputError("retry", f"expected a RetryPolicy, got {type(retry).__name__}")
        if cache is not None and not isinstance(cache, bool):
            raise InvalidInputError("cache", f"must be True or False, got {cache!r}")
        if max_age is not None:
            check_number("max_age", max_age, at_least=0)
        timeout, headers = changes.get("timeout"), changes.get("headers")
        return CallOptions(
            retry=retry if retry is not None else self.retry,
            timeout=check_timeout(timeout) if timeout is not None else self.timeout,
            headers=merge_headers(self.headers, {} if headers is None else check_headers(headers)),
            cache=cache if cache is not None else self.cache,
            max_age=max_age if max_age is not None else self.max_age,
        )


class OptionChanges(TypedDict, total=False):
    """What ``with_options`` changes; None keeps the value (see ``SwoogoClient.with_options``)."""

    timeout: float | None
    retry: RetryPolicy | None
    headers: Mapping[str, str] | None
    cache: bool | None
    max_age: float | None


def merge_headers(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """Return ``base`` with ``extra`` laid over it; names compare case-insensitively."""
    replaced = {name.lower() for name in extra}
    return {**{k: v for k, v in base.items() if k.lower() not in replaced}, **extra}
