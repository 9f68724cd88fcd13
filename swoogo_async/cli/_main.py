"""The ``swoogo-async`` command: ``import``, ``sync``, ``get``, ``update`` and ``demo``.

Credentials come only from ``SWOOGO_API_KEY``/``SWOOGO_API_SECRET``; the base URL
from ``--base-url`` or ``SWOOGO_BASE_URL``; shared state from ``--redis-url`` or
``SWOOGO_REDIS_URL``. The options reach the client as arguments. Warnings reach stderr
(a Redis the command cannot reach among them); ``-v`` adds the retries. Exit status:
0 success, 1 some row (or the request) failed, 2 usage or configuration error (a
report that cannot be written included), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from .._api.converter import unstructure_session
from .._api.fields import prepare_session_fields
from .._client.client import SwoogoClient
from .._exceptions import InvalidInputError, SwoogoError
from .._http.retry import RetryPolicy, log_backoff, log_giveup
from .._shared.state import SharedState
from .._writes.sync_plan import parse_key
from ._args import build_parser
from ._columns import RowOptions
from ._import import PROG, ImportOptions, import_file, prepare_import
from ._report import ImportOutcome, ReportError
from ._rows import RowFileError, check_rows, dropped_note
from ._sync import SyncOptions, dry_run_sync, sync_file

__all__ = ["main"]

#: Commands whose every call (resume lookups included) waits out a 429 within the window.
_BULK_COMMANDS = frozenset({"import", "sync"})

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A configuration problem: exit 2."""


def _shared_state(args: argparse.Namespace) -> SharedState | None:
    """Return the Redis shared state ``--redis-url`` names (None: the client's default)."""
    url = getattr(args, "redis_url", None)
    if not url:
        return None  # the client still reads $SWOOGO_REDIS_URL, as it does for every caller
    try:
        from ..redis import RedisSharedState  # the optional extra: import only when asked
    except ImportError:
        raise UsageError(
            "--redis-url needs the redis extra: pip install 'swoogo-async[redis]'"
        ) from None
    try:
        return RedisSharedState.from_url(url)
    except InvalidInputError as exc:
        raise UsageError(f"--redis-url: {exc.reason}") from None


class _Remote:
    """The command's client, and the shared state it was given (closed after the client)."""

    def __init__(self, client: SwoogoClient, shared: SharedState | None) -> None:
        self.client, self.shared = client, shared

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[SwoogoClient]:
        """Open the client; close it, then the shared state's connection."""
        try:
            async with self.client:
                yield self.client
        finally:
            if self.shared is not None:
                await self.shared.aclose()


def _client(args: argparse.Namespace) -> _Remote:
    key, secret = os.environ.get("SWOOGO_API_KEY"), os.environ.get("SWOOGO_API_SECRET")
    if not key or not secret:
        raise UsageError("set SWOOGO_API_KEY and SWOOGO_API_SECRET in the environment")
    shared = _shared_state(args)
    try:
        client = SwoogoClient(
            key,
            secret,
            base_url=args.base_url,
            rate_limit=None if getattr(args, "no_pacing", False) else "auto",
            # A bulk command waits out a 429 whose reset falls inside the real 600-s window.
            retry=RetryPolicy().for_bulk() if args.command in _BULK_COMMANDS else None,
            shared=shared,
        )
    except InvalidInputError as exc:
        raise UsageError(str(exc)) from None
    return _Remote(client, shared)


def _run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options ``import`` and ``sync`` share, from their parsed arguments."""
    try:
        key = parse_key(args.key)
    except InvalidInputError as exc:
        raise UsageError(f"--key: {exc.reason}") from None
    return {
        "key": key,
        "lease_wait": args.lease_wait,
        "file": Path(args.file),
        "event_id": args.event_id,
        "concurrency": args.concurrency,
        "report": Path(args.report) if args.report else None,
        "resume": Path(args.resume) if args.resume else None,
        "ordered": args.ordered,
        "progress": not args.no_progress,
        "grace": args.grace,
        "base_url": args.base_url,
        "rows": RowOptions.from_args(args),
    }


def _cmd_import(args: argparse.Namespace) -> int:
    opts = ImportOptions(**_run_options(args))
    if args.dry_run:
        bad = check_rows(opts.file, opts.event_id, sys.stdout, opts.rows)
        return EXIT_FAILED if bad else EXIT_OK
    dropped: set[str] = set()
    prior, total = prepare_import(opts, dropped=dropped)
    remote = _client(args)
    if dropped:
        sys.stderr.write(f"{dropped_note(dropped)}\n")

    async def go() -> ImportOutcome:
        async with remote.opened() as client:
            return await import_file(opts, client, prior, total, out=sys.stdout, err=sys.stderr)

    return asyncio.run(go()).exit_code


def _cmd_sync(args: argparse.Namespace) -> int:
    opts = SyncOptions(**_run_options(args), dry_run=args.dry_run)
    dropped: set[str] = set()
    prior, total = prepare_import(opts, dropped=dropped)
    remote = _client(args)
    if dropped:
        sys.stderr.write(f"{dropped_note(dropped)}\n")
    if opts.dry_run:

        async def plan() -> int:
            async with remote.opened() as client:
                return await dry_run_sync(opts, client, sys.stdout)

        return EXIT_FAILED if asyncio.run(plan()) else EXIT_OK

    async def go() -> ImportOutcome:
        async with remote.opened() as client:
            return await sync_file(opts, client, prior, total, out=sys.stdout, err=sys.stderr)

    return asyncio.run(go()).exit_code


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _cmd_get(args: argparse.Namespace) -> int:
    remote = _client(args)

    async def go() -> Any:
        async with remote.opened() as client:
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
    prepare_session_fields(fields, creating=False)  # a bad field fails before any request
    remote = _client(args)

    async def go() -> Any:
        async with remote.opened() as client:
            return await client.sessions.update(args.session_id, **fields)

    _print_json(unstructure_session(asyncio.run(go())))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo  # the demo needs the fake server: import it only here

    return run_demo(args)


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "import": _cmd_import,
    "sync": _cmd_sync,
    "get": _cmd_get,
    "update": _cmd_update,
    "demo": _cmd_demo,
}


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"{PROG}: error: {' '.join(message.split())}\n")
    return code


#: The SDK's retry lines: ``-v`` shows them; without it the rows' outcomes say enough.
_RETRY_LINES = frozenset({log_backoff.__name__, log_giveup.__name__})


def _not_a_retry_line(record: logging.LogRecord) -> bool:
    return record.funcName not in _RETRY_LINES


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit status."""
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    if not args.verbose:
        handler.addFilter(_not_a_retry_line)
    sdk_logger = logging.getLogger("swoogo_async")
    # Called in-process (tests, a host program), the logger is left as it was found.
    level, propagate = sdk_logger.level, sdk_logger.propagate
    sdk_logger.addHandler(handler)
    # Every warning reaches the user (a Redis the run cannot reach, which leaves the
    # budget unshared, above all); -v adds the retries and what the SDK tells at INFO.
    sdk_logger.setLevel(logging.INFO if args.verbose else logging.WARNING)
    sdk_logger.propagate = False
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted.\n")
        return EXIT_INTERRUPTED
    except (UsageError, RowFileError, ReportError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    except SwoogoError as exc:
        return _fail(f"{type(exc).__name__}: {exc}", EXIT_FAILED)
    finally:
        sdk_logger.removeHandler(handler)
        sdk_logger.setLevel(level)
        sdk_logger.propagate = propagate
