"""The code that runs inside each generated repository: brief in, committed app out."""

__version__ = "0.1.0"
