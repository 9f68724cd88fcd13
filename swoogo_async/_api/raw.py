"""Temporary: delete once ``_client/client.py`` imports these from ``endpoints``."""

from .endpoints import Params, page_calls, parse_json, parse_json_at, raw_item_key, request_call

__all__ = ["Params", "page_calls", "parse_json", "parse_json_at", "raw_item_key", "request_call"]
