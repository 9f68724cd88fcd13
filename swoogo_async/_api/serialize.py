"""Models out of the SDK: ``to_dict`` / ``to_json``, in the API's shape as the one converter
writes it (so it reads back into an equal model; ``extra`` goes back to the top level)."""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

from .._exceptions import InvalidInputError
from .converter import converter
from .models import Page, Session, Speaker
from .pages import SessionBatch

__all__ = ["to_dict", "to_json"]


def _json_ready(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError("obj", f"holds {value!r}, which JSON cannot hold")
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (Session, Speaker, Page, SessionBatch)):
        return _json_ready(converter().unstructure(value))
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    # What the converter leaves as it came (``extra``, custom fields a caller built) may
    # still hold dates or enums: they are written as the converter writes a model's.
    if isinstance(value, (dt.date, dt.time)):
        kind = next(k for k in (dt.datetime, dt.date, dt.time) if isinstance(value, k))
        return converter().unstructure(value, unstructure_as=kind | None)
    if isinstance(value, enum.Enum):
        return converter().unstructure(value)
    raise InvalidInputError("obj", f"holds a {type(value).__name__}, which JSON cannot hold")


def to_dict(obj: Session | Speaker | Page[Any] | SessionBatch) -> dict[str, Any]:
    """Return a model as a new dict of JSON types only (e.g. to return it from a FastAPI
    route), in the API's shape: it converts back to an equal model.

    Args:
        obj: A ``Session``, ``Speaker``, ``Page`` or ``SessionBatch``.

    Raises:
        InvalidInputError: ``obj`` is none of those, or holds a value JSON cannot
            (an object a caller put in ``extra``).
    """
    if not isinstance(obj, (Session, Speaker, Page, SessionBatch)):
        raise InvalidInputError(
            "obj", f"expected a Session, Speaker, Page or SessionBatch, got {type(obj).__name__}"
        )
    return cast("dict[str, Any]", _json_ready(obj))


def to_json(
    obj: Session | Speaker | Page[Any] | SessionBatch | Sequence[Session | Speaker],
    *,
    indent: int | None = None,
) -> str:
    """Return a model, or a list of models, as JSON text (UTF-8 characters kept as they are).

    Args:
        obj: What ``to_dict`` takes, or a list of sessions or speakers.
        indent: Indentation, for people to read; compact by default.

    Raises:
        InvalidInputError: as ``to_dict``.
    """
    if isinstance(obj, (list, tuple)):
        data: Any = [to_dict(item) for item in obj]
    else:
        data = to_dict(obj)  # type: ignore[arg-type]
    separators = (",", ":") if indent is None else None
    return json.dumps(data, ensure_ascii=False, indent=indent, separators=separators)
