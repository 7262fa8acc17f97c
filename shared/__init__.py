"""opsplane's shared library: all logic lives here; functions/ is only the HTTP edge."""

__version__ = "0.1.0"
