"""The ``swoogo_async`` logger (a library configures no logging), the retry log lines, and
``SWOOGO_LOG=debug|info`` (as openai's ``OPENAI_LOG``): one stderr handler at that level."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from .._exceptions import SwoogoError
from .transport import Call

__all__ = ["configure_from_env", "log_backoff", "log_giveup", "logger"]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}

logger = logging.getLogger("swoogo_async")
# Else its warnings reach stderr through logging's last resort in an app that set up none.
logger.addHandler(logging.NullHandler())


class _EnvHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``SWOOGO_LOG`` attaches; its class marks it as already there."""


def configure_from_env(environ: Mapping[str, str] = os.environ) -> logging.Handler | None:
    """Attach a stderr handler to the ``swoogo_async`` logger if ``SWOOGO_LOG`` is ``debug``
    or ``info``, and return it (attached now or before); else return None."""
    level = _LEVELS.get(environ.get("SWOOGO_LOG", "").strip().lower())
    if level is None:
        return None
    for handler in logger.handlers:
        if isinstance(handler, _EnvHandler):
            return handler
    handler = _EnvHandler()  # stderr
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    return handler


def log_backoff(call: Call, error: SwoogoError, tries: int, wait: float) -> None:
    """Log a retry: the call, the error, the wait."""
    args = (call.method, call.path, type(error).__name__, tries, wait)
    logger.warning("retrying %s %s after %s (attempt %d failed), waiting %.2fs", *args)


def log_giveup(call: Call, error: SwoogoError, tries: int, elapsed: float) -> None:
    """Log a call that failed for good."""
    level = logging.WARNING if tries > 1 else logging.DEBUG
    args = (call.method, call.path, type(error).__name__, tries, elapsed)
    logger.log(level, "%s %s failed with %s after %d attempt(s) in %.2fs", *args)
