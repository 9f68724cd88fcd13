"""The fake Swoogo server in its own process, so the client process is measured alone."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from urllib.parse import urlencode

import aiohttp

from swoogo_async import SessionCreateFields

__all__ = ["API_KEY", "API_SECRET", "ServerProcess", "fetch_token", "seed_sessions", "server"]

API_KEY = "test-key"
API_SECRET = "test-secret"
_START_TIMEOUT = 30.0


class ServerProcess:
    """``python -m swoogo_async.testing --port 0 --no-drift`` and the base URL it printed."""

    def __init__(self, proc: subprocess.Popen[str], base_url: str) -> None:
        self.proc = proc
        self.base_url = base_url

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it lingers)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@contextlib.contextmanager
def server(extra_args: Sequence[str] = ()) -> Iterator[ServerProcess]:
    """Start the fake server on a free loopback port; stop it on exit."""
    args = [sys.executable, "-m", "swoogo_async.testing", "--port", "0", "--no-drift"]
    proc = subprocess.Popen(
        [*args, *extra_args],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    running = ServerProcess(proc, "")
    try:
        running.base_url = _read_url(proc)
        yield running
    finally:
        running.stop()


def _read_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + _START_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(deadline - time.monotonic(), 0.0)):
                break
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith(("http://", "https://")):
                return line.strip()
    raise RuntimeError(f"the fake server did not print its URL (exit code {proc.poll()})")


async def fetch_token(session: aiohttp.ClientSession, base_url: str) -> str:
    """Get a Bearer token the plain way (for the raw aiohttp baseline)."""
    basic = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    async with session.post(
        base_url + "/oauth2/token",
        data=b"grant_type=client_credentials",
        headers={
            "Authorization": "Basic " + basic,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    ) as resp:
        body = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"token request failed: {resp.status} {body[:200]!r}")
    token = json.loads(body)["access_token"]
    assert isinstance(token, str)
    return token


def create_form(event_id: int, name: str) -> dict[str, str]:
    """A realistic create form: the fields a caller typically sets."""
    return {
        "event_id": str(event_id),
        "name": name,
        "date": "2025-07-20",
        "start_time": "10:00:00",
        "end_time": "12:00:00",
        "capacity": "150",
        "description": "An interactive workshop on event management fundamentals.",
        "webinar_url": "https://example.com/webinar/12345",
    }


def create_fields() -> SessionCreateFields:
    """That form's optional fields, typed as ``client.sessions.create`` takes them."""
    form = create_form(0, "")
    return {
        "start_time": form["start_time"],
        "end_time": form["end_time"],
        "capacity": int(form["capacity"]),
        "description": form["description"],
        "webinar_url": form["webinar_url"],
    }


async def seed_sessions(base_url: str, token: str, count: int, event_id: int) -> list[int]:
    """Create ``count`` sessions through the API and return their ids."""
    headers = {
        "Authorization": "Bearer " + token,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    ids: list[int] = []
    async with aiohttp.ClientSession() as session:
        for index in range(count):
            body = urlencode(create_form(event_id, f"Seed session {index}")).encode()
            async with session.post(
                base_url + "/sessions/create", data=body, headers=headers
            ) as resp:
                payload = json.loads(await resp.read())
                if resp.status != 200:
                    raise RuntimeError(f"seeding failed: {resp.status} {payload!r}")
            ids.append(int(payload["id"]))
    return ids
