"""Logging: stdlib logging, one line per event, prefixed with the node's name."""

from __future__ import annotations

import logging
import sys


def configure(name: str, level: int = logging.INFO) -> logging.Logger:
    """Send every record of this process to stderr as ``[name] LEVEL text``.

    Records from the runtime's per-actor loggers and from libraries alike
    carry the process's node name, so a merged console stays readable.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"[{name}] %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return logging.getLogger(name)
