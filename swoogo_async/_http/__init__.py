"""The HTTP stack: transport, token, retry rule, pacing, hooks, options and the request seam,
``pipeline.Pipeline``, which sends the ``Call``s ``_api`` builds to their parse functions."""
