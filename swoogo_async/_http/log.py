"""Temporary: delete once ``pipeline.py`` imports ``logger`` from ``hooks``."""

from .hooks import logger as logger
