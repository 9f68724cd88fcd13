"""The top layer: ``SwoogoClient``, the core its copies share, and its resources."""
