"""The ``swoogo-async`` command end to end: a subprocess against a FakeSwoogo on loopback."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import shlex
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from swoogo_async.testing import FakeSwoogo, Fault

SECRET = "s3cr3t-value"
HEADER = ["name", "date", "start_time", "end_time", "capacity", "c_1001", "notes"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeSwoogo]:
    async with FakeSwoogo("cli-key", SECRET) as server:
        yield server


def env_for(fake: FakeSwoogo | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWOOGO_")}
    if fake is not None:
        env.update(
            SWOOGO_API_KEY=fake.api_key, SWOOGO_API_SECRET=SECRET, SWOOGO_BASE_URL=fake.base_url
        )
    return env


async def start(cwd: Path, fake: FakeSwoogo | None, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "swoogo_async",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env_for(fake),
        cwd=cwd,
    )


async def run(cwd: Path, fake: FakeSwoogo | None, *args: str) -> tuple[int, str, str]:
    proc = await start(cwd, fake, *args)
    out, err = await asyncio.wait_for(proc.communicate(), 600)  # a hang guard
    assert proc.returncode is not None
    assert SECRET not in out.decode() + err.decode()
    return proc.returncode, out.decode(), err.decode()


def write_csv(path: Path, n: int, bad: dict[int, dict[str, str]] | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        writer.writeheader()
        for i in range(n):
            row = {
                "name": f"Talk {i}",
                "date": "2026-06-01",
                "start_time": f"{8 + i % 10:02d}:00",
                "end_time": f"{8 + i % 10:02d}:30",
                "capacity": str(10 + i),
                "c_1001": "Gold" if i % 2 else "",
                "notes": "",
            }
            row.update((bad or {}).get(i, {}))
            writer.writerow(row)
    return path


def default_reports(folder: Path) -> list[Path]:
    return sorted(folder.glob("swoogo-import-report-*.jsonl"))


def read_report(path: Path, *, attempts: bool = False) -> list[dict[str, Any]]:
    """Return the report's outcome lines (and its ``attempted`` lines if asked)."""
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text
    records = [json.loads(line) for line in text.splitlines()]  # every line is complete JSON
    return [r for r in records if attempts or r["status"] != "attempted"]


def line_count(report: Path) -> int:
    """Count the report's outcome lines."""
    if not report.exists():
        return 0
    return sum('"status": "attempted"' not in line for line in report.read_text().splitlines())


async def wait_for_lines(
    report: Path, count: int, proc: asyncio.subprocess.Process | None = None
) -> None:
    """Wait until the report holds ``count`` outcome lines.

    Gives up when ``proc`` has exited without writing them, or after ten minutes if stuck.
    """
    for _ in range(60_000):
        if line_count(report) >= count:
            return
        if proc is not None and proc.returncode is not None:
            raise AssertionError(f"the command exited ({proc.returncode}) before {count} lines")
        await asyncio.sleep(0.01)
    raise AssertionError(f"the report never reached {count} lines")


def assert_one_session_per_row(fake: FakeSwoogo, n: int) -> None:
    names = sorted(rec["name"] for rec in fake.sessions.values())
    assert names == sorted(f"Talk {i}" for i in range(n))
    assert fake.duplicate_groups() == []


async def test_dry_run_lists_bad_lines_and_sends_nothing(tmp_path: Path, fake: FakeSwoogo) -> None:
    bad = {1: {"name": ""}, 3: {"date": "2026-13-01"}, 4: {"capacity": "-1"}}
    path = write_csv(tmp_path / "agenda.csv", 6, bad)
    code, out, _ = await run(tmp_path, None, "import", str(path), "--event-id", "9", "--dry-run")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{path}:3: name: is required"
    assert lines[1].startswith(f"{path}:5: date: ")
    assert lines[2].startswith(f"{path}:6: capacity: must not be negative")
    assert lines[3] == "Dry run: 3 of 6 rows are invalid; nothing was sent."
    good = write_csv(tmp_path / "good.csv", 3)
    code, out, _ = await run(tmp_path, None, "import", str(good), "--event-id", "9", "--dry-run")
    assert code == 0
    assert "all 3 rows are valid" in out
    assert fake.requests == []


