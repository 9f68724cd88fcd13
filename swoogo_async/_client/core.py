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

__all__ = ["Core", "CreatePolicy", "credential", "redis_from_env"]

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
        """The locks of the duplicate-safe creates (made by the first create)."""
        from .._writes.create import CreateLocks

        return CreateLocks()


def credential(name: str, given: str | None) -> str:
    value = given if given is not None else os.environ.get(f"SWOOGO_{name.upper()}")
    if value is None or value == "":
        raise InvalidInputError(name, f"missing: pass {name} or set SWOOGO_{name.upper()}")
    check_instance(name, value, str)
    return value


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
