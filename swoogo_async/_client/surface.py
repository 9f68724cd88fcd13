"""What a client and its ``with_options`` views share: the escape hatch, views, last response.

``SwoogoClient`` and ``ClientView`` both mix ``_Surface`` in; a view forwards every
call to its client's pipeline with its own ``CallOptions``, so it shares the
connection pool, the token, the pacer and the credit budget, and costs a few objects.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .._api.endpoints import Call, decode_json
from .._api.models import Page
from .._api.pages import Listing
from .._api.raw import Params, page_of, parse_json, raw_item_key, request_call
from .._checks import check_number
from .._exceptions import InvalidInputError
from .._http.hooks import ResponseInfo, last_response
from .._http.options import CallOptions, check_headers, check_timeout
from .._http.retry import RetryPolicy
from .._http.transport import Response
from .sessions import Sessions
from .speakers import Speakers

if TYPE_CHECKING:
    from .client import SwoogoClient

__all__ = ["ClientView"]

T = TypeVar("T")


class _Surface:
    """The calls beyond the resources; needs ``_execute``, ``base_url`` and ``_owner``."""

    base_url: str
    sessions: Sessions
    speakers: Speakers
    _owner: object
    _options: CallOptions | None

    async def _execute(
        self, call: Call, decode: Callable[[Response], T], *, deadline: float | None = None
    ) -> T:
        raise NotImplementedError

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        cost: int | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Call any endpoint with the client's token, pacing, retries and errors.

        ``GET``, ``HEAD``, ``PUT`` and ``DELETE`` are retried on transient failures;
        ``POST`` and ``PATCH`` only when the request surely never reached the server.

        Args:
            method: ``GET``, ``HEAD``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
            path: Path under the base URL, e.g. ``"/speakers"`` (no query).
            params: Query parameters; flat lists are joined with commas, flags sent as
                1/0, ``None`` values left out (NaN, infinity and nested lists are refused).
            data: A form body (nested values PHP-style: ``custom_fields[c_1]=…``).
            json: A JSON body (instead of ``data``).
            cost: Rate-limit credits the call spends; by default 10 for a ``GET``
                whose path does not end in an id (a list), else 1.
            idempotent: Whether repeating the call is safe (True or False); by default
                by method.

        Returns:
            The decoded JSON body (None for an empty one).

        Raises:
            InvalidInputError: an argument is invalid (nothing was sent).
            APIError: the server answered with an error (a subclass per status).
            TransportError: no usable response.
        """
        call = request_call(
            method,
            path,
            params=params,
            data=data,
            json_body=json,
            cost=cost,
            idempotent=idempotent,
        )
        url = self.base_url + call.path
        return await self._execute(call, lambda r: parse_json(r.body, method=call.method, url=url))

    def paginate(
        self,
        path: str,
        *,
        params: Params | None = None,
        per_page: int = 200,
        max_pages: int | None = None,
        cost: int | None = None,
    ) -> Listing[dict[str, Any]]:
        """Iterate over any list endpoint: ``async for item in client.paginate(...)``.

        Pages are numbered by the client (``page``, ``per-page``) and read as
        iteration needs them; the walk is bounded like ``sessions.list`` (a repeated
        page or an absurd ``pageCount`` ends it, ``stopped`` says why). Items are
        dicts, deduplicated by ``id``.

        Args:
            path: A list endpoint, e.g. ``"/speakers"``.
            params: Query parameters (``page`` and ``per-page`` belong to the walk).
            per_page: Items per page (each page is one list call: 10 credits).
            max_pages: Pages read at most.
            cost: Credits per page; by default as for ``request``.

        Returns:
            A ``Listing``: async iterable of dicts, with ``.pages()``, ``.page(n)``,
            ``.collect()``, ``.stopped`` and ``.complete``.

        Raises:
            InvalidInputError: an argument is invalid (raised here, nothing sent).
        """
        if params is not None and not isinstance(params, Mapping):
            raise InvalidInputError("params", f"expected a mapping, got {type(params).__name__}")
        if params is not None and any(str(k).lower() in ("page", "per-page") for k in params):
            raise InvalidInputError("params", "page and per-page are set by the walk (per_page=)")
        if type(per_page) is not int or per_page < 1:
            raise InvalidInputError("per_page", "must be a positive integer")
        if max_pages is not None and (type(max_pages) is not int or max_pages < 1):
            raise InvalidInputError("max_pages", "must be a positive integer")
        fixed = dict(params or {})
        request_call("GET", path, params=fixed, cost=cost)  # check before any request

        async def fetch(number: int) -> Page[dict[str, Any]]:
            query = {**fixed, "page": number, "per-page": per_page}
            call = request_call("GET", path, params=query, cost=cost)
            url = self.base_url + call.path
            # Only the JSON is decoded inside the retry loop (a cut body is worth another
            # try); a body that is not a list envelope would come back the same: no retry.
            raw, payload = await self._execute(
                call, lambda r: (r.body, decode_json(r.body, method=call.method, url=url))
            )
            return page_of(
                payload, raw, method=call.method, url=url, page=number, per_page=per_page
            )

        key: Callable[[dict[str, Any]], Hashable | None] = raw_item_key
        return Listing(fetch, key=key, max_pages=max_pages)

    def with_options(
        self,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        cache: bool | None = None,
        max_age: float | None = None,
    ) -> ClientView:
        """Return a view of this client with its own per-call options.

        The view shares the connection pool, token, pacer and credit budget (and the
        duplicate-safe create's locks); it is cheap to make per call, and needs no
        closing. Options given to a view's ``with_options`` are laid over its own.

        Args:
            timeout: Seconds each attempt may take (replaces ``read_timeout``).
            retry: The ``RetryPolicy`` of its calls (attempts, backoff, deadline).
            headers: Extra request headers. ``Authorization``, ``Content-Type``,
                ``Content-Length``, ``Host`` and ``Transfer-Encoding`` are the
                client's own and refused, as is CR, LF or NUL in a name or value.
            cache: False: reads skip the client's read cache (see ``docs/caching.md``).
            max_age: Seconds: a cached read older than this is fetched again.

        Returns:
            A ``ClientView`` with ``sessions``, ``speakers``, ``request``,
            ``paginate``, ``with_options`` and ``last_response``.

        Raises:
            InvalidInputError: an option is invalid.
        """
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidInputError("retry", f"expected a RetryPolicy, got {type(retry).__name__}")
        checked_timeout = None if timeout is None else check_timeout(timeout)
        checked_headers = None if headers is None else check_headers(headers)
        # [read cache] per-call bypass and max age
        if cache is not None and not isinstance(cache, bool):
            raise InvalidInputError("cache", f"must be True or False, got {cache!r}")
        if max_age is not None:
            check_number("max_age", max_age, at_least=0)
        base = self._options or CallOptions()
        options = base.merged(
            timeout=checked_timeout,
            retry=retry,
            headers=checked_headers,
            cache=cache,
            max_age=max_age,
        )
        return ClientView(self._root(), options)

    def _root(self) -> SwoogoClient:
        raise NotImplementedError

    @property
    def last_response(self) -> ResponseInfo | None:
        """The last success response of this client (or its views) in the current task.

        ``status``, ``headers`` and ``rate_limit`` (``limit``, ``remaining``,
        ``reset``). Per task: concurrent calls in other tasks do not overwrite it, and
        a call run in another task (``asyncio.gather``, ``create_task``) sets it
        there, not here. ``None`` before the first success.
        """
        return last_response(self._owner)


