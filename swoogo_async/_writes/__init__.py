"""Writes that must not duplicate: the duplicate-safe create, its lookup, bulk runs, sync.

They reach the client only through ``sender.Sender`` (a protocol) or callables.
"""
