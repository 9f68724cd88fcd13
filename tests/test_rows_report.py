"""Pure tests of the command's row reading, report writing/reading and resume checks."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from swoogo_async import (
    InvalidInputError,
    NotFoundError,
    SwoogoClient,
    UnknownOutcomeError,
    ValidationError,
)
from swoogo_async._exceptions import make_status_error
from swoogo_async._writes.bulk_results import BulkProgress, BulkSummary
from swoogo_async.cli import _import, _progress
from swoogo_async.cli._progress import LogProgress, TqdmProgress, format_duration, make_progress
from swoogo_async.cli._report import (
    ImportOutcome,
    ReportError,
    ReportWriter,
    default_report_path,
    error_info,
    print_summary,
    row_record,
)
from swoogo_async.cli._resume import (
    PriorRun,
    ResumeMismatchError,
    check_resume,
    read_report,
)
from swoogo_async.cli._rows import RowFileError, SourceRow, check_rows, iter_rows, row_digest
from swoogo_async.testing import FakeSwoogo

CSV = (
    "name,date,start_time,capacity,c_1001,description\r\n"
    "Keynote,2026-06-01,09:00,300,Gold,\r\n"
    "\r\n"
    'Workshop,2026-06-01,10:00,,,"two\r\nlines"\r\n'
    ",2026-06-02,,,Silver,blank name\r\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_csv_rows_line_numbers_and_empty_cells(tmp_path: Path) -> None:
    rows = list(iter_rows(write(tmp_path, "a.csv", "\ufeff" + CSV)))
    assert [(r.line, r.index) for r in rows] == [(2, 0), (4, 1), (6, 2)]
    assert rows[0].fields == {
        "name": "Keynote",
        "date": "2026-06-01",
        "start_time": "09:00",
        "capacity": "300",
        "c_1001": "Gold",
    }
    assert rows[1].fields == {
        "name": "Workshop",
        "date": "2026-06-01",
        "start_time": "10:00",
        "description": "two\r\nlines",
    }
    assert rows[2].fields == {"date": "2026-06-02", "c_1001": "Silver", "description": "blank name"}
    assert dict(rows[0]) == rows[0].fields
    assert len(rows[0]) == 5
    assert rows[0]["name"] == "Keynote"
    assert "line=2" in repr(rows[0])


def test_check_rows_lists_bad_lines(tmp_path: Path) -> None:
    out = io.StringIO()
    path = write(tmp_path, "a.csv", CSV)
    assert check_rows(path, 5, out) == 1
    assert out.getvalue().splitlines() == [
        f"{path}:6: name: is required",
        "Dry run: 1 of 3 rows are invalid; nothing was sent.",
    ]
    out = io.StringIO()
    assert check_rows(path, None, out) == 3
    assert f"{path}:2: event_id: is required" in out.getvalue()


def test_csv_custom_field_columns_are_folded(tmp_path: Path) -> None:
    from swoogo_async._api.fields import prepare_session_fields

    (row,) = iter_rows(write(tmp_path, "a.csv", "name,date,event_id,c_7\nA,2026-01-01,3,x\n"))
    prepared = prepare_session_fields(row, creating=True)
    assert prepared["custom_fields"] == {"c_7": "x"}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", None, "is empty: no header row"),
        ("name,date\n\n", None, "has a header but no rows"),
        ("name,,date\nA,,x\n", 1, "column 2 has no name"),
        ("name,name\nA,B\n", 1, "columns 'name' and 'name' both give the field 'name'"),
        ("name,date\nA,2026-01-01,extra\n", 2, "3 cells"),
        ('name,date\n"A,2026\n', None, "malformed CSV"),
    ],
)
def test_bad_csv_files(tmp_path: Path, text: str, line: int | None, message: str) -> None:
    with pytest.raises(RowFileError, match=message) as info:
        list(iter_rows(write(tmp_path, "a.csv", text)))
    if line is not None:
        assert info.value.line == line


def test_jsonl_rows(tmp_path: Path) -> None:
    text = (
        '{"name": "A", "date": "2026-01-01", "capacity": 3, "notes": null}\n'
        "\n"
        '{"name": "B", "custom_fields": {"c_1": "x"}}\n'
    )
    rows = list(iter_rows(write(tmp_path, "a.ndjson", text)))
    assert [(r.line, r.index) for r in rows] == [(1, 0), (3, 1)]
    assert rows[0].fields == {"name": "A", "date": "2026-01-01", "capacity": 3}
    assert rows[1].fields == {"name": "B", "custom_fields": {"c_1": "x"}}
    with pytest.raises(RowFileError, match="not valid JSON") as info:
        list(iter_rows(write(tmp_path, "b.jsonl", '{"name": "A"}\n{oops\n')))
    assert info.value.line == 2
    assert str(info.value).endswith("b.jsonl:2: " + info.value.message)
    with pytest.raises(RowFileError, match="expected a JSON object, got list"):
        list(iter_rows(write(tmp_path, "c.jsonl", "[1]\n")))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(RowFileError, match=r"expected a \.csv"):
        list(iter_rows(tmp_path / "rows.txt"))
    with pytest.raises(RowFileError, match="cannot open"):
        list(iter_rows(tmp_path / "missing.csv"))
    path = tmp_path / "latin1.csv"
    path.write_bytes("name\nCaf\xe9\n".encode("latin-1"))
    with pytest.raises(RowFileError, match="not UTF-8"):
        list(iter_rows(path))


def test_digest_ignores_key_order() -> None:
    assert row_digest({"a": "1", "b": "2"}) == row_digest({"b": "2", "a": "1"})
    assert row_digest({"a": "1"}) != row_digest({"a": "2"})
    assert len(row_digest({})) == 16


def test_error_info_shapes() -> None:
    invalid = error_info(InvalidInputError("date", "must be a date"))
    assert invalid == {
        "type": "InvalidInputError",
        "message": "date: must be a date",
        "field": "date",
        "status": None,
    }
    raw = json.dumps([{"field": "name", "message": "Name cannot be blank."}]).encode()
    error = make_status_error(status=422, method="POST", url="http://x/sessions/create", raw=raw)
    assert isinstance(error, ValidationError)
    info = error_info(error)
    assert (info["type"], info["field"], info["status"]) == ("ValidationError", "name", 422)
    assert info["errors"] == [{"field": "name", "message": "Name cannot be blank."}]
    missing = make_status_error(status=404, method="GET", url="http://x/sessions/1", raw=b"")
    assert isinstance(missing, NotFoundError)
    assert error_info(missing)["status"] == 404
    import datetime as dt

    unknown = UnknownOutcomeError(
        "maybe",
        fields={"name": "A", "date": dt.date(2026, 1, 2), "start_time": dt.time(9)},
        cause=make_status_error(status=503, method="POST", url="http://x", raw=b""),
        candidates=(4, 5),
    )
    info = error_info(unknown)
    assert info["fields"] == {"name": "A", "date": "2026-01-02", "start_time": "09:00:00"}
    assert (info["candidates"], info["status"]) == ([4, 5], 503)


def test_report_round_trip_and_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    a = SourceRow(2, 0, {"name": "A"})
    b = SourceRow(3, 1, {"name": "B"})
    c = SourceRow(5, 2, {"name": "C"})
    with ReportWriter(path, append=True) as writer:
        writer.write(row_record(a, "created", session_id=10))
        writer.write(row_record(b, "unknown", error={"message": "?"}))
        writer.write(row_record(c, "failed", error={"message": "no"}))
        assert writer.lines == 3
    lines = [json.loads(t) for t in path.read_text().splitlines()]
    assert lines[0] == {
        "line": 2,
        "index": 0,
        "status": "created",
        "session_id": 10,
        "name": "A",
        "hash": a.digest,
        "at": lines[0]["at"],
        "error": None,
    }
    with path.open("a") as handle:
        handle.write('{"line": 9, "sta')  # a crash mid-write
    prior = read_report(path)
    assert prior.created == {2: (a.digest, 10)}
    assert set(prior.uncertain) == {3, 9}
    # Appending after a partial line starts a fresh one.
    with ReportWriter(path, append=True) as writer:
        writer.write(row_record(b, "created", session_id=11))
    prior = read_report(path)
    assert prior.created == {2: (a.digest, 10), 3: (b.digest, 11)}
    assert prior.uncertain == {9: ("", "")}  # the cut line: looked up before resending
    # A copy keeps every line.
    copy = tmp_path / "copy.jsonl"
    with ReportWriter(copy, append=False) as writer:
        writer.copy_from(path)
    assert read_report(copy) == prior
    with pytest.raises(ReportError, match="cannot write"):
        ReportWriter(copy, append=False)


def test_broken_report_lines(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="cannot read"):
        read_report(tmp_path / "missing.jsonl")
    with pytest.raises(ReportError, match="not an import report"):
        read_report(write(tmp_path, "x.jsonl", "name,date\nA,B\n"))
    assert read_report(write(tmp_path, "empty.jsonl", "")) == PriorRun()
    path = write(tmp_path, "r.jsonl", 'nonsense\n{"line": 2, "status": "created", "hash": "x"}\n')
    assert read_report(path).created == {2: ("x", None)}


def test_check_resume_detects_edits(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", CSV)
    rows = list(iter_rows(path))
    prior = PriorRun(created={2: (rows[0].digest, 1)}, uncertain={4: (rows[1].digest, "")})
    assert check_resume(prior, iter_rows(path), path) == 3
    edited = write(tmp_path, "b.csv", CSV.replace("Keynote", "Opening keynote"))
    with pytest.raises(ResumeMismatchError, match=r"b\.csv:2 is not the row"):
        check_resume(prior, iter_rows(edited), edited)
    shifted = write(tmp_path, "c.csv", CSV.replace("\r\n\r\n", "\r\n"))
    with pytest.raises(ResumeMismatchError):
        check_resume(prior, iter_rows(shifted), shifted)
    # A line whose hash was lost (cut short) is not checked, only required to exist.
    assert check_resume(PriorRun(uncertain={6: ("", "")}), iter_rows(path), path) == 3
    short = write(tmp_path, "d.csv", "name,date\n\nMoved,2026-06-01\n")
    with pytest.raises(ResumeMismatchError, match="names line 2"):
        check_resume(prior, iter_rows(short), short)


def test_summary_and_default_path(tmp_path: Path) -> None:
    out = io.StringIO()
    outcome = ImportOutcome(BulkSummary(created=3, invalid=1), 2, 2.0, tmp_path / "r", False)
    assert outcome.exit_code == 1
    print_summary(outcome, ["line 4: invalid: name: is required"], out)
    text = out.getvalue()
    assert "created                   3" in text
    assert "skipped (resumed)         2" in text
    assert "line 4: invalid" in text
    assert ImportOutcome(BulkSummary(created=1), 0, 1.0, tmp_path, False).exit_code == 0
    assert ImportOutcome(BulkSummary(), 0, 1.0, tmp_path, True).exit_code == 130
    name = default_report_path(directory=tmp_path).name
    assert name.startswith("swoogo-import-report-")
    assert name.endswith("Z.jsonl")


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_renderers() -> None:
    progress = BulkProgress(created=3, invalid=1, submitted=5, done=4)
    assert isinstance(make_progress(10, stream=_Stream(False)), LogProgress)
    assert isinstance(make_progress(10, enabled=False, stream=_Stream(True)), LogProgress)
    log = _Stream(False)
    sink = LogProgress(None, log, interval=0.0)
    sink.update(progress)
    sink.close(progress)
    assert log.getvalue().count("progress: 4 |") == 2
    tqdm_stream = _Stream(True)
    sink2: Any = make_progress(10, stream=tqdm_stream)
    assert isinstance(sink2, TqdmProgress)
    sink2.update(progress)
    sink2.close(progress)
    assert "4/10" in tqdm_stream.getvalue()
    assert [format_duration(s) for s in (None, 5, 65, 3725)] == ["?", "0:05", "1:05", "1:02:05"]


def test_without_tqdm_a_terminal_gets_plain_lines_not_a_second_bar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_progress, "_tqdm", lambda: None)
    stream = _Stream(True)
    sink = make_progress(10, stream=stream)
    assert isinstance(sink, LogProgress)
    progress = BulkProgress(created=3, invalid=1, submitted=5, done=4)
    sink.close(progress)
    text = stream.getvalue()
    assert "\r" not in text
    assert text.startswith("progress: 4/10  40% | created 3 failed 0 invalid 1 unknown 0 |")
    assert text.count("\n") == 1
    assert text.endswith("\n")
    assert not hasattr(_progress, "BarProgress")


def test_attempted_rows_without_an_outcome_are_looked_up(tmp_path: Path) -> None:
    def line(n: int, status: str) -> str:
        return json.dumps(
            {"line": n, "status": status, "hash": f"h{n}", "at": "2026-01-01T00:00:00Z"}
        )

    report = tmp_path / "r.jsonl"
    lines = [
        line(2, "attempted"),
        line(3, "attempted"),
        line(4, "attempted"),
        line(5, "attempted"),
        line(2, "created"),
        line(3, "failed"),
        line(4, "unknown"),
    ]
    # Line 6 was cut mid-line by a crash; line 5 has no outcome (truncated at a boundary).
    report.write_text("\n".join(lines) + '\n{"line": 6, "sta', encoding="utf-8")
    prior = read_report(report)
    assert set(prior.created) == {2}
    assert prior.uncertain == {
        4: ("h4", "2026-01-01T00:00:00Z"),
        5: ("h5", "2026-01-01T00:00:00Z"),
        6: ("", ""),
    }


async def test_a_report_failing_mid_run_loses_no_created_row(
    tmp_path: Path, fake: FakeSwoogo, client: SwoogoClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FillsUp(ReportWriter):
        def write(self, record: Any, *, durable: bool = False) -> None:
            if self.lines >= 9:  # the disk is full from the tenth line on
                raise ReportError(f"cannot write the report {self.path}: No space left")
            super().write(record, durable=durable)

    monkeypatch.setattr(_import, "ReportWriter", FillsUp)
    path = tmp_path / "rows.csv"
    path.write_text("name,date\n" + "".join(f"T{i},2026-06-01\n" for i in range(20)))
    report = tmp_path / "report.jsonl"
    opts = _import.ImportOptions(file=path, event_id=9, concurrency=3, report=report)
    prior, total = _import.prepare_import(opts)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(ReportError, match="No space left"):
        await _import.import_file(opts, client, prior, total, out=out, err=err)
    recorded = [json.loads(t) for t in report.read_text().splitlines()]
    unrecorded = [
        json.loads(t.removeprefix("unrecorded outcome: "))
        for t in err.getvalue().splitlines()
        if t.startswith("unrecorded outcome: ")
    ]
    created = {r["session_id"] for r in recorded + unrecorded if r["status"] == "created"}
    assert created == set(fake.sessions)
    attempted = {r["line"] for r in recorded if r["status"] == "attempted"}
    assert len(fake.sessions) <= len(attempted) < 20  # nothing sent without its record


def test_progress_rate_and_eta_follow_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import swoogo_async._writes.bulk_results as results

    now = [100.0]
    monkeypatch.setattr(results, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    progress = BulkProgress(submitted=5, done=4, started_at=100.0)
    assert progress.rate == 0.0  # no time has passed: no rate, no ETA
    assert progress.eta(10) is None
    now[0] = 102.0
    assert progress.elapsed == 2.0
    assert progress.rate == 2.0
    assert progress.eta(10) == 3.0
    assert progress.eta(4) == 0.0
    assert progress.eta(None) is None
