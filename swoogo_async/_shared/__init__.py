"""What clients on one credential share: token, budget, leases (Redis: ``swoogo_async.redis``)."""
