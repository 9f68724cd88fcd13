"""Writes that must not duplicate: the duplicate-safe create, its lookup, bulk runs, sync; and
the runs' defaults, which the client's signatures read without loading the runs."""

__all__ = ["DEFAULT_CONCURRENCY", "DEFAULT_KEY"]

#: Rows a bulk run keeps in flight (and reads ahead) by default; it also bounds how many
#: creates in doubt share one lookup (``lookup.py``). The pacer keeps the credit budget.
DEFAULT_CONCURRENCY = 32
#: The fields that identify a row by default (``sessions.sync``, the command's ``--key``).
DEFAULT_KEY: tuple[str, ...] = ("name", "date", "start_time")
