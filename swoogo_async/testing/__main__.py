"""Run the fake Swoogo server standalone (``--help`` says the same in plain text).

``python -m swoogo_async.testing --port 8765 [--rate-limit N --rate-window S --no-drift]``
serves until SIGINT/SIGTERM. It prints, one per line: the base URL (first, alone), then
``api_key: …`` and ``api_secret: …`` (the throwaway credentials it accepts), then
``stats: <url>``, where ``GET`` returns its counters as JSON (requests, token_requests,
tokens_issued, rate_limited, faults, sessions, speakers, duplicates, late_creates_pending).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from ._server import FakeSwoogo

__all__ = ["main"]

PROG = "python -m swoogo_async.testing"
#: The module's docstring for ``--help``: plain text, without its reST markup.
_DESCRIPTION = """Run the fake Swoogo server standalone until SIGINT or SIGTERM.

It prints, one per line: the base URL (first, alone), then "api_key: ..." and
"api_secret: ..." (the throwaway credentials it accepts), then "stats: <url>", where
GET returns its counters as JSON (requests, token_requests, tokens_issued,
rate_limited, faults, sessions, speakers, duplicates, late_creates_pending).

Exit status: 0 stopped, 2 usage error or the port cannot be listened on."""


class _CannotListen(Exception):
    """The server cannot listen on the address asked for (a busy port, above all)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--api-key", default="test-key")
    p.add_argument("--api-secret", default="test-secret")
    p.add_argument("--rate-limit", type=int, default=None, help="credits per window")
    p.add_argument("--rate-window", type=float, default=600.0, help="window in seconds")
    p.add_argument("--token-lifetime", type=float, default=1800.0)
    p.add_argument("--latency", type=float, default=0.0, help="delay per request (s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-drift", action="store_true", help="render canonical types only")
    p.add_argument("--retry-after", action="store_true", help="send Retry-After on 429")
    return p


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeSwoogo(
        args.api_key,
        args.api_secret,
        token_lifetime=args.token_lifetime,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        drift=not args.no_drift,
        seed=args.seed,
        latency=args.latency,
        port=args.port,
        retry_after=args.retry_after,
        host=args.host,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await fake.start()
    except OSError as exc:
        await fake.close()
        reason = exc.strerror or str(exc)
        raise _CannotListen(f"cannot listen on {args.host}:{args.port}: {reason}") from None
    async with fake:
        print(fake.base_url)
        print(f"api_key: {fake.api_key}")
        print(f"api_secret: {fake.api_secret}")
        print(f"stats: {fake.stats_url}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args))
    except _CannotListen as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
