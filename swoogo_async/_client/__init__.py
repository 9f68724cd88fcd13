"""``SwoogoClient``, the core its copies share, and its resources: what a caller touches.

The top layer: it wires the HTTP stack, the API shapes and the writes together.
"""
