"""Model cost: the SDK's cattrs converter against pydantic v2 and msgspec, per record.

Payloads: the recorded create response, a full record as the server renders it, and
drifted variants (numbers as text, flags as booleans, top-level custom fields, an
unknown field). Implementations alternate order in each repetition; figures are
medians of per-record microseconds. Last, a 1,000-session list page (bytes) is
turned into models by ``parse_page`` and by pydantic (each also on the page whose records
all gained two fields, which both keep), against ``json.loads`` alone and msgspec.
"""

from __future__ import annotations

import copy
import datetime as dt
import gc
import json
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from swoogo_async._api.converter import parse_session, structure_session, unstructure_session
from swoogo_async._api.pages import parse_page

from ._common import Settings, median, ratio
from .alt_models import MsgspecPage, MsgspecSession, PydanticPage, PydanticSession

__all__ = ["full_record", "model_benchmarks", "page_bytes", "page_with_new_fields", "payloads"]

SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "samples"


def _sample() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / "create_session.json").read_text())
    return data


def full_record(session_id: int = 12345) -> dict[str, Any]:
    """A session as ``GET /sessions/{id}`` renders it: every field present."""
    record = _sample()
    record.update(
        id=session_id,
        name=f"Event Management Basics #{session_id}",
        times_with_timezone="10:00 AM - 12:00 PM (America/New_York)",
        notes=None,
        location=None,
        track=None,
        type_id=None,
        session_included=0,
        direct_link=f"https://event.swoogo.test/e67890/session/{session_id}",
        virtual_link=None,
        created_at="2025-06-01 09:20:03",
        updated_at="2025-06-02 17:45:10",
    )
    return record


def payloads() -> dict[str, dict[str, Any]]:
    """The per-record payloads, canonical and drifted."""
    full = full_record()
    types = dict(
        full,
        capacity="150",
        location_id="1234",
        use_event_timezone=True,
        locked_when_saved=False,
        selected_by_default=True,
        session_included=False,
        prevent_session_conflicts=True,
    )
    extras = dict(full, c_1003="Top-level value", virtual_hub={"id": 9, "enabled": True})
    return {
        "sample": _sample(),
        "full": full,
        "drift_types": types,
        "drift_types+extra": dict(types, c_1003="Top-level value", virtual_hub={"id": 9}),
        "extra_fields": extras,
    }


def page_bytes(size: int) -> bytes:
    """A list page of ``size`` full, realistic session records, as the server sends it."""
    items = []
    for index in range(size):
        record = full_record(100_000 + index)
        record["description"] = f"Session {index}: " + "workshop on fundamentals. " * (index % 4)
        record["capacity"] = 20 + index % 300
        record["custom_fields"] = {"c_1001": f"Value {index}", "c_1002": [{"id": index % 7}]}
        # An agenda: three days, forty slot times, every record written at its own second.
        hour, quarter = 8 + index % 10, index // 10 % 4 * 15
        record["date"] = f"2025-07-{20 + index % 3}"
        record["start_time"] = f"{hour:02}:{quarter:02}:00"
        record["end_time"] = f"{hour + 1:02}:{quarter:02}:00"
        stamp = dt.datetime(2025, 6, 1, 9) + dt.timedelta(seconds=37 * index)
        record["created_at"] = stamp.strftime("%Y-%m-%d %H:%M:%S")
        record["updated_at"] = (stamp + dt.timedelta(hours=5)).strftime("%Y-%m-%d %H:%M:%S")
        items.append(record)
    envelope = {
        "items": items,
        "_links": {"self": {"href": "/api/v1/sessions?event_id=67890&page=1"}},
        "_meta": {"totalCount": size, "pageCount": 1, "currentPage": 1, "perPage": size},
    }
    return json.dumps(envelope).encode()


def page_with_new_fields(page: bytes) -> bytes:
    """The page with two keys the model does not know in every record: a new field and a
    top-level custom field (what ``fields=c_1003`` asks for)."""
    envelope = json.loads(page)
    for index, record in enumerate(envelope["items"]):
        record["virtual_hub"] = {"id": index % 5, "enabled": True}
        record["c_1003"] = f"Room {index % 12}"
    return json.dumps(envelope).encode()


