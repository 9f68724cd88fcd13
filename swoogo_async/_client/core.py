"""The core a ``SwoogoClient`` and its copies share, and how the client's options build it."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Literal

import aiohttp
import attrs

from .._checks import check_instance, check_number
from .._exceptions import InvalidInputError
from .._http.auth import basic_auth_header
from .._http.hooks import Hooks, RequestHook, ResponseHook
from .._http.options import check_base_url, check_user_agent
from .._http.pacer import AsyncPacer
from .._http.pacing import Pacer, RateLimit
from .._http.pipeline import Pipeline
from .._http.retry import RetryPolicy
from .._http.transport import AiohttpTransport, Transport
from .._shared.state import SharedState

if TYPE_CHECKING:
    from .._shared.cache import ReadCache
    from .._writes.create import CreateLocks

__all__ = ["DEFAULT_BASE_URL", "Core", "CreatePolicy", "build_core"]

DEFAULT_BASE_URL = "https://api.swoogo.com/api/v1"
CreatePolicy = Literal["reconcile", "raise"]
#: What a ``shared=`` object must provide: every method of the ``SharedState`` protocol.
_SHARED_METHODS = tuple(name for name in dir(SharedState) if not name.startswith("_"))


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
        """The locks of the duplicate-safe creates (made by the first create)."""
        from .._writes.create import CreateLocks

        return CreateLocks()


def _credential(name: str, given: str | None) -> str:
    value = given if given is not None else os.environ.get(f"SWOOGO_{name.upper()}")
    if value is None or value == "":
        raise InvalidInputError(name, f"missing: pass {name} or set SWOOGO_{name.upper()}")
    check_instance(name, value, str)
    return value


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


def build_core(
    *,
    api_key: str | None,
    api_secret: str | None,
    base_url: str | None,
    session: aiohttp.ClientSession | None,
    transport: Transport | None,
    connect_timeout: float,
    read_timeout: float,
    pool_size: int,
    retry: RetryPolicy | None,
    rate_limit: RateLimit | Literal["auto"] | None,
    create_policy: CreatePolicy,
    allow_insecure_http: bool,
    reconcile_delay: float,
    user_agent: str,
    max_response_bytes: int,
    shared: SharedState | None,
    on_request: RequestHook | list[RequestHook] | None,
    on_response: ResponseHook | list[ResponseHook] | None,
    cache: ReadCache | str | None,
) -> Core:
    """Check every option (see ``SwoogoClient``), naming an unusable one; build the core."""
    api_key = _credential("api_key", api_key)
    api_secret = _credential("api_secret", api_secret)
    check_number("connect_timeout", connect_timeout, above=0)
    check_number("read_timeout", read_timeout, above=0)
    check_number("pool_size", pool_size, integer=True, at_least=1)
    check_number("max_response_bytes", max_response_bytes, integer=True, at_least=1)
    # A NaN or infinite delay would leave an uncertain create never looked up.
    check_number("reconcile_delay", reconcile_delay, at_least=0)
    retry = RetryPolicy() if retry is None else check_instance("retry", retry, RetryPolicy)
    if rate_limit not in ("auto", None) and not isinstance(rate_limit, RateLimit):
        raise InvalidInputError(
            "rate_limit", f"must be 'auto', a RateLimit or None, got {rate_limit!r}"
        )
    if create_policy not in ("reconcile", "raise"):
        raise InvalidInputError("create_policy", "must be 'reconcile' or 'raise'")
    if shared is not None:
        missing = [name for name in _SHARED_METHODS if not callable(getattr(shared, name, None))]
        if missing:
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
    made = shared is None and bool(os.environ.get("SWOOGO_REDIS_URL"))  # closed with the client
    if made:
        shared = _redis_from_env(os.environ["SWOOGO_REDIS_URL"])
    bound = None if shared is None else shared.bind(api_key, explicit, base_url=base_url)
    pipeline = Pipeline(
        base_url=base_url,
        headers=headers,
        basic_auth=basic_auth_header(api_key, api_secret),
        transport=transport,
        make_transport=functools.partial(
            AiohttpTransport,
            session,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            pool_size=pool_size,
            max_response_bytes=max_response_bytes,
        ),
        read_timeout=read_timeout,
        pool_size=pool_size,
        retry=retry,
        # A shared state says how its budget is paced; alone, the client paces itself.
        pacer=None
        if rate_limit is None
        else AsyncPacer(Pacer(explicit))
        if bound is None
        else bound.pacer(),
        token_store=bound,
        close_store=bound.aclose if made and bound is not None else None,
        hooks=hooks,
    )
    owns_cache = isinstance(cache, str)
    if cache is not None:
        from .._shared.cache import ReadCache  # the opt-in cache loads when one is asked for

        if isinstance(cache, str):
            cache = ReadCache(cache)
        elif not isinstance(cache, ReadCache):
            raise InvalidInputError("cache", "must be 'memory', a redis:// URL or a ReadCache")
        cache = cache.bind(api_key, base_url=base_url)
    return Core(
        pipeline, bound, api_key, rate_limit, create_policy, reconcile_delay, cache, owns_cache
    )
