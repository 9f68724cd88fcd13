"""A throwaway ``redis-server`` on a free loopback port, for the tests that need one.

Under ``CI=true`` a missing ``redis-server`` fails the test (CI installs it); elsewhere
the test is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator

import pytest

from swoogo_async.cli._demo_workers import LocalRedis

__all__ = ["PATIENT", "RedisServer", "redis_server"]

#: A Redis command's timeout in tests that are not about a slow Redis: on a loaded machine
#: an answer may take seconds, and the default (1 s) would fall back to in-process state.
PATIENT = 30.0


class RedisServer(LocalRedis):
    """One ``redis-server`` process (the demo's), which a test can also freeze."""

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open, nothing answers."""
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server answer again."""
        self._proc.send_signal(signal.SIGCONT)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """Start a redis-server for one test and stop it afterwards."""
    path = shutil.which("redis-server")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed (CI must install it: see .ci/run)")
        pytest.skip("redis-server is not installed")
    server = RedisServer(path)
    try:
        yield server
    finally:
        server.stop()
