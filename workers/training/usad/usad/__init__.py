"""USAD trainer: `python -m usad train --data DIR --out DIR` (see usad/__main__.py)."""

__all__ = ["model", "data", "train", "export", "msl"]
