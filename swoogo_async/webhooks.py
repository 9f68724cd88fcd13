"""Receive Swoogo webhooks: check the secret header, read the body, deduplicate, dispatch.

>>> receiver = WebhookReceiver(on_event, secret="Bearer s3cret")  # doctest: +SKIP
>>> app.router.add_post("/hooks/swoogo", receiver.aiohttp_handler())  # aiohttp
>>> app.add_route("/hooks/swoogo", receiver.starlette_endpoint, methods=["POST"])  # FastAPI

What a delivery gets back, and so whether Swoogo retries it (any non-2xx is retried):

- 401: the secret header is missing or wrong (compared in constant time); nothing read.
- 413: the body is larger than ``max_body_bytes``.
- 400 / 415 / 422: the body is malformed, of another content type, or its record
  cannot be read; one WARNING log line says why (never the body, never a secret).
- 200: processed, or a duplicate of a delivery already claimed (not processed again).
- 500: ``invalidate`` or your handler raised. Its claim is released first, so the
  retry Swoogo sends is processed. The exception is logged, never sent back.

See docs/webhooks.md for the payload layout this reads and for deployment.
"""

from __future__ import annotations

import hmac
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

import attrs
from aiohttp import web

from ._api.models import Session, Speaker
from ._api.webhooks import Webhook
from ._checks import check_number, is_header_name, is_header_value
from ._client.webhooks import Webhooks
from ._exceptions import InvalidInputError
from ._webhooks.dedupe import DEFAULT_TTL, Dedupe, LocalDedupe, RedisDedupe
from ._webhooks.payload import (
    TRIGGER_OBJECTS,
    Action,
    BadDelivery,
    WebhookEvent,
    decode_body,
    parse_delivery,
    parse_php_form,
)

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "TRIGGER_OBJECTS",
    "Action",
    "CacheInvalidator",
    "Dedupe",
    "LocalDedupe",
    "RedisDedupe",
    "Webhook",
    "WebhookEvent",
    "WebhookReceiver",
    "WebhookResult",
    "Webhooks",
    "parse_php_form",
]

logger = logging.getLogger("swoogo_async.webhooks")

#: 1 MiB: a record with every field and custom field fits many times over.
DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
_CHUNK = 64 * 1024

Handler = Callable[[WebhookEvent], Awaitable[object] | object]


class CacheInvalidator(Protocol):
    """What a read cache offers webhooks: drop what an edit made stale.

    The receiver calls it before your handler, so the next read sees the edit.
    """

    async def invalidate_session(self, session_id: int, event_id: int | None) -> None:
        """Drop the session and its event's cached lists (``event_id`` may be unknown)."""
        ...

    async def invalidate_speaker(self, speaker_id: int) -> None:
        """Drop the speaker."""
        ...


@attrs.frozen
class WebhookResult:
    """The answer to one delivery: its HTTP ``status`` and a short ``reason``."""

    status: int
    reason: str
    event: WebhookEvent | None = attrs.field(default=None, repr=False)

    @property
    def processed(self) -> bool:
        """Whether the handler ran and returned for this delivery."""
        return self.status == 200 and self.reason == "processed"


_OWS = " \t"


def _secrets(value: object) -> tuple[bytes, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, Iterable) or isinstance(values, (bytes, Mapping)):
        raise InvalidInputError("secret", "must be the header's value (a str) or a list of them")
    found = []
    for item in values:
        # A header value never keeps surrounding spaces (RFC 9110 5.5: servers strip
        # them), so a secret read with a stray space would refuse every delivery.
        item = item.strip(_OWS) if isinstance(item, str) else item
        if not item or not is_header_value(item):
            raise InvalidInputError(
                "secret", "each value must be non-empty text without control characters"
            )
        found.append(item.encode())
    if not found:
        raise InvalidInputError("secret", "must hold at least one value")
    return tuple(found)


def _header_name(name: str, value: object) -> str:
    if not isinstance(value, str) or not is_header_name(value):
        raise InvalidInputError(name, f"must be an HTTP header name, got {value!r}")
    return value.lower()


