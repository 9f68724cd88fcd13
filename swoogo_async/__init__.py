"""swoogo_async: an asyncio-native, typed client for the Swoogo event-management API."""

from __future__ import annotations

from ._bulk import BulkProgress, BulkResult, BulkRun, BulkSummary
from ._client import DEFAULT_BASE_URL, SwoogoClient
from ._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ClientStateError,
    ConnectError,
    ConnectionLostError,
    FieldError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ReadTimeoutError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
    SharedStateError,
    SwoogoError,
    TransportError,
    UnknownOutcomeError,
    ValidationError,
)
from ._fields import SessionCreateFields, SessionUpdateFields
from ._models import Page, SelectionControl, Session, SessionStatus, Speaker
from ._ratelimit import RateLimit
from ._resources import SessionList, Sessions, Speakers
from ._retry import RetryPolicy
from ._shared import LocalSharedState, SharedState
from ._transport import AiohttpTransport, MockTransport, Request, Response, Transport
from ._types import UNSET, UnsetType

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BASE_URL",
    "UNSET",
    "APIError",
    "AiohttpTransport",
    "AuthenticationError",
    "BadRequestError",
    "BulkProgress",
    "BulkResult",
    "BulkRun",
    "BulkSummary",
    "ClientStateError",
    "ConnectError",
    "ConnectionLostError",
    "FieldError",
    "InvalidInputError",
    "LocalSharedState",
    "MockTransport",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "ReadTimeoutError",
    "Request",
    "Response",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "SelectionControl",
    "ServerError",
    "Session",
    "SessionCreateFields",
    "SessionList",
    "SessionStatus",
    "SessionUpdateFields",
    "Sessions",
    "SharedState",
    "SharedStateError",
    "Speaker",
    "Speakers",
    "SwoogoClient",
    "SwoogoError",
    "Transport",
    "TransportError",
    "UnknownOutcomeError",
    "UnsetType",
    "ValidationError",
    "__version__",
]
