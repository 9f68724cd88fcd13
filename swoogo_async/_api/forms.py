"""Temporary: delete once ``_writes/reconcile.py`` and ``cli/_report.py`` import these
from ``endpoints``."""

from .endpoints import flatten_form, form_value

__all__ = ["flatten_form", "form_value"]
