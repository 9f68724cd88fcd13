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
import sys
import tempfile
from pathlib import Path
from typing import Any

from .._client.client import SwoogoClient
from ..testing import FakeSwoogo, Fault
from ._demo_agenda import (
    EVENT_ID,
    DemoAgenda,
    edit_demo_csv,
    verify_store,
    verify_sync,
    write_demo_csv,
)
from ._demo_workers import run_workers_demo
from ._import import ImportOptions, ImportRun, prepare_import
from ._report import ImportOutcome
from ._sync import SyncRun

__all__ = ["run_demo"]


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
        outcome = await _run_file(ImportRun, agenda.path, report, args, fake, out)
        _server_story(fake, out)
        verified = verify_store(fake, agenda, outcome.report, out)
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


async def _run_file(
    kind: type[ImportRun],
    path: Path,
    report: Path,
    args: argparse.Namespace,
    fake: FakeSwoogo,
    out: Any,
) -> ImportOutcome:
    """Run one demo step (an import or a sync of ``path``) with a client of its own.

    The client reads briefly under chaos and paces when the fake is rate-limited.
    """
    opts = ImportOptions(
        file=path,
        event_id=EVENT_ID,
        concurrency=args.concurrency,
        report=report,
        progress=not args.no_progress,
        base_url=fake.base_url,
    )
    prior, total = prepare_import(opts)
    client = SwoogoClient(
        fake.api_key,
        fake.api_secret,
        base_url=fake.base_url,
        read_timeout=1.0 if args.chaos > 0 else 30.0,
        rate_limit="auto" if args.rate_limit else None,
    )
    async with client:
        return await kind.run_file(opts, client, prior, total, out=out, err=sys.stderr)


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
    before = len(fake.sessions)
    synced = await _run_file(SyncRun, folder / "agenda-edited.csv", report, args, fake, out)
    if synced.interrupted:
        return synced, False
    return synced, verify_sync(fake, before, edited, report, out)


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
        return run_workers_demo(args, folder)
    return asyncio.run(_demo(args, folder))
