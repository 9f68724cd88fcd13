"""The ``swoogo-async`` command line: ``import``, ``sync``, ``get``, ``update`` and ``demo``."""

from __future__ import annotations

from ._main import main

__all__ = ["main"]
