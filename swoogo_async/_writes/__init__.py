"""Writes that must not duplicate: the duplicate-safe create, lookups, bulk runs, sync.

These layers take a small client protocol, never the client class.
"""
