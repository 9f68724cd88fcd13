"""``swoogo-async demo``: import a generated agenda into an embedded fake API, then check it.

The demo starts ``FakeSwoogo`` on loopback (type drift on; rate limit off unless
asked for; a few percent of requests answered with random faults: 503s, 429s,
dropped connections, late answers), writes a sample agenda CSV, runs exactly the
``import`` command's code on it, and then checks the fake server's store: no
session was created twice, and every row the report calls created is there.

Five rows of the CSV are wrong on purpose (a blank name, the date 2026-13-01, an
end before its start, a negative capacity, and a row with two bad fields, both of
which the report names): they are expected to be reported ``invalid``, and the
demo still exits 0.

A second step edits a few rows of the agenda and runs exactly the ``sync`` command's
code on it, then checks that only those rows were updated, nothing was created and
nothing duplicated. Both summaries show the credits spent per row.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import csv
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import attrs

from .._client.client import SwoogoClient
from ..testing import FakeSwoogo, Fault
from ._import import ImportOptions, import_file, prepare_import
from ._report import ImportOutcome
from ._sync import SyncOptions, sync_file

__all__ = ["DemoAgenda", "edit_demo_csv", "run_demo", "write_demo_csv"]

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


def _verify_sync(
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


def _verify(fake: FakeSwoogo, agenda: DemoAgenda, report: Path, out: Any) -> bool:
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


def _server_story(fake: FakeSwoogo, out: Any) -> None:
    # A request the client gave up on before the server answered has no status.
    faults = collections.Counter(
        r.fault or "no_answer_in_time" for r in fake.requests if r.fault or r.status == 0
    )
    lookups = sum(1 for r in fake.requests if r.method == "GET" and r.path == "/sessions")
    told = ", ".join(f"{name} x{n}" for name, n in faults.most_common()) or "none"
    if fake.rate_limited:
        told += f"; {fake.rate_limited} refused for going over the rate limit"
    out.write(
        f"\nThe fake server answered {len(fake.requests)} requests; faults: {told}.\n"
        f"The client retried what was safe to retry and made {lookups} lookup(s) to settle"
        " creates whose outcome was unknown.\n"
    )


async def _demo(args: argparse.Namespace, folder: Path) -> int:
    out = sys.stdout
    agenda = write_demo_csv(folder / "agenda.csv", args.rows, seed=args.seed)
    report = folder / "report.jsonl"
    report.unlink(missing_ok=True)  # a report of an earlier demo means nothing to a new server
    faults = [
        Fault.error(503),
        Fault.rate_limited(1),
        Fault.drop_before(),
        Fault.timeout(1.5),
        Fault.drop_after(),
        Fault.timeout(1.5, acted=True),
    ]
    async with FakeSwoogo(
        "demo-key", "demo-secret", rate_limit=args.rate_limit, rate_window=args.rate_window
    ) as fake:
        if args.chaos > 0:
            fake.chaos(rate=min(args.chaos, 1.0), faults=faults, seed=args.seed)
        limit = f"{args.rate_limit} credits/{args.rate_window:g} s" if args.rate_limit else "off"
        out.write(
            f"Fake Swoogo API at {fake.base_url} (rate limit {limit}; {args.chaos:.0%} of"
            " requests get a random fault)\n"
            f"Wrote {agenda.rows} sample sessions to {agenda.path}; {len(agenda.bad)} of them"
            " are deliberately invalid and will be reported as such.\n\n"
        )
        out.flush()
        opts = ImportOptions(
            file=agenda.path,
            event_id=EVENT_ID,
            concurrency=args.concurrency,
            report=report,
            progress=not args.no_progress,
            base_url=fake.base_url,
        )
        prior, total = prepare_import(opts)
        client = _demo_client(fake, args)
        async with client:
            outcome: ImportOutcome = await import_file(
                opts, client, prior, total, out=out, err=sys.stderr
            )
        _server_story(fake, out)
        verified = _verify(fake, agenda, outcome.report, out)
        if outcome.interrupted:
            return outcome.exit_code
        synced, sync_ok = await _sync_step(args, fake, agenda, folder, out)
    if synced.interrupted:
        return synced.exit_code
    s, t = outcome.summary, synced.summary
    clean = verified and sync_ok and s.failed == s.unknown == t.failed == t.unknown == 0
    where = f"Files are in {folder}" if args.out else "Pass --out DIR to keep the files"
    out.write(f"\nDemo {'passed' if clean else 'FAILED'}. {where}\n")
    return 0 if clean else 1


def _demo_client(fake: FakeSwoogo, args: argparse.Namespace) -> SwoogoClient:
    """The client each demo step uses: short reads under chaos, pacing when rate-limited."""
    return SwoogoClient(
        fake.api_key,
        fake.api_secret,
        base_url=fake.base_url,
        read_timeout=1.0 if args.chaos > 0 else 30.0,
        rate_limit="auto" if args.rate_limit else None,
    )


async def _sync_step(
    args: argparse.Namespace, fake: FakeSwoogo, agenda: DemoAgenda, folder: Path, out: Any
) -> tuple[ImportOutcome, bool]:
    """Edit a few rows, sync the agenda, and check what changed on the server."""
    edited = edit_demo_csv(agenda, folder / "agenda-edited.csv")
    report = folder / "sync-report.jsonl"
    report.unlink(missing_ok=True)
    out.write(
        f"\nStep 2: {len(edited)} rows of the agenda get a new capacity (rows"
        f" {', '.join(str(i + 1) for i in edited)}); syncing the edited file.\n"
    )
    out.flush()
    opts = SyncOptions(
        file=folder / "agenda-edited.csv",
        event_id=EVENT_ID,
        concurrency=args.concurrency,
        report=report,
        progress=not args.no_progress,
        base_url=fake.base_url,
    )
    prior, total = prepare_import(opts)
    before = len(fake.sessions)
    client = _demo_client(fake, args)
    async with client:
        synced = await sync_file(opts, client, prior, total, out=out, err=sys.stderr)
    if synced.interrupted:
        return synced, False
    return synced, _verify_sync(fake, before, edited, report, out)


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo; return the exit status. Without ``--out`` its files are removed."""
    if getattr(args, "web", None) is not None:
        from ._demo_web import run_web_demo  # a web app's visitors: no files, no import

        return run_web_demo(args)
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        return _run_in(args, folder)
    with tempfile.TemporaryDirectory(prefix="swoogo-demo-") as temporary:
        return _run_in(args, Path(temporary))


def _run_in(args: argparse.Namespace, folder: Path) -> int:
    if getattr(args, "workers", 1) > 1:
        from ._demo_workers import run_workers_demo  # several processes: Redis needed

        return run_workers_demo(args, folder)
    return asyncio.run(_demo(args, folder))
