"""What a caller sees of each exchange: hook payloads, rate-limit state, the last response,
and the ``swoogo_async`` logger. Hooks observe: they cannot change or fail a call."""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import os
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from .._exceptions import InvalidInputError
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
    "configure_from_env",
    "logger",
]

T = TypeVar("T")

logger = logging.getLogger("swoogo_async")
# Else its warnings reach stderr through logging's last resort in an app that set up none.
logger.addHandler(logging.NullHandler())


class _EnvHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``SWOOGO_LOG`` attaches; its class marks it as already there."""


def configure_from_env(environ: Mapping[str, str] = os.environ) -> logging.Handler | None:
    """If ``SWOOGO_LOG`` is ``debug`` or ``info`` (as openai's ``OPENAI_LOG``), attach one
    stderr handler at that level and return it (attached now or before); else None."""
    name = environ.get("SWOOGO_LOG", "").strip().lower()
    level = {"debug": logging.DEBUG, "info": logging.INFO}.get(name)
    if level is None:
        return None
    for handler in logger.handlers:
        if isinstance(handler, _EnvHandler):
            return handler
    handler = _EnvHandler()  # stderr
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    return handler


def _number(headers: Mapping[str, str], name: str, kind: Callable[[float], T]) -> T | None:
    try:
        number = float(headers[name])
    except (KeyError, ValueError):
        return None
    return kind(number) if math.isfinite(number) else None


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
        """The one reader of ``X-Rate-Limit-*``: not a finite number is None, "12.0" is 12."""
        return cls(
            limit=_number(headers, "X-Rate-Limit-Limit", int),
            remaining=_number(headers, "X-Rate-Limit-Remaining", int),
            reset=_number(headers, "X-Rate-Limit-Reset", float),
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
        return cls(call.method, call.path, url, status, headers, call.cost, attempt)


class LastResponse(weakref.ref["asyncio.Task[Any]"]):
    """A task's last success response (``ResponseInfo.of``'s arguments until read), a weak
    reference to the task in a context variable set once per task and updated in place: set
    per call, it would keep each response alive in every context copied meanwhile."""

    __slots__ = ("response",)

    response: tuple[Call, str, int, Mapping[str, str], int] | ResponseInfo


RequestHook = Callable[[RequestInfo], Awaitable[None] | None]
ResponseHook = Callable[[ResponseInfo], Awaitable[None] | None]


class Hooks:
    """A client's ``on_request`` and ``on_response`` hooks, and what they are shown."""

    __slots__ = ("_remaining", "on_request", "on_response")

    def __init__(self, on_request: Any, on_response: Any) -> None:
        self.on_request: tuple[RequestHook, ...] = _check_hooks("on_request", on_request)
        self.on_response: tuple[ResponseHook, ...] = _check_hooks("on_response", on_response)
        self._remaining: int | None = None  # as the latest response that told them said

    async def request(self, call: Call, url: str, attempt: int, within: float) -> None:
        info = RequestInfo(call.method, call.path, url, call.cost, attempt, self._remaining)
        await _run_hooks(self.on_request, info, within)

    async def response(self, info: ResponseInfo, within: float) -> None:
        remaining = info.rate_limit.remaining
        if remaining is not None:  # a response without it (the token's) tells nothing new
            self._remaining = remaining if remaining >= 0 else None
        await _run_hooks(self.on_response, info, within)


def _check_hooks(name: str, hooks: Any) -> tuple[Any, ...]:
    if hooks is None:
        return ()
    if callable(hooks):
        return (hooks,)
    if isinstance(hooks, Sequence) and not isinstance(hooks, str) and all(map(callable, hooks)):
        return tuple(hooks)
    raise InvalidInputError(name, "expected a callable or a list of callables")


async def _run_hooks(hooks: tuple[Callable[[T], Any], ...], info: T, within: float) -> None:
    """Call each hook with ``info``, awaiting async ones, for ``within`` seconds in all; log
    what one raises (a ``CancelledError`` not aimed at the caller too), cut off a late one."""
    loop = asyncio.get_running_loop()
    until = loop.time() + within
    for hook in hooks:
        try:
            result = hook(info)
            if inspect.isawaitable(result):
                await _await_within(hook, result, until - loop.time())
        except (asyncio.CancelledError, Exception) as exc:
            if isinstance(exc, asyncio.CancelledError) and cancelled_by_caller(unknown=True):
                raise
            logger.exception("swoogo_async hook %r raised; the call goes on", hook)


#: Hooks cut off at a deadline but not finished yet (the loop keeps only weak references).
_ABANDONED: set[asyncio.Future[Any]] = set()


async def _await_within(hook: object, result: Awaitable[Any], left: float) -> None:
    task = asyncio.ensure_future(result)
    try:
        await asyncio.wait({task}, timeout=max(left, 0.0))
    finally:
        task.cancel()  # cut off, unless done (cancel() leaves a done task as it is)
    if task.done():
        task.result()  # the hook's own exception, if any
        return
    _ABANDONED.add(task)
    task.add_done_callback(_ABANDONED.discard)
    # Its error is retrieved unread: the warning below is its one report.
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
    logger.warning(
        "swoogo_async hook %r was cut off at the call's deadline; the call goes on", hook
    )


def cancelled_by_caller(*, unknown: bool = False) -> bool:
    """Whether this task has a cancellation of its own pending (before 3.11: ``unknown``)."""
    cancelling = getattr(asyncio.current_task(), "cancelling", None)
    return unknown if cancelling is None else cancelling() > 0
