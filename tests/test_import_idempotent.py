"""``import`` is idempotent by design: it reads the event and skips rows already there.

Real ``python -m swoogo_async`` processes against a FakeSwoogo on loopback. Nothing
here depends on the report: a rerun without one, or with one cut short, creates
nothing twice; ``--resume`` only skips work.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

from swoogo_async.cli._columns import RowOptions
from swoogo_async.cli._rows import iter_rows
from swoogo_async.testing import FakeSwoogo

from .test_cli import assert_one_session_per_row, fake, read_report, run, write_csv

__all__ = ["fake"]  # the fixture, re-used

N = 10


def _lists(fake: FakeSwoogo) -> int:
    return sum(1 for r in fake.requests if r.method == "GET" and r.path.endswith("/sessions"))


def _posts(fake: FakeSwoogo) -> int:
    return sum(1 for r in fake.requests if r.method == "POST" and "oauth2" not in r.path)


async def test_running_an_import_again_creates_nothing_twice(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    path = write_csv(tmp_path / "agenda.csv", N)
    first = tmp_path / "first.jsonl"
    code, _, err = await run(
        tmp_path, fake, "import", str(path), "--event-id", "4", "--report", str(first)
    )
    assert code == 0, err
    assert_one_session_per_row(fake, N)
    # The same command again, with a fresh report: the report of the first is not read.
    fake.reset_requests()
    again = tmp_path / "again.jsonl"
    code, out, err = await run(
        tmp_path, fake, "import", str(path), "--event-id", "4", "--report", str(again)
    )
    assert code == 0, out + err
    assert_one_session_per_row(fake, N)
    assert [r["status"] for r in read_report(again)] == ["present"] * N
    assert {r["session_id"] for r in read_report(again)} == set(fake.sessions)
    assert f"already present    {N:>8}" in out
    assert _posts(fake) == 0
    assert _lists(fake) == 1  # one list per 200 sessions


async def test_resuming_from_a_cut_report_creates_nothing_twice(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    path = write_csv(tmp_path / "agenda.csv", N)
    report = tmp_path / "report.jsonl"
    code, _, err = await run(
        tmp_path, fake, "import", str(path), "--event-id", "4", "--report", str(report)
    )
    assert code == 0, err
    # A crash lost the end of the report: only the first three rows are recorded.
    lines = report.read_text().splitlines()
    outcomes = [line for line in lines if '"attempted"' not in line]
    report.write_text("\n".join(outcomes[:3]) + "\n" + outcomes[3][:20])
    code, out, err = await run(
        tmp_path, fake, "import", str(path), "--event-id", "4", "--resume", str(report)
    )
    assert code == 0, out + err
    assert_one_session_per_row(fake, N)


async def test_rows_with_one_key_are_refused_and_rows_without_start_time_are_kept(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    path = tmp_path / "agenda.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "date", "start_time", "description"])
        writer.writerow(["Keynote", "2026-06-01", "09:00", "Room A"])
        writer.writerow(["Keynote", "2026-06-01", "09:00:00", "Room B"])  # the same key
        writer.writerow(["Lunch", "2026-06-01", "", ""])  # no start time: still a key
    args = ("import", str(path), "--event-id", "4", "--report", str(tmp_path / "r.jsonl"))
    code, _, _ = await run(tmp_path, fake, *args)
    assert code == 1
    records = {r["line"]: r for r in read_report(tmp_path / "r.jsonl")}
    assert records[2]["status"] == records[3]["status"] == "invalid"
    assert "line 2, line 3 have the same key" in records[2]["error"]["message"]
    assert records[4]["status"] == "created"
    assert [s["name"] for s in fake.sessions.values()] == ["Lunch"]
    code, _, _ = await run(tmp_path, fake, *args)  # again: Lunch is there already
    assert [s["name"] for s in fake.sessions.values()] == ["Lunch"]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _attempted(path: Path, lines: range, at: dt.datetime) -> None:
    """Write a report whose rows were all sent and then the run was killed."""
    rows = _rows(path)
    digests = {row.line: row.digest for row in iter_rows(path, RowOptions())}
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    with (path.parent / "report.jsonl").open("w", encoding="utf-8") as handle:
        for line in lines:
            record = {
                "line": line,
                "index": line - 2,
                "status": "attempted",
                "session_id": None,
                "name": rows[line - 2]["name"],
                "hash": digests[line],
                "at": stamp,
                "error": None,
            }
            handle.write(json.dumps(record) + "\n")


async def test_resume_settles_rows_the_server_created_and_filled_its_own_way(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    path = write_csv(tmp_path / "agenda.csv", 8)
    sent = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=30)
    _attempted(path, range(2, 10), sent)
    rows = _rows(path)
    # Killed with 8 rows in flight: the server created each, filling a left-out field.
    for row in rows:
        fake.add_session(
            event_id=4,
            name=row["name"],
            date=row["date"],
            start_time=row["start_time"] + ":00",
            use_event_timezone=0,
        )
    fake.reset_requests()
    report = tmp_path / "report.jsonl"
    code, out, err = await run(
        tmp_path, fake, "import", str(path), "--event-id", "4", "--resume", str(report)
    )
    assert code == 0, out + err
    assert len(fake.sessions) == 8
    records = read_report(report)
    assert {r["status"] for r in records} == {"created"}
    assert {r["note"] for r in records} == {"found on the server"}
    assert sorted(r["session_id"] for r in records) == sorted(fake.sessions)
    assert _lists(fake) == 1  # one read of the event for the 8 rows, not a lookup each
    assert _posts(fake) == 0


async def test_resume_does_not_claim_a_session_older_than_the_attempt(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    path = write_csv(tmp_path / "agenda.csv", 1)
    _attempted(path, range(2, 3), dt.datetime.now(dt.timezone.utc))
    row = _rows(path)[0]
    fake.add_session(
        event_id=4,
        name=row["name"],
        date=row["date"],
        start_time=row["start_time"] + ":00",
        created_at="2025-01-01 00:00:00",
    )
    report = tmp_path / "report.jsonl"
    code, out, err = await run(
        tmp_path, fake, "import", str(path), "--event-id", "4", "--resume", str(report)
    )
    assert code == 0, out + err
    assert [r["status"] for r in read_report(report)] == ["present"]
    assert len(fake.sessions) == 1


async def test_a_sync_key_the_server_never_returns_is_refused(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    for i in range(3):
        fake.add_session(event_id=4, name=f"Old {i}", date="2026-06-01")
    path = tmp_path / "agenda.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "date", "c_4242"])
        writer.writerows([[f"Talk {i}", "2026-06-01", f"SRC-{i}"] for i in range(3)])
    for command in ("sync", "import"):
        args = (command, str(path), "--event-id", "4", "--key", "c_4242")
        code, out, err = await run(tmp_path, fake, *args)
        assert code == 1, out + err
        assert "c_4242" in err
        assert "none of the event's 3 sessions holds it" in err
        assert _posts(fake) == 0
        assert len(fake.sessions) == 3
