"""The command on files exported from Excel: the fixtures in ``tests/samples/excel``.

Mostly fast, in-process tests of the row reader; two runs of the real command.
"""

from __future__ import annotations

import argparse
import io
import logging
import shlex
from pathlib import Path

import pytest

from swoogo_async import SwoogoClient
from swoogo_async.cli import _import, main
from swoogo_async.cli._args import build_parser
from swoogo_async.cli._columns import RowOptions, row_options_parser, sniff_delimiter
from swoogo_async.cli._rows import RowFileError, check_rows, iter_rows, row_errors
from swoogo_async.testing import FakeSwoogo

from .test_cli import SECRET, default_reports, read_report, run

SAMPLES = Path(__file__).parent / "samples" / "excel"
#: The options ``excel_export.csv`` (a French Excel export) needs.
EXPORT_ARGS = [
    "--encoding",
    "cp1252",
    "--map",
    "Nom=name",
    "--map",
    "Start Time=start_time",
    "--ignore-unknown-columns",
    "--date-format",
    "%d/%m/%Y",
    "--thousands-separator",
    ".",
]


def options(*argv: str) -> RowOptions:
    """Return the row options the command reads from ``argv``."""
    parser = argparse.ArgumentParser(parents=[row_options_parser()])
    return RowOptions.from_args(parser.parse_args(list(argv)))


def fields(name: str, *argv: str) -> list[dict[str, object]]:
    """Return the fields of each row of a sample read with the options ``argv``."""
    return [row.fields for row in iter_rows(SAMPLES / name, options(*argv))]


@pytest.mark.parametrize(
    ("line", "delimiter"),
    [
        ("name,date,capacity\r\n", ","),
        ("name;date;capacity\r\n", ";"),
        ("name\tdate\tcapacity\n", "\t"),
        ("name|date|capacity\n", "|"),
        ("name\n", ","),
        ('"name, with comma";date;capacity\n', ";"),
        ("a,b;c\n", ","),  # a tie goes to the comma
    ],
)
def test_the_delimiter_is_sniffed_from_the_header(line: str, delimiter: str) -> None:
    assert sniff_delimiter(line) == delimiter


def test_a_semicolon_csv_imports() -> None:
    assert fields("semicolon.csv") == [
        {
            "name": "Keynote",
            "date": "2026-05-01",
            "start_time": "09:00",
            "end_time": "10:00",
            "capacity": "300",
        },
        {
            "name": "Panel; open floor",
            "date": "2026-05-01",
            "start_time": "10:30",
            "end_time": "11:30",
            "capacity": "120",
        },
    ]
    assert fields("semicolon.csv", "--delimiter", ";") == fields("semicolon.csv")
    with pytest.raises(RowFileError, match=r"read as one column.*--delimiter") as info:
        fields("semicolon.csv", "--delimiter", ",")
    assert info.value.line == 1


def test_cp1252_needs_its_encoding_and_the_error_says_where() -> None:
    with pytest.raises(RowFileError) as info:
        fields("cp1252.csv")
    assert info.value.line == 2
    # "name,date,notes\r\n" is 17 bytes; "Caf" 3 more: the é (0xe9) is byte 20.
    assert info.value.message.startswith("not UTF-8 text: byte 20 (0xe9): ")
    assert "--encoding cp1252" in info.value.message
    assert str(info.value).startswith(f"{SAMPLES / 'cp1252.csv'}:2: not UTF-8 text")
    assert fields("cp1252.csv", "--encoding", "cp1252") == [
        {"name": "Café numérique \u2013 Société", "date": "2026-05-01", "notes": "Entrée 5 €"},
        {"name": "Über Köln", "date": "2026-05-02"},
    ]


def test_a_byte_undefined_in_cp1252_is_named(tmp_path: Path) -> None:
    path = tmp_path / "undefined.csv"
    path.write_bytes(b"name,date\r\nA,2026-05-01\r\nB\x81,2026-05-01\r\n")
    with pytest.raises(RowFileError, match=r"not cp1252 text: byte 26 \(0x81\)") as info:
        list(iter_rows(path, options("--encoding", "cp1252")))
    assert info.value.line == 3


