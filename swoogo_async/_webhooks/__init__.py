"""Webhook receiving: pure payload reading and the dedupe stores (``swoogo_async.webhooks``)."""
