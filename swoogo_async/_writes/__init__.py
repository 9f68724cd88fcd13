"""Writes that must not duplicate: the duplicate-safe create, its lookup, bulk runs, sync.

They reach the client only through ``sender.Sender`` (a protocol) or callables. The
defaults of the runs live here, where the client's signatures read them without loading
the runs themselves.
"""

__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_KEY"]

#: Rows a bulk run (create_many, update_many, sync, the command) keeps in flight by
#: default. A batch is looked up once every running create of its event waits in it, so
#: the rows in flight bound how many creates in doubt share one 10-credit lookup (see
#: ``lookup.py`` and docs/performance.md). The pacer, not this number, keeps a run within
#: the credit budget; memory stays flat (as many rows read ahead).
DEFAULT_CONCURRENCY = 32
#: The fields that identify a row by default (``sessions.sync``, the command's ``--key``).
DEFAULT_KEY: tuple[str, ...] = ("name", "date", "start_time")
