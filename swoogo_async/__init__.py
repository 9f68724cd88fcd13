"""swoogo_async: an asyncio-native, typed client for the Swoogo event-management API."""

from __future__ import annotations

import typing as _typing

from ._api.endpoints import DEFAULT_SPEAKER_FIELDS
from ._api.models import Page, SelectionControl, Session, SessionStatus, Speaker
from ._api.pages import Listing, SessionBatch
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
from ._http import log as _log
from ._http.hooks import RateLimitState, RequestInfo, ResponseInfo
from ._http.pacing import RateLimit
from ._http.retry import RetryPolicy
from ._http.transport import AiohttpTransport, MockTransport, Request, Response, Transport
from ._shared.state import LocalSharedState, SharedState
from ._types import UNSET, UnsetType
from ._version import __version__

if _typing.TYPE_CHECKING:
    from ._api.fields import SessionCreateFields, SessionUpdateFields
    from ._api.serialize import to_dict, to_json
    from ._shared.cache import CacheStats, CacheTTL, ReadCache
    from ._writes.bulk import BulkProgress, BulkResult, BulkRun, BulkSummary
    from ._writes.sync_plan import RowPlan

_log.configure_from_env()

# The writable fields' types, bulk, sync, the read cache and ``to_dict``/``to_json`` load
# when first used (PEP 562): ``import swoogo_async`` pays for the client path only.
# Name -> the module that defines it.
_LAZY = {
    "SessionCreateFields": "._api.fields",
    "SessionUpdateFields": "._api.fields",
    "CacheStats": "._shared.cache",
    "CacheTTL": "._shared.cache",
    "ReadCache": "._shared.cache",
    "BulkProgress": "._writes.bulk",
    "BulkResult": "._writes.bulk",
    "BulkRun": "._writes.bulk",
    "BulkSummary": "._writes.bulk",
    "RowPlan": "._writes.sync_plan",
    "to_dict": "._api.serialize",
    "to_json": "._api.serialize",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
