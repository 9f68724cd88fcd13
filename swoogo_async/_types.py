"""The ``UNSET`` sentinel: "not given", as opposed to ``None``, "clear it"."""

from __future__ import annotations

import enum
from typing import Final, Literal

__all__ = ["UNSET", "UnsetType"]


class UnsetType(enum.Enum):
    """Type of ``UNSET``; a one-member enum so type checkers can narrow on it."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> Literal[False]:
        return False


UNSET: Final = UnsetType.UNSET