def test_a_byte_order_mark_is_not_part_of_the_first_column() -> None:
    expected = [{"name": "Keynote", "date": "2026-05-01", "capacity": "300"}]
    assert fields("bom.csv") == expected
    assert fields("bom.csv", "--encoding", "utf-8") == expected  # the mark read as a character


def test_headers_match_ignoring_case_and_spaces(tmp_path: Path) -> None:
    assert fields("headers.csv") == [
        {
            "name": "Keynote",
            "date": "2026-05-01",
            "start_time": "09:00",
            "capacity": "300",
            "c_1001": "Gold",
        }
    ]
    clash = tmp_path / "clash.csv"
    clash.write_text("Name,date, NAME \nA,2026-05-01,B\n", encoding="utf-8")
    with pytest.raises(RowFileError, match="columns 'Name' and ' NAME ' both give") as info:
        list(iter_rows(clash))
    assert info.value.line == 1


def test_an_unknown_column_fails_once_up_front_naming_the_ways_out() -> None:
    with pytest.raises(RowFileError) as info:
        fields("room_notes.csv")
    assert info.value.line == 1
    assert "'room_notes' is not a session field" in info.value.message
    assert "--map room_notes=FIELD" in info.value.message
    assert "--ignore-unknown-columns" in info.value.message
    out = io.StringIO()
    with pytest.raises(RowFileError):  # the dry run does not list it row by row
        check_rows(SAMPLES / "room_notes.csv", 1, out)
    assert out.getvalue() == ""
    assert fields("room_notes.csv", "--ignore-unknown-columns") == [
        {"name": "Keynote", "date": "2026-05-01"},
        {"name": "Workshop", "date": "2026-05-02"},
    ]
    # What is dropped is said, not left out silently.
    opts = options("--ignore-unknown-columns")
    assert check_rows(SAMPLES / "room_notes.csv", 1, out, opts) == 0
    assert out.getvalue().splitlines() == [
        "Ignored (not session fields, --ignore-unknown-columns): 'room_notes'",
        "Dry run: all 2 rows are valid; nothing was sent.",
    ]
    assert fields("room_notes.csv", "--map", " Room_Notes =notes") == [
        {"name": "Keynote", "date": "2026-05-01", "notes": "Bring the big screen"},
        {"name": "Workshop", "date": "2026-05-02"},
    ]
    with pytest.raises(RowFileError, match="--map names 'room', which is not a column"):
        fields("room_notes.csv", "--map", "room=notes", "--ignore-unknown-columns")
    with pytest.raises(RowFileError, match="columns 'name' and 'room_notes' both give"):
        fields("room_notes.csv", "--map", "room_notes=name")


def test_us_dates_with_a_date_format() -> None:
    assert fields("us_dates.csv", "--date-format", "%m/%d/%Y") == [
        {"name": "Keynote", "date": "2026-05-01"},
        {"name": "Closing", "date": "2026-12-31"},
    ]
    (row, _) = iter_rows(SAMPLES / "us_dates.csv")
    (error,) = row_errors(row, 1)  # without the format: the validation's own reason
    assert (error.field, error.reason.endswith("(got '5/1/2026')")) == ("date", True)
    (row, _) = iter_rows(SAMPLES / "us_dates.csv", options("--date-format", "%d/%m/%Y"))
    assert row.fields["date"] == "2026-01-05"
    (_, row) = iter_rows(SAMPLES / "us_dates.csv", options("--date-format", "%d/%m/%Y"))
    assert [(e.field, e.reason) for e in row_errors(row, 1)] == [
        ("date", "does not match --date-format '%d/%m/%Y' (got '12/31/2026')")
    ]