async def test_failures_then_resume_creates_each_row_once(tmp_path: Path, fake: FakeSwoogo) -> None:
    n = 30
    path = write_csv(tmp_path / "agenda.csv", n, {7: {"end_time": "07:00"}})
    report = tmp_path / "report.jsonl"
    fake.inject("POST /sessions/create", Fault.error(400), times=4)
    args = ["import", str(path), "--event-id", "9", "--concurrency", "4", "--report", str(report)]
    code, out, err = await run(tmp_path, fake, *args)
    assert code == 1, err
    records = read_report(report)
    statuses = [r["status"] for r in records]
    assert len(records) == n
    assert (statuses.count("created"), statuses.count("failed")) == (25, 4)
    assert statuses.count("invalid") == 1
    invalid = next(r for r in records if r["status"] == "invalid")
    assert invalid["line"] == 9
    assert invalid["error"]["field"] == "end_time"
    failed = next(r for r in records if r["status"] == "failed")
    assert failed["error"]["type"] == "BadRequestError"
    assert failed["error"]["status"] == 400
    assert failed["session_id"] is None
    created = next(r for r in records if r["status"] == "created")
    assert fake.sessions[created["session_id"]]["name"] == created["name"]
    assert "created                  25" in out
    assert "failed                    4" in out
    assert str(report) in out
    assert len(fake.sessions) == 25

    fixed = write_csv(tmp_path / "fixed.csv", n)  # the same rows, line 9 corrected
    code, out, err = await run(
        tmp_path, fake, "import", str(fixed), "--event-id", "9", "--resume", str(report)
    )
    assert code == 0, out + err
    assert "skipped (resumed)        25" in out
    assert "created                   5" in out
    assert_one_session_per_row(fake, n)
    assert len(read_report(report)) == n + 5
    assert {rec["event_id"] for rec in fake.sessions.values()} == {9}
    assert {rec["custom_fields"].get("c_1001") for rec in fake.sessions.values()} == {None, "Gold"}


