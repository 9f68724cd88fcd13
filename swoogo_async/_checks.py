"""Option checks shared by the client, its policies and the Redis state: one rule each,
raising ``InvalidInputError`` naming the option (also a ``ValueError``, for attrs validators)."""

from __future__ import annotations

import math
import operator
import os
import re
from collections.abc import Callable
from typing import Any, cast

import attrs

from ._exceptions import InvalidInputError

__all__ = [
    "check_credential",
    "check_instance",
    "check_number",
    "is_header_name",
    "is_header_value",
    "number",
]

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an RFC 9110 token
# What could split, smuggle or change a header: controls, lone surrogates, line separators.
_HEADER_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
_COMPARE = {"≥": operator.ge, ">": operator.gt, "<": operator.lt, "≤": operator.le}


def is_header_name(value: object) -> bool:
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
    ok = type(value) is int or (not integer and isinstance(value, float))
    try:  # an int too large for a float is refused here, by name, not deep in a call
        ok = ok and math.isfinite(float(value))
    except OverflowError:
        ok = False
    bounds = {"≥": at_least, ">": above, "<": below, "≤": at_most}
    limits = {op: limit for op, limit in bounds.items() if limit is not None}
    if ok and all(_COMPARE[op](value, limit) for op, limit in limits.items()):
        return value
    what = "an integer" if integer else "a finite number"
    within = " and ".join(f"{op} {limit:g}" for op, limit in limits.items())
    raise InvalidInputError(name, f"must be {what} {within}, got {value!r}")


def number(prefix: str = "", **bounds: Any) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """Return an attrs validator: ``check_number`` naming the attribute after ``prefix``."""
    return lambda _, attribute, value: check_number(prefix + attribute.name, value, **bounds)


def check_instance(name: str, value: Any, kind: type) -> Any:
    if not isinstance(value, kind):
        raise InvalidInputError(name, f"expected a {kind.__name__}, got {type(value).__name__}")
    return value


def check_credential(name: str, given: str | None) -> str:
    """Return the credential given, else ``$SWOOGO_<NAME>``; refuse a missing or non-text one."""
    value = given if given is not None else os.environ.get(f"SWOOGO_{name.upper()}")
    if value is None or value == "":
        raise InvalidInputError(name, f"missing: pass {name} or set SWOOGO_{name.upper()}")
    return cast(str, check_instance(name, value, str))
