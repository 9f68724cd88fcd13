"""Webhooks in the fake: the management endpoints, and deliveries on every change.

Registered with ``POST /webhooks/create`` (documented; ``PUT /webhooks/update/{id}``
and ``DELETE /webhooks/delete/{id}`` as the SDK infers them), a webhook is delivered
when a session or speaker is inserted, updated or deleted: by the API (actor
``api_call``) or by the test itself (``add_session``, ``delete_session``, …: actor
``admin_user``). The body wraps the record in its object's name, with the action beside
it: ``{"action": "update", "session": {...}}``, or the same as a PHP-style form
(``action=update&session[name]=…``) for ``content_type=post``. The layout is this
fake's choice: Swoogo does not publish one.

Deliveries run as tasks: an API response never waits for one. A non-2xx answer or a
connection error is retried up to ``webhook_attempts`` times, ``webhook_backoff(n)``
seconds apart (awaited through ``webhook_sleep``, which a test may replace). Only
loopback URLs are called; any other is recorded as not delivered. ``deliveries`` logs
every attempt; ``await deliveries_settled()`` waits for the pending ones.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ClassVar, Final
from urllib.parse import quote_plus, urlsplit

import aiohttp
import attrs
from aiohttp import web

from .._http.options import _is_loopback  # the client's rule for http:// to a local host
from ._forms import ApiError, err, utc_now_str, yii_error
from ._store import Store

__all__ = ["WEBHOOK_HANDLERS", "WEBHOOK_ROUTES", "Delivery", "WebhookMixin"]

WEBHOOK_ROUTES: Final = (
    (re.compile(r"/webhooks"), "GET", "GET /webhooks"),
    (re.compile(r"/webhooks/create"), "POST", "POST /webhooks/create"),
    (re.compile(r"/webhooks/update/(\d+)"), "PUT", "PUT /webhooks/update/{id}"),
    (re.compile(r"/webhooks/delete/(\d+)"), "DELETE", "DELETE /webhooks/delete/{id}"),
)
_OBJECTS: Final = frozenset(
    {
        "event",
        "contact",
        "registrant",
        "speaker",
        "sponsor",
        "session",
        "session_attendance",
        "registrant_line_item",
    }
)
_FLAGS: Final = (
    "trigger_on_insert",
    "trigger_on_update",
    "trigger_on_delete",
    "public_user",
    "admin_user",
    "api_call",
    "all_fields",
    "use_default_fields",
    "any_event",
    "enabled",
)
_DEFAULTS: Final[dict[str, Any]] = {
    "group_id": None,
    "headers": [],
    **dict.fromkeys(_FLAGS, 1),
    "use_default_fields": 0,
    "fields": [],
    "post_field_data": None,
    "event_ids": [],
    "content_type": "json",
    "notes": None,
    "custom_fields": [],
}
_KEY = re.compile(r"([^\[]+)((?:\[[^\[\]]*\])*)")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


@attrs.frozen
class Delivery:
    """One attempt to deliver a webhook; ``status`` is None when no answer came."""

    webhook_id: int
    url: str
    attempt: int
    object_type: str
    action: str
    object_id: int
    status: int | None
    body: bytes = attrs.field(repr=False)
    headers: dict[str, str] = attrs.field(repr=False)
    error: str | None = None


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Parse ``a[0][b]=v`` form keys into dicts (digit keys become lists)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        m = _KEY.fullmatch(key)
        path = [key] if m is None else [m[1], *_SEGMENT.findall(m[2])]
        node = root
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        last = path[-1] or str(sum(1 for k in node if k.isdigit()))
        node[last] = value
    return {k: _listify(v) for k, v in root.items()}


def _listify(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    out = {k: _listify(v) for k, v in value.items()}
    if out and all(k == str(i) for i, k in enumerate(out)):
        return list(out.values())
    return out


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(f"{prefix}[{k}]", v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _flatten(f"{prefix}[{i}]", v)
    elif value is None:
        yield prefix, ""
    elif isinstance(value, bool):
        yield prefix, "1" if value else "0"
    else:
        yield prefix, str(value)


def _form(payload: dict[str, Any]) -> bytes:
    pairs = [p for k, v in payload.items() for p in _flatten(k, v)]
    return "&".join(f"{quote_plus(k, safe='[]')}={quote_plus(v)}" for k, v in pairs).encode()


def _check(fields: dict[str, Any], rec: dict[str, Any] | None) -> dict[str, Any]:
    """Validate a create (``rec`` None) or update form; return the canonical changes."""
    errors: list[dict[str, str]] = []
    out: dict[str, Any] = {}
    for name in ("name", "url", "trigger_object"):
        if name in fields or rec is None:
            value = fields.get(name)
            if not isinstance(value, str) or not value.strip():
                label = name.replace("_", " ").capitalize()
                errors.append(err(name, f"{label} cannot be blank."))
            else:
                out[name] = value
    if "url" in out and urlsplit(out["url"]).scheme not in ("http", "https"):
        errors.append(err("url", "Url is not a valid URL."))
    if "trigger_object" in out and out["trigger_object"] not in _OBJECTS:
        errors.append(err("trigger_object", "Trigger Object is invalid."))
    for name in _FLAGS:
        if name in fields:
            if fields[name] not in ("0", "1"):
                errors.append(err(name, f"{name} must be either 0 or 1."))
            else:
                out[name] = int(fields[name])
    if "content_type" in fields:
        if fields["content_type"] not in ("json", "post"):
            errors.append(err("content_type", "Content Type is invalid."))
        out["content_type"] = fields["content_type"]
    if "headers" in fields:
        headers = fields["headers"] if fields["headers"] != "" else []
        if not isinstance(headers, list) or not all(
            isinstance(h, dict) and isinstance(h.get("key"), str) for h in headers
        ):
            errors.append(err("headers", "Headers must be a list of key and value."))
        else:
            out["headers"] = [{"key": h["key"], "value": h.get("value", "")} for h in headers]
    if "event_ids" in fields:
        ids = fields["event_ids"] if fields["event_ids"] != "" else []
        if not isinstance(ids, list) or not all(str(i).isdigit() for i in ids):
            errors.append(err("event_ids", "Event Ids must be integers."))
        else:
            out["event_ids"] = [int(i) for i in ids]
    for name in ("group_id",):
        if name in fields:
            out[name] = int(fields[name]) if str(fields[name]).isdigit() else None
    for name in ("notes", "fields", "post_field_data", "custom_fields"):
        if name in fields:
            out[name] = fields[name]
    if errors:
        raise ApiError(422, errors)
    return out


class WebhookMixin:
    """Webhook registrations and deliveries; FakeSwoogo provides the state declared here."""

    _store: Store
    _envelope: Callable[..., web.Response]
    _form_pairs: Callable[[web.Request, bytes], list[tuple[str, str]]]

    def _init_webhooks(self) -> None:
        #: Registered webhooks by id (canonical values: flags 0/1).
        self.webhooks: dict[int, dict[str, Any]] = {}
        #: Every delivery attempt, in order.
        self.deliveries: list[Delivery] = []
        self.webhook_attempts = 4
        self.webhook_backoff: Callable[[int], float] = lambda attempt: 0.05 * 2 ** (attempt - 1)
        self.webhook_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._next_webhook = 1
        self._actor = "admin_user"
        self._sending: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        self._store.on_change = self._changed

    # -- test controls ----------------------------------------------------------------------
    def delete_session(self, session_id: int) -> None:
        """Delete a session as an admin would (no API endpoint is documented)."""
        rec = self._store.sessions.pop(session_id)
        self._changed("session", "delete", rec)

    def delete_speaker(self, speaker_id: int) -> None:
        """Delete a speaker as an admin would."""
        rec = self._store.speakers.pop(speaker_id)
        self._changed("speaker", "delete", rec)

    async def deliveries_settled(self) -> None:
        """Wait until every scheduled delivery (retries included) has finished."""
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def _stop_deliveries(self) -> None:
        for task in self._sending:
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    _handlers: ClassVar[dict[str, Callable[[Any, web.Request, int, bytes], Any]]]

    def _api_handler(self, route: str) -> Callable[[Any, web.Request, int, bytes], Any]:
        """Return the route's handler, run as actor ``api_call`` (webhooks filter on it)."""
        handler = self._handlers.get(route) or WEBHOOK_HANDLERS[route]

        def run(fake: Any, request: web.Request, arg: int, body: bytes) -> Any:
            self._actor = "api_call"
            try:
                return handler(fake, request, arg, body)
            finally:
                self._actor = "admin_user"

        return run

    # -- management endpoints ---------------------------------------------------------------
    def _webhook_form(self, request: web.Request, body: bytes) -> dict[str, Any]:
        return _nested(self._form_pairs(request, body))

    def _list_webhooks(self, request: web.Request, _: int, body: bytes) -> tuple[Any, bool]:
        rows = [self.webhooks[i] for i in sorted(self.webhooks)]
        return self._envelope(request, "/webhooks", rows, dict, 1000), False

    def _create_webhook(self, request: web.Request, _: int, body: bytes) -> tuple[Any, bool]:
        changes = _check(self._webhook_form(request, body), None)
        now = utc_now_str()
        rec = {"id": self._next_webhook, **_DEFAULTS, **changes}
        rec.update(created_at=now, updated_at=now)
        self._next_webhook += 1
        self.webhooks[rec["id"]] = rec
        return _json(200, rec), True

    def _update_webhook(self, request: web.Request, wid: int, body: bytes) -> tuple[Any, bool]:
        rec = self._webhook(wid)
        rec.update(_check(self._webhook_form(request, body), rec), updated_at=utc_now_str())
        return _json(200, rec), True

    def _delete_webhook(self, request: web.Request, wid: int, body: bytes) -> tuple[Any, bool]:
        del self.webhooks[self._webhook(wid)["id"]]
        return web.Response(status=204), True

    def _webhook(self, wid: int) -> dict[str, Any]:
        rec = self.webhooks.get(wid)
        if rec is None:
            raise ApiError(404, yii_error(404, "Webhook not found."))
        return rec

    # -- deliveries -------------------------------------------------------------------------
    def _changed(self, kind: str, action: str, rec: dict[str, Any]) -> None:
        for hook in list(self.webhooks.values()):
            if not (
                hook["enabled"]
                and hook["trigger_object"] == kind
                and hook[f"trigger_on_{action}"]
                and hook.get(self._actor, 1)
                and (hook["any_event"] or rec.get("event_id") in hook["event_ids"])
            ):
                continue
            record = self._render(kind, rec)
            if not hook["all_fields"] and hook["fields"]:
                record = {k: v for k, v in record.items() if k == "id" or k in hook["fields"]}
            payload = {"action": action, kind: record}
            form = hook["content_type"] == "post"
            headers = {h["key"]: h["value"] for h in hook["headers"]}
            headers["Content-Type"] = (
                "application/x-www-form-urlencoded" if form else "application/json"
            )
            headers["User-Agent"] = "Swoogo-Webhooks (swoogo_async.testing)"
            body = _form(payload) if form else json.dumps(payload).encode()
            about = (hook["id"], hook["url"], kind, action, int(rec["id"]))
            try:
                task = asyncio.get_running_loop().create_task(self._deliver(about, body, headers))
            except RuntimeError:  # no loop runs: the fake is not serving, nothing to call
                return
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    def _render(self, kind: str, rec: dict[str, Any]) -> dict[str, Any]:
        if kind == "session":
            return self._store.render_session(rec)
        return self._store.render_speaker(rec)

    async def _deliver(
        self, about: tuple[int, str, str, str, int], body: bytes, headers: dict[str, str]
    ) -> None:
        wid, url, kind, action, oid = about

        def log(attempt: int, status: int | None, error: str | None = None) -> None:
            self.deliveries.append(
                Delivery(wid, url, attempt, kind, action, oid, status, body, headers, error)
            )

        if not _is_loopback(urlsplit(url).hostname or ""):
            log(0, None, "not delivered: the fake calls loopback URLs only")
            return
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        for attempt in range(1, self.webhook_attempts + 1):
            try:
                async with self._http.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    log(attempt, resp.status)
                    if 200 <= resp.status < 300:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                log(attempt, None, type(exc).__name__)
            if attempt < self.webhook_attempts:
                await self.webhook_sleep(self.webhook_backoff(attempt))


def _json(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)


WEBHOOK_HANDLERS: Final[dict[str, Callable[[Any, web.Request, int, bytes], Any]]] = {
    "GET /webhooks": WebhookMixin._list_webhooks,
    "POST /webhooks/create": WebhookMixin._create_webhook,
    "PUT /webhooks/update/{id}": WebhookMixin._update_webhook,
    "DELETE /webhooks/delete/{id}": WebhookMixin._delete_webhook,
}
