"""Models out of the SDK: ``to_dict`` / ``to_json``, through the one converter.

The shape is the API's own (what ``converter().unstructure`` writes, so it reads back
into an equal model): dates ``YYYY-MM-DD``, times ``HH:MM:SS``, datetimes UTC
``YYYY-MM-DD HH:MM:SS``, enums as their values, custom fields under
``custom_fields``, unknown fields (``extra``) at the top level where they came from.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .._exceptions import InvalidInputError
from .converter import converter
from .models import Page, Session, Speaker
from .pages import SessionBatch

__all__ = ["to_dict", "to_json"]


def _plain(value: Any) -> Any:
    """Return ``value`` as JSON-ready data: models through the converter, containers copied."""
    if isinstance(value, (Session, Speaker)):
        return _json_ready(converter().unstructure(value))
    if isinstance(value, Page):
        return {**attrs.asdict(value, recurse=False), "items": [_plain(i) for i in value.items]}
    if isinstance(value, SessionBatch):
        return {"sessions": [_plain(s) for s in value.sessions], "missing": list(value.missing)}
    return _json_ready(value)


def _json_ready(value: Any) -> Any:
    # What the converter leaves as it came (``extra``, ``location``, custom fields a
    # caller built) may still hold dates or enums: write them the converter's way.
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError("obj", f"holds {value!r}, which JSON cannot hold")
        return value
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (dt.date, dt.time)):
        # As the converter writes a model's date, time or datetime field.
        kind = next(k for k in (dt.datetime, dt.date, dt.time) if isinstance(value, k))
        return converter().unstructure(value, unstructure_as=kind | None)
    if isinstance(value, enum.Enum):
        return converter().unstructure(value)
    if isinstance(value, (Session, Speaker, Page, SessionBatch)):
        return _plain(value)
    raise InvalidInputError("obj", f"holds a {type(value).__name__}, which JSON cannot hold")


def to_dict(obj: Session | Speaker | Page[Any] | SessionBatch) -> dict[str, Any]:
    """Return a model as a JSON-ready dict (e.g. to return it from a FastAPI route).

    Args:
        obj: A ``Session``, ``Speaker``, ``Page`` or ``SessionBatch``.

    Returns:
        A new dict of JSON types only, in the API's own shape: it converts back to
        an equal model.

    Raises:
        InvalidInputError: ``obj`` is not one of those models, or holds a value JSON
            cannot (an object a caller put in ``extra``).
    """
    if not isinstance(obj, (Session, Speaker, Page, SessionBatch)):
        raise InvalidInputError(
            "obj", f"expected a Session, Speaker, Page or SessionBatch, got {type(obj).__name__}"
        )
    result: dict[str, Any] = _plain(obj)
    return result


def to_json(
    obj: Session | Speaker | Page[Any] | SessionBatch | Sequence[Session | Speaker],
    *,
    indent: int | None = None,
) -> str:
    """Return a model, or a list of models, as JSON text.

    Args:
        obj: A ``Session``, ``Speaker``, ``Page``, ``SessionBatch``, or a list of
            sessions or speakers.
        indent: Indentation, for people to read; compact by default.

    Returns:
        JSON text (UTF-8 characters kept as they are).

    Raises:
        InvalidInputError: ``obj`` is none of those.
    """
    if isinstance(obj, (list, tuple)):
        data: Any = [to_dict(item) for item in obj]
    else:
        data = to_dict(obj)  # type: ignore[arg-type]
    separators = (",", ":") if indent is None else None
    return json.dumps(data, ensure_ascii=False, indent=indent, separators=separators)
