"""The package version, in one place (read by hatchling for the wheel's metadata)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
