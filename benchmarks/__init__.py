"""Benchmarks: the SDK against raw aiohttp, in the same process, as ratios."""
