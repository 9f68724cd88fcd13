"""Every exception swoogo_async raises, in one tree (drawn in docs/errors.md). An error about
a request carries its method and URL: never a credential, token or secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._json import loads as _loads


class SwoogoError(Exception):
    """Base class of every error raised by swoogo_async."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled from the attributes: ``self.args`` lacks the keyword-only arguments.
        return type(self).__new__, (type(self), *self.args), self.__dict__


class SharedStateError(SwoogoError):
    """The shared state could not be used: Redis did not answer in time (with
    ``on_error="raise"``), or a lease file could not be opened (``$SWOOGO_LEASE_DIR``)."""


class LeaseBusyError(SwoogoError):
    """Another run held the lease ``name`` (e.g. ``event:42``, writes to one event) for all
    the ``waited`` seconds this run waited for it."""

    def __init__(self, message: str, *, name: str, waited: float) -> None:
        self.name = name
        self.waited = waited
        super().__init__(message)


class InvalidInputError(SwoogoError, ValueError):
    """An argument or row field is invalid (``field``: its name, ``reason``: what is wrong);
    nothing was sent."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class ClientStateError(SwoogoError, RuntimeError):
    """The client was used outside its ``async with`` block or after it closed."""


class TransportError(SwoogoError):
    """No usable HTTP response was received to ``method`` ``url``; ``may_have_acted`` says
    whether the server may have received and acted on the request."""

    may_have_acted: bool = True

    def __init__(self, message: str, *, method: str, url: str) -> None:
        self.method = method
        self.url = url
        super().__init__(f"{method} {url}: {message}")


class ConnectError(TransportError):
    """The connection could not be established: the request was never sent."""

    may_have_acted = False


class ReadTimeoutError(TransportError):
    """The request was sent but no complete response arrived in time."""


class ConnectionLostError(TransportError):
    """The connection dropped after the request was sent."""


class ResponseTooLargeError(TransportError):
    """The body of a response (``status``) was over the client's ``max_response_bytes``
    (``limit``); it was not read."""

    def __init__(self, *, method: str, url: str, status: int, limit: int) -> None:
        self.status = status
        self.limit = limit
        message = f"response {status} has a body over the {limit}-byte limit"
        super().__init__(message, method=method, url=url)


@attrs.frozen
class FieldError:
    """One entry of a 422 body: which field, and what is wrong with it."""

    field: str
    message: str


class APIError(SwoogoError):
    """The server answered ``method`` ``url`` (no credentials) with an error ``status``:
    ``body`` is its parsed JSON (None if not JSON), ``raw`` its bytes, ``message`` the
    server's message or the body's start."""

    def __init__(self, *, status: int, method: str, url: str, body: Any, raw: bytes) -> None:
        self.status = status
        self.method = method
        self.url = url
        self.body = body
        self.raw = raw
        self.message = _message_of(body, raw)
        super().__init__(f"{method} {url} -> {status}: {self.message}")

    @property
    def may_have_acted(self) -> bool:
        """Whether the server may have acted on the request despite the error."""
        return self.status >= 500 or isinstance(self, ResponseDecodeError)


class BadRequestError(APIError):
    """400 Bad Request."""


class AuthenticationError(APIError):
    """401: the token is missing, expired or revoked, or the credentials are wrong."""


class PermissionDeniedError(APIError):
    """403 Forbidden."""


class NotFoundError(APIError):
    """404 Not Found."""


class ValidationError(APIError):
    """422: the server rejected fields."""

    @property
    def errors(self) -> list[FieldError]:
        """A ``FieldError`` for each rejected field."""
        return _field_errors(self.body)


class RateLimitError(APIError):
    """429 Too Many Requests; ``retry_after``: the seconds the server asked to wait, if any."""

    def __init__(self, *, retry_after: float | None = None, **response: Any) -> None:
        self.retry_after = retry_after
        super().__init__(**response)


class ServerError(APIError):
    """5xx: the server failed; it may or may not have acted."""


class ResponseDecodeError(APIError):
    """A success status whose body could not be decoded as expected."""


class UnknownOutcomeError(SwoogoError):
    """A create failed and looking it up did not settle whether the server made it. Nothing
    is lost: ``fields`` holds what was submitted, ``cause`` the last attempt's error and
    ``candidates`` the ids of sessions that matched, to check by hand or retry deliberately."""

    def __init__(
        self,
        message: str,
        *,
        fields: Mapping[str, Any],
        cause: BaseException | None,
        candidates: tuple[int, ...] = (),
    ) -> None:
        self.fields = dict(fields)
        self.cause = cause
        self.candidates = candidates
        super().__init__(message)


class LookupIncompleteError(SwoogoError):
    """A lookup could not read every candidate (the listing misbehaved or was too long)."""


class AmbiguousMatchError(SwoogoError):
    """A sync found several sessions (``candidates``, their ids) with a row's ``key`` (its
    values, as compared); nothing was written for the row."""

    def __init__(self, message: str, *, key: tuple[str, ...], candidates: tuple[int, ...]) -> None:
        self.key = key
        self.candidates = candidates
        super().__init__(message)


_STATUS_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: ValidationError,
    429: RateLimitError,
}


def make_status_error(
    *, status: int, method: str, url: str, raw: bytes, retry_after: float | None = None
) -> APIError:
    """Return the exception for an error status, with its body parsed defensively."""
    try:
        body = _loads(raw) if raw else None
    except ValueError:
        body = None
    cls = _STATUS_CLASSES.get(status) or (ServerError if status >= 500 else APIError)
    error = cls(status=status, method=method, url=url, body=body, raw=raw)
    if isinstance(error, RateLimitError):
        error.retry_after = retry_after
    return error


def _message_of(body: Any, raw: bytes) -> str:
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return str(body["message"])
    errors = _field_errors(body) if isinstance(body, list) else []
    listed = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return listed or raw[:300].decode("utf-8", "replace").strip() or "(empty body)"


def _field_errors(body: Any) -> list[FieldError]:
    items = body.get("errors", body.get("data")) if isinstance(body, Mapping) else body
    if not isinstance(items, list):
        return []
    return [
        FieldError(field=str(item.get("field", "")), message=str(item.get("message", "")))
        for item in items
        if isinstance(item, Mapping)
    ]
