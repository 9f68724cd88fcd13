"""A fake Swoogo v1 API server for tests and demos.

>>> async with FakeSwoogo() as fake:  # doctest: +SKIP
...     fake.add_session(event_id=1, name="Keynote")
...     fake.inject("POST /sessions/create", Fault.drop_after())
"""

from __future__ import annotations

from ._faults import Fault
from ._server import FakeSwoogo, RecordedRequest

__all__ = ["FakeSwoogo", "Fault", "RecordedRequest"]
