"""The HTTP stack: transport, token, retry rule, pacing, hooks, options, the request seam.

``pipeline.Pipeline`` sends the ``Call``s ``_api`` builds; a 2xx body goes to their parse function.
"""
