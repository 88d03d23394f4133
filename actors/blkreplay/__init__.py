"""blkreplay: deterministic delivery of block completions at checkpoints."""

from .actor import BlkReplay

__all__ = ["BlkReplay"]
