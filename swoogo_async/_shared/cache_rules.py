"""The read cache's pure rules: TTLs, stats, what a call reads or changes, the entry format.

No I/O and no cache library here; ``cache.py`` wraps the library around these.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

import attrs

from .._checks import number
from .._http.transport import Call

__all__ = [
    "SKEW",
    "CacheStats",
    "CacheTTL",
    "classify",
    "entry_name",
    "pack",
    "unpack",
    "version",
    "write_tags",
]

_MAGIC = b"swc1"
#: Seconds an entry's time may lie ahead of this clock (processes' clocks differ a little).
SKEW = 60.0
_SECONDS = number("ttl.", at_least=0)


@attrs.frozen(kw_only=True)
class CacheTTL:
    """Seconds each kind of read stays fresh, and how long past that it may be served stale.

    Args:
        session: ``sessions.get`` and ``GET /sessions/{id}``.
        session_list: ``sessions.list`` pages and ``sessions.get_many``.
        speaker: ``speakers.get``.
        speaker_list: ``speakers.list`` pages.
        other: Any other ``GET`` through ``request()`` or ``paginate()``.
        grace: Seconds past its TTL an entry is still served while one refresh runs.
    """

    session: float = attrs.field(default=30.0, validator=_SECONDS)
    session_list: float = attrs.field(default=30.0, validator=_SECONDS)
    speaker: float = attrs.field(default=60.0, validator=_SECONDS)
    speaker_list: float = attrs.field(default=60.0, validator=_SECONDS)
    other: float = attrs.field(default=30.0, validator=_SECONDS)
    grace: float = attrs.field(default=300.0, validator=_SECONDS)

    @property
    def version_life(self) -> float:
        """Seconds a tag's version lives: longer than any entry that holds it."""
        return 2.0 * float(sum(attrs.astuple(self))) + 60


@attrs.define
class CacheStats:
    """What the cache did in this process (every client that uses it counts here).

    ``hits`` fresh answers; ``stale_hits`` answers past the TTL within the grace (each
    started or joined one refresh); ``misses`` fetches for readers; ``coalesced`` reads
    that waited for another reader's fetch (here or in another process);
    ``refreshes`` background fetches; ``bypassed`` reads that skipped the cache;
    ``invalid`` entries that did not parse or decode; ``errors`` backend failures;
    ``credits_saved`` the credits of every read answered without a request.
    """

    hits: int = 0
    stale_hits: int = 0
    misses: int = 0
    coalesced: int = 0
    refreshes: int = 0
    bypassed: int = 0
    invalid: int = 0
    errors: int = 0
    credits_saved: int = 0


def _canonical(value: Any) -> str | None:
    """An id as the server reads it (``01000``, ``"1000"`` and ``1000`` are one), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return str(int(value))
    return None


def classify(call: Call) -> tuple[str, tuple[str, ...]]:
    """Return the TTL kind of a ``GET`` and the tags that invalidate it."""
    parts = call.path.strip("/").split("/")
    head = parts[0]
    if head in ("sessions", "speakers") and len(parts) == 1:
        given = parse_qs(call.query, keep_blank_values=True).get("event_id", [])
        event = _canonical(given[0]) if len(given) == 1 else None
        tag = "se" if head == "sessions" else "pe"
        if event is None:  # no one event a write could name: any write drops it
            return (f"{head[:-1]}_list", (f"{tag}:*", "o:*"))
        return (f"{head[:-1]}_list", (f"{tag}:{event}", f"{tag}:*"))
    if head in ("sessions", "speakers") and len(parts) == 2:
        ident = _canonical(parts[1])
        if ident is not None:
            return (head[:-1], (f"{head[0] if head == 'sessions' else 'p'}:{ident}",))
    return ("other", ("o:*",))


def write_tags(call: Call, result: Any) -> tuple[str, ...]:
    """Return the tags a write through ``call`` changed (``result``: its answer, if any)."""
    parts = call.path.strip("/").split("/")
    if parts[0] not in ("sessions", "speakers"):
        return ("o:*",)
    ids: list[Any] = list(parts[1:])
    event = getattr(result, "event_id", None)
    if event is None and isinstance(result, dict):
        event = result.get("event_id")
    found = result.get("id") if isinstance(result, dict) else getattr(result, "id", None)
    ids += [found] if found is not None else []
    return changed("s" if parts[0] == "sessions" else "p", ids, event)


def changed(kind: str, ids: Iterable[Any], event_id: Any) -> tuple[str, ...]:
    """Return the tags of objects ``ids`` of ``kind`` (``s``/``p``) and their event's lists.

    An event that is not an int (unknown) means every event's lists.
    """
    event = _canonical(event_id) or "*"
    named = {f"{kind}:{c}" for i in ids if (c := _canonical(i)) is not None}
    return (*sorted(named), f"{kind}e:{event}", "o:*")


def entry_name(call: Call, headers: Mapping[str, str] | None) -> str:
    """Name a ``GET``'s entry: its method, path and query, and a view's extra headers."""
    extra = repr(sorted(headers.items())) if headers else ""
    text = f"{call.method} {call.path}?{call.query}\n{extra}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def pack(stored_at: float, versions: Iterable[str], body: bytes) -> bytes:
    return b"%s %r %s\n%s" % (_MAGIC, stored_at, ",".join(versions).encode(), body)


def unpack(value: Any) -> tuple[float, list[str], bytes] | None:
    """Read an entry; None for anything else (what Redis holds is untrusted)."""
    if not isinstance(value, bytes):
        return None
    head, sep, body = value.partition(b"\n")
    fields = head.split(b" ")
    if not sep or len(fields) != 3 or fields[0] != _MAGIC:
        return None
    try:
        stored_at = float(fields[1])
        versions = fields[2].decode("ascii").split(",")
    except (ValueError, UnicodeDecodeError):
        return None
    return (stored_at, versions, body) if math.isfinite(stored_at) else None


def version(value: Any) -> str:
    """A tag's version as read; "?" (matching no entry) when absent or malformed."""
    if isinstance(value, bytes) and value.isalnum() and len(value) <= 32:
        return value.decode("ascii")
    return "?"
