"""The ide actor: an ATA/ATAPI-6 style IDE controller (two channels, master
and slave, PIO and SFF-8038i bus-master DMA) in the cpu's IDE window."""

from . import registers
from .actor import DiskSlot, Ide
from .controller import COMMANDS, Controller, Effects
from .drive import Drive

__all__ = ["COMMANDS", "Controller", "DiskSlot", "Drive", "Effects", "Ide", "registers"]
