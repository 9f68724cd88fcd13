"""The API operations of the fake Swoogo server (mixed into FakeSwoogo)."""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import math
import random
import re
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeAlias
from urllib.parse import parse_qsl, unquote_plus, urlencode

from aiohttp import web

from ._faults import TOKEN_ROUTE
from ._forms import ApiError, yii_error
from ._store import Store
from ._webhooks import WEBHOOK_ROUTES

__all__ = [
    "API_PREFIX",
    "FORM",
    "LIST_ROUTES",
    "ApiMixin",
    "CIDict",
    "Result",
    "json_response",
    "match_route",
]

#: (path pattern, method, route name) for each route of ``_faults.ROUTES``.
ROUTE_PATTERNS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"/oauth2/token"), "POST", TOKEN_ROUTE),
    (re.compile(r"/sessions"), "GET", "GET /sessions"),
    (re.compile(r"/sessions/create"), "POST", "POST /sessions/create"),
    (re.compile(r"/sessions/(\d+)"), "GET", "GET /sessions/{id}"),
    (re.compile(r"/sessions/update/(\d+)"), "PUT", "PUT /sessions/update/{id}"),
    (re.compile(r"/speakers/(\d+)/session\.json"), "POST", "POST /speakers/{id}/session.json"),
    (re.compile(r"/speakers"), "GET", "GET /speakers"),
    (re.compile(r"/speakers/(\d+)"), "GET", "GET /speakers/{id}"),
)
#: A list call costs 10 credits; every other call costs 1.
LIST_ROUTES = frozenset({"GET /sessions", "GET /speakers", "GET /webhooks"})


def match_route(method: str, path: str) -> tuple[str | None, int, bool]:
    """Return the route ``method path`` names (or None), its id (0 if none), and whether
    the path is one the fake serves by some method."""
    known = False
    for pattern, route_method, name in (*ROUTE_PATTERNS, *WEBHOOK_ROUTES):
        match = pattern.fullmatch(path)
        if match is not None:
            known = True
            if method == route_method:
                return name, int(match[1]) if match.groups() else 0, True
    return None, 0, known


API_PREFIX = "/api/v1"
FORM = "application/x-www-form-urlencoded"
Result: TypeAlias = "tuple[web.Response | None, bool]"


class CIDict(dict[str, str]):
    """A plain dict of headers whose lookups fall back to case-insensitive matching."""

    def _find(self, key: object) -> str | None:
        if isinstance(key, str):
            low = key.lower()
            for k in self:
                if k.lower() == low:
                    return k
        return None

    def __missing__(self, key: str) -> str:
        found = self._find(key)
        if found is None:
            raise KeyError(key)
        return dict.__getitem__(self, found)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or self._find(key) is not None

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        charset="UTF-8",
        headers=headers,
    )


