"""The demos' sample agenda and the checks of what landed on the fake server.

Both demos (one process in ``_demo``, several in ``_demo_workers``) write the same
agenda, with the same deliberately bad rows, and check the fake server's store the
same way; this module is what they share.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import attrs

from ..testing import FakeSwoogo

__all__ = [
    "BAD_ROWS",
    "EVENT_ID",
    "DemoAgenda",
    "edit_demo_csv",
    "verify_store",
    "verify_sync",
    "write_demo_csv",
]

EVENT_ID = 4242
COLUMNS = (
    "name",
    "date",
    "start_time",
    "end_time",
    "track_id",
    "location_id",
    "capacity",
    "description",
    "c_1001",
    "c_1002",
)
_DAYS = ("2026-06-09", "2026-06-10", "2026-06-11")
_SLOTS = (
    ("09:00", "09:45"),
    ("10:00", "10:45"),
    ("11:00", "11:45"),
    ("13:00", "13:45"),
    ("14:00", "14:45"),
    ("15:00", "15:45"),
    ("16:00", "16:45"),
)
_TRACKS = {
    11: ("Data", ("Postgres", "Stream Processing", "Data Contracts", "Vector Search")),
    12: ("Cloud", ("Kubernetes", "Serverless", "FinOps", "Multi-Region Failover")),
    13: ("Security", ("Zero Trust", "Supply Chain", "Secrets Rotation", "Threat Modeling")),
    14: ("Product", ("Onboarding", "Pricing Pages", "Accessibility", "Design Systems")),
    15: ("AI", ("Evaluation", "Retrieval", "Agents in Production", "Fine-Tuning")),
    16: ("Leadership", ("Hiring", "Incident Reviews", "Roadmaps", "Remote Teams")),
}
_FORMATS = ("Talk", "Workshop", "Panel", "Deep Dive", "Lightning Talks", "Case Study")
_LEVELS = ("Beginner", "Intermediate", "Advanced")
_LANGUAGES = ("English", "English", "English", "Français", "Deutsch", "Español")
#: The deliberately bad rows: what is wrong, and the field the report will name.
BAD_ROWS = (
    ("blank name", "name"),
    ("impossible date 2026-13-01", "date"),
    ("ends before it starts", "end_time"),
    ("negative capacity", "capacity"),
    ("start time 25:00 and capacity 'lots' (two bad fields)", "start_time"),
)


@attrs.frozen
class DemoAgenda:
    """The generated file, and the data-row indexes of the deliberately bad rows."""

    path: Path
    rows: int
    bad: dict[int, str]


def _spoil(row: dict[str, str], kind: str) -> None:
    if kind == "name":
        row["name"] = ""
    elif kind == "date":
        row["date"] = "2026-13-01"
    elif kind == "end_time":
        row["start_time"], row["end_time"] = "15:00", "14:15"
    elif kind == "capacity":
        row["capacity"] = "-5"
    else:
        row["start_time"], row["capacity"] = "25:00", "lots"


def write_demo_csv(path: Path, rows: int = 300, *, seed: int = 7) -> DemoAgenda:
    """Write a sample agenda of ``rows`` sessions over three days, five of them bad."""
    rng = random.Random(seed)
    slots = [(day, start, end) for day in _DAYS for start, end in _SLOTS]
    per_slot = -(-rows // len(slots))
    bad_at = {(k + 1) * rows // (len(BAD_ROWS) + 1): f for k, (_, f) in enumerate(BAD_ROWS)}
    if rows < 2 * len(BAD_ROWS):
        bad_at = {}
    used: set[str] = set()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for index in range(rows):
            day, start, end = slots[index // per_slot]
            track = rng.choice(sorted(_TRACKS))
            theme, topics = _TRACKS[track]
            name = f"{rng.choice(topics)}: {rng.choice(_FORMATS)}"
            while name in used:
                name = f"{rng.choice(topics)}: {rng.choice(_FORMATS)} ({len(used) % 97 + 2})"
            used.add(name)
            description = (
                f'A {theme.lower()} session on "{name.split(":")[0]}", with time for questions.'
            )
            if index % 25 == 3:
                description += "\nBring a laptop; slides are shared after the session."
            row = {
                "name": name,
                "date": day,
                "start_time": start,
                "end_time": end,
                "track_id": str(track),
                "location_id": str(201 + index % per_slot),
                "capacity": str(rng.choice((20, 40, 60, 80, 120, 250))),
                "description": description,
                "c_1001": rng.choice(_LEVELS),
                "c_1002": rng.choice(_LANGUAGES),
            }
            if index in bad_at:
                _spoil(row, bad_at[index])
            writer.writerow(row)
    return DemoAgenda(path, rows, dict(bad_at))


def edit_demo_csv(agenda: DemoAgenda, path: Path, count: int = 5) -> dict[int, str]:
    """Write ``agenda`` to ``path`` with ``count`` valid rows edited; return index -> capacity."""
    with agenda.path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    valid = [i for i in range(len(rows)) if i not in agenda.bad]
    edited: dict[int, str] = {}
    for i in valid[:: max(len(valid) // count, 1)][:count]:
        rows[i]["capacity"] = str(int(rows[i]["capacity"]) + 5)
        edited[i] = rows[i]["capacity"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return edited


def verify_sync(
    fake: FakeSwoogo, before: int, edited: dict[int, str], report: Path, out: Any
) -> bool:
    """Check that the sync updated exactly the edited rows, and created nothing."""
    updated: dict[int, int | None] = {}
    created = 0
    with report.open(encoding="utf-8") as handle:
        for text in handle:
            record = json.loads(text)
            if record["status"] == "updated":
                updated[record["index"]] = record["session_id"]
            created += record["status"] == "created"
    applied = all(
        sid is not None and str(fake.sessions[sid]["capacity"]) == edited.get(index)
        for index, sid in updated.items()
    )
    checks = [
        (set(updated) == set(edited), f"only the {len(edited)} edited rows were updated"),
        (applied, "each update is on the server"),
        (created == 0 and len(fake.sessions) == before, "nothing was created"),
        (not fake.duplicate_groups(), "no session was duplicated"),
    ]
    out.write("\nChecking the sync:\n")
    for ok, text in checks:
        out.write(f"  [{'ok' if ok else 'FAILED'}] {text}\n")
    return all(ok for ok, _ in checks)


def verify_store(fake: FakeSwoogo, agenda: DemoAgenda, report: Path, out: Any) -> bool:
    """Check the fake server's store against the report; print and return the verdict."""
    created: dict[int, tuple[int | None, str | None]] = {}
    invalid: set[int] = set()
    with report.open(encoding="utf-8") as handle:
        for text in handle:
            record = json.loads(text)
            if record["status"] == "created":
                created[record["index"]] = (record["session_id"], record["name"])
            elif record["status"] == "invalid":
                invalid.add(record["index"])
    missing = [
        i
        for i, (sid, name) in created.items()
        if sid is None or sid not in fake.sessions or fake.sessions[sid]["name"] != name
    ]
    duplicates = fake.duplicate_groups()
    checks = [
        (not duplicates, f"no session was created twice ({len(fake.sessions)} on the server)"),
        (not missing, f"all {len(created)} rows reported created exist on the server"),
        (
            invalid == set(agenda.bad),
            f"the {len(invalid)} invalid rows are exactly the {len(agenda.bad)} deliberate ones",
        ),
    ]
    out.write("\nChecking the fake server's store against the report:\n")
    for ok, text in checks:
        out.write(f"  [{'ok' if ok else 'FAILED'}] {text}\n")
    if duplicates:
        out.write(f"  duplicate groups: {duplicates[:5]}\n")
    if missing:
        out.write(f"  rows whose session is missing: {missing[:10]}\n")
    return all(ok for ok, _ in checks)
