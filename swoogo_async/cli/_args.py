"""The command's arguments: ``import``, ``sync``, ``get``, ``update``, ``demo``, ``--version``."""

from __future__ import annotations

import argparse

from .. import __version__
from .._writes import DEFAULT_CONCURRENCY
from ._columns import row_options_parser
from ._import import PROG

__all__ = ["build_parser"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds (a number >= 0), got {text!r}")
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
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    remote = argparse.ArgumentParser(add_help=False)
    remote.add_argument("--base-url", help="API root (default: $SWOOGO_BASE_URL or the real API)")
    remote.add_argument(
        "--redis-url",
        help="share the token and rate budget with other processes through this Redis"
        " (default: $SWOOGO_REDIS_URL)",
    )
    # The options of a bulk run, the same for import and sync.
    run = argparse.ArgumentParser(add_help=False)
    run.add_argument(
        "--concurrency",
        type=_positive,
        default=DEFAULT_CONCURRENCY,
        help=f"rows in flight ({DEFAULT_CONCURRENCY})",
    )
    run.add_argument("--report", metavar="PATH", help="JSON Lines report to append to")
    run.add_argument("--ordered", action="store_true", help="finish rows in file order")
    run.add_argument("--no-progress", action="store_true", help="log lines, no progress bar")
    run.add_argument(
        "--no-pacing", action="store_true", help="do not pace by the rate-limit headers"
    )
    run.add_argument(
        "--grace", type=float, default=5.0, help="seconds rows in flight get after Ctrl-C (5)"
    )
    run.add_argument(
        "--key",
        default="name,date,start_time",
        help="comma-separated fields that identify a row (name,date,start_time)",
    )
    run.add_argument(
        "--lease-wait",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait while another run writes to the event (60)",
    )

    file_commands = {
        "import": (
            "create a session per row of a CSV or JSON Lines file",
            "Create a session per row that the event lacks: the event is read"
            " first, and a row whose --key a session has is reported present (nothing sent),"
            " so running an import again creates nothing twice. Two rows with one key are"
            " both invalid. Report lines are identified by line number: do not edit FILE"
            " between an import and its --resume.",
            {"help": "event_id for rows without one"},
            ("skip the rows REPORT shows created", "validate only; send nothing"),
        ),
        "sync": (
            "make an event's sessions match a CSV or JSON Lines file",
            "Read the event's sessions once, then per row: create it when no"
            " session has its key, update only the fields that differ, or leave it (no"
            " request). Fields a row leaves empty are not touched. Two rows with one key are"
            " both invalid; a key several sessions share makes the row ambiguous (nothing"
            " written). A custom field holding your system's id (--key c_1234) is the most"
            " robust key.",
            {"required": True, "help": "the event to sync"},
            ("skip the rows REPORT shows done", "read the event and print the plan; write nothing"),
        ),
    }
    for name, (summary, description, event_id, (resume, dry_run)) in file_commands.items():
        command = sub.add_parser(
            name,
            parents=[remote, run, row_options_parser()],
            help=summary,
            description=description,
        )
        command.add_argument("file", metavar="FILE", help=".csv (header row) or .jsonl/.ndjson")
        command.add_argument("--event-id", type=_positive, **event_id)  # type: ignore[arg-type]
        command.add_argument("--resume", metavar="REPORT", help=resume)
        command.add_argument("--dry-run", action="store_true", help=dry_run)

    get = sub.add_parser("get", parents=[remote], help="print a session as JSON")
    get.add_argument("session_id", type=_positive, metavar="SESSION_ID")
    get.add_argument("--fields", help="comma-separated fields (c_1234 for custom fields)")
    get.add_argument("--expand", help="comma-separated related objects, e.g. track")

    upd = sub.add_parser("update", parents=[remote], help="change fields of a session")
    upd.add_argument("session_id", type=_positive, metavar="SESSION_ID")
    upd.add_argument(
        "assignments", nargs="+", metavar="FIELD=VALUE", help="FIELD= (empty) clears it"
    )

    demo = sub.add_parser("demo", help="import a sample agenda into an embedded fake API")
    demo.add_argument("--rows", type=_positive, default=300, help="sessions to generate (300)")
    demo.add_argument("--concurrency", type=_positive, default=DEFAULT_CONCURRENCY)
    demo.add_argument("--chaos", type=float, default=0.03, help="fault rate, 0..1 (0.03)")
    demo.add_argument("--rate-limit", type=_positive, help="credits per window (off)")
    demo.add_argument("--rate-window", type=float, default=10.0, help="window seconds (10)")
    demo.add_argument("--out", metavar="DIR", help="where to write the CSV and report")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--no-progress", action="store_true")
    demo.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="import processes sharing one budget through a local redis-server (1)",
    )
    demo.add_argument(
        "--web",
        nargs="?",
        type=float,
        const=20.0,
        metavar="SECONDS",
        help="instead: an agenda web app's visitors, cached vs naive, for SECONDS (20)",
    )
    return parser