def test_thousands_separators_in_number_columns_only() -> None:
    assert fields("thousands.csv", "--thousands-separator", ",") == [
        {"name": "Keynote", "date": "2026-05-01", "capacity": "1500"},
        {"name": "Workshop", "date": "2026-05-01", "capacity": "80"},
    ]
    (row, _) = iter_rows(SAMPLES / "thousands.csv")
    assert [e.field for e in row_errors(row, 1)] == ["capacity"]
    values = {"capacity": "12,345,678", "event_id": "1,2", "notes": "1,500", "name": "1,500"}
    assert options("--thousands-separator", ",").read_values(values) == []
    assert values == {"capacity": "12345678", "event_id": "1,2", "notes": "1,500", "name": "1,500"}


def test_every_bad_field_of_a_row_is_reported() -> None:
    path = SAMPLES / "bad_fields.csv"
    out = io.StringIO()
    assert check_rows(path, 7, out) == 2
    lines = out.getvalue().splitlines()
    # One line per bad field; the reasons are the SDK validation's own.
    assert [line.split(": ")[:2] for line in lines[:3]] == [
        [f"{path}:3", "date"],
        [f"{path}:3", "start_time"],
        [f"{path}:3", "capacity"],
    ]
    assert [line.rsplit(" (got ", 1)[1] for line in lines[:3]] == [
        "'2026-13-01')",
        "'25:00')",
        "'-5')",
    ]
    assert lines[3:] == [
        f"{path}:4: name: is required",
        f"{path}:4: date: is required",
        "Dry run: 2 of 3 rows are invalid; nothing was sent.",
    ]
    good, bad, empty = iter_rows(path)
    assert row_errors(good, 7) == []
    assert [e.field for e in row_errors(bad, None)] == [
        "date",
        "start_time",
        "capacity",
        "event_id",
    ]
    assert [e.field for e in row_errors(empty, None)] == ["event_id", "name", "date"]


def test_checks_across_fields_are_reported_too(tmp_path: Path) -> None:
    path = tmp_path / "times.csv"
    path.write_text("name,date,start_time,end_time,capacity\nA,2026-05-01,10:00,09:00,x\n")
    (row,) = iter_rows(path)
    assert [(e.field, e.reason) for e in row_errors(row, 1)] == [
        ("end_time", "must not be before start_time"),
        ("capacity", "must be an integer (got 'x')"),
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.csv", "is empty: no header row"),
        ("header_only.csv", "has a header but no rows"),
        ("empty.jsonl", "has no rows"),
        ("blank_lines.jsonl", "has no rows"),
    ],
)
def test_an_empty_input_is_an_error(name: str, message: str) -> None:
    with pytest.raises(RowFileError, match=message):
        fields(name)


def test_empty_input_exits_2_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("swoogo_async")
    before = (logger.level, logger.propagate, list(logger.handlers))
    assert main(["import", str(SAMPLES / "empty.jsonl"), "--event-id", "1", "--dry-run"]) == 2
    assert (logger.level, logger.propagate, logger.handlers) == before  # left as it was
    message = f"{SAMPLES / 'empty.jsonl'}: has no rows: nothing to import"
    assert capsys.readouterr().err == f"swoogo-async: error: {message}\n"


