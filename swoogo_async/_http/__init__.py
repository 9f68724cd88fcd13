"""The HTTP stack: transport, token, retry, pacing, hooks and the one request pipeline.

Nothing here knows a Swoogo resource; it moves bytes and keeps the budget.
"""
