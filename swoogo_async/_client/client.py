"""``SwoogoClient``: one class over one shared ``Core``; ``with_options`` copies it."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

import aiohttp
import attrs

from .._api import endpoints
from .._api.models import Page
from .._api.pages import Listing, page_of
from .._checks import check_credential, check_instance, check_number
from .._exceptions import InvalidInputError
from .._http.auth import basic_auth_header
from .._http.hooks import Hooks, RequestHook, ResponseHook, ResponseInfo
from .._http.options import CallOptions, check_base_url, check_user_agent
from .._http.pacer import AsyncPacer
from .._http.pacing import Pacer, RateLimit
from .._http.pipeline import CLOSED, Pipeline
from .._http.retry import RetryPolicy
from .._http.transport import DEFAULT_MAX_RESPONSE_BYTES, AiohttpTransport, Send, Transport
from .._shared.state import SharedState
from .._version import __version__
from .sessions import Sessions
from .speakers import Speakers

if TYPE_CHECKING:
    from .._shared.cache import ReadCache
    from .._writes.create import CreateLocks
    from .webhooks import Webhooks

__all__ = ["DEFAULT_BASE_URL", "SwoogoClient"]

DEFAULT_BASE_URL = "https://api.swoogo.com/api/v1"
_SHARED_METHODS = tuple(name for name in dir(SharedState) if not name.startswith("_"))
CreatePolicy = Literal["reconcile", "raise"]


# Not slotted: a slotted class would need attrs to rewrite ``creates``, which builds slower.
@attrs.frozen(eq=False, slots=False)
class Core:
    """What a client and every copy ``with_options`` makes of it share."""

    pipeline: Pipeline
    shared: SharedState | None  # bound to this credential
    api_key: str = attrs.field(repr=False)
    rate_limit: RateLimit | Literal["auto"] | None
    create_policy: CreatePolicy
    reconcile_delay: float
    cache: ReadCache | None
    owns_cache: bool  # the client made the cache, so closes it

    @functools.cached_property
    def creates(self) -> CreateLocks:
        from .._writes.create import CreateLocks  # loaded by the first create

        return CreateLocks()


class SwoogoClient:
    """An asyncio client for the Swoogo API (see Configuration), shared by every coroutine
    that uses it. Open it with ``async with`` (or ``await client.open()`` / ``aclose()``).

    Args:
        api_key: Defaults to ``$SWOOGO_API_KEY``.
        api_secret: Defaults to ``$SWOOGO_API_SECRET``. Never shown.
        base_url: Defaults to ``$SWOOGO_BASE_URL``, then the public API.
        session: An ``aiohttp.ClientSession`` to use; the client never closes it.
        transport: A ``Transport`` instead of aiohttp (e.g. ``MockTransport``).
        connect_timeout: Seconds to connect, per attempt.
        read_timeout: Seconds an attempt may take, up to the response's last byte.
        pool_size: Connections, and so requests in flight, at most.
        retry: The ``RetryPolicy`` (``RetryPolicy()`` by default).
        rate_limit: ``"auto"`` (by the server's headers), a ``RateLimit``, or None (off).
        create_policy: ``"reconcile"`` looks up a create of unknown outcome; ``"raise"``
            raises ``UnknownOutcomeError``.
        allow_insecure_http: Allow ``http://`` to a host that is not loopback.
        reconcile_delay: Seconds a create of unknown outcome waits before its lookup.
        user_agent: Sent as ``User-Agent``.
        max_response_bytes: Largest body read, else ``ResponseTooLargeError``.
        shared: A ``SharedState`` (e.g. ``RedisSharedState``); else ``$SWOOGO_REDIS_URL``'s.
        on_request: Hook(s), sync or async, called with a ``RequestInfo`` before each
            request; what they raise is logged and ignored.
        on_response: The same, with a ``ResponseInfo`` for each response.
        cache: An opt-in read cache: ``"memory"``, a ``redis://`` URL or a ``ReadCache``.

    Raises:
        InvalidInputError: a credential is missing, or an option is unusable (it is named).
            Every method checks its arguments so, before anything is sent.
    """

    base_url: str
    retry: RetryPolicy
    #: Send a built ``Call``, return ``parse`` of its 2xx body (see ``_bind``).
    send: Send
    sessions: Sessions
    speakers: Speakers

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        base_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        transport: Transport | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        pool_size: int = 100,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimit | Literal["auto"] | None = "auto",
        create_policy: CreatePolicy = "reconcile",
        allow_insecure_http: bool = False,
        reconcile_delay: float = 1.0,
        user_agent: str = f"swoogo-async/{__version__}",
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        shared: SharedState | None = None,
        on_request: RequestHook | list[RequestHook] | None = None,
        on_response: ResponseHook | list[ResponseHook] | None = None,
        cache: ReadCache | str | None = None,
    ) -> None:
        api_key = check_credential("api_key", api_key)
        api_secret = check_credential("api_secret", api_secret)
        check_number("connect_timeout", connect_timeout, above=0)
        check_number("read_timeout", read_timeout, above=0)
        check_number("pool_size", pool_size, integer=True, at_least=1)
        check_number("max_response_bytes", max_response_bytes, integer=True, at_least=1)
        check_number("reconcile_delay", reconcile_delay, at_least=0)
        retry = RetryPolicy() if retry is None else check_instance("retry", retry, RetryPolicy)
        if rate_limit not in ("auto", None) and not isinstance(rate_limit, RateLimit):
            raise InvalidInputError(
                "rate_limit", f"must be 'auto', a RateLimit or None, got {rate_limit!r}"
            )
        if create_policy not in ("reconcile", "raise"):
            raise InvalidInputError("create_policy", "must be 'reconcile' or 'raise'")
        missing = [n for n in _SHARED_METHODS if not callable(getattr(shared, n, None))]
        if shared is not None and missing:
            raise InvalidInputError(
                "shared",
                f"must be a SharedState (e.g. RedisSharedState); {type(shared).__name__}"
                f" has no {', '.join(missing)}",
            )
        if session is not None and transport is not None:
            raise InvalidInputError("transport", "pass either session or transport, not both")
        hooks = Hooks(on_request, on_response)
        base_url = check_base_url(
            base_url or os.environ.get("SWOOGO_BASE_URL") or DEFAULT_BASE_URL,
            allow_insecure_http=allow_insecure_http,
        )
        headers = {"User-Agent": check_user_agent(user_agent), "Accept": "application/json"}
        explicit = rate_limit if isinstance(rate_limit, RateLimit) else None
        made = shared is None and bool(os.environ.get("SWOOGO_REDIS_URL"))  # closed with us
        if made:
            shared = _redis_from_env(os.environ["SWOOGO_REDIS_URL"])
        bound = None if shared is None else shared.bind(api_key, explicit, base_url=base_url)
        pacer = None
        if rate_limit is not None:  # a shared state paces its budget; alone, the client itself
            pacer = AsyncPacer(Pacer(explicit)) if bound is None else bound.pacer()
        pipeline = Pipeline(
            base_url=base_url,
            headers=headers,
            basic_auth=basic_auth_header(api_key, api_secret),
            retry=retry,
            pacer=pacer,
            hooks=hooks,
            token_store=bound,
            close_store=bound.aclose if made and bound is not None else None,
            transport=transport,
            read_timeout=read_timeout,
            pool_size=pool_size,
            make_transport=functools.partial(
                AiohttpTransport,
                session,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                pool_size=pool_size,
                max_response_bytes=max_response_bytes,
            ),
        )
        owns_cache = isinstance(cache, str)
        if cache is not None:
            from .._shared.cache import ReadCache  # the opt-in cache loads when one is asked for

            if isinstance(cache, str):
                cache = ReadCache(cache)
            elif not isinstance(cache, ReadCache):
                raise InvalidInputError("cache", "must be 'memory', a redis:// URL or a ReadCache")
            cache = cache.bind(api_key, base_url=base_url)
        core = Core(
            pipeline, bound, api_key, rate_limit, create_policy, reconcile_delay, cache, owns_cache
        )
        self._bind(core, pipeline.options, owns_core=True)

    def _bind(self, core: Core, options: CallOptions, *, owns_core: bool) -> None:
        self._core = core
        self._owns_core = owns_core
        self._options = options
        self.base_url = core.pipeline.base_url
        self.retry = options.retry
        send = cast(Send, functools.partial(core.pipeline.send, options))
        if core.cache is not None:  # opt-in: reads looked up, writes invalidate what they change
            send = cast(Send, functools.partial(core.cache.execute, send, options=options))
        self.send = send
        self.sessions = Sessions(self)
        self.speakers = Speakers(self)

    @functools.cached_property
    def webhooks(self) -> Webhooks:
        """Webhook registrations: list, create, update, delete (built on first use)."""
        from .webhooks import Webhooks

        return Webhooks(self)

    def __repr__(self) -> str:
        key = self._core.api_key
        shown = key[:4] + "…" if len(key) > 4 else "…"
        state = self._core.pipeline.state
        return f"<SwoogoClient base_url={self.base_url!r} api_key={shown!r} state={state}>"

    @property
    def pool_size(self) -> int:
        """Maximum connections, and so requests in flight."""
        return self._core.pipeline.pool_size

    @property
    def rate_limit(self) -> RateLimit | Literal["auto"] | None:
        """How requests are paced (``"auto"``, a ``RateLimit``, or None)."""
        return self._core.rate_limit

    @property
    def create_policy(self) -> CreatePolicy:
        """What a create does when its outcome is unknown."""
        return self._core.create_policy

    @property
    def reconcile_delay(self) -> float:
        """Seconds a create of unknown outcome waits before it is looked up."""
        return self._core.reconcile_delay

    async def open(self) -> SwoogoClient:
        """Open the client (what ``async with`` does); a copy opens the core it shares."""
        await self._core.pipeline.open()
        return self

    async def aclose(self) -> None:
        """Close the client and what it made (not a given session or transport; a copy
        closes nothing); calls still running raise ``ClientStateError``."""
        if self._owns_core:
            core = self._core
            try:
                await core.pipeline.aclose()
            finally:
                if core.owns_cache and core.cache is not None:
                    await core.cache.aclose()

    __aenter__ = open

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    @property
    def closed(self) -> bool:
        """Whether the client (and so every copy of it) has been closed."""
        return self._core.pipeline.state == CLOSED

    @property
    def credits_spent(self) -> int:
        """Rate-limit credits the attempts of this client and its copies cost, answered or
        not (a list 10, another call 1, the token 0; an attempt answered 429: 0)."""
        return self._core.pipeline.credits_spent

    @property
    def cache(self) -> ReadCache | None:
        """The read cache this client uses (``stats``, ``invalidate_*``), or None."""
        return self._core.cache

    @property
    def token_fetches(self) -> int:
        """How many token fetches this client has started."""
        return self._core.pipeline.tokens.fetches

    @property
    def last_response(self) -> ResponseInfo | None:
        """The last success response of this client or its copies in the current task, or None."""
        return self._core.pipeline.last_response()

    def with_options(
        self,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        cache: bool | None = None,
        max_age: float | None = None,
    ) -> SwoogoClient:
        """Return a copy sharing this client's core (pool, token, pacer, credits, create
        locks), with these per-call options laid over its own; closing the copy does nothing.

        Args:
            timeout: Seconds each attempt may take (replaces ``read_timeout``).
            headers: Extra request headers (the client's own, such as ``Authorization``,
                and control characters are refused).
            cache: False: reads skip the client's read cache.
            max_age: Seconds: a cached read older than this is fetched again.
        """
        options = self._options.merged(
            timeout=timeout, retry=retry, headers=headers, cache=cache, max_age=max_age
        )
        copy = object.__new__(SwoogoClient)
        copy._bind(self._core, options, owns_core=False)
        return copy

    def clock(self) -> float:
        """Return the monotonic time every deadline of this client is measured on."""
        return self._core.pipeline.clock()

    async def server_clock_offset(self, deadline: float) -> float | None:
        """Return the server's clock minus ours, asking if no answer told it yet; None if unsure."""
        return await self._core.pipeline.server_clock_offset(self._options, deadline)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: endpoints.Params | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        cost: int | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Call any endpoint with the client's token, pacing, retries and errors.

        Args:
            method: ``GET``, ``HEAD``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
            path: Path under the base URL, e.g. ``"/speakers"`` (no query).
            params: Query parameters (lists joined with commas, ``None`` left out).
            data: A form body (nested values PHP-style: ``custom_fields[c_1]=…``).
            json: A JSON body (instead of ``data``).
            cost: Rate-limit credits; by default 10 for a ``GET`` of a list, else 1.
            idempotent: Whether a retry is safe; by default ``GET``, ``HEAD``, ``PUT`` and
                ``DELETE`` are, ``POST`` and ``PATCH`` only if surely never received.

        Returns:
            The decoded JSON body (None for an empty one).

        Raises:
            APIError: the server answered with an error (a subclass per status).
            TransportError: no usable response.
        """
        call = endpoints.request_call(
            method, path, params=params, data=data, json_body=json, cost=cost, idempotent=idempotent
        )
        return await self.send(call, endpoints.parse_json)

    def paginate(
        self,
        path: str,
        *,
        params: endpoints.Params | None = None,
        per_page: int = 200,
        max_pages: int | None = None,
        cost: int | None = None,
    ) -> Listing[dict[str, Any]]:
        """Walk any list endpoint as ``sessions.list`` is (items deduplicated by ``id``).

        Args:
            path: A list endpoint, e.g. ``"/speakers"``.
            params: Query parameters (``page`` and ``per-page`` belong to the walk).
            per_page: Items per page (each page is one list call: 10 credits).
            cost: Credits per page; by default as for ``request``.
        """
        call_for = endpoints.page_calls(
            path, params, per_page=per_page, max_pages=max_pages, cost=cost
        )

        async def fetch(number: int) -> Page[dict[str, Any]]:
            # Only the JSON is decoded in the retry loop: a wrong envelope would come back.
            raw, payload, method, url = await self.send(call_for(number), endpoints.parse_json_at)
            return page_of(payload, raw, method=method, url=url, page=number, per_page=per_page)

        return Listing(fetch, key=endpoints.raw_item_key, max_pages=max_pages)


def _redis_from_env(url: str) -> SharedState:
    try:
        from ..redis import RedisSharedState  # the optional extra: import only when asked
    except ImportError:
        raise InvalidInputError(
            "SWOOGO_REDIS_URL", "needs the redis extra: pip install 'swoogo-async[redis]'"
        ) from None
    try:
        return RedisSharedState.from_url(url)
    except ValueError as exc:
        raise InvalidInputError("SWOOGO_REDIS_URL", str(exc)) from None