class ClientView(_Surface):
    """A ``SwoogoClient`` seen with other per-call options (``client.with_options``).

    It shares everything stateful with its client and is opened and closed with it.
    """

    _options: CallOptions

    def __init__(self, root: SwoogoClient, options: CallOptions) -> None:
        self._client = root
        self._options = options
        self._owner = root._owner
        self.base_url: str = root.base_url
        self.sessions = Sessions(self, root.sessions._creator.bound_to(self))
        self.speakers = Speakers(self)

    def __repr__(self) -> str:
        o = self._options
        return (
            f"<ClientView of {self._client!r} timeout={o.timeout!r}"
            f" retry={o.retry!r} headers={sorted(o.headers)!r}>"
        )

    def _root(self) -> SwoogoClient:
        return self._client

    @property
    def credits_spent(self) -> int:
        """Credits spent by the client this view shares (views included)."""
        return self._client.credits_spent

    async def _execute(
        self, call: Call, decode: Callable[[Response], T], *, deadline: float | None = None
    ) -> T:
        result: T = await self._client._execute(
            call, decode, deadline=deadline, options=self._options
        )
        return result

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of this view's calls."""
        return self._options.retry or self._client.retry

    @property
    def create_policy(self) -> Literal["reconcile", "raise"]:
        """The client's ``create_policy``."""
        return self._client.create_policy

    @property
    def reconcile_delay(self) -> float:
        """The client's ``reconcile_delay``."""
        return self._client.reconcile_delay

    @property
    def closed(self) -> bool:
        """Whether the client has been closed."""
        return self._client.closed

    async def _server_clock_offset(self, deadline: float) -> float | None:
        return await self._client._server_clock_offset(deadline)

    @property
    def _clock(self) -> Callable[[], float]:
        return self._client._clock
