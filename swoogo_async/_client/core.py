"""The core a ``SwoogoClient`` and its copies share, and the checks of what builds it."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Literal

import attrs

from .._checks import check_instance
from .._exceptions import InvalidInputError
from .._http.pacing import RateLimit
from .._http.pipeline import Pipeline
from .._shared.state import SharedState

if TYPE_CHECKING:
    from .._shared.cache import ReadCache
    from .._writes.create import CreateLocks

__all__ = ["Core", "CreatePolicy", "check_shared", "credential", "open_cache", "redis_from_env"]

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


def credential(name: str, given: str | None) -> str:
    value = given if given is not None else os.environ.get(f"SWOOGO_{name.upper()}")
    if value is None or value == "":
        raise InvalidInputError(name, f"missing: pass {name} or set SWOOGO_{name.upper()}")
    check_instance(name, value, str)
    return value


def check_shared(shared: SharedState | None) -> None:
    missing = [name for name in _SHARED_METHODS if not callable(getattr(shared, name, None))]
    if shared is not None and missing:
        raise InvalidInputError(
            "shared",
            f"must be a SharedState (e.g. RedisSharedState); {type(shared).__name__}"
            f" has no {', '.join(missing)}",
        )


def redis_from_env(url: str) -> SharedState:
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


def open_cache(cache: ReadCache | str | None, api_key: str, base_url: str) -> ReadCache | None:
    """Return the ``cache=`` read cache (made from a string), bound to the credential."""
    if cache is None:
        return None
    from .._shared.cache import ReadCache  # the opt-in cache loads when one is asked for

    if isinstance(cache, str):
        cache = ReadCache(cache)
    elif not isinstance(cache, ReadCache):
        raise InvalidInputError("cache", "must be 'memory', a redis:// URL or a ReadCache")
    return cache.bind(api_key, base_url=base_url)