async def test_ctrl_c_leaves_a_consistent_report_and_resume_finishes(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    n = 40
    path = write_csv(tmp_path / "agenda.csv", n)
    report = tmp_path / "report.jsonl"
    # From the 13th request on (a token and a dozen creates), two creates are carried out
    # but never answered. With two rows at a time, those two are all that is in flight at
    # Ctrl-C: no row can be half-way through the grace period, however slow the machine.
    fake.after_requests(
        13, lambda: fake.inject("POST /sessions/create", Fault.hang(acted=True), times=2)
    )
    proc = await start(
        tmp_path,
        fake,
        "import",
        str(path),
        "--event-id",
        "9",
        "--concurrency",
        "2",
        "--grace",
        "0.3",
        "--report",
        str(report),
    )
    await asyncio.wait_for(fake.until_held(2), 600)  # a hang guard, not a measurement
    proc.send_signal(signal.SIGINT)
    out_b, err_b = await asyncio.wait_for(proc.communicate(), 30)
    out, err = out_b.decode(), err_b.decode()
    assert proc.returncode == 130, out + err
    assert "Interrupted: finishing" in err
    assert "Traceback" not in err
    records = read_report(report)
    interrupted = [r for r in records if r["error"] and r["error"]["type"] == "Interrupted"]
    assert len(interrupted) == 2
    assert all(r["status"] == "unknown" for r in interrupted)
    assert interrupted[0]["error"]["fields"]["name"] == interrupted[0]["name"]
    assert len(records) < n
    assert "unknown outcome           2" in out
    hint = next(line for line in out.splitlines() if line.startswith("To resume: "))
    command = shlex.split(hint.removeprefix("To resume: "))
    assert command == [
        "swoogo-async",
        "import",
        str(path),
        "--event-id",
        "9",
        "--resume",
        str(report),
    ]
    assert len(fake.sessions) == len(records)  # the two in flight were created server-side

    code, out, err = await run(tmp_path, fake, *command[1:])
    assert code == 0, out + err
    assert_one_session_per_row(fake, n)
    found = [r for r in read_report(report) if r.get("note") == "found on the server"]
    assert sorted(r["line"] for r in found) == sorted(r["line"] for r in interrupted)


async def test_configuration_errors_exit_2(tmp_path: Path, fake: FakeSwoogo) -> None:
    path = write_csv(tmp_path / "agenda.csv", 2)
    code, _, err = await run(tmp_path, None, "import", str(path), "--event-id", "1")
    assert code == 2
    assert "SWOOGO_API_KEY" in err
    code, _, err = await run(tmp_path, fake, "import", str(tmp_path / "nope.csv"))
    assert code == 2
    assert "cannot open" in err
    code, _, err = await run(tmp_path, fake, "import", str(tmp_path / "rows.txt"))
    assert code == 2
    code, _, err = await run(tmp_path, fake, "import", str(path), "--concurrency", "0")
    assert code == 2
    code, _, err = await run(tmp_path, fake, "get", "1", "--base-url", "ftp://example.com")
    assert code == 2
    assert "base_url" in err
    report = tmp_path / "r.jsonl"
    code, _, _ = await run(
        tmp_path, fake, "import", str(path), "--event-id", "1", "--report", str(report)
    )
    assert code == 0
    write_csv(path, 2, {0: {"name": "Edited"}})
    code, _, err = await run(
        tmp_path, fake, "import", str(path), "--event-id", "1", "--resume", str(report)
    )
    assert code == 2
    assert "refusing" in err
    assert len(fake.sessions) == 2


async def test_jsonl_default_report_and_ordered(tmp_path: Path, fake: FakeSwoogo) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [{"event_id": 3, "name": f"Talk {i}", "date": "2026-06-01"} for i in range(12)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code, out, err = await run(tmp_path, fake, "import", str(path), "--ordered", "--no-progress")
    assert code == 0, out + err
    (report,) = default_reports(tmp_path)
    assert [r["line"] for r in read_report(report)] == list(range(1, 13))
    assert_one_session_per_row(fake, 12)
    assert "progress: 12/12 100%" in err


async def test_get_and_update(tmp_path: Path, fake: FakeSwoogo) -> None:
    sid = fake.add_session(
        event_id=3,
        name="Keynote",
        capacity=10,
        notes="x",
        track_id=4,
        custom_fields={"c_1": "A"},
    )["id"]
    code, out, _ = await run(tmp_path, fake, "get", str(sid))
    assert code == 0
    data = json.loads(out)
    assert (data["id"], data["name"], data["capacity"]) == (sid, "Keynote", 10)
    code, out, _ = await run(
        tmp_path, fake, "get", str(sid), "--fields", "name,c_1", "--expand", "track"
    )
    assert code == 0
    assert json.loads(out) == {
        "name": "Keynote",
        "track": {"id": 4, "name": "Track 4"},
        "custom_fields": {"c_1": "A"},
    }
    code, out, err = await run(
        tmp_path, fake, "update", str(sid), "capacity=55", "notes=", "c_1=Gold"
    )
    assert code == 0, err
    assert json.loads(out)["capacity"] == 55
    stored = fake.sessions[sid]
    assert (stored["capacity"], stored["custom_fields"]) == (55, {"c_1": "Gold"})
    assert not stored["notes"]  # cleared
    code, _, err = await run(tmp_path, fake, "get", "999999")
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith("swoogo-async: error: NotFoundError: ")
    code, _, err = await run(tmp_path, fake, "update", str(sid), "capacity=lots")
    assert code == 1
    assert "InvalidInputError: capacity: " in err
    code, _, err = await run(tmp_path, fake, "update", str(sid), "capacity")
    assert code == 2


async def test_demo_runs(tmp_path: Path) -> None:
    code, out, err = await run(tmp_path, None, "demo", "--rows", "60", "--out", str(tmp_path))
    assert code == 0, out + err
    assert "Demo passed" in out
    assert "[ok] no session was created twice" in out
    assert "5 of them are deliberately invalid" in out
    assert (tmp_path / "agenda.csv").exists()


async def test_sigkill_then_resume_creates_every_row_exactly_once(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    n = 40
    path = write_csv(tmp_path / "agenda.csv", n)
    report = tmp_path / "report.jsonl"
    # The first four creates are carried out but never answered: in flight at the kill.
    fake.inject("POST /sessions/create", Fault.timeout(600, acted=True), times=4)
    args = ["import", str(path), "--event-id", "9", "--concurrency", "8", "--report", str(report)]
    proc = await start(tmp_path, fake, *args, "--no-progress")
    await wait_for_lines(report, 20, proc)
    proc.kill()  # SIGKILL: no handler runs, nothing is flushed on the way out
    await asyncio.wait_for(proc.communicate(), 60)
    records = read_report(report, attempts=True)
    attempted = {r["line"] for r in records if r["status"] == "attempted"}
    finished = {r["line"] for r in records if r["status"] != "attempted"}
    assert len(attempted - finished) >= 4  # the held rows: attempted, no outcome
    assert len(fake.sessions) > len(finished)  # and yet created on the server

    code, out, err = await run(tmp_path, fake, *args, "--resume", str(report))
    assert code == 0, out + err
    assert_one_session_per_row(fake, n)
    found = [r for r in read_report(report) if r.get("note") == "found on the server"]
    assert len(found) >= 4


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
async def test_a_report_that_cannot_be_written_stops_before_sending(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    path = write_csv(tmp_path / "agenda.csv", 5)
    code, out, err = await run(
        tmp_path, fake, "import", str(path), "--event-id", "9", "--report", "/dev/full"
    )
    assert code == 2, out + err
    assert "Traceback" not in err
    assert "cannot write the report /dev/full" in err
    assert [r for r in fake.requests if r.path == "/sessions/create"] == []


async def test_version_and_deeply_nested_jsonl(tmp_path: Path) -> None:
    from swoogo_async import __version__

    code, out, _ = await run(tmp_path, None, "--version")
    assert (code, out.strip()) == (0, f"swoogo-async {__version__}")
    path = tmp_path / "deep.jsonl"
    deep = '{"name": "A", "date": "2026-06-01", "c_1": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path.write_text('{"name": "ok", "date": "2026-06-01"}\n' + deep + "\n", encoding="utf-8")
    code, _, err = await run(tmp_path, None, "import", str(path), "--event-id", "1", "--dry-run")
    assert code == 2
    assert "Traceback" not in err
    assert f"{path}:2: JSON nested too deeply" in err


def test_demo_removes_its_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse
    import tempfile

    from swoogo_async.cli import _demo

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    args = argparse.Namespace(
        rows=12,
        concurrency=4,
        chaos=0.0,
        rate_limit=None,
        rate_window=10.0,
        out=None,
        seed=7,
        no_progress=True,
    )
    assert _demo.run_demo(args) == 0
    assert "Pass --out DIR to keep the files" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def _imports(path: Path, module: str, is_package: bool) -> set[str]:
    """Return the package modules ``module`` imports at run time (not under TYPE_CHECKING)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (
                f"{base}.{node.module}"
                if node.level and node.module
                else base
                if node.level
                else node.module or ""
            )
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("swoogo_async")}


def test_no_runtime_import_cycle_anywhere_in_the_package() -> None:
    root = Path(__file__).parent.parent / "swoogo_async"
    graph: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        graph[module] = _imports(path, module, is_package)
    for module, targets in graph.items():
        graph[module] = {t for t in targets if t in graph and t != module}

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            here = stack.pop()
            for nxt in graph[here]:
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return False

    assert "swoogo_async.cli._demo" in graph
    assert "swoogo_async._http.pipeline" in graph
    cycles = [m for m in graph if reaches(m, m)]
    assert cycles == []


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_redis_url_the_command_cannot_reach_is_warned_about(
    tmp_path: Path, fake: FakeSwoogo
) -> None:
    csv_path = write_csv(tmp_path / "rows.csv", 3)
    url = f"redis://127.0.0.1:{_closed_port()}/0"  # a mistyped port: nothing listens there
    code, out, err = await run(
        tmp_path,
        fake,
        "import",
        str(csv_path),
        "--event-id",
        "9",
        "--no-progress",
        "--redis-url",
        url,
    )
    assert code == 0, out + err
    warnings = [line for line in err.splitlines() if line.startswith("WARNING")]
    # One line per thing the outage changes: the budget, and the event lease.
    assert all("Redis unreachable" in line for line in warnings), warnings
    assert any("in-process token and rate budget" in line for line in warnings), warnings
    assert any("lease" in line for line in warnings), warnings
    assert len(warnings) == 2, warnings
    assert len(fake.sessions) == 3


def test_the_redis_url_reaches_the_client_as_an_argument(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from swoogo_async.cli._args import build_parser
    from swoogo_async.cli._main import _client
    from swoogo_async.redis import RedisSharedState

    monkeypatch.delenv("SWOOGO_REDIS_URL", raising=False)
    monkeypatch.setenv("SWOOGO_API_KEY", "key")
    monkeypatch.setenv("SWOOGO_API_SECRET", "secret")
    args = build_parser().parse_args(["get", "1", "--redis-url", "redis://127.0.0.1:9/0"])
    remote = _client(args)
    assert isinstance(remote.shared, RedisSharedState)
    assert isinstance(remote.client._core.shared, RedisSharedState)
    assert "SWOOGO_REDIS_URL" not in os.environ  # nothing passed through the environment
    asyncio.run(remote.shared.aclose())


async def test_the_summary_counts_only_the_credits_the_server_charged(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "rows.csv", 8)
    async with FakeSwoogo("cli-key", SECRET, rate_limit=12, rate_window=2.0) as fake:
        code, out, err = await run(
            tmp_path,
            fake,
            "import",
            str(csv_path),
            "--event-id",
            "9",
            "--no-progress",
            "--no-pacing",
            "--concurrency",
            "8",
        )
        assert code == 0, out + err
        assert len(fake.sessions) == 8
        assert fake.rate_limited > 0  # some attempts were refused, and sent again
        charged = sum(
            10 if r.method == "GET" and r.path == "/sessions" else 1
            for r in fake.requests
            if r.path != "/oauth2/token" and r.status != 429
        )
    (line,) = [line for line in out.splitlines() if "credits spent" in line]
    assert int(line.split()[2]) == charged


def test_the_examples_use_public_names_only() -> None:
    import ast

    examples = Path(__file__).parent.parent / "examples"
    private = []
    for path in sorted(examples.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("swoogo_async"):
                names = [node.module or "", *(alias.name for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names if alias.name.startswith("swoogo")]
            else:
                continue
            private += [
                f"{path.name}: {name}"
                for name in names
                if any(part.startswith("_") for part in name.split("."))
            ]
    assert len(list(examples.glob("*.py"))) >= 3
    assert private == []
