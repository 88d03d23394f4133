"""The image actor: a disk's backend (raw file or memory) behind block requests."""

from .actor import Image, InlineImage
from .backends import Memory, RawFile, Result
from .faults import DiskFault
from .latency import Latency, LatencyError

__all__ = ["DiskFault", "Image", "InlineImage", "Latency", "LatencyError", "Memory", "RawFile", "Result"]
