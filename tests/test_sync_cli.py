"""``swoogo-async sync`` end to end: a subprocess against a FakeSwoogo on loopback."""

from __future__ import annotations

import asyncio
import csv
import json
import shlex
import signal
from pathlib import Path
from typing import Any

from swoogo_async.testing import FakeSwoogo, Fault

from .test_cli import fake, read_report, run, start, wait_for_lines

__all__ = ["fake"]  # the fixture, re-used

EVENT = "31"
HEADER = ["name", "date", "start_time", "capacity", "c_1234"]


def write_agenda(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def agenda(n: int) -> list[dict[str, str]]:
    return [
        {
            "name": f"Talk {i}",
            "date": "2026-06-01",
            "start_time": f"{8 + i % 10:02d}:00",
            "capacity": str(10 + i),
            "c_1234": f"SRC-{i}",
        }
        for i in range(n)
    ]


def sync_reports(folder: Path) -> list[Path]:
    return sorted(folder.glob("swoogo-sync-report-*.jsonl"))


def writes(fake: FakeSwoogo) -> list[Any]:
    return [r for r in fake.requests if r.method in ("POST", "PUT") and "oauth2" not in r.path]


def statuses(report: Path) -> dict[int, str]:
    return {r["line"]: r["status"] for r in read_report(report)}


async def test_sync_then_unchanged_then_only_the_edited_row(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    rows = agenda(12)
    path = write_agenda(tmp_path / "agenda.csv", rows)
    code, out, _ = await run(tmp_path, fake, "sync", str(path), "--event-id", EVENT)
    assert code == 0, out
    assert "created                  12" in out
    assert "credits spent" in out
    fake.reset_requests()
    report = tmp_path / "second.jsonl"
    args = ("sync", str(path), "--event-id", EVENT, "--report", str(report))
    code, out, _ = await run(tmp_path, fake, *args)
    assert code == 0, out
    assert "unchanged                12" in out
    assert "credits spent            10  (0.83 per row)" in out
    assert writes(fake) == []
    assert set(statuses(report).values()) == {"unchanged"}
    # An unchanged row is not recorded as attempted: nothing was about to be written.
    assert all(r["status"] != "attempted" for r in read_report(report, attempts=True))

    rows[5]["capacity"] = "500"
    write_agenda(path, rows)
    fake.reset_requests()
    report = tmp_path / "third.jsonl"
    args = ("sync", str(path), "--event-id", EVENT, "--report", str(report))
    code, out, _ = await run(tmp_path, fake, *args)
    assert code == 0, out
    updated = [r for r in read_report(report) if r["status"] == "updated"]
    assert [(r["line"], r["changed"]) for r in updated] == [(7, ["capacity"])]
    assert [sorted(r.form or {}) for r in writes(fake)] == [["capacity"]]
    assert len(fake.sessions) == 12


async def test_sync_by_custom_field_key_renames_instead_of_creating(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    rows = agenda(4)
    path = write_agenda(tmp_path / "agenda.csv", rows)
    args = ("sync", str(path), "--event-id", EVENT, "--key", "c_1234", "--no-progress")
    assert (await run(tmp_path, fake, *args))[0] == 0
    rows[2]["name"] = "Talk 2, renamed"
    write_agenda(path, rows)
    fake.reset_requests()
    code, out, _ = await run(tmp_path, fake, *args)
    assert code == 0, out
    assert [sorted(r.form or {}) for r in writes(fake)] == [["name"]]
    assert sorted(s["name"] for s in fake.sessions.values())[2] == "Talk 2, renamed"


async def test_sync_dry_run_prints_the_plan_and_writes_nothing(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    rows = agenda(3)
    path = write_agenda(tmp_path / "agenda.csv", rows[:2])
    assert (await run(tmp_path, fake, "sync", str(path), "--event-id", EVENT))[0] == 0
    rows[0]["capacity"] = "99"
    write_agenda(path, rows)
    fake.reset_requests()
    code, out, _ = await run(tmp_path, fake, "sync", str(path), "--event-id", EVENT, "--dry-run")
    assert code == 0, out
    assert f"{path}:2: update {min(fake.sessions)}: capacity\n" in out
    assert f"{path}:4: create" in out
    assert "Dry run: 1 to create, 1 to update, 1 unchanged, 0 invalid, 0 ambiguous" in out
    assert writes(fake) == []
    assert len(sync_reports(tmp_path)) == 1  # the first run's


async def test_sync_resume_after_a_crash_settles_attempted_rows_without_duplicates(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    rows = agenda(6)
    path = write_agenda(tmp_path / "agenda.csv", rows)
    full = tmp_path / "full.jsonl"
    args = ("sync", str(path), "--event-id", EVENT, "--report", str(full))
    assert (await run(tmp_path, fake, *args))[0] == 0
    # A run killed mid-way: lines 2-3 done, lines 4-5 attempted (their creates landed),
    # lines 6-7 never reached.
    records = {r["line"]: r for r in read_report(full)}
    crashed = tmp_path / "crashed.jsonl"
    with crashed.open("w", encoding="utf-8") as handle:
        for line in (2, 3):
            handle.write(json.dumps(records[line]) + "\n")
        for line in (4, 5):
            handle.write(json.dumps({**records[line], "status": "attempted"}) + "\n")
    fake.reset_requests()
    args = ("sync", str(path), "--event-id", EVENT, "--resume", str(crashed))
    code, out, _ = await run(tmp_path, fake, *args)
    assert code == 0, out
    assert "skipped (resumed)         2" in out
    assert "unchanged                 4" in out
    assert writes(fake) == []
    assert fake.duplicate_groups() == []
    assert statuses(crashed) == {
        line: "created" if line < 4 else "unchanged" for line in range(2, 8)
    }


async def test_sync_usage_errors(tmp_path: Path, fake: FakeSwoogo) -> None:
    path = write_agenda(tmp_path / "agenda.csv", agenda(1))
    code, _, err = await run(
        tmp_path, fake, "sync", str(path), "--event-id", EVENT, "--key", "room"
    )
    assert code == 2
    assert "--key: 'room' is not a session field" in err
    code, _, err = await run(tmp_path, fake, "sync", str(path))
    assert code == 2
    assert "--event-id" in err


async def test_sync_ctrl_c_then_resume_leaves_each_row_once(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    n = 30
    path = write_agenda(tmp_path / "agenda.csv", agenda(n))
    report = tmp_path / "sync.jsonl"
    fake.latency = 0.03
    args = ("sync", str(path), "--event-id", EVENT, "--key", "c_1234", "--concurrency", "3")
    proc = await start(tmp_path, fake, *args, "--grace", "0.3", "--report", str(report))
    await wait_for_lines(report, 4)
    # The next two creates land but are answered only after 20 s: in flight at Ctrl-C.
    fake.inject("POST /sessions/create", Fault.timeout(20, acted=True), times=2)
    await wait_for_lines(report, 10)
    proc.send_signal(signal.SIGINT)
    out_b, err_b = await asyncio.wait_for(proc.communicate(), 30)
    out, err = out_b.decode(), err_b.decode()
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err
    hint = next(line for line in out.splitlines() if line.startswith("To resume: "))
    command = shlex.split(hint.removeprefix("To resume: "))
    assert command[1:] == [
        "sync",
        str(path),
        "--event-id",
        EVENT,
        "--key",
        "c_1234",
        "--resume",
        str(report),
    ]
    unknown = [r for r in read_report(report) if r["status"] == "unknown"]
    assert len(unknown) == 2

    fake.latency = 0.0
    fake.reset_requests()
    code, out, err = await run(tmp_path, fake, *command[1:])
    assert code == 0, out + err
    assert sorted(s["name"] for s in fake.sessions.values()) == sorted(
        f"Talk {i}" for i in range(n)
    )
    final = {r["line"]: r["status"] for r in read_report(report)}
    assert all(final[r["line"]] == "unchanged" for r in unknown)  # found by the fresh read
    assert set(final) == set(range(2, n + 2))


async def test_sync_refuses_a_bad_row_naming_every_field_and_dry_run_says_so(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    rows = agenda(3)
    rows[1] = {**rows[1], "start_time": "25:00", "capacity": "lots"}
    path = write_agenda(tmp_path / "agenda.csv", rows)
    code, out, _ = await run(tmp_path, fake, "sync", str(path), "--event-id", EVENT, "--dry-run")
    assert code == 1, out
    assert f"{path}:3: invalid: start_time:" in out
    assert f"{path}:3: invalid: capacity:" in out
    assert "Dry run: 2 to create, 0 to update, 0 unchanged, 1 invalid, 0 ambiguous" in out
    report = tmp_path / "sync.jsonl"
    args = ("sync", str(path), "--event-id", EVENT, "--report", str(report))
    code, out, _ = await run(tmp_path, fake, *args)
    assert code == 1, out
    bad = [r for r in read_report(report) if r["status"] == "invalid"]
    assert [r["line"] for r in bad] == [3]
    assert "start_time" in bad[0]["error"]["message"]
    assert "capacity" in bad[0]["error"]["message"]
    assert len(fake.sessions) == 2
