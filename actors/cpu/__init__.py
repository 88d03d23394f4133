"""The cpu actor: an RV32IM hart, its board, and guest program loading."""

from .actor import Cpu
from .elf import ElfError, Program, parse
from .machine import GuestHung, Machine

__all__ = ["Cpu", "ElfError", "GuestHung", "Machine", "Program", "parse"]