class ApiMixin:
    """Route handlers; FakeSwoogo provides the state declared here."""

    api_key: str
    api_secret: str
    token_lifetime: float
    tokens_issued: int
    drift: bool
    items_as_object: bool
    relative_links: bool
    host: str
    port: int
    _store: Store
    _rng: random.Random
    _tokens: dict[str, float]
    pagination: str | None
    now: Callable[[], float]
    #: Rewrites the token response body (a test knob: ISO or missing ``expires_at``).
    token_body: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def _drift(self) -> tuple[bool, bool]:
        if not self.drift:
            return False, False
        return self._rng.random() < 0.5, self._rng.random() < 0.5

    def _token(self, request: web.Request, form: dict[str, str] | None) -> Result:
        auth = request.headers.get("Authorization", "")
        ok = False
        if auth.startswith("Basic "):
            try:
                decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            key, sep, secret = decoded.partition(":")
            ok = bool(sep) and (unquote_plus(key), unquote_plus(secret)) == (
                self.api_key,
                self.api_secret,
            )
        if not ok:
            return json_response(401, yii_error(401, "Invalid client credentials.")), False
        if form is None:
            msg = "The request body must be application/x-www-form-urlencoded."
            return json_response(400, yii_error(400, msg)), False
        if form.get("grant_type") != "client_credentials":
            msg = 'The grant type must be "client_credentials".'
            return json_response(400, yii_error(400, msg)), False
        token = secrets.token_urlsafe(32)
        self._tokens[token] = self.now() + self.token_lifetime
        self.tokens_issued += 1
        # Date and expires_at from one instant: a client reads the lifetime exactly.
        wall = time.time()
        expires = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(wall + self.token_lifetime))
        payload: dict[str, Any] = {"access_token": token, "expires_at": expires, "type": "bearer"}
        if self.token_body is not None:
            payload = self.token_body(payload)
        return json_response(
            200, payload, {"Date": email.utils.formatdate(wall, usegmt=True)}
        ), True

    def _get_session(self, request: web.Request, sid: int, body: bytes) -> Result:
        q = request.query
        fields = _split(q.get("fields")) or None
        rec = self._store.get_session(sid)
        cap, flags = self._drift()
        out = self._store.render_session(
            rec, fields, _split(q.get("expand")), cap_str=cap, flags_bool=flags
        )
        return json_response(200, out), False

    def _list_sessions(self, request: web.Request, _: int, body: bytes) -> Result:
        q = request.query
        event_id = _event_id(q)
        ids: set[int] | None = None
        if "ids" in q:
            parts = _split(q["ids"])
            if not all(p.isdigit() for p in parts) or len(parts) > 100:
                raise ApiError(400, yii_error(400, "ids must be at most 100 integers."))
            ids = {int(p) for p in parts}
        rows = self._store.query_sessions(
            event_id,
            ids,
            q.get("search"),
            q.get("searchCondition", "").lower() == "or",
            q.get("sort"),
        )
        fields = _split(q.get("fields")) or ["id", "name"]
        expand = _split(q.get("expand"))
        cap, flags = self._drift()

        def render(r: dict[str, Any]) -> dict[str, Any]:
            return self._store.render_session(r, fields, expand, cap_str=cap, flags_bool=flags)

        return self._envelope(request, "/sessions", rows, render, 200 if expand else 1000), False

    def _list_speakers(self, request: web.Request, _: int, body: bytes) -> Result:
        q = request.query
        event_id = _event_id(q)
        rows = sorted(
            (r for r in self._store.speakers.values() if r["event_id"] == event_id),
            key=lambda r: r["id"],
        )
        # Documented: without fields, a speaker list item is id, first_name, last_name.
        fields = _split(q.get("fields")) or ["id", "first_name", "last_name"]
        expand = _split(q.get("expand"))
        cap, flags = self._drift()

        def render(r: dict[str, Any]) -> dict[str, Any]:
            out = self._store.render_speaker(r, cap_str=cap, flags_bool=flags)
            return {f: out[f] for f in fields if f in out} | _expanded(out, expand)

        return self._envelope(request, "/speakers", rows, render, 200 if expand else 1000), False

    def _get_speaker(self, request: web.Request, spid: int, body: bytes) -> Result:
        rec = self._store.speakers.get(spid)
        if rec is None:
            raise ApiError(404, yii_error(404, "Speaker not found."))
        cap, flags = self._drift()
        out = self._store.render_speaker(rec, cap_str=cap, flags_bool=flags)
        fields = _split(request.query.get("fields"))
        expand = _split(request.query.get("expand"))
        shown = {f: out[f] for f in fields if f in out} if fields else out
        # Inferred from the sessions pattern: sessions only with expand=sessions.
        shown = {k: v for k, v in shown.items() if k != "sessions"} | _expanded(out, expand)
        return json_response(200, shown), False

    def _envelope(
        self,
        request: web.Request,
        path: str,
        rows: Sequence[dict[str, Any]],
        render: Callable[[dict[str, Any]], dict[str, Any]],
        max_per_page: int,
    ) -> web.Response:
        """Page ``rows`` into the list envelope, misbehaving as ``pagination`` says."""
        q = request.query
        mode = self.pagination
        asked = max(1, _int(q.get("page"), 1))
        page = 1 if mode == "ignore-page" else asked
        per_page = min(max(1, _int(q.get("per-page"), 20)), max_per_page)
        total = len(rows)
        page_count = math.ceil(total / per_page)
        chunk = rows[(page - 1) * per_page : page * per_page]
        endless = mode in ("endless", "endless-no-meta")
        if endless and rows and page > page_count:
            # Past the real pages, a copy of the rows under ids never seen before.
            first = 10**7 + (page - 1) * per_page
            chunk = [{**rows[i % total], "id": first + i} for i in range(per_page)]
        items = [render(r) for r in chunk]
        base = API_PREFIX + path
        if not self.relative_links:
            base = f"http://{self.host}:{self.port}{base}"
        keep = [(k, v) for k, v in q.items() if k not in ("page", "per-page")]

        def link(p: int) -> dict[str, str]:
            return {"href": f"{base}?{urlencode([*keep, ('page', p), ('per-page', per_page)])}"}

        if mode in ("huge-page-count", "endless"):
            page_count = 10**9
        links = {"self": link(page), "first": link(1), "last": link(max(page_count, 1))}
        if page < page_count or mode in ("always-next", "endless-no-meta"):
            links["next"] = link(page + 1)
        if page > 1:
            links["prev"] = link(min(page - 1, max(page_count, 1)))
        envelope = {
            "items": {str(r["id"]): i for r, i in zip(chunk, items, strict=True)}
            if self.items_as_object
            else items,
            "_links": links,
            "_meta": {
                "totalCount": total // 2 if mode == "total-count-low" else total,
                "pageCount": page_count,
                "currentPage": 1 if mode == "stuck-current-page" else page,
                "perPage": per_page,
            },
        }
        if mode == "endless-no-meta":
            del envelope["_meta"]
        return json_response(200, envelope)

    def _full(self, rec: dict[str, Any]) -> web.Response:
        cap, flags = self._drift()
        out = self._store.render_session(rec, None, (), cap_str=cap, flags_bool=flags)
        return json_response(200, out)

    def _form_pairs(self, request: web.Request, body: bytes) -> list[tuple[str, str]]:
        if request.content_type != FORM and (body or request.content_type == "application/json"):
            msg = f'Unsupported content type "{request.content_type}"; send a form.'
            raise ApiError(415, yii_error(415, msg))
        return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)

    def _create(self, request: web.Request, _: int, body: bytes) -> Result:
        rec = self._store.create_session(self._form_pairs(request, body))
        return self._full(rec), True

    def _update(self, request: web.Request, sid: int, body: bytes) -> Result:
        self._store.get_session(sid)
        rec = self._store.update_session(sid, self._form_pairs(request, body))
        return self._full(rec), True

    def _speaker_sessions(self, request: web.Request, spid: int, body: bytes) -> Result:
        if spid not in self._store.speakers:
            raise ApiError(404, yii_error(404, "Speaker not found."))
        if request.content_type in (FORM, "multipart/form-data"):
            raise ApiError(415, yii_error(415, "Send session_ids as a JSON body."))
        try:
            data = json.loads(body) if body else None
        except ValueError:
            raise ApiError(
                400, yii_error(400, "Invalid JSON data in request body: Syntax error.")
            ) from None
        speaker, acted = self._store.add_sessions_to_speaker(spid, data)
        cap, flags = self._drift()
        out = self._store.render_speaker(speaker, cap_str=cap, flags_bool=flags)
        return json_response(200, out), acted

    _handlers: ClassVar[dict[str, Callable[[ApiMixin, web.Request, int, bytes], Result]]] = {
        "GET /sessions/{id}": _get_session,
        "GET /sessions": _list_sessions,
        "POST /sessions/create": _create,
        "PUT /sessions/update/{id}": _update,
        "POST /speakers/{id}/session.json": _speaker_sessions,
        "GET /speakers": _list_speakers,
        "GET /speakers/{id}": _get_speaker,
    }


def _event_id(q: Any) -> int:
    raw = q.get("event_id", "")
    if not raw.strip().isdigit():
        raise ApiError(400, yii_error(400, "Missing required parameters: event_id"))
    return int(raw)


def _expanded(speaker: dict[str, Any], expand: Sequence[str]) -> dict[str, Any]:
    return {"sessions": speaker["sessions"]} if "sessions" in expand else {}


def _split(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
