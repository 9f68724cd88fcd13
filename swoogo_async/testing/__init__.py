"""A fake Swoogo v1 API server for tests and demos.

>>> async with FakeSwoogo() as fake:  # doctest: +SKIP
...     fake.add_session(event_id=1, name="Keynote")
...     fake.inject("POST /sessions/create", Fault.drop_after())

Tests drive what would otherwise race the clock: ``FakeSwoogo(clock=...)`` and
``advance()`` (token expiry, rate-limit windows), ``after_requests(n, action)``
(say, ``revoke_tokens`` mid-run), ``Fault.hang()`` with ``release_held()``,
``until_held()``, ``Fault.commit_late()`` with ``commit_late_creates()``,
``misbehave_pagination(mode)`` and ``await idle()``. ``stats`` (also served at
``GET /_fake/stats``) counts what happened.
"""

from __future__ import annotations

from ._control import PAGINATION_MODES
from ._faults import Fault
from ._server import FakeSwoogo, RecordedRequest
from ._webhooks import Delivery

__all__ = ["PAGINATION_MODES", "Delivery", "FakeSwoogo", "Fault", "RecordedRequest"]
