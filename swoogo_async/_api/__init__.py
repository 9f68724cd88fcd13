"""The API's shapes: call builders, parse functions, fields, forms, models, converter, pages.
Pure code: it builds requests, reads responses and walks pages, with no I/O of its own."""
