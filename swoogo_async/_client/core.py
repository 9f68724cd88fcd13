"""The core a ``SwoogoClient`` and its copies share, and how the options build it.

Every option is checked here, naming the one that is unusable, before anything is built.
"""

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


# Not slotted: ``creates`` is a plain ``functools.cached_property``, kept in the instance's
# ``__dict__`` (a slotted class needs attrs 23.2's rewriting of it, which costs more to build).
@attrs.frozen(eq=False, slots=False)
class Core:
    """What a client and every copy ``with_options`` makes of it share."""

    pipeline: Pipeline
    #: The state shared with other processes (bound to this credential), if any.
    shared: SharedState | None
    api_key: str = attrs.field(repr=False)
    rate_limit: RateLimit | Literal["auto"] | None
    create_policy: CreatePolicy
    reconcile_delay: float
    #: The opt-in read cache, and whether the client made it (and so closes it).
    cache: ReadCache | None = None
    owns_cache: bool = False

    @functools.cached_property
    def creates(self) -> CreateLocks:
        """What the duplicate-safe creates of the client and its copies share (made by the
        first create: a client that only reads never loads the create path)."""
        from .._writes.create import CreateLocks

        return CreateLocks()


#: What a ``shared=`` object must provide: every method of the ``SharedState`` protocol.
_SHARED_METHODS = tuple(name for name in dir(SharedState) if not name.startswith("_"))


def _check_options(
    *,
    api_key: object,
    api_secret: object,
    connect_timeout: object,
    read_timeout: object,
    pool_size: object,
    max_response_bytes: object,
    reconcile_delay: object,
    retry: object,
    rate_limit: object,
    create_policy: object,
    shared: object,
) -> tuple[str, str]:
    """Return the credentials; refuse an unusable option, naming it, before any is used."""
    for name, value, env in (("api_key", api_key, "KEY"), ("api_secret", api_secret, "SECRET")):
        if value is None or value == "":
            raise InvalidInputError(name, f"missing: pass {name} or set SWOOGO_API_{env}")
        check_instance(name, value, str)
    check_number("connect_timeout", connect_timeout, above=0)
    check_number("read_timeout", read_timeout, above=0)
    check_number("pool_size", pool_size, integer=True, at_least=1)
    check_number("max_response_bytes", max_response_bytes, integer=True, at_least=1)
    # A NaN or infinite delay would leave an uncertain create never looked up.
    check_number("reconcile_delay", reconcile_delay, at_least=0)
    if retry is not None:
        check_instance("retry", retry, RetryPolicy)
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
    return api_key, api_secret  # type: ignore[return-value]  # both checked to be str


def _redis_from_env(url: str) -> SharedState:
    """Return the Redis shared state ``$SWOOGO_REDIS_URL`` names."""
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
    cache: ReadCache | str | None = None,
) -> Core:
    """Check every option (see ``SwoogoClient``) and build the core; nothing is opened."""
    api_key = api_key if api_key is not None else os.environ.get("SWOOGO_API_KEY")
    api_secret = api_secret if api_secret is not None else os.environ.get("SWOOGO_API_SECRET")
    api_key, api_secret = _check_options(
        api_key=api_key,
        api_secret=api_secret,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        pool_size=pool_size,
        max_response_bytes=max_response_bytes,
        reconcile_delay=reconcile_delay,
        retry=retry,
        rate_limit=rate_limit,
        create_policy=create_policy,
        shared=shared,
    )
    if session is not None and transport is not None:
        raise InvalidInputError("transport", "pass either session or transport, not both")
    hooks = Hooks(on_request, on_response)
    checked_url = check_base_url(
        base_url or os.environ.get("SWOOGO_BASE_URL") or DEFAULT_BASE_URL,
        allow_insecure_http=allow_insecure_http,
    )
    user_agent = check_user_agent(user_agent)
    explicit = rate_limit if isinstance(rate_limit, RateLimit) else None
    owned = shared is None and bool(os.environ.get("SWOOGO_REDIS_URL"))
    if owned:
        shared = _redis_from_env(os.environ["SWOOGO_REDIS_URL"])
    bound = None if shared is None else shared.bind(api_key, explicit, base_url=checked_url)
    pipeline = Pipeline(
        base_url=checked_url,
        headers={"User-Agent": user_agent, "Accept": "application/json"},
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
        retry=retry if retry is not None else RetryPolicy(),
        # A shared state says how its budget is paced; alone, the client paces itself.
        pacer=None
        if rate_limit is None
        else AsyncPacer(Pacer(explicit))
        if bound is None
        else bound.pacer(),
        token_store=bound,
        close_store=bound.aclose if owned and bound is not None else None,
        hooks=hooks,
    )
    owns_cache = isinstance(cache, str)  # made here, so closed with the client
    if cache is not None:
        from .._shared.cache import ReadCache  # the opt-in cache loads when one is asked for

        if isinstance(cache, str):
            cache = ReadCache(cache)
        elif not isinstance(cache, ReadCache):
            raise InvalidInputError("cache", "must be 'memory', a redis:// URL or a ReadCache")
    return Core(
        pipeline,
        bound,
        api_key,
        rate_limit,
        create_policy,
        reconcile_delay,
        cache=None if cache is None else cache.bind(api_key, base_url=pipeline.base_url),
        owns_cache=owns_cache,
    )
