"""The ``swoogo-async`` command: ``import``, ``get``, ``update`` and ``demo``.

Credentials come only from ``SWOOGO_API_KEY``/``SWOOGO_API_SECRET``; the base URL
from ``--base-url`` or ``SWOOGO_BASE_URL``. Exit status: 0 success, 1 some row (or
the request) failed, 2 usage or configuration error, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shlex
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import attrs

from .._bulk import BulkProgress, BulkStatus, BulkSummary, create_many
from .._client import SwoogoClient
from .._converter import unstructure_session
from .._exceptions import InvalidInputError, SwoogoError
from .._fields import prepare_session_fields
from .._retry import RetryPolicy
from ._progress import ProgressSink, make_progress
from ._report import (
    MAX_PROBLEMS_SHOWN,
    ImportOutcome,
    PriorRun,
    ReportError,
    ReportWriter,
    check_resume,
    default_report_path,
    error_info,
    print_summary,
    read_report,
    row_record,
    settle,
)
from ._rows import RowFileError, SourceRow, check_rows, iter_rows

__all__ = ["ImportOptions", "build_parser", "import_file", "main", "prepare_import"]

#: Rows of an import wait out a 429 whose reset falls inside the API's 600-s window.
IMPORT_RETRY = RetryPolicy(max_attempts=8, deadline=660.0, max_server_wait=600.0)

PROG = "swoogo-async"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A configuration problem: exit 2."""


@attrs.define
class ImportOptions:
    """What ``import`` (and ``demo``) run."""

    file: Path
    event_id: int | None = None
    concurrency: int = 8
    report: Path | None = None
    resume: Path | None = None
    ordered: bool = False
    progress: bool = True
    grace: float = 5.0
    base_url: str | None = None


def prepare_import(opts: ImportOptions) -> tuple[PriorRun, int]:
    """Read the report to resume from and check the file against it; return the row count.

    Raises:
        RowFileError, ReportError: the file or report is unusable (nothing was sent).
    """
    prior = read_report(opts.resume) if opts.resume is not None else PriorRun()
    return prior, check_resume(prior, iter_rows(opts.file), opts.file)


def _resume_command(opts: ImportOptions, report: Path) -> str:
    args = [PROG, "import", str(opts.file)]
    if opts.event_id is not None:
        args += ["--event-id", str(opts.event_id)]
    if opts.base_url:
        args += ["--base-url", opts.base_url]
    return shlex.join([*args, "--resume", str(report)])


