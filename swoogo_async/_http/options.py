"""The HTTP options of a client and its copies: checked once, read on every attempt.

``CallOptions`` are what ``with_options`` changes (retry policy, timeout, headers, cache
use, ``max_age``; ``CallOptions.merged`` checks them); the checks refuse an unusable
base URL, user agent, header, timeout or option, naming it. ``CallState`` is what one
call's attempts share, and ``RequestHeaders.request`` builds each attempt's request.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import urlsplit

import attrs

from .._api.endpoints import FORM, Call
from .._checks import check_number, is_header_name, is_header_value
from .._exceptions import InvalidInputError
from .hooks import ResponseInfo
from .retry import RetryPolicy
from .transport import Headers, Request, Response

if TYPE_CHECKING:
    from typing_extensions import Unpack

from .auth import Token

__all__ = [
    "RESERVED_HEADERS",
    "CallOptions",
    "CallState",
    "OptionChanges",
    "RequestHeaders",
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


@attrs.define(eq=False)
class CallState:
    """What one call's attempts share."""

    call: Call
    url: str
    read: Callable[[Response], Any]
    deadline: float
    options: CallOptions
    #: The attempt running now (1-based), for hooks.
    attempt: int = 0
    #: The token the latest exchange sent. Kept here, not in a local, so no frame a
    #: traceback keeps (Sentry's locals) holds the Token object.
    token: Token | None = attrs.field(default=None, repr=False)

    def response_info(self, response: Response) -> ResponseInfo:
        """Describe ``response`` to this call, for hooks and ``last_response``."""
        call = self.call
        status, headers = response.status, response.headers
        return ResponseInfo(
            call.method, call.path, self.url, status, headers, call.cost, self.attempt
        )


class RequestHeaders:
    """The headers of every request, built once and shared, so read-only.

    The token request carries the Basic credentials (a form body); every other request
    the current token, one set per content type, rebuilt when the token changes.
    """

    __slots__ = ("_base", "_bearer", "basic")

    def __init__(self, base: Mapping[str, str], basic_auth: str) -> None:
        self._base = dict(base)
        self.basic = Headers({**base, "Authorization": basic_auth, "Content-Type": FORM})
        self._bearer: tuple[Token | None, dict[str | None, Headers]] = (None, {})

    def bearer(self, token: Token, content_type: str | None) -> Headers:
        """Return the headers of a request sent with ``token``."""
        cached_token, by_type = self._bearer
        if cached_token is not token:
            by_type = {}
            self._bearer = (token, by_type)
        headers = by_type.get(content_type)
        if headers is None:
            fields = {**self._base, "Authorization": "Bearer " + token.value}
            if content_type is not None:
                fields["Content-Type"] = content_type
            headers = by_type[content_type] = Headers(fields)
        return headers

    def request(
        self,
        call: Call,
        url: str,
        token: Token | None,
        options: CallOptions,
        *,
        read_timeout: float,
        left: float,
    ) -> Request:
        """Build one attempt's request: its headers, and a timeout cut to ``left`` seconds."""
        headers = self.basic if token is None else self.bearer(token, call.content_type)
        limit, timeout = read_timeout, None
        # A copy's options: its headers laid over the client's (never Authorization,
        # see ``check_headers``), and its timeout in place of read_timeout.
        if options.headers:
            headers = Headers(merge_headers(headers, options.headers))
        if options.timeout is not None:
            limit = timeout = options.timeout
        return Request(call.method, url, headers, call.body, left if left < limit else timeout)
