"""Option checks shared by the client, its policies and the Redis state: one rule each.

Each raises ``InvalidInputError`` naming the option (a ``ValueError`` too, so an attrs
validator may raise it). ``number`` also gives attrs validators, named by the attribute.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import attrs

from ._exceptions import InvalidInputError

__all__ = ["check_instance", "check_number", "is_header_name", "is_header_value", "number"]

#: An HTTP header name (RFC 9110 token).
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: What a header value must not hold: C0, DEL, C1 controls, lone surrogates (aiohttp
#: drops them silently) and the Unicode line and paragraph separators (line breaks to
#: some parsers). It could split, smuggle or silently change a header.
_HEADER_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")


def is_header_name(value: object) -> bool:
    """Whether ``value`` is an HTTP header name."""
    return isinstance(value, str) and _HEADER_NAME.fullmatch(value) is not None


def is_header_value(value: object) -> bool:
    """Whether ``value`` is text a header may carry as it is (no control character)."""
    return isinstance(value, str) and _HEADER_CONTROL.search(value) is None


def check_number(
    name: str,
    value: Any,
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
    at_most: float | None = None,
    integer: bool = False,
) -> Any:
    """Return ``value`` if it is a finite number (an ``int`` if ``integer``) in range."""
    ok = type(value) is int if integer else type(value) is int or isinstance(value, float)
    try:
        # Every option ends up in float arithmetic: an int too large for a float is
        # refused here, by name, not by an OverflowError deep in a call.
        ok = ok and math.isfinite(float(value))
    except OverflowError:
        ok = False
    ok = ok and (
        (above is None or value > above)
        and (at_least is None or value >= at_least)
        and (below is None or value < below)
        and (at_most is None or value <= at_most)
    )
    if not ok:
        bounds = [
            f"{op} {limit:g}"
            for op, limit in (("≥", at_least), (">", above), ("<", below), ("≤", at_most))
            if limit is not None
        ]
        what = "an integer" if integer else "a finite number"
        raise InvalidInputError(name, f"must be {what} {' and '.join(bounds)}, got {value!r}")
    return value


def number(prefix: str = "", **bounds: Any) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """Return an attrs validator applying ``check_number`` with ``bounds``.

    The error names the attribute, after ``prefix`` (``"ttl."``: ``ttl.session``).
    """

    def validate(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        check_number(prefix + attribute.name, value, **bounds)

    return validate


def check_instance(name: str, value: Any, kind: type) -> Any:
    """Return ``value`` if it is a ``kind``."""
    if not isinstance(value, kind):
        raise InvalidInputError(name, f"expected a {kind.__name__}, got {type(value).__name__}")
    return value
