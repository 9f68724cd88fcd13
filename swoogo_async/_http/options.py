"""A client's HTTP options (``CallOptions``) and the checks refusing a bad URL, agent or header."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs

from .._checks import check_instance, check_number, is_header_name, is_header_value
from .._exceptions import InvalidInputError
from .retry import RetryPolicy

__all__ = ["CallOptions", "check_base_url", "check_user_agent", "merge_headers"]

#: Headers the client owns: credentials, and what the body and connection decide.
RESERVED_HEADERS = frozenset(
    {"authorization", "content-type", "content-length", "host", "transfer-encoding"}
)


def _is_loopback(host: str) -> bool:
    with contextlib.suppress(ValueError):  # not an IP address
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    return False


def check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    """Return the API root without its trailing slash, or refuse an unusable one."""
    parts = urlsplit(base_url) if isinstance(base_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError("base_url", f"must be an http(s) URL, got {base_url!r}")
    if parts.username or parts.password:
        raise InvalidInputError("base_url", "must not carry credentials")
    if "?" in base_url or "#" in base_url:  # paths are appended: these would swallow them
        raise InvalidInputError("base_url", "must not carry a ?query or #fragment")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise InvalidInputError(
            "base_url",
            "must be https for a non-loopback host (allow_insecure_http=True to override)",
        )
    return base_url.rstrip("/")


def check_user_agent(user_agent: str) -> str:
    if not is_header_value(user_agent):
        raise InvalidInputError("user_agent", "must be text without control characters (CR, LF)")
    return user_agent


def check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(headers, Mapping):
        raise InvalidInputError("headers", f"expected a mapping, got {type(headers).__name__}")
    for name, value in headers.items():
        if not is_header_name(name):
            raise InvalidInputError("headers", f"invalid header name {name!r}")
        if name.lower() in RESERVED_HEADERS:
            raise InvalidInputError("headers", f"{name} is set by the client and cannot be given")
        if not is_header_value(value):
            raise InvalidInputError(
                "headers", f"{name}: the value must be text without control characters"
            )
    return dict(headers.items())


@attrs.frozen(slots=True)
class CallOptions:
    """A client's per-call options: retry policy, and a copy's timeout (None: ``read_timeout``),
    headers (over the client's), ``cache`` (False: skip the read cache) and its ``max_age``."""

    retry: RetryPolicy
    timeout: float | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    cache: bool | None = None
    max_age: float | None = None

    def merged(
        self,
        *,
        timeout: float | None,
        retry: RetryPolicy | None,
        headers: Mapping[str, str] | None,
        cache: bool | None,
        max_age: float | None,
    ) -> CallOptions:
        """Return these options with the given ones (None: keep) checked and laid over them;
        headers are merged. ``InvalidInputError`` names a bad option or header."""
        retry = self.retry if retry is None else check_instance("retry", retry, RetryPolicy)
        if cache is not None and not isinstance(cache, bool):
            raise InvalidInputError("cache", f"must be True or False, got {cache!r}")
        max_age = self.max_age if max_age is None else check_number("max_age", max_age, at_least=0)
        if timeout is not None:
            timeout = float(check_number("timeout", timeout, above=0))
        headers = merge_headers(self.headers, {} if headers is None else check_headers(headers))
        cache = self.cache if cache is None else cache
        return CallOptions(retry, timeout or self.timeout, headers, cache, max_age)


def merge_headers(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """Return ``base`` with ``extra`` laid over it; names compare case-insensitively."""
    replaced = {name.lower() for name in extra}
    return {**{k: v for k, v in base.items() if k.lower() not in replaced}, **extra}
