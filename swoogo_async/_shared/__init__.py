"""State that several clients or processes share: token, budget, leases.

The in-process implementation lives here; Redis is ``swoogo_async.redis``.
"""