class WebhookReceiver:
    """Receive Swoogo webhook deliveries and hand each one, once, to ``handler``.

    Args:
        handler: A coroutine function (or a plain function) called with each new
            ``WebhookEvent``.
        secret: The value of the custom header configured on the webhook (e.g.
            ``"Bearer s3cret"``), or several (a rotation: any one is accepted).
        secret_header: The header that carries it.
        max_body_bytes: Largest body read; a larger one gets 413.
        dedupe: Where claims on deliveries live; by default ``RedisDedupe(redis)``
            when ``redis`` is given, else ``LocalDedupe()`` (this process only).
        redis: A ``redis.asyncio.Redis`` client to deduplicate across processes.
        dedupe_ttl: Seconds a delivery is remembered (for the default stores).
        invalidate: A ``CacheInvalidator``, called before ``handler`` for sessions
            and speakers.
        object_type: The object of a flat (unwrapped) body when neither the body nor
            the ``object_header`` says.
        object_header: A header naming the object type (set as a custom header).
        action_header: A header naming the action, read when the body has no
            ``action`` key (configure one webhook per action with its own value).

    Raises:
        InvalidInputError: an option is unusable (the error names it).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        secret: str | Sequence[str],
        secret_header: str = "Authorization",
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        dedupe: Dedupe | None = None,
        redis: Any = None,
        dedupe_ttl: float = DEFAULT_TTL,
        invalidate: CacheInvalidator | None = None,
        object_type: str | None = None,
        object_header: str = "X-Swoogo-Object",
        action_header: str = "X-Swoogo-Action",
    ) -> None:
        if not callable(handler):
            raise InvalidInputError("handler", "must be a coroutine function")
        self._secrets = _secrets(secret)
        self.secret_header = _header_name("secret_header", secret_header)
        check_number("max_body_bytes", max_body_bytes, integer=True, at_least=1)
        if dedupe is not None and redis is not None:
            raise InvalidInputError("dedupe", "pass either dedupe or redis, not both")
        if dedupe is not None and not all(
            callable(getattr(dedupe, m, None)) for m in ("claim", "release")
        ):
            raise InvalidInputError("dedupe", "must have claim() and release() coroutines")
        if invalidate is not None and not all(
            callable(getattr(invalidate, m, None))
            for m in ("invalidate_session", "invalidate_speaker")
        ):
            raise InvalidInputError("invalidate", "must implement CacheInvalidator")
        if object_type is not None and (not isinstance(object_type, str) or not object_type):
            raise InvalidInputError("object_type", "must be a trigger object name")
        self.handler = handler
        self.max_body_bytes = max_body_bytes
        if dedupe is None:
            dedupe = (
                LocalDedupe(ttl=dedupe_ttl) if redis is None else RedisDedupe(redis, ttl=dedupe_ttl)
            )
        self.dedupe: Dedupe = dedupe
        self.invalidate = invalidate
        self.object_type = object_type
        self.object_header = _header_name("object_header", object_header)
        self.action_header = _header_name("action_header", action_header)

    def __repr__(self) -> str:
        return (
            f"<WebhookReceiver secret_header={self.secret_header!r} secret=*** "
            f"dedupe={type(self.dedupe).__name__}>"
        )

    # -- the framework-free core ------------------------------------------------------------
    def authorized(self, headers: Mapping[str, str]) -> bool:
        """Whether ``headers`` carry the secret (constant time in the value compared)."""
        given = _lower(headers).get(self.secret_header)
        if given is None:
            return False
        raw = given.strip(_OWS).encode("utf-8", "surrogateescape")
        ok = False
        for secret in self._secrets:  # every value is compared: no early exit
            ok |= hmac.compare_digest(raw, secret)
        return ok

    async def handle(self, body: bytes, headers: Mapping[str, str]) -> WebhookResult:
        """Answer one delivery (any framework): check, read, claim, invalidate, dispatch.

        Args:
            body: The raw request body.
            headers: The request headers (any case).

        Returns:
            The ``WebhookResult``: send its ``status`` back (see the module docs).
        """
        refused = self._refuse(headers, len(body))
        return refused if refused is not None else await self._process(body, headers)

    def _refuse(self, headers: Mapping[str, str], length: int | None) -> WebhookResult | None:
        """Refuse a delivery by its headers and announced length, before its body is read."""
        if not self.authorized(headers):
            return _refused(401, f"missing or wrong {self.secret_header} header")
        if length is not None and length > self.max_body_bytes:
            return _refused(413, f"body larger than {self.max_body_bytes} bytes")
        return None

    async def _process(self, body: bytes, headers: Mapping[str, str]) -> WebhookResult:
        low = _lower(headers)
        try:
            payload = decode_body(body, low.get("content-type"))
            event = parse_delivery(
                payload,
                object_type=low.get(self.object_header) or self.object_type,
                action=low.get(self.action_header),
            )
        except BadDelivery as exc:
            return _refused(exc.status, exc.reason)
        return await self.dispatch(event)

    async def dispatch(self, event: WebhookEvent) -> WebhookResult:
        """Claim ``event``'s delivery, then invalidate and call the handler once."""
        token = await self.dedupe.claim(event.key)
        if token is None:
            logger.info(
                "webhook %s %s id=%s: duplicate delivery, acknowledged",
                event.object_type,
                event.action,
                event.id,
            )
            return WebhookResult(200, "duplicate", event)
        try:
            await self._invalidate(event)
            # A plain function works too: awaiting its None would fail after it ran, and
            # the 500 would have Swoogo deliver (and the handler act) again and again.
            outcome = self.handler(event)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            await self.dedupe.release(event.key, token)
            logger.exception(
                "webhook %s %s id=%s: handler failed; answered 500 so that Swoogo retries",
                event.object_type,
                event.action,
                event.id,
            )
            return WebhookResult(500, "handler failed", event)
        except BaseException:  # cancelled (the sender hung up): its retry must run
            await self.dedupe.release(event.key, token)
            raise
        done = getattr(self.dedupe, "done", None)
        if done is not None:
            await done(event.key, token)
        return WebhookResult(200, "processed", event)

    async def _invalidate(self, event: WebhookEvent) -> None:
        cache, ident = self.invalidate, event.id
        if cache is None or ident is None:
            return
        if event.object_type == "session" or isinstance(event.data, Session):
            await cache.invalidate_session(ident, event.event_id)
        elif event.object_type == "speaker" or isinstance(event.data, Speaker):
            await cache.invalidate_speaker(ident)

    # -- adapters ---------------------------------------------------------------------------
    def aiohttp_handler(self) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Return an ``aiohttp.web`` handler: ``app.router.add_post(path, handler)``."""

        async def handler(request: web.Request) -> web.Response:
            result = await self._handle_stream(
                request.headers, request.content_length, request.content.iter_chunked(_CHUNK)
            )
            return web.Response(status=result.status, text=result.reason)

        return handler

    async def starlette_endpoint(self, request: Any) -> Any:
        """Answer a Starlette/FastAPI request: ``app.add_route(path, this, methods=["POST"])``.

        Starlette is imported only when this runs (it is not a dependency of the SDK).
        """
        from starlette.responses import PlainTextResponse

        length = request.headers.get("content-length")
        result = await self._handle_stream(
            request.headers,
            int(length) if length is not None and length.isdigit() else None,
            request.stream(),
        )
        return PlainTextResponse(result.reason, status_code=result.status)

    async def _handle_stream(
        self, headers: Mapping[str, str], length: int | None, chunks: Any
    ) -> WebhookResult:
        """Check the secret and the size before reading more than ``max_body_bytes``."""
        refused = self._refuse(headers, length)
        if refused is not None:
            return refused
        body = bytearray()
        async for chunk in chunks:
            body += chunk
            if len(body) > self.max_body_bytes:
                return _refused(413, f"body larger than {self.max_body_bytes} bytes")
        return await self._process(bytes(body), headers)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _refused(status: int, reason: str) -> WebhookResult:
    logger.warning("webhook refused with %d: %s", status, reason)
    return WebhookResult(status, reason)
