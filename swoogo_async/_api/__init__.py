"""The API's shapes: models, the cattrs converter, writable fields, forms, endpoints, pages.

Pure code: building a request and reading a response, no I/O.
"""
