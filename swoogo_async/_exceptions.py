"""The exceptions raised by swoogo_async, all in one tree.

::

    SwoogoError
    ├── InvalidInputError (also ValueError)   bad input caught before any request is sent
    ├── ClientStateError (also RuntimeError)  client used outside ``async with`` / after close
    ├── TransportError                        no usable HTTP response
    │   ├── ConnectError                      connection never established: nothing was sent
    │   ├── ReadTimeoutError                  sent, no response in time: outcome unknown
    │   ├── ConnectionLostError               sent, connection dropped: outcome unknown
    │   └── ResponseTooLargeError             the body outgrew ``max_response_bytes`` (``.status``)
    ├── APIError                              the server answered with an error
    │   ├── BadRequestError          400
    │   ├── AuthenticationError      401
    │   ├── PermissionDeniedError    403
    │   ├── NotFoundError            404
    │   ├── ValidationError          422 (``.errors``)
    │   ├── RateLimitError           429 (``.retry_after``)
    │   ├── ServerError              5xx
    │   └── ResponseDecodeError      2xx whose body is not the JSON promised
    ├── UnknownOutcomeError                   a create may or may not have happened
    ├── LookupIncompleteError                 a lookup could not read every candidate
    ├── SharedStateError                      the shared state (Redis) is unreachable
    ├── LeaseBusyError                        another run holds the lease (writes to an event)
    └── AmbiguousMatchError                   a sync found several sessions with a row's key

Every error that concerns a request carries its method and URL; the URL never
contains a credential, and no error text ever includes a token or the secret. The
public names are exported by ``swoogo_async`` (its ``__all__``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._json import loads as _loads

_MAX_BODY_IN_MESSAGE = 300


class SwoogoError(Exception):
    """Base class of every error raised by swoogo_async."""

    def __reduce__(self) -> tuple[Any, ...]:
        # The subclasses take keyword-only arguments, which the default reduce (the class
        # called with ``self.args``) cannot pass: rebuild from the attributes instead, so
        # errors cross processes (task queues, a pickled ``BulkResult``).
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type[SwoogoError], args: tuple[Any, ...], state: dict[str, Any]) -> SwoogoError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class SharedStateError(SwoogoError):
    """The shared state could not be used: Redis did not answer in time (with
    ``on_error="raise"``), or a lease file could not be opened (``$SWOOGO_LEASE_DIR``)."""


class LeaseBusyError(SwoogoError):
    """Another run holds the lease (say, on writes to one event) and kept it too long.

    Attributes:
        name: The lease, e.g. ``event:42``.
        waited: Seconds this run waited for it.
    """

    def __init__(self, message: str, *, name: str, waited: float) -> None:
        self.name = name
        self.waited = waited
        super().__init__(message)


class InvalidInputError(SwoogoError, ValueError):
    """An argument or row field is invalid; nothing was sent.

    Attributes:
        field: The name of the offending field.
        reason: What is wrong with it.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class ClientStateError(SwoogoError, RuntimeError):
    """The client was used outside its ``async with`` block or after it closed."""


class TransportError(SwoogoError):
    """No usable HTTP response was received.

    Attributes:
        method: HTTP method of the request.
        url: URL of the request.
        may_have_acted: Whether the server may have received and acted on it.
    """

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
    """The response body was larger than the client's ``max_response_bytes``; it was not read.

    Attributes:
        status: HTTP status of the response.
        limit: The limit, in bytes.
    """

    def __init__(self, *, method: str, url: str, status: int, limit: int) -> None:
        self.status = status
        self.limit = limit
        super().__init__(
            f"response {status} has a body over the {limit}-byte limit", method=method, url=url
        )


@attrs.frozen
class FieldError:
    """One entry of a 422 body: which field, and what is wrong with it."""

    field: str
    message: str


class APIError(SwoogoError):
    """The server answered with an error status.

    Attributes:
        status: HTTP status code.
        method: HTTP method of the request.
        url: URL of the request (no credentials).
        body: The parsed JSON body, or None if it was not JSON.
        raw: The raw body bytes.
        message: The server's message, when the body had one.
    """

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
    """422: the server rejected one or more fields.

    Attributes:
        errors: The field/message pairs the server returned.
    """

    def __init__(self, *, status: int, method: str, url: str, body: Any, raw: bytes) -> None:
        self.errors: list[FieldError] = _field_errors(body)
        super().__init__(status=status, method=method, url=url, body=body, raw=raw)


class RateLimitError(APIError):
    """429 Too Many Requests.

    Attributes:
        retry_after: Seconds the server asked to wait, if it said.
    """

    def __init__(
        self,
        *,
        status: int,
        method: str,
        url: str,
        body: Any,
        raw: bytes,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(status=status, method=method, url=url, body=body, raw=raw)


class ServerError(APIError):
    """5xx: the server failed; it may or may not have acted."""


class ResponseDecodeError(APIError):
    """A success status whose body could not be decoded as expected."""


class UnknownOutcomeError(SwoogoError):
    """A create failed in a way that leaves its outcome unknown.

    The server may or may not have created the session, and looking it up did
    not settle the question. Nothing is lost: ``fields`` holds exactly what was
    submitted, so the caller can check by hand or retry deliberately.

    Attributes:
        fields: The fields that were submitted.
        cause: The error of the last attempt.
        candidates: Ids of sessions that matched the submitted fields, if any.
    """

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
    """A sync found several sessions with a row's key; nothing was written for the row.

    Attributes:
        key: The row's key values, as compared.
        candidates: The ids of the sessions that share it.
    """

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
}


def make_status_error(
    *, status: int, method: str, url: str, raw: bytes, retry_after: float | None = None
) -> APIError:
    """Return the exception for an error status, with its body parsed defensively."""
    body: Any
    try:
        body = _loads(raw) if raw else None
    except ValueError:
        body = None
    if status == 429:
        return RateLimitError(
            status=status, method=method, url=url, body=body, raw=raw, retry_after=retry_after
        )
    cls = _STATUS_CLASSES.get(status) or (ServerError if status >= 500 else APIError)
    return cls(status=status, method=method, url=url, body=body, raw=raw)


def _message_of(body: Any, raw: bytes) -> str:
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return str(body["message"])
    if isinstance(body, list):
        errors = _field_errors(body)
        if errors:
            return "; ".join(f"{e.field}: {e.message}" for e in errors)
    text = raw[:_MAX_BODY_IN_MESSAGE].decode("utf-8", "replace").strip()
    return text or "(empty body)"


def _field_errors(body: Any) -> list[FieldError]:
    items: Any = body
    if isinstance(body, Mapping):
        items = body.get("errors", body.get("data"))
    if not isinstance(items, list):
        return []
    return [
        FieldError(field=str(item.get("field", "")), message=str(item.get("message", "")))
        for item in items
        if isinstance(item, Mapping)
    ]
