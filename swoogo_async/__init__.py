"""swoogo_async: an asyncio-native, typed client for the Swoogo event-management API."""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from ._api.endpoints import DEFAULT_SPEAKER_FIELDS
from ._api.models import Page, SelectionControl, Session, SessionBatch, SessionStatus, Speaker
from ._api.pages import Listing
from ._client.client import DEFAULT_BASE_URL, SwoogoClient
from ._client.sessions import Sessions
from ._client.speakers import Speakers
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
    LeaseBusyError,
    LookupIncompleteError,
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
from ._http.hooks import RateLimitState, RequestInfo, ResponseInfo
from ._http.hooks import configure_from_env as _configure_log
from ._http.pacing import RateLimit
from ._http.retry import RetryPolicy
from ._http.transport import AiohttpTransport, MockTransport, Request, Response, Transport
from ._shared.state import LocalSharedState, SharedState
from ._types import UNSET, UnsetType
from ._version import __version__

if _typing.TYPE_CHECKING:
    from ._api.converter import to_dict, to_json
    from ._api.fields import SessionCreateFields, SessionUpdateFields
    from ._shared.cache import CacheStats, CacheTTL, ReadCache
    from ._writes.bulk import BulkRun
    from ._writes.bulk_results import BulkProgress, BulkResult, BulkSummary
    from ._writes.sync_plan import RowPlan

_configure_log()

# Loaded when first used (PEP 562): ``import swoogo_async`` pays for the client path only.
_LAZY = {
    "._api.fields": ("SessionCreateFields", "SessionUpdateFields"),
    "._api.converter": ("to_dict", "to_json"),
    "._shared.cache": ("CacheStats", "CacheTTL", "ReadCache"),
    "._writes.bulk": ("BulkRun",),
    "._writes.bulk_results": ("BulkProgress", "BulkResult", "BulkSummary"),
    "._writes.sync_plan": ("RowPlan",),
}
_MODULE_OF = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> object:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(_MODULE_OF[name], __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})


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
    "CacheStats",
    "CacheTTL",
    "ClientStateError",
    "ConnectError",
    "ConnectionLostError",
    "FieldError",
    "InvalidInputError",
    "LeaseBusyError",
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
    "ReadCache",
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
