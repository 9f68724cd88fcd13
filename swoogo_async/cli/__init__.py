"""The ``swoogo-async`` command line: ``import``, ``get``, ``update`` and ``demo``."""

from __future__ import annotations

from ._main import main

__all__ = ["main"]
