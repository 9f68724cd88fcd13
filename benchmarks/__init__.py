"""Benchmarks of swoogo-async against baselines measured in the same run.

Run ``python -m benchmarks.run`` (``--quick`` for a smoke run, ``--help`` for the rest).
Nothing here is a test and no test times anything.
"""
