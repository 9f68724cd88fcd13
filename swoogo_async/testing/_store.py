"""In-memory store of the fake Swoogo server: records, search/sort and rendering."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ._forms import (
    CF_KEY,
    FLAG_FIELDS,
    NUMERIC,
    SEARCHABLE,
    SESSION_DEFAULTS,
    ApiError,
    err,
    utc_now_str,
    validate_form,
    yii_error,
)

__all__ = ["Store"]

_SEARCH = re.compile(
    r"([A-Za-z_][A-Za-z0-9_]*)"
    r"(!=\*(?:contains|beginswith|endswith|in)\*|=\*(?:contains|beginswith|endswith|in)\*"
    r"|>=|<=|!=|=|>|<)(.*)",
    re.IGNORECASE | re.DOTALL,
)
_SPEAKER_FIELDS = (
    "contact_id", "cfs_speaker", "email", "bio", "prefix", "company", "middle_name",
    "job_title", "work_phone", "mobile_phone", "suffix", "profile_picture", "twitter_handle",
    "birth_date", "cc_email", "vat_number",
)  # fmt: skip


def _fmt_time(t: str) -> str:
    h, m = int(t[:2]), t[3:5]
    return f"{(h % 12) or 12}:{m} {'AM' if h < 12 else 'PM'}"


class Store:
    """Sessions and speakers, keyed by id, holding canonical values."""

    def __init__(self) -> None:
        self.sessions: dict[int, dict[str, Any]] = {}
        self.speakers: dict[int, dict[str, Any]] = {}
        self._next_session = 1000
        self._next_speaker = 100
        #: Called with (object type, action, record) after each change (webhooks).
        self.on_change: Callable[[str, str, dict[str, Any]], None] | None = None

    def _changed(self, kind: str, action: str, rec: dict[str, Any]) -> None:
        if self.on_change is not None:
            self.on_change(kind, action, rec)

    # -- sessions ---------------------------------------------------------------------------
    def _new_session_id(self) -> int:
        while self._next_session in self.sessions:
            self._next_session += 1
        sid = self._next_session
        self._next_session += 1
        return sid

    def add_session(self, event_id: int, name: str, **fields: Any) -> dict[str, Any]:
        """Seed a session directly (values taken as canonical, unvalidated)."""
        now = utc_now_str()
        rec = dict(SESSION_DEFAULTS)
        rec.update(custom_fields={}, created_at=now, updated_at=now)
        rec.update(fields, event_id=event_id, name=name)
        sid = fields.get("id")
        if sid is None:
            sid = self._new_session_id()
        else:
            self._next_session = max(self._next_session, int(sid) + 1)
        rec["id"] = int(sid)
        self.sessions[rec["id"]] = rec
        self._changed("session", "insert", rec)
        return rec

    def create_session(self, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
        changes, custom = validate_form(pairs, None)
        event_id, name = changes.pop("event_id"), changes.pop("name")
        return self.add_session(event_id, name, **changes, custom_fields=custom)

    def update_session(self, sid: int, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
        rec = self.get_session(sid)
        changes, custom = validate_form(pairs, rec)
        rec.update(changes)
        if custom:
            rec["custom_fields"] = {**rec.get("custom_fields", {}), **custom}
        rec["updated_at"] = utc_now_str()
        self._changed("session", "update", rec)
        return rec

    def get_session(self, sid: int) -> dict[str, Any]:
        rec = self.sessions.get(sid)
        if rec is None:
            raise ApiError(404, yii_error(404, "Session not found."))
        return rec

    def render_session(
        self,
        rec: dict[str, Any],
        fields: Sequence[str] | None = None,
        expand: Iterable[str] = (),
        *,
        cap_str: bool = False,
        flags_bool: bool = False,
    ) -> dict[str, Any]:
        sid, event_id = rec.get("id"), rec.get("event_id")
        full = dict(rec)
        start, end = rec.get("start_time"), rec.get("end_time")
        full["location"] = None
        full["track"] = None
        full["times_with_timezone"] = (
            f"{_fmt_time(start)} - {_fmt_time(end)} ({rec.get('timezone')})"
            if start and end
            else None
        )
        full["direct_link"] = f"https://event.swoogo.test/e{event_id}/session/{sid}"
        full["virtual_link"] = None
        if cap_str and full.get("capacity") is not None:
            full["capacity"] = str(full["capacity"])
        if flags_bool:
            for f in FLAG_FIELDS:
                if f in full and full[f] is not None:
                    full[f] = bool(full[f])
        if fields is None:
            out = full
        else:
            cf = rec.get("custom_fields") or {}
            out = {}
            for f in fields:
                if f in full:
                    out[f] = full[f]
                elif CF_KEY.fullmatch(f):
                    out[f] = cf.get(f)
        for e in expand:
            if e in ("track", "location"):
                ref = rec.get(f"{e}_id")
                out[e] = None if ref is None else {"id": ref, "name": f"{e.title()} {ref}"}
        return out

    # -- listing ----------------------------------------------------------------------------
    def query_sessions(
        self,
        event_id: int,
        ids: set[int] | None,
        search: str | None,
        search_or: bool,
        sort: str | None,
    ) -> list[dict[str, Any]]:
        preds: list[Callable[[dict[str, Any]], bool]] = []
        if search:
            terms = [t for t in search.split("&") if t]
            if any(t.lower() == "searchcondition=or" for t in terms):
                search_or = True
            preds = [_compile(t) for t in terms if not t.lower().startswith("searchcondition=")]
        rows = [
            r
            for r in self.sessions.values()
            if r.get("event_id") == event_id and (ids is None or r.get("id") in ids)
        ]
        if preds:
            combine = any if search_or else all
            rows = [r for r in rows if combine(p(r) for p in preds)]
        keys = [k.strip() for k in (sort or "id").split(",") if k.strip()]
        rows.sort(key=lambda r: r.get("id") or 0)
        for key in reversed(keys):
            desc = key.startswith("-")
            attr = key.lstrip("-+")
            if attr not in SEARCHABLE and not CF_KEY.fullmatch(attr):
                raise ApiError(400, yii_error(400, f'Unknown sort attribute "{attr}".'))
            rows.sort(key=_sort_key(attr), reverse=desc)
        return rows

    # -- speakers ---------------------------------------------------------------------------
    def add_speaker(
        self, event_id: int, first_name: str, last_name: str, **fields: Any
    ) -> dict[str, Any]:
        now = utc_now_str()
        rec: dict[str, Any] = {"id": 0, "event_id": event_id}
        rec.update(dict.fromkeys(_SPEAKER_FIELDS))
        rec.update(cfs_speaker=False, first_name=first_name, last_name=last_name)
        rec.update(created_at=now, updated_at=now, event_sort=0, session_ids=[])
        rec.update(fields)
        spid = fields.get("id")
        if spid is None:
            while self._next_speaker in self.speakers:
                self._next_speaker += 1
            spid = self._next_speaker
        self._next_speaker = max(self._next_speaker, int(spid) + 1)
        rec["id"] = int(spid)
        rec["session_ids"] = list(rec["session_ids"])
        self.speakers[rec["id"]] = rec
        self._changed("speaker", "insert", rec)
        return rec

    def add_sessions_to_speaker(self, spid: int, body: Any) -> tuple[dict[str, Any], bool]:
        speaker = self.speakers.get(spid)
        if speaker is None:
            raise ApiError(404, yii_error(404, "Speaker not found."))
        raw = body.get("session_ids") if isinstance(body, dict) else None
        if not isinstance(raw, list) or not raw:
            raise ApiError(422, [err("session_ids", "Session Ids cannot be blank.")])
        ids: list[int] = []
        for v in raw:
            if isinstance(v, bool) or not (
                isinstance(v, int) or (isinstance(v, str) and v.isdigit())
            ):
                raise ApiError(422, [err("session_ids", "Session Ids must be integers.")])
            ids.append(int(v))
        bad = [
            i
            for i in ids
            if i not in self.sessions or self.sessions[i].get("event_id") != speaker["event_id"]
        ]
        if bad:
            msg = f"Invalid session ids for event {speaker['event_id']}: {bad}."
            raise ApiError(422, [err("session_ids", msg)])
        current: list[int] = speaker["session_ids"]
        new = [i for i in dict.fromkeys(ids) if i not in current]
        if new:
            current.extend(new)
            speaker["updated_at"] = utc_now_str()
            self._changed("speaker", "update", speaker)
        return speaker, bool(new)

    def render_speaker(
        self, rec: dict[str, Any], *, cap_str: bool = False, flags_bool: bool = False
    ) -> dict[str, Any]:
        out = {k: v for k, v in rec.items() if k != "session_ids"}
        out.setdefault("gender", {"id": None, "value": None})
        out.setdefault(
            "direct_link", f"https://event.swoogo.test/e{rec['event_id']}/speaker/{rec['id']}"
        )
        out["sessions"] = [
            self.render_session(self.sessions[i], cap_str=cap_str, flags_bool=flags_bool)
            for i in rec["session_ids"]
            if i in self.sessions
        ]
        return out

    def duplicate_groups(self, keys: Sequence[str]) -> list[list[int]]:
        groups: dict[tuple[Any, ...], list[int]] = {}
        for sid, rec in self.sessions.items():
            groups.setdefault(tuple(repr(rec.get(k)) for k in keys), []).append(sid)
        return [sorted(g) for g in groups.values() if len(g) > 1]


def _field_value(rec: dict[str, Any], attr: str) -> Any:
    if attr in rec:
        return rec[attr]
    return (rec.get("custom_fields") or {}).get(attr)


def _sort_key(attr: str) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
    numeric = attr in NUMERIC

    def key(rec: dict[str, Any]) -> tuple[bool, Any]:
        v = _field_value(rec, attr)
        if v is None:
            return (True, 0 if numeric else "")
        return (False, int(v) if numeric else str(v).lower())

    return key


def _compile(term: str) -> Callable[[dict[str, Any]], bool]:
    """Compile one ``<attr><op><value>`` search expression into a predicate."""
    m = _SEARCH.fullmatch(term)
    if m is None:
        raise ApiError(400, yii_error(400, f'Invalid search expression "{term}".'))
    attr, op, raw = m[1], m[2].lower(), m[3]
    if attr not in SEARCHABLE and not CF_KEY.fullmatch(attr):
        raise ApiError(422, yii_error(422, f'Unknown search attribute "{attr}".'))
    negate = op.startswith("!=*")
    if op.startswith(("=*", "!=*")):
        op = op.strip("!=*")
    numeric = attr in NUMERIC
    want = raw.lower()
    choices = {c.strip().lower() for c in raw.split("|")}

    def coerce(v: Any) -> Any:
        if numeric and re.fullmatch(r"-?\d+", want.strip()):
            return int(v), int(want)
        return str(v).lower(), want

    def test(rec: dict[str, Any]) -> bool:
        v = _field_value(rec, attr)
        if v is None:
            if op in ("=", "!="):
                return (want in ("", "null")) == (op == "=")
            return negate
        if isinstance(v, bool):
            v = int(v)
        s = str(v).lower()
        if op == "contains":
            hit = want in s
        elif op == "beginswith":
            hit = s.startswith(want)
        elif op == "endswith":
            hit = s.endswith(want)
        elif op == "in":
            hit = s in choices
        else:
            a, b = coerce(v)
            hit = {
                "=": a == b,
                "!=": a != b,
                ">": a > b,
                "<": a < b,
                ">=": a >= b,
                "<=": a <= b,
            }[op]
        return hit != negate

    return test