def _interleaved(
    impls: dict[str, Callable[[], object]], number: int, reps: int
) -> dict[str, float]:
    """Median seconds per call of each implementation, rotating the order per repetition."""
    names = list(impls)
    times: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # warm up (first-call caches, lazy imports)
        impls[name]()
    for rep in range(reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            # CPU time of this process: a neighbour taking the core does not count.
            timer = timeit.Timer(impls[name], timer=time.process_time)
            times[name].append(timer.timeit(number) / number)
    return {name: median(values) for name, values in times.items()}


Impls = dict[str, Callable[[], object]]


def _per_record_impls(data: dict[str, Any]) -> tuple[Impls, Impls, Impls]:
    """Structure, decode (from bytes) and unstructure, for each implementation."""
    frozen = copy.deepcopy(data)
    raw = json.dumps(data).encode()
    session = structure_session(data)
    pyd = PydanticSession.model_validate(data)
    fast = msgspec.convert(data, MsgspecSession, strict=False)
    structure: Impls = {
        "cattrs structure_session": lambda: structure_session(frozen),
        "pydantic model_validate": lambda: PydanticSession.model_validate(frozen),
        "msgspec convert": lambda: msgspec.convert(frozen, MsgspecSession, strict=False),
    }
    decode: Impls = {
        "json.loads + structure_session": lambda: structure_session(json.loads(raw)),
        "parse_session": lambda: parse_session(raw, method="GET", url="bench"),
        "pydantic model_validate_json": lambda: PydanticSession.model_validate_json(raw),
        "msgspec json.decode": lambda: msgspec.json.decode(raw, type=MsgspecSession, strict=False),
        "json.loads alone": lambda: json.loads(raw),
    }
    unstructure: Impls = {
        "cattrs unstructure_session": lambda: unstructure_session(session),
        "pydantic model_dump(json)": lambda: pyd.model_dump(mode="json"),
        "msgspec to_builtins": lambda: msgspec.to_builtins(fast),
    }
    return structure, decode, unstructure


def _check_equivalent(data: dict[str, Any]) -> None:
    # The alternatives must read the same values the SDK does, or the race is unfair.
    ours = structure_session(data)
    theirs = PydanticSession.model_validate(data)
    fast = msgspec.convert(data, MsgspecSession, strict=False)
    for name in ("id", "capacity", "date", "start_time", "use_event_timezone", "session_status"):
        assert getattr(ours, name) == getattr(theirs, name) == getattr(fast, name), name


def model_benchmarks(s: Settings) -> dict[str, Any]:
    """Per-record structure/decode/unstructure, and the 1,000-session page."""
    number, reps = s.model_number, s.model_reps
    results: dict[str, Any] = {"per_record_us": {}, "page_ms": {}}
    print("  per record (µs, median):", flush=True)
    for label, data in payloads().items():
        _check_equivalent(data)
        structure, decode, unstructure = (
            _interleaved(impls, number, reps) for impls in _per_record_impls(data)
        )
        row: dict[str, Any] = {
            "structure": {k: v * 1e6 for k, v in structure.items()},
            "decode": {k: v * 1e6 for k, v in decode.items()},
            "unstructure": {k: v * 1e6 for k, v in unstructure.items()},
        }
        row["structure_vs_pydantic"] = ratio(
            row["structure"]["pydantic model_validate"],
            row["structure"]["cattrs structure_session"],
        )
        results["per_record_us"][label] = row
        print(
            f"    {label:<18} structure {row['structure']['cattrs structure_session']:6.2f}"
            f" | pydantic {row['structure']['pydantic model_validate']:5.2f}"
            f" | msgspec {row['structure']['msgspec convert']:5.2f}"
            f"   unstructure {row['unstructure']['cattrs unstructure_session']:5.2f}"
            f" | pydantic {row['unstructure']['pydantic model_dump(json)']:5.2f}",
            flush=True,
        )

    page = page_bytes(s.page_size)
    size = s.page_size

    grown = page_with_new_fields(page)

    def parse_with(raw: bytes) -> Callable[[], object]:
        return lambda: parse_page(raw, method="GET", url="bench", page=1, per_page=size)

    page_impls: Impls = {
        "parse_page": parse_with(page),
        "parse_page, new fields": parse_with(grown),
        "json.loads alone": lambda: json.loads(page),
        "pydantic model_validate_json": lambda: PydanticPage.model_validate_json(page),
        "pydantic, new fields": lambda: PydanticPage.model_validate_json(grown),
        "msgspec json.decode": lambda: msgspec.json.decode(page, type=MsgspecPage, strict=False),
    }
    assert len(parse_page(page, method="GET", url="bench", page=1, per_page=size).items) == size
    # Two figures. "In a row": PAGE_RUN pages one after another (a paginating loop,
    # each page's models dropped before the next), the median per page. "First": one
    # page right after the other implementations ran; every implementation pays
    # about 1 ms more there (caches that the others' work evicted).
    in_a_row = _interleaved(page_impls, PAGE_RUN, s.page_reps)
    first = _interleaved(page_impls, 1, s.page_reps)
    results["page_ms"] = {k: v * 1e3 for k, v in in_a_row.items()}
    results["page_first_ms"] = {k: v * 1e3 for k, v in first.items()}
    results["page_run"] = PAGE_RUN
    results["page_size"] = size
    results["page_bytes"] = len(page)
    for key, label in (("page_ms", f"{PAGE_RUN} in a row"), ("page_first_ms", "first")):
        print(
            f"  {size}-session page ({len(page) / 1e6:.2f} MB), {label}, ms:"
            + "".join(f" {k} {v:.2f} |" for k, v in results[key].items()),
            flush=True,
        )
    return results


#: Pages parsed one after another per timed repetition of the page benchmark.
PAGE_RUN = 5
