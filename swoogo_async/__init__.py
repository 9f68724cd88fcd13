"""swoogo_async: an asyncio-native, typed client for the Swoogo event-management API."""

from __future__ import annotations

from . import _log
from ._bulk import BulkProgress, BulkResult, BulkRun, BulkSummary
from ._client import DEFAULT_BASE_URL, SwoogoClient
from ._create import LookupIncompleteError
from ._exceptions import (
    AmbiguousMatchError,
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
from ._getmany import SessionBatch
from ._hooks import RateLimitState, RequestInfo, ResponseInfo
from ._models import Page, SelectionControl, Session, SessionStatus, Speaker
from ._pages import Listing
from ._ratelimit import RateLimit
from ._resources import SessionList, Sessions, Speakers
from ._retry import RetryPolicy
from ._serialize import to_dict, to_json
from ._shared import LocalSharedState, SharedState
from ._speakers import DEFAULT_SPEAKER_FIELDS
from ._surface import ClientView
from ._sync_plan import RowPlan
from ._transport import AiohttpTransport, MockTransport, Request, Response, Transport
from ._types import UNSET, UnsetType
from ._version import __version__

_log.configure_from_env()

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_SPEAKER_FIELDS",
    "UNSET",
    "APIError",
    "AiohttpTransport",
    "AmbiguousMatchError",
    "AuthenticationError",
    "BadRequestError",
    "BulkProgress",
    "BulkResult",
    "BulkRun",
    "BulkSummary",
    "ClientStateError",
    "ClientView",
    "ConnectError",
    "ConnectionLostError",
    "FieldError",
    "InvalidInputError",
    "Listing",
    "LocalSharedState",
    "LookupIncompleteError",
    "MockTransport",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "RateLimitState",
    "ReadTimeoutError",
    "Request",
    "RequestInfo",
    "Response",
    "ResponseDecodeError",
    "ResponseInfo",
    "ResponseTooLargeError",
    "RetryPolicy",
    "RowPlan",
    "SelectionControl",
    "ServerError",
    "Session",
    "SessionBatch",
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
    "to_dict",
    "to_json",
]