def test_jsonl_keys_are_read_like_csv_headers(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(
        '{"Name": "A", " DATE ": "5/1/2026", "Capacity": "1,500", "room": "B2", "x": null}\n',
        encoding="utf-8",
    )
    with pytest.raises(RowFileError, match="key 'room' is not a session field") as info:
        list(iter_rows(path))
    assert info.value.line == 1
    opts = options("--map", "room=notes", "--date-format", "%m/%d/%Y", "--thousands-separator", ",")
    (row,) = iter_rows(path, opts)
    assert row.fields == {"name": "A", "date": "2026-05-01", "capacity": "1500", "notes": "B2"}
    dropped: set[str] = set()
    (row,) = iter_rows(path, options("--ignore-unknown-columns"), dropped=dropped)
    assert set(row.fields) == {"name", "date", "capacity"}
    assert dropped == {"room"}
    path.write_text('{"name": "A", "NAME": "B"}\n', encoding="utf-8")
    with pytest.raises(RowFileError, match="two keys give the field 'name'"):
        list(iter_rows(path))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--encoding", "klingon"], "unknown encoding 'klingon'"),
        (["--delimiter", ";;"], "expected one character"),
        (["--map", "room_notes"], "expected COLUMN=FIELD"),
        (["--map", "room_notes=room"], "'room' is not a session field"),
        (["--map", "a=notes", "--map", "A=name"], "column 'a' is mapped twice"),
        (["--date-format", "mm/dd/yyyy"], "expected a strptime format"),
        (["--thousands-separator", "5"], "expected one character"),
    ],
)
def test_bad_row_options_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["import", "a.csv", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_row_options_round_trip_into_the_resume_command() -> None:
    args = build_parser().parse_args(["import", "x.csv", *EXPORT_ARGS, "--delimiter", "tab"])
    opts = RowOptions.from_args(args)
    assert opts.delimiter == "\t"
    assert opts.column_map == (("Nom", "name"), ("Start Time", "start_time"))  # as typed
    assert options(*opts.argv()) == opts
    assert RowOptions().argv() == []
    command = _import.resume_command(
        _import.ImportOptions(file=Path("x.csv"), event_id=9, rows=opts), Path("r.jsonl")
    )
    again = build_parser().parse_args(shlex.split(command)[1:])
    assert RowOptions.from_args(again) == opts
    assert (again.event_id, again.resume) == (9, "r.jsonl")


async def test_an_excel_export_imports_in_process(
    tmp_path: Path, fake: FakeSwoogo, client: SwoogoClient
) -> None:
    report = tmp_path / "report.jsonl"
    opts = _import.ImportOptions(
        file=SAMPLES / "excel_export.csv",
        event_id=9,
        report=report,
        progress=False,
        rows=options(*EXPORT_ARGS),
    )
    prior, total = _import.prepare_import(opts)
    out, err = io.StringIO(), io.StringIO()
    outcome = await _import.import_file(opts, client, prior, total, out=out, err=err)
    assert outcome.exit_code == 1
    created = sorted(fake.sessions.values(), key=lambda s: s["id"])
    assert [(s["name"], s["date"], s["start_time"], s["capacity"]) for s in created] == [
        ("Séance plénière", "2026-05-01", "09:00:00", 1500),
        ("Atelier \u2013 données", "2026-05-02", "14:00:00", 40),
    ]
    (invalid,) = [r for r in read_report(report) if r["status"] == "invalid"]
    assert invalid["line"] == 4
    assert invalid["name"] == "Clôture"
    # Both bad fields, with the SDK validation's own reasons.
    errors = invalid["error"]["errors"]
    assert [(e["field"], e["message"].rsplit(" (got ", 1)[1]) for e in errors] == [
        ("start_time", "'25:00')"),
        ("capacity", "'-1')"),
    ]
    summary = f"line 4: invalid: start_time: {errors[0]['message']}; capacity: "
    assert summary in out.getvalue()
    # The progress counts the row refused before the engine, so it ends at 3 of 3.
    assert "progress: 3/3 100% | created 2 failed 0 invalid 1" in err.getvalue()


async def test_the_command_on_excel_files(tmp_path: Path) -> None:
    async with FakeSwoogo("cli-key", SECRET) as fake:
        report = tmp_path / "r.jsonl"
        export = str(SAMPLES / "excel_export.csv")
        argv = ["import", export, "--event-id", "9", "--report", str(report), *EXPORT_ARGS]
        code, out, err = await run(tmp_path, fake, *argv, "--no-progress")
        assert code == 1, out + err
        assert "Ignored (not session fields, --ignore-unknown-columns): 'Room_Notes'" in err
        assert sorted(s["name"] for s in fake.sessions.values()) == [
            "Atelier \u2013 données",
            "Séance plénière",
        ]
        statuses = {r["line"]: r["status"] for r in read_report(report)}
        assert statuses == {2: "created", 3: "created", 4: "invalid"}
        # Without the encoding: one clear error, exit 2, no traceback, nothing sent.
        code, out, err = await run(tmp_path, fake, "import", export, "--event-id", "9")
        assert code == 2
        assert "Traceback" not in err
        assert err.startswith(f"swoogo-async: error: {export}:2: not UTF-8 text: byte ")
        assert "--encoding cp1252" in err
        assert len(fake.sessions) == 2
        assert default_reports(tmp_path) == []  # it never started


def test_excel_headers_match_ignoring_spaces_underscores_hyphens_and_session(
    tmp_path: Path,
) -> None:
    path = tmp_path / "agenda.csv"
    path.write_text(
        "Session Name,Date,Start Time,End-Time,TRACK_ID,Session Status,C-1001\n"
        "Keynote,2026-05-01,09:00,10:00,7,approved,Gold\n",
        encoding="utf-8",
    )
    assert [row.fields for row in iter_rows(path)] == [
        {
            "name": "Keynote",
            "date": "2026-05-01",
            "start_time": "09:00",
            "end_time": "10:00",
            "track_id": "7",
            "session_status": "approved",
            "c_1001": "Gold",
        }
    ]
    # A --map still wins, named as the header spells it or not.
    mapped = [row.fields for row in iter_rows(path, options("--map", "session name=notes"))]
    assert mapped[0]["notes"] == "Keynote"
    assert "name" not in mapped[0]


@pytest.mark.parametrize(
    ("cell", "sent"),
    [
        ("9:00 AM", "09:00:00"),
        ("9:00:00 PM", "21:00:00"),
        ("09:15 pm", "21:15:00"),
        ("12:00 AM", "00:00:00"),
        ("12:30 p.m.", "12:30:00"),
        ("9:00AM", "09:00:00"),
        ("4 pm", "16:00:00"),
        ("21:00", "21:00"),
        ("21:00:00", "21:00:00"),
    ],
)
def test_excel_time_shapes_are_read(tmp_path: Path, cell: str, sent: str) -> None:
    path = tmp_path / "times.csv"
    path.write_text(f"name,date,start_time\nKeynote,2026-05-01,{cell}\n", encoding="utf-8")
    (row,) = iter_rows(path)
    assert row.fields["start_time"] == sent
    assert row_errors(row, 1) == []


def test_a_time_in_no_known_shape_names_time_format_and_the_option_reads_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "times.csv"
    path.write_text("name,date,start_time,end_time\nKeynote,2026-05-01,9h30,13:00 PM\n")
    (row,) = iter_rows(path)
    errors = row_errors(row, 1)
    assert [e.field for e in errors] == ["start_time", "end_time"]
    assert all("--time-format" in e.reason for e in errors)
    path.write_text("name,date,start_time\nKeynote,2026-05-01,9h30\n")
    (row,) = iter_rows(path, options("--time-format", "%Hh%M"))
    assert row.fields["start_time"] == "09:30:00"
    (row,) = iter_rows(path, options("--time-format", "%I:%M %p"))
    assert "--time-format '%I:%M %p'" in row_errors(row, 1)[0].reason


def test_a_date_in_another_shape_names_date_format(tmp_path: Path) -> None:
    path = tmp_path / "dates.csv"
    path.write_text("name,date\nKeynote,05/01/2026\n")
    (row,) = iter_rows(path)
    (error,) = row_errors(row, 1)
    assert error.field == "date"
    assert "--date-format" in error.reason
    assert "'05/01/2026'" in error.reason


async def test_the_command_imports_12_hour_times_and_session_headers(tmp_path: Path) -> None:
    path = tmp_path / "agenda.csv"
    path.write_text(
        "Session Name,Date,Start Time,End Time\n"
        "Keynote,2026-05-01,9:00 AM,10:30 AM\n"
        "Closing,2026-05-01,4:45:00 PM,5:30:00 PM\n",
        encoding="utf-8",
    )
    async with FakeSwoogo("cli-key", SECRET) as fake:
        code, out, err = await run(
            tmp_path, fake, "import", str(path), "--event-id", "9", "--no-progress"
        )
        assert code == 0, out + err
        assert sorted(
            (s["name"], s["start_time"], s["end_time"]) for s in fake.sessions.values()
        ) == [("Closing", "16:45:00", "17:30:00"), ("Keynote", "09:00:00", "10:30:00")]