async def import_file(
    opts: ImportOptions,
    client: SwoogoClient,
    prior: PriorRun,
    total: int,
    *,
    out: TextIO,
    err: TextIO,
) -> ImportOutcome:
    """Create a session per row of ``opts.file``; write the report; print the summary.

    The first Ctrl-C stops taking rows and gives those in flight ``opts.grace``
    seconds before cancelling them; a second cancels them at once. Rows cancelled in
    flight are reported ``unknown`` (``--resume`` looks them up before resending).
    """
    report_path = opts.report or opts.resume or default_report_path()
    writer = ReportWriter(report_path, append=True)
    if opts.resume is not None and not _same_file(opts.resume, report_path):
        # The new report starts with the old one, so that it alone can be resumed from.
        writer.copy_from(opts.resume)
    sink: ProgressSink = make_progress(
        total - len(prior.created), enabled=opts.progress, stream=err
    )
    summary = BulkSummary()
    problems: list[str] = []
    inflight: dict[int, SourceRow] = {}
    claimed = prior.claimed_ids() if prior.uncertain else None
    stop = asyncio.Event()
    progress = BulkProgress()

    def record(row: SourceRow, status: BulkStatus, **kw: Any) -> None:
        writer.write(row_record(row, status, **kw))
        summary.count(status)
        if status not in ("created", "updated") and len(problems) < MAX_PROBLEMS_SHOWN:
            error = kw.get("error") or {}
            problems.append(f"line {row.line}: {status}: {error.get('message', '')}")

    async def rows() -> AsyncIterator[SourceRow]:
        with contextlib.closing(iter_rows(opts.file)) as source:
            for row in source:
                if row.line in prior.created:
                    continue
                if stop.is_set():
                    return
                if claimed is not None and row.line in prior.uncertain:
                    since = prior.uncertain[row.line][1]
                    settled = await settle(client.sessions, row, opts.event_id, since, claimed)
                    if settled is not None:
                        record(row, settled[0], **settled[1])
                        continue
                inflight[row.line] = row
                yield row

    async def pump() -> None:
        nonlocal progress
        run = create_many(
            client.sessions,
            rows(),
            concurrency=opts.concurrency,
            ordered=opts.ordered,
            on_progress=sink.update,
            event_id=opts.event_id,
        )
        progress = run.progress
        async with run:
            async for result in run:
                row = result.row
                assert isinstance(row, SourceRow)
                inflight.pop(row.line, None)
                session_id = result.session.id if result.session is not None else None
                error = error_info(result.error) if result.error is not None else None
                record(row, result.status, session_id=session_id, error=error)
                if claimed is not None and session_id is not None:
                    claimed.add(session_id)

    started = time.monotonic()
    task = asyncio.create_task(pump())
    interrupted = False
    loop = asyncio.get_running_loop()

    def on_sigint() -> None:
        nonlocal interrupted
        if interrupted:
            task.cancel()
            return
        interrupted = True
        stop.set()
        err.write(
            f"\nInterrupted: finishing {len(inflight)} row(s) in flight (up to"
            f" {opts.grace:g} s; Ctrl-C again to stop now)\n"
        )
        loop.call_later(opts.grace, task.cancel)

    handled = _add_sigint(loop, on_sigint)
    try:
        await task
    except asyncio.CancelledError:
        if not task.done():  # this coroutine itself was cancelled
            interrupted = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise
        if not interrupted:
            raise
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGINT)
        for row in inflight.values():
            info = {"type": "Interrupted", "field": None, "status": None, "fields": row.fields}
            info["message"] = "stopped while in flight: the session may or may not exist"
            record(row, "unknown", error=info)
        sink.close(progress)
        writer.close()
        outcome = ImportOutcome(
            summary, len(prior.created), time.monotonic() - started, report_path, interrupted
        )
        print_summary(outcome, problems, out)
        if interrupted:
            out.write(f"To resume: {_resume_command(opts, report_path)}\n")
        out.flush()
    return outcome


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _add_sigint(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> bool:
    try:
        loop.add_signal_handler(signal.SIGINT, callback)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
        return False
    return True


def _client(args: argparse.Namespace) -> SwoogoClient:
    key, secret = os.environ.get("SWOOGO_API_KEY"), os.environ.get("SWOOGO_API_SECRET")
    if not key or not secret:
        raise UsageError("set SWOOGO_API_KEY and SWOOGO_API_SECRET in the environment")
    if getattr(args, "redis_url", None):
        os.environ["SWOOGO_REDIS_URL"] = args.redis_url  # the client reads it (and closes it)
    try:
        return SwoogoClient(
            key,
            secret,
            base_url=args.base_url,
            rate_limit=None if getattr(args, "no_pacing", False) else "auto",
            # An import waits out a 429 whose reset falls inside the real 600-s window.
            retry=IMPORT_RETRY if args.command == "import" else None,
        )
    except InvalidInputError as exc:
        raise UsageError(str(exc)) from None


def _cmd_import(args: argparse.Namespace) -> int:
    opts = ImportOptions(
        file=Path(args.file),
        event_id=args.event_id,
        concurrency=args.concurrency,
        report=Path(args.report) if args.report else None,
        resume=Path(args.resume) if args.resume else None,
        ordered=args.ordered,
        progress=not args.no_progress,
        grace=args.grace,
        base_url=args.base_url,
    )
    if args.dry_run:
        return EXIT_FAILED if check_rows(opts.file, opts.event_id, sys.stdout) else EXIT_OK
    prior, total = prepare_import(opts)
    client = _client(args)

    async def go() -> ImportOutcome:
        async with client:
            return await import_file(opts, client, prior, total, out=sys.stdout, err=sys.stderr)

    return asyncio.run(go()).exit_code


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _cmd_get(args: argparse.Namespace) -> int:
    client = _client(args)

    async def go() -> Any:
        async with client:
            return await client.sessions.get(
                args.session_id, fields=args.fields, expand=args.expand
            )

    data = unstructure_session(asyncio.run(go()))
    if args.fields:
        # Only what was asked for: the model's other attributes are just empty.
        wanted = {f.strip() for f in f"{args.fields},{args.expand or ''}".split(",")}
        custom = {k for k in wanted if k.startswith("c_")}
        data = {k: v for k, v in data.items() if k in wanted or (k == "custom_fields" and custom)}
    _print_json(data)
    return EXIT_OK


def _cmd_update(args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {}
    for item in args.assignments:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"expected field=value, got {item!r}")
        fields[name.strip()] = value if value != "" else None
    prepared = prepare_session_fields(fields, creating=False)
    client = _client(args)

    async def go() -> Any:
        async with client:
            return await client.sessions.update_prepared(args.session_id, prepared)

    _print_json(unstructure_session(asyncio.run(go())))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return run_demo(args)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Work with Swoogo sessions.",
        epilog="Credentials are read from SWOOGO_API_KEY and SWOOGO_API_SECRET only. Exit"
        " status: 0 done, 1 a row or request failed, 2 usage or configuration error,"
        " 130 interrupted.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log retries to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    remote = argparse.ArgumentParser(add_help=False)
    remote.add_argument("--base-url", help="API root (default: $SWOOGO_BASE_URL or the real API)")
    remote.add_argument(
        "--redis-url",
        help="share the token and rate budget with other processes through this Redis"
        " (default: $SWOOGO_REDIS_URL)",
    )

    imp = sub.add_parser(
        "import",
        parents=[remote],
        help="create a session per row of a CSV or JSON Lines file",
        description="Create a session per row. Rows are identified by their line number:"
        " do not edit FILE between an import and its --resume.",
    )
    imp.add_argument("file", metavar="FILE", help=".csv (header row) or .jsonl/.ndjson")
    imp.add_argument("--event-id", type=_positive, help="event_id for rows without one")
    imp.add_argument("--concurrency", type=_positive, default=8, help="rows in flight (8)")
    imp.add_argument("--report", metavar="PATH", help="JSON Lines report to append to")
    imp.add_argument("--resume", metavar="REPORT", help="skip the rows REPORT shows created")
    imp.add_argument("--dry-run", action="store_true", help="validate only; send nothing")
    imp.add_argument("--ordered", action="store_true", help="finish rows in file order")
    imp.add_argument("--no-progress", action="store_true", help="log lines, no progress bar")
    imp.add_argument(
        "--no-pacing", action="store_true", help="do not pace by the rate-limit headers"
    )
    imp.add_argument(
        "--grace", type=float, default=5.0, help="seconds rows in flight get after Ctrl-C (5)"
    )
    imp.set_defaults(func=_cmd_import)

    get = sub.add_parser("get", parents=[remote], help="print a session as JSON")
    get.add_argument("session_id", type=_positive, metavar="SESSION_ID")
    get.add_argument("--fields", help="comma-separated fields (c_1234 for custom fields)")
    get.add_argument("--expand", help="comma-separated related objects, e.g. track")
    get.set_defaults(func=_cmd_get)

    upd = sub.add_parser("update", parents=[remote], help="change fields of a session")
    upd.add_argument("session_id", type=_positive, metavar="SESSION_ID")
    upd.add_argument(
        "assignments", nargs="+", metavar="FIELD=VALUE", help="FIELD= (empty) clears it"
    )
    upd.set_defaults(func=_cmd_update)

    demo = sub.add_parser("demo", help="import a sample agenda into an embedded fake API")
    demo.add_argument("--rows", type=_positive, default=300, help="sessions to generate (300)")
    demo.add_argument("--concurrency", type=_positive, default=8)
    demo.add_argument("--chaos", type=float, default=0.03, help="fault rate, 0..1 (0.03)")
    demo.add_argument("--rate-limit", type=_positive, help="credits per window (off)")
    demo.add_argument("--rate-window", type=float, default=10.0, help="window seconds (10)")
    demo.add_argument("--out", metavar="DIR", help="where to write the CSV and report")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--no-progress", action="store_true")
    demo.set_defaults(func=_cmd_demo)
    return parser


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"{PROG}: error: {' '.join(message.split())}\n")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit status."""
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    sdk_logger = logging.getLogger("swoogo_async")
    sdk_logger.addHandler(handler)
    sdk_logger.setLevel(logging.INFO if args.verbose else logging.ERROR)
    sdk_logger.propagate = False
    try:
        code: int = args.func(args)
        return code
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted.\n")
        return EXIT_INTERRUPTED
    except (UsageError, RowFileError, ReportError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    except SwoogoError as exc:
        return _fail(f"{type(exc).__name__}: {exc}", EXIT_FAILED)
    finally:
        sdk_logger.removeHandler(handler)
