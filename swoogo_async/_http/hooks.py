"""What a caller can see of each exchange: hook payloads, rate-limit state, the last response.

Hooks (``SwoogoClient(on_request=..., on_response=...)``) observe; they cannot change
or fail a call, nor hold it past its deadline. The pipeline keeps ``last_response``
in each task's own ``LastResponse`` record, so each task sees the responses of its own
calls, whatever runs concurrently.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from .._exceptions import InvalidInputError

if TYPE_CHECKING:
    from .transport import Call

__all__ = [
    "Hooks",
    "LastResponse",
    "RateLimitState",
    "RequestHook",
    "RequestInfo",
    "ResponseHook",
    "ResponseInfo",
    "cancelled_by_caller",
    "check_hooks",
    "run_hooks",
]

logger = logging.getLogger("swoogo_async")
T = TypeVar("T")


def _number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@attrs.frozen(slots=True)
class RateLimitState:
    """The credit budget as one response reported it (``X-Rate-Limit-*``); None if absent.

    Args:
        limit: Credits per window.
        remaining: Credits left in the current window.
        reset: Seconds until the window resets.
    """

    limit: int | None
    remaining: int | None
    reset: float | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitState:
        """Read the state from response headers: the one reader of ``X-Rate-Limit-*``.

        A value that is not a finite number reads as None; ``"12.0"`` reads as 12.
        """
        limit = _number(headers, "X-Rate-Limit-Limit")
        remaining = _number(headers, "X-Rate-Limit-Remaining")
        return cls(
            limit=None if limit is None else int(limit),
            remaining=None if remaining is None else int(remaining),
            reset=_number(headers, "X-Rate-Limit-Reset"),
        )


@attrs.frozen(slots=True)
class RequestInfo:
    """A request about to be sent, as ``on_request`` hooks see it (never the token).

    Args:
        method: HTTP method.
        path: Path under the base URL, without the query.
        url: Full URL, query included (it never holds a credential).
        cost: Rate-limit credits the call spends (0 for the token request).
        attempt: 1 for the first attempt, 2 for the first retry, and so on.
        remaining: Credits left, as the latest response seen by this client reported
            them; None before the first one.
    """

    method: str
    path: str
    url: str
    cost: int
    attempt: int
    remaining: int | None


@attrs.frozen(slots=True)
class ResponseInfo:
    """A response, as ``on_response`` hooks and ``client.last_response`` see it.

    Args:
        method: HTTP method of the request.
        path: Path under the base URL, without the query.
        url: Full URL, query included.
        status: HTTP status.
        headers: Response headers (case-insensitive).
        cost: Rate-limit credits the call spent (0 for the token request).
        attempt: Which attempt of the call this response answered (1-based).
    """

    method: str
    path: str
    url: str
    status: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    cost: int
    attempt: int

    @property
    def rate_limit(self) -> RateLimitState:
        """The budget this response reported: ``limit``, ``remaining``, ``reset``."""
        return RateLimitState.from_headers(self.headers)

    @classmethod
    def of(
        cls, call: Call, url: str, status: int, headers: Mapping[str, str], attempt: int
    ) -> ResponseInfo:
        """Describe the response to ``call``, sent to ``url`` by its attempt ``attempt``."""
        return cls(call.method, call.path, url, status, headers, call.cost, attempt)


class LastResponse(weakref.ref["asyncio.Task[Any]"]):
    """One task's last success response: a weak reference to the task (its owner; the
    task holds its context, so a strong one would make a cycle) carrying the response as
    the pipeline noted it (``ResponseInfo.of``'s arguments), then as described when read.

    A task makes its record on its first call, in a context variable, and updates it in
    place afterwards. Setting the variable on every call instead would leave each noted
    response alive in every context copied meanwhile (aiohttp copies the task's context
    for each request's timer, which lingers, cancelled, in the loop's heap), so the
    collector would see every response again. A task started from another inherits its
    record but is not its owner: it neither reads nor writes it.
    """

    __slots__ = ("response",)

    response: tuple[Call, str, int, Mapping[str, str], int] | ResponseInfo


RequestHook = Callable[[RequestInfo], Awaitable[None] | None]
ResponseHook = Callable[[ResponseInfo], Awaitable[None] | None]


class Hooks:
    """A client's ``on_request`` and ``on_response`` hooks, and what they are shown."""

    __slots__ = ("_remaining", "on_request", "on_response")

    def __init__(self, on_request: Any, on_response: Any) -> None:
        self.on_request: tuple[RequestHook, ...] = check_hooks("on_request", on_request)
        self.on_response: tuple[ResponseHook, ...] = check_hooks("on_response", on_response)
        #: Credits left, as the latest response that told them said (only when hooks need it).
        self._remaining: int | None = None

    async def request(
        self, method: str, path: str, url: str, cost: int, attempt: int, within: float
    ) -> None:
        """Run the ``on_request`` hooks for a request about to go out."""
        info = RequestInfo(method, path, url, cost, attempt, self._remaining)
        await run_hooks(self.on_request, info, within)

    async def response(self, info: ResponseInfo, within: float) -> None:
        """Run the ``on_response`` hooks for a response (of any status)."""
        remaining = info.rate_limit.remaining
        if remaining is not None:  # a response without it (the token's) tells nothing new
            self._remaining = remaining if remaining >= 0 else None
        await run_hooks(self.on_response, info, within)


def check_hooks(name: str, hooks: Any) -> tuple[Any, ...]:
    """Return ``hooks`` (None, one callable or a sequence of them) as a tuple."""
    if hooks is None:
        return ()
    if callable(hooks):
        return (hooks,)
    if (
        isinstance(hooks, Sequence)
        and not isinstance(hooks, str)
        and all(callable(h) for h in hooks)
    ):
        return tuple(hooks)
    raise InvalidInputError(name, "expected a callable or a list of callables")


async def run_hooks(hooks: tuple[Callable[[T], Any], ...], info: T, within: float) -> None:
    """Call each hook with ``info``, awaiting async ones; log and ignore what they raise.

    A hook observes a call: an exception in it (even a ``CancelledError`` when the
    caller was not cancelled) must not fail a create that already happened, so it is
    logged at ERROR and the call goes on. Nor may it hold the call past its deadline:
    async hooks run for ``within`` seconds in all; one still running then is
    cancelled with a WARNING and left behind, even if it ignores the cancellation.
    """
    loop = asyncio.get_running_loop()
    until = loop.time() + within
    for hook in hooks:
        try:
            result = hook(info)
            if inspect.isawaitable(result):
                await _await_within(hook, result, until - loop.time())
        except asyncio.CancelledError:
            if cancelled_by_caller(unknown=True):
                raise
            logger.exception("swoogo_async hook %r raised; the call goes on", hook)
        except Exception:
            logger.exception("swoogo_async hook %r raised; the call goes on", hook)


#: Hooks cut off at a deadline but not finished yet (the loop keeps only weak references).
_ABANDONED: set[asyncio.Future[Any]] = set()


async def _await_within(hook: object, result: Awaitable[Any], left: float) -> None:
    """Await ``result`` for ``left`` seconds; past that, cancel it and do not wait for it."""
    task = asyncio.ensure_future(result)
    try:
        await asyncio.wait({task}, timeout=max(left, 0.0))
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task.done():
        task.result()  # the hook's own exception, if any
        return
    task.cancel()
    _ABANDONED.add(task)
    task.add_done_callback(_forget)
    logger.warning(
        "swoogo_async hook %r was cut off at the call's deadline; the call goes on", hook
    )


def _forget(task: asyncio.Future[Any]) -> None:
    _ABANDONED.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a hook cut off is not reported twice


def cancelled_by_caller(*, unknown: bool = False) -> bool:
    """Whether the current task has a cancellation of its own pending.

    Before 3.11 a task cannot tell: ``unknown`` is the answer then (True where a real
    cancellation must never be swallowed).
    """
    cancelling = getattr(asyncio.current_task(), "cancelling", None)
    return unknown if cancelling is None else cancelling() > 0
