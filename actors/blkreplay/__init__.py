"""blkreplay: deterministic delivery of block completions at checkpoints."""

from .actor import BlkReplay
from .reorder import CompletionReorder, ReorderWindow

__all__ = ["BlkReplay", "CompletionReorder", "ReorderWindow"]
